"""Reading a cohort spec folder: `config.yaml` and the `@file:` helpers beside it.

Only what the folder holds is read: a helper path that is absolute, climbs out with `..`, or
resolves outside the folder through a symlink is refused, as is anything that is not a regular
file or is larger than MAX_FILE_BYTES. YAML duplicate keys, which the parser would silently
resolve to the last one, are refused too.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import yaml

from lineage.loaders.csv_chunks import read_small
from lineage.loaders.spec.model import Level, Pair, Rule, Spec, SpecError, Subset, Tie, TupleRule

CONFIG = "config.yaml"
FILE_PREFIX = "@file:"
MAX_FILE_BYTES = 4 * 1024 * 1024  # a spec and its helpers are a few KiB; far larger is a mistake
TOP_KEYS = ("axes", "rules", "output")
SECTIONS = ("subsets", "ties", "pairs", "tuples")
OUTPUT_KEYS = ("field_order", "seed")


def load_spec(path: str | os.PathLike, *, label: str | None = None) -> Spec:
    """Load a spec from its folder (which holds config.yaml) or from the config file itself.

    `label` names the config file in errors and in Spec.source (the audit passes the path
    relative to the data root, so a finding reads the same wherever the store lies)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        folder, name = path, CONFIG
    elif os.path.lexists(path):
        folder, name = os.path.dirname(path) or ".", os.path.basename(path)
    else:
        raise SpecError(f"spec {path}: no such folder or file")
    reader = _Folder(folder, label or os.path.join(folder, name))
    data = reader.yaml(name)
    return _build(data, reader)


