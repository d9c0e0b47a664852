"""The configuration file applied to a command (lineage.core.config reads it).

The order is the same for every setting: the command line, then the environment, then the
file, then the default. The environment is read where the option is declared (envvar=...) or,
for Neo4j, by lineage.cli.app.connection.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from lineage.cli.app import FailOn, parse_severity, warn
from lineage.core.config import Config, ConfigError, load, read
from lineage.core.status import UsageError

ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", help="Read this configuration file (a lineage.toml, or a pyproject.toml with [tool.lineage]) "
                     "instead of the first one found from the current folder upward.", show_default=False)]
NoConfigOpt = Annotated[bool, typer.Option("--no-config", help="Read no configuration file.")]


def settings(config_file: Optional[Path], no_config: bool, data_root: Optional[Path] = None) -> Config:
    """The configuration in effect: the file named, none, or the first found upward (never
    one inside the data root, which is data, not settings)."""
    if config_file is not None and no_config:
        raise UsageError("--config and --no-config exclude each other")
    if no_config:
        return Config()
    if config_file is not None:
        config = replace(read(config_file), named=True)
    else:
        config = load(Path.cwd(), data_root,
                      lambda path: warn(f"ignoring {path}: a configuration file inside the data root is not read"))
    _check_names(config)
    return config


def _check_names(config: Config) -> None:
    """Check IDs and families must be in the catalog: a misspelled one would be ignored."""
    if not config.skip and not config.severity:
        return
    from lineage.queries import catalog

    unknown = catalog.unknown(list(config.skip))
    if unknown:
        raise ConfigError(f"{config.where('skip')}: unknown check or family {unknown[0]!r} "
                          f"(`lineage checks` lists them)")
    unknown = [c for c in config.severity if c not in catalog.BY_ID]
    if unknown:
        raise ConfigError(f"{config.where('severity')}: unknown check {unknown[0]!r} "
                          f"(`lineage checks` lists them)")


def fail_on_for(given: Optional[FailOn], config: Config) -> FailOn:
    """--fail-on (or $LINEAGE_FAIL_ON, read by the option), else the file's, else error."""
    return given or FailOn(config.fail_on or FailOn.error.value)


def severity_for(pairs: Optional[list[str]], config: Config) -> dict[str, str]:
    """The file's overrides, with --severity over them check by check."""
    return {**config.severity, **parse_severity(pairs or [])}


def checks_for(patterns: Optional[list[str]], config: Config, default: Optional[list[str]] = None):
    """The checks to run: --check names them and then the file's skip does not apply (the
    command line wins); otherwise `default` (the whole catalog when None) minus the skipped."""
    from lineage.queries import catalog

    if patterns:
        return catalog.select(patterns)
    skipped = {c.id for c in catalog.select(list(config.skip))} if config.skip else set()
    return [c for c in catalog.select(default) if c.id not in skipped]


def read_baseline(given: Optional[Path], config: Config, writing: bool):
    """The baseline of --baseline, else the file's (its errors then name the file and key).
    None from the file while a baseline is being written: it may not exist yet, and the new
    one replaces it."""
    from lineage.analyses import baseline

    if given is not None:
        return baseline.read(given)
    if writing or config.baseline is None:
        return None
    try:
        return baseline.read(config.baseline)
    except UsageError as exc:
        raise ConfigError(f"{config.where('baseline')}: {exc}") from None


def config_note(config: Config) -> str:
    """For the verdict line: which file set options, when one did."""
    if config.path is None:
        return ""
    try:
        shown = min(os.path.relpath(config.path), str(config.path), key=len)
    except ValueError:  # on another drive (Windows)
        shown = str(config.path)
    return f", config {shown}"
