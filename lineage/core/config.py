"""The configuration file: `[tool.lineage]` in a pyproject.toml, or the top-level keys of a
lineage.toml, found from a folder upward. Plain values, checked for type and range here; the
CLI checks the check IDs against the catalog and applies the values below the command line
and the environment.

Never a password: a file in a repository is the wrong place for it (NEO4J_PASSWORD or a
prompt are the ways in).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lineage.core.files import read_input
from lineage.core.model import SEVERITIES
from lineage.core.status import UsageError

LINEAGE_TOML = "lineage.toml"
PYPROJECT = "pyproject.toml"
FAIL_ON = ("error", "warn", "info", "never")
# A config file is small; a pyproject.toml of megabytes is a mistake, not a configuration.
MAX_BYTES = 4 * 1024 * 1024

_NEO4J = ("neo4j-uri", "neo4j-user", "neo4j-database")
KEYS = ("fail-on", "severity", "skip", *_NEO4J, "baseline")


class ConfigError(UsageError):
    """A configuration file the CLI cannot use: one line, exit 2."""


@dataclass(frozen=True)
class Config:
    """What a configuration file says; every field None or empty when it says nothing."""

    path: Path | None = None  # the file it came from; None when no file was used
    named: bool = False  # named with --config, not found by the search: trusted like a flag
    fail_on: str | None = None
    severity: dict[str, str] = field(default_factory=dict)  # check ID -> level
    skip: tuple[str, ...] = ()  # checks or families not to run
    neo4j_uri: str | None = None
    neo4j_user: str | None = None
    neo4j_database: str | None = None
    baseline: Path | None = None  # resolved against the config file's folder

    def where(self, key: str) -> str:
        """How an error names a key: the file, and the table for a pyproject.toml."""
        table = "[tool.lineage] " if self.path is not None and self.path.name == PYPROJECT else ""
        return f"{self.path}: {table}{key}"


def find(start: Path, ignore_under: Path | None = None,
         on_ignore: Callable[[Path], None] | None = None) -> Path | None:
    """The first file from `start` upward that holds lineage configuration. In one folder a
    lineage.toml comes before a pyproject.toml; a pyproject.toml without [tool.lineage] does
    not end the search (the project's own one usually has none).

    Files in `ignore_under` (the data root: hostile input, never settings) are passed over,
    and told to `on_ignore`."""
    folder = Path(os.path.abspath(start))
    fence = os.path.realpath(ignore_under) if ignore_under is not None else None
    while True:
        inside = fence is not None and _under(os.path.realpath(folder), fence)
        for candidate in (folder / LINEAGE_TOML, folder / PYPROJECT):
            if not _present(candidate):
                continue
            if inside:  # not even parsed; a lineage.toml there is said, it was meant as one
                if on_ignore is not None and candidate.name == LINEAGE_TOML:
                    on_ignore(candidate)
            elif candidate.name == LINEAGE_TOML or _lineage_table(candidate) is not None:
                return candidate
        if folder.parent == folder:  # the filesystem root
            return None
        folder = folder.parent


def _under(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _present(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError:  # absent, or in a folder this user cannot search: no configuration there
        return False
    return True


def load(start: Path, ignore_under: Path | None = None,
         on_ignore: Callable[[Path], None] | None = None) -> Config:
    """The configuration in effect for a command run in `start`: the nearest file's (outside
    `ignore_under`), or an empty Config when there is none."""
    path = find(start, ignore_under, on_ignore)
    return read(path) if path is not None else Config()


def read(path: Path) -> Config:
    """The configuration in one file. A pyproject.toml must have [tool.lineage]; any other
    name is read as a lineage.toml (top-level keys)."""
    path = Path(path)
    if path.name == PYPROJECT:
        table = _lineage_table(path)
        if table is None:
            raise ConfigError(f"{path}: no [tool.lineage] table")
    else:
        table = _parse(path)
    return from_table(table, path)


def from_table(table: dict[str, Any], path: Path) -> Config:
    """A Config from the parsed table of `path`, every key and value checked."""
    where = Config(path=path).where
    for key in table:
        if key == "neo4j-password":
            raise ConfigError(f"{where(key)}: a password never goes in a configuration file; "
                              f"set NEO4J_PASSWORD or use --password-prompt")
        if key not in KEYS:
            raise ConfigError(f"{where(key)}: unknown key; {_hint(key)}")
    fail_on = _get(table, "fail-on", where, _one_of(FAIL_ON))
    severity = _get(table, "severity", where, _severity_table) or {}
    skip = _get(table, "skip", where, _names) or ()
    neo4j = {key: _get(table, key, where, _text) for key in _NEO4J}
    baseline = _get(table, "baseline", where, _text)
    return Config(path=path, fail_on=fail_on, severity=severity, skip=tuple(skip),
                  neo4j_uri=neo4j["neo4j-uri"], neo4j_user=neo4j["neo4j-user"],
                  neo4j_database=neo4j["neo4j-database"],
                  baseline=(path.parent / baseline) if baseline is not None else None)


def _get(table: dict, key: str, where: Callable[[str], str], convert: Callable[[Any], Any]) -> Any:
    if key not in table:
        return None
    try:
        return convert(table[key])
    except ValueError as exc:
        raise ConfigError(f"{where(key)}: {exc}") from None


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {_shown(value)}")
        return value
    return convert


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {_shown(value)}")
    return value


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"expected a list of check IDs or families, got {_shown(value)}")
    return value


def _severity_table(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of CHECK = LEVEL, got {_shown(value)}")
    level = _one_of(SEVERITIES)
    out = {}
    for check, v in _flatten(value).items():
        try:
            out[check] = level(v)
        except ValueError as exc:
            raise ValueError(f"{check}: {exc}") from None
    return out


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """An unquoted dotted key (`cohort.unreachable = "warn"`) is a nested table in TOML; it is
    read as the check ID it was meant to be."""
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list" if all(isinstance(v, str) for v in value) else "a list with a non-string"
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _hint(key: str) -> str:
    spelled = key.replace("_", "-").lower()
    if spelled != key and spelled in KEYS:
        return f"did you mean {spelled}?"
    return f"known keys: {', '.join(KEYS)}"


def _lineage_table(path: Path) -> dict[str, Any] | None:
    """[tool.lineage] of a pyproject.toml, None when it has none."""
    tool = _parse(path).get("tool")
    if not isinstance(tool, dict) or "lineage" not in tool:
        return None
    table = tool["lineage"]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.lineage: expected a table, got {_shown(table)}")
    return table


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = read_input(path, str(path), MAX_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
