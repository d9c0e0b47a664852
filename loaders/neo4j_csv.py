"""The lineage graph as CSV files for `neo4j-admin database import full`, the offline import
that loads an empty database at about a million records a second.

The files hold exactly what the UNWIND load writes (neo4j_shape defines both), plus a `LoadRun`
node marked `imported`: neo4j_load.finish_import creates the schema once the database is up
and only then marks the load complete, so queries refuse the graph until it is finished.

Every cell is escaped so that no value can break the file, whatever a hostile store puts in an
ID or a file name (quotes, commas, newlines, control characters):
- a text is always quoted, its quotes doubled (RFC 4180, the import's default quoting); an
  empty text is `""`, while a missing value is an empty unquoted cell, which the import reads
  as no property;
- numbers and booleans (`true`/`false`: the import reads `TRUE` as false) are never quoted;
- a list of texts is one quoted cell, joined by U+001F; a list whose texts cannot be told
  apart after joining (an empty text, or one that holds U+001F) is left out of the file and
  set after the import (a fix-up, kept in the manifest), as is a value of an unexpected type;
- a text with a line break switches on `--multiline-fields` (slower, so only when needed).
Node IDs in the files are integers (`--id-type=integer`), not stored; `uid` is a property.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import asdict, dataclass, field
from collections import Counter
from functools import partial
from itertools import chain, repeat
from operator import contains, methodcaller
from typing import Any

from lineage.core.files import read_input
from lineage.core.perf import gc_paused
from lineage.core.status import LineageError, UsageError
from lineage.loaders.graph_model import Edges, GraphData
from lineage.loaders.neo4j_shape import (FINGERPRINT, GRAPH_VERSION, NOT_STORED, REL_TYPES, fingerprint_sum, node_columns,
                                         relationship_columns, uid)

ARRAY_DELIMITER = "\x1f"
MANIFEST = "import.json"
LOADRUN_FILE = "loadrun.csv"


class _Bare(int):
    """A cell written unquoted: csv.QUOTE_NONNUMERIC quotes every text and leaves numbers bare,
    and this is a number whose text is chosen (empty for a missing value, true/false)."""

    def __new__(cls, text: str) -> "_Bare":
        self = super().__new__(cls, 0)
        self.text = text
        return self

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


NULL, TRUE, FALSE = _Bare(""), _Bare("true"), _Bare("false")
_BOOLS = {True: TRUE, False: FALSE, None: NULL}


MAX_MANIFEST_BYTES = 1 << 30  # the fix-ups of a million odd values fit


@dataclass
class ImportFiles:
    """The files of one import and what to do after it: the manifest (`import.json`)."""

    folder: str
    root: str
    load_id: str
    nodes: int
    relationships: int
    started: str  # ISO time the load started, for the LoadRun node
    node_files: list[tuple[str, str]] = field(default_factory=list)  # (labels joined by ':', file)
    relationship_files: list[tuple[str, str]] = field(default_factory=list)  # (type, file)
    multiline: bool = False
    fixups: list[dict[str, Any]] = field(default_factory=list)  # {"uid": ..., "p": {name: value}}
    graph_version: int = 1  # neo4j_shape.GRAPH_VERSION when written; a manifest without it is older

    def arguments(self) -> list[str]:
        """The options of `neo4j-admin database import full` (after the database name)."""
        args = ["--id-type=integer", "--array-delimiter=U+001F"]
        if self.multiline:
            args.append("--multiline-fields=true")
        args += [f"--nodes={labels}={path}" for labels, path in self.node_files]
        args += [f"--relationships={rel_type}={path}" for rel_type, path in self.relationship_files]
        return args

    def save(self) -> None:
        with open(os.path.join(self.folder, MANIFEST), "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, ensure_ascii=True)

    @classmethod
    def read(cls, folder: str) -> "ImportFiles":
        path = os.path.join(folder, MANIFEST)
        raw = read_input(path, path, MAX_MANIFEST_BYTES)  # a regular file of bounded size
        try:
            files = cls(**json.loads(raw))
        except (ValueError, TypeError):
            files = None
        if files is None or not files.well_typed():
            raise UsageError(f"{path} is not a manifest lineage wrote")
        if files.graph_version != GRAPH_VERSION:
            raise UsageError(f"the import files in {folder} hold graph version {files.graph_version}, not "
                             f"{GRAPH_VERSION}: write them again with this lineage (`lineage load` with --csv-dir)")
        files.node_files = [tuple(x) for x in files.node_files]
        files.relationship_files = [tuple(x) for x in files.relationship_files]
        return files

    def well_typed(self) -> bool:
        """Every field of the type save() writes (a hand-edited manifest may hold anything)."""
        def pairs(xs: Any) -> bool:
            return isinstance(xs, list) and all(
                isinstance(x, list) and len(x) == 2 and all(isinstance(y, str) for y in x) for x in xs)
        return (all(isinstance(v, str) for v in (self.folder, self.root, self.load_id, self.started))
                and all(type(v) is int and v >= 0 for v in (self.nodes, self.relationships))
                and isinstance(self.multiline, bool) and pairs(self.node_files)
                and pairs(self.relationship_files)
                and isinstance(self.fixups, list) and all(isinstance(x, dict) for x in self.fixups)
                and type(self.graph_version) is int)


_TYPE_KINDS = {str: "string", bool: "boolean", int: "long", tuple: "string[]", list: "string[]"}
_NONE = type(None)


def _column_kind(types: Counter, values: list) -> str:
    """The import type of a column: that of most of its values (the others become fix-ups). A
    column of lists is one of texts, or of integers if its first element is one."""
    kinds: Counter = Counter()
    for t, n in types.items():
        if t in _TYPE_KINDS:
            kinds[_TYPE_KINDS[t]] += n
    kind = kinds.most_common(1)[0][0] if kinds else "string"
    if kind == "string[]":
        first = next((v[0] for v in values if type(v) in (tuple, list) and v), "")
        if type(first) is int:
            return "long[]"
    return kind


class _Writer:
    def __init__(self, files: ImportFiles):
        self.files = files

    def cells(self, name: str, values: list, uids: list[str] | None) -> tuple[str, list]:
        """(header, cells) of one property column; values it cannot write go to fix-ups."""
        types = Counter(map(type, values))
        kind = _column_kind(types, values)
        if not kind.endswith("[]") and set(types) <= {_NONE, *(t for t, k in _TYPE_KINDS.items() if k == kind)}:
            # The common case, in C: a column of one type, perhaps with missing values.
            if kind == "boolean":
                out = list(map(_BOOLS.get, values))
            elif _NONE in types:
                out = [NULL if v is None else v for v in values]
            else:
                out = values
        else:
            out = _lists(kind, values, types) or [self._cell(kind, name, v, uids, i) for i, v in enumerate(values)]
        if kind in ("string", "string[]") and not self.files.multiline:
            # str() returns a text itself and a bare cell's text: the join stays in C.
            joined = "\x00".join(map(str, out) if kind == "string" else (v for v in out if v is not NULL))
            self.files.multiline = "\n" in joined or "\r" in joined
        return (name if kind == "string" else f"{name}:{kind}"), out

    def _cell(self, kind: str, name: str, v: Any, uids: list[str] | None, i: int) -> Any:
        if v is None:
            return NULL
        t = type(v)
        if kind == "long[]" and t in (tuple, list):
            if not v:
                return NULL
            if all(type(x) is int for x in v):
                return ARRAY_DELIMITER.join(map(str, v))
            return self._fix(uids, i, name, list(v))
        if kind == "string[]" and t in (tuple, list):
            if not v:
                return NULL
            if all(type(x) is str for x in v) and "" not in v:
                joined = ARRAY_DELIMITER.join(v)
                if joined.count(ARRAY_DELIMITER) == len(v) - 1:
                    return joined
            return self._fix(uids, i, name, list(v))
        if _TYPE_KINDS.get(t) == kind:
            return _BOOLS[v] if kind == "boolean" else v
        return self._fix(uids, i, name, list(v) if t is tuple else v)

    def _fix(self, uids: list[str] | None, i: int, name: str, value: Any) -> _Bare:
        """A value the file cannot hold: set on the node after the import (uid, then name)."""
        if uids is None:  # relationships have no identity to set a property on afterwards
            raise LineageError(f"cannot write relationship property {name}={value!r} for the offline import; "
                               "load with --method unwind")
        self.files.fixups.append({"uid": uids[i], "p": {name: value}})
        return NULL


def _lists(kind: str, values: list, types: Counter) -> list | None:
    """The cells of a column of lists, in C where it can be: None when some list needs the
    careful path (a value of another type, an empty text, a delimiter inside a text)."""
    if not kind.endswith("[]") or not set(types) <= {tuple, list, _NONE}:
        return None
    full = [v for v in values if v]
    items = set(map(type, chain.from_iterable(full)))
    if kind == "long[]":
        if not items <= {int}:
            return None
        texts = list(map(ARRAY_DELIMITER.join, map(partial(map, str), full)))
    else:
        if not items <= {str} or any(map(contains, full, repeat(""))):
            return None
        texts = list(map(ARRAY_DELIMITER.join, full))
        # Each list of n texts has n - 1 delimiters unless a text holds one.
        if sum(map(methodcaller("count", ARRAY_DELIMITER), texts)) != sum(map(len, full)) - len(full):
            return None
    it = iter(texts)
    return [next(it) if v else NULL for v in values]


def _write(path: str, header: list[str], columns: list) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(header) + "\n")  # names from the code, never from data
        csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(zip(*columns))


@gc_paused()  # the columns and cells of millions of rows: no cyclic collection while they are made
def write(folder: str, root: str, data: GraphData, load_id: str) -> ImportFiles:
    """Write the import files of `root`'s graph into `folder` (created; must not hold files)."""
    if "," in os.path.abspath(folder):
        # The import splits a list of files on commas.
        raise UsageError(f"{folder}: the import tool cannot read files in a folder whose path has a comma")
    os.makedirs(folder, exist_ok=True)
    if os.listdir(folder):
        raise UsageError(f"{folder} is not empty; name a new or empty folder for the import files")
    folder = os.path.abspath(folder)
    rel_columns = relationship_columns(data)
    files = ImportFiles(folder, root, load_id, len(data.nodes), sum(map(len, rel_columns)),
                        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), graph_version=GRAPH_VERSION)
    # The root (and every uid, which holds it) bypasses the writer's per-column test.
    files.multiline = "\n" in root or "\r" in root
    writer = _Writer(files)
    ids: dict[str, int] = {}
    sums = []
    for labels, properties in node_columns(data):
        sums.append(fingerprint_sum(properties[FINGERPRINT]))
        start = len(ids)
        keys = properties["key"]
        ids.update(zip(keys, range(start, start + len(keys))))
        uids = list(map(uid(root, "").__add__, keys))  # in C
        header, columns = [":ID", "root", "uid"], [range(start, start + len(keys)), repeat(root, len(keys)), uids]
        for name in sorted(properties.keys() - NOT_STORED):
            h, cells = writer.cells(name, properties[name], uids)
            header.append(h)
            columns.append(cells)
        name = "nodes-" + "-".join(labels).lower() + ".csv"
        _write(os.path.join(folder, name), header, columns)
        files.node_files.append((":".join(("Lineage",) + labels), os.path.join(folder, name)))

    by_type: dict[str, list[Edges]] = {}
    for edges in rel_columns:
        assert edges.type in REL_TYPES, edges.type
        if len(edges):
            by_type.setdefault(edges.type, []).append(edges)
    for rel_type, columns_of_type in by_type.items():
        path = os.path.join(folder, f"rels-{rel_type.lower()}.csv")
        names = sorted({k for e in columns_of_type for k in e.props})
        columns: list[list] = [[], []]
        per_name: dict[str, list] = {n: [] for n in names}
        for edges in columns_of_type:
            n = len(edges)
            columns[0].extend(map(ids.__getitem__, edges.sources))
            columns[1].extend(map(ids.__getitem__, edges.targets))
            for name in names:
                v = edges.props.get(name)
                per_name[name].extend(v if type(v) is list else repeat(v, n))
        header = [":START_ID", ":END_ID"]
        for name in names:
            h, cells = writer.cells(name, per_name[name], None)
            header.append(h)
            columns.append(cells)
        _write(path, header, columns)
        files.relationship_files.append((rel_type, path))

    # The LoadRun node, marked `imported` until finish_import has made the schema.
    path = os.path.join(folder, LOADRUN_FILE)
    _write(path, [":ID", "root", "status", "load_id", "nodes:long", "relationships:long", "fingerprint_sum:long"],
           [[len(ids)], [root], ["imported"], [load_id], [files.nodes], [files.relationships],
            [fingerprint_sum(sums)]])
    files.node_files.append(("LoadRun", path))
    files.save()
    return files