class _Folder:
    """The spec folder: where helper paths resolve, and the name errors start with."""

    def __init__(self, folder: str, config: str) -> None:
        self.real = os.path.realpath(folder)
        self.config = config

    def fail(self, where: str, why: str) -> SpecError:
        return SpecError(f"{self.config}: {where}: {why}" if where else f"{self.config}: {why}")

    def file(self, rel: Any, where: str) -> str:
        """The real path of a file inside the folder, checked; else SpecError."""
        if not isinstance(rel, str) or not rel.strip():
            raise self.fail(where, "an empty file name")
        parts = rel.replace("\\", "/").split("/")
        if os.path.isabs(rel) or rel.startswith(("/", "\\")) or ".." in parts:
            raise self.fail(where, f"{rel!r} leaves the spec folder; helpers must sit inside it")
        real = os.path.realpath(os.path.join(self.real, rel))
        if not real.startswith(self.real + os.sep):
            raise self.fail(where, f"{rel!r} resolves outside the spec folder (a symlink out of it)")
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise self.fail(where, f"{rel!r} does not exist") from None
        except OSError as exc:
            raise self.fail(where, f"{rel!r} cannot be read: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):
            raise self.fail(where, f"{rel!r} is not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise self.fail(where, f"{rel!r} is larger than {MAX_FILE_BYTES:,} bytes")
        return real

    def text(self, rel: str, where: str) -> str:
        real = self.file(rel, where)
        try:
            with open(real, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise self.fail(where, f"{rel!r} cannot be read: {exc.strerror or exc}") from None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(where, f"{rel!r} is not UTF-8 (byte {exc.start})") from None

    def yaml(self, rel: str) -> Any:
        text = self.text(rel, "")
        try:
            return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader; see below
        except _DuplicateKey as dup:
            raise self.fail("", f"duplicate key {dup.key!r} (line {dup.line})") from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise self.fail("", f"not valid YAML{at}: {exc.problem or exc.context}") from None
        except yaml.YAMLError as exc:
            raise self.fail("", f"not valid YAML: {exc}") from None
        except RecursionError:
            raise self.fail("", "nested too deeply") from None

    def include(self, payload: str, where: str) -> tuple[list, list[str] | None]:
        """The values of an `@file:` helper, and a CSV's header (None for a .txt list).

        A one-column CSV gives its values; a wider one gives a tuple per row, in column order."""
        rel = payload[len(FILE_PREFIX):]  # not stripped: the pipeline would not find ' x.csv' either
        ext = os.path.splitext(rel)[1].lower()
        if ext == ".csv":
            return self._csv(rel, where)
        if ext == ".txt":
            text = self.text(rel, where)
            if text.startswith("\ufeff"):
                raise self.fail(where, f"{rel!r} starts with a byte-order mark")
            return [line.strip() for line in text.splitlines() if line.strip()], None
        raise self.fail(where, f"{rel!r}: only .csv and .txt helpers are supported")

    def _csv(self, rel: str, where: str) -> tuple[list, list[str]]:
        real = self.file(rel, where)
        rows = read_small(real, f"{self.config}: {where}: {rel!r}", SpecError)
        if not rows or not rows[0]:
            raise self.fail(where, f"{rel!r} has no header row")
        header = rows[0]
        for i, name in enumerate(header, 1):
            if not name.strip():
                raise self.fail(where, f"{rel!r}: header column {i} has no name")
            if name != name.strip():
                raise self.fail(where, f"{rel!r}: header {name!r} has spaces around it")
        if len(set(header)) != len(header):
            raise self.fail(where, f"{rel!r}: the header repeats a column name")
        width = len(header)
        values: list = []
        for n, row in enumerate(rows[1:], 1):
            if not row:
                continue  # a blank line
            if any(cell.strip() for cell in row[width:]):
                raise self.fail(where, f"{rel!r}: data row {n} has more cells than the header")
            cells = [cell.strip() for cell in row[:width]] + [""] * (width - len(row))
            if any("\n" in c or "\r" in c for c in cells):
                raise self.fail(where, f"{rel!r}: data row {n} has a line break inside a cell")
            if width == 1:
                if cells[0]:  # a blank cell in a one-column list is skipped, as the pipeline does
                    values.append(cells[0])
                continue
            if not all(cells):
                empty = header[cells.index("")]
                raise self.fail(where, f"{rel!r}: data row {n} has no value for {empty!r}")
            values.append(tuple(cells))
        if not values:
            raise self.fail(where, f"{rel!r} has no data rows")
        return values, header


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key repeated in one mapping."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    seen: list = []
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        seen.append(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


# --- the spec's structure -----------------------------------------------------------------------

def _build(data: Any, folder: _Folder) -> Spec:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise folder.fail("", "the top level must be a mapping of axes, rules and output")
    for key in data:
        if key not in TOP_KEYS:
            raise folder.fail("", f"unknown key {key!r} (expected {', '.join(TOP_KEYS)})")
    axes_section = data.get("axes", {})
    if not isinstance(axes_section, dict):
        raise folder.fail("axes", "must be a mapping of axis names to levels")
    axes: dict[str, tuple[Level, ...]] = {}
    for name, payload in axes_section.items():
        where = f"axes.{name}"
        _name(name, "an axis", folder)
        if isinstance(payload, str) and payload.startswith(FILE_PREFIX):
            values, header = folder.include(payload, where)
            if header and len(header) != 1:
                raise folder.fail(where, f"the helper has {len(header)} columns; an axis takes one")
        elif isinstance(payload, list):
            values = payload
        else:
            raise folder.fail(where, "must be a list of levels or an '@file:' helper")
        axes[name] = tuple(_level(v, where, folder) for v in values)

    rules = _rules(data.get("rules"), folder)
    derived = _derive_tuple_axes(rules, axes, folder)

    output = data.get("output")
    if not isinstance(output, dict):
        raise folder.fail("output", "is required: a mapping with field_order")
    for key in output:
        if key not in OUTPUT_KEYS:
            raise folder.fail("output", f"unknown key {key!r} (expected {', '.join(OUTPUT_KEYS)})")
    order = output.get("field_order")
    if not isinstance(order, list):
        raise folder.fail("output.field_order", "is required: a list of axis names")
    for field in order:
        if not isinstance(field, str) or field not in axes:
            raise folder.fail("output.field_order", f"{field!r} is not an axis of the spec")
    return Spec(source=folder.config, axes=axes, rules=tuple(rules), field_order=tuple(order),
                derived=tuple(derived), seed=output.get("seed"))


def _name(value: Any, what: str, folder: _Folder, where: str = "") -> str:
    if not isinstance(value, str) or not value.strip():
        raise folder.fail(where, f"{value!r} is not a valid name for {what}")
    return value


def _level(value: Any, where: str, folder: _Folder) -> Level:
    if type(value) is str or type(value) is int:
        return value
    if isinstance(value, bool):
        why = "a YAML boolean (true/false/yes/no); quote it"
    elif value is None:
        why = "empty (null)"
    elif isinstance(value, float):
        why = "a number with a fraction; quote it if it is a name"
    elif isinstance(value, (list, tuple, dict)):
        why = "nested; a level is one text or whole number"
    else:
        why = f"a {type(value).__name__}; quote it"
    raise folder.fail(where, f"level {value!r} is {why}")


def _rules(section: Any, folder: _Folder) -> list[Rule]:
    if section is None or section == {}:
        return []
    if not isinstance(section, dict):
        raise folder.fail("rules", "must be a mapping of subsets, ties, pairs and tuples")
    rules: list[Rule] = []
    for kind, body in section.items():
        if kind not in SECTIONS:
            raise folder.fail("rules", f"unknown rule section {kind!r} (expected {', '.join(SECTIONS)})")
        if not isinstance(body, dict):
            raise folder.fail(f"rules.{kind}", "must be a mapping")
        for name, payload in body.items():
            where = f"rules.{kind}.{name}"
            _name(name, "a rule" if kind != "subsets" else "an axis", folder, f"rules.{kind}")
            rules.append(_PARSERS[kind](name, payload, where, folder))
    return rules


def _keys(payload: dict, allowed: tuple[str, ...], where: str, folder: _Folder) -> None:
    for key in payload:
        if key not in allowed:
            raise folder.fail(where, f"unknown key {key!r} (expected {', '.join(allowed)})")


def _list_or_file(payload: Any, where: str, folder: _Folder) -> tuple[list, list[str] | None]:
    if isinstance(payload, str) and payload.startswith(FILE_PREFIX):
        return folder.include(payload, where)
    if isinstance(payload, list):
        return payload, None
    raise folder.fail(where, "must be a list or an '@file:' helper")


def _axis_names(value: Any, where: str, folder: _Folder) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise folder.fail(where, "axes must be a non-empty list of axis names")
    names = tuple(_name(v, "an axis", folder, where) for v in value)
    if len(set(names)) != len(names):
        raise folder.fail(where, "names an axis twice")
    return names


def _subset(axis: str, payload: Any, where: str, folder: _Folder) -> Subset:
    values, header = _list_or_file(payload, where, folder)
    if header and len(header) != 1:
        raise folder.fail(where, f"the helper has {len(header)} columns; a subset takes one")
    return Subset(axis, tuple(_level(v, where, folder) for v in values))


def _tie(name: str, payload: Any, where: str, folder: _Folder) -> Tie:
    if isinstance(payload, dict):
        _keys(payload, ("axes",), where, folder)
        payload = payload.get("axes")
    return Tie(name, _axis_names(payload, where, folder))


def _pair_value(value: Any, where: str, folder: _Folder):
    if isinstance(value, (list, tuple)):
        return tuple(_level(v, where, folder) for v in value)
    return _level(value, where, folder)


def _pair(name: str, payload: Any, where: str, folder: _Folder) -> Pair:
    if not isinstance(payload, dict):
        raise folder.fail(where, "must be a mapping with left, right and allowed")
    _keys(payload, ("left", "right", "allowed", "balance"), where, folder)
    left, right = payload.get("left"), payload.get("right")
    if not isinstance(left, str) or not isinstance(right, str):
        raise folder.fail(where, "left and right must name axes")
    if "allowed" not in payload:
        raise folder.fail(where, "allowed is required")
    values, header = _list_or_file(payload["allowed"], f"{where}.allowed", folder)
    _check_columns(folder, header, [left, right], f"{where}.allowed")
    allowed = []
    for n, entry in enumerate(values, 1):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise folder.fail(f"{where}.allowed", f"entry {n} must be a [left, right] pair")
        allowed.append(tuple(_pair_value(v, f"{where}.allowed", folder) for v in entry))
    if not allowed:
        raise folder.fail(f"{where}.allowed", "must not be empty")
    balance = payload.get("balance")
    if balance is not None and balance not in ("left", "right", "both"):
        raise folder.fail(where, f"balance {balance!r} must be left, right or both")
    return Pair(name, left, right, tuple(allowed), balance)


def _tuple(name: str, payload: Any, where: str, folder: _Folder) -> TupleRule:
    if not isinstance(payload, dict):
        raise folder.fail(where, "must be a mapping with axes and items")
    _keys(payload, ("axes", "items"), where, folder)
    names = _axis_names(payload.get("axes"), f"{where}.axes", folder)
    if "items" not in payload:
        raise folder.fail(where, "items is required")
    values, header = _list_or_file(payload["items"], f"{where}.items", folder)
    _check_columns(folder, header, list(names), f"{where}.items")
    items = []
    for n, entry in enumerate(values, 1):
        if not isinstance(entry, (list, tuple)) or len(entry) != len(names):
            raise folder.fail(f"{where}.items", f"item {n} must list {len(names)} levels, one per axis")
        items.append(tuple(_level(v, f"{where}.items", folder) for v in entry))
    if not items:
        raise folder.fail(f"{where}.items", "must not be empty")
    return TupleRule(name, names, tuple(items))


def _check_columns(folder: _Folder, columns: list[str] | None, axes: list[str], where: str) -> None:
    """A helper whose columns are the rule's axes in another order would be read by position,
    so the levels would land on the wrong axes: refused."""
    if columns and sorted(columns) == sorted(axes) and list(columns) != axes:
        raise folder.fail(where, f"columns {', '.join(columns)} are not in the order {', '.join(axes)}")


_PARSERS = {"subsets": _subset, "ties": _tie, "pairs": _pair, "tuples": _tuple}


def _derive_tuple_axes(rules: list[Rule], axes: dict[str, tuple[Level, ...]], folder: _Folder) -> list[str]:
    """Axes that only tuple rules name get their levels from the items, in first-seen order;
    they are appended after the declared axes. A tuple may not name a declared axis."""
    declared = set(axes)
    levels: dict[str, list[Level]] = {}
    for rule in rules:
        if not isinstance(rule, TupleRule):
            continue
        for i, axis in enumerate(rule.axes):
            if axis in declared:
                raise folder.fail(f"rules.tuples.{rule.name}",
                                  f"axis {axis!r} is declared under axes; a tuple's axes take their levels from its items")
            seen = levels.setdefault(axis, [])
            for item in rule.items:
                if item[i] not in seen:
                    seen.append(item[i])
    for axis, values in levels.items():
        axes[axis] = tuple(values)
    return list(levels)
