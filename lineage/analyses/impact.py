"""Every place a rename must touch (DOMAIN 6): folders, JSON fields, CSV cells, selection lines,
results/, and the Dagster partition keys, for renames given by ID or by a mapping file.

Read-only: it reads the store's scan, plus raw_metadata.json / parsed_metadata.json of the
generations concerned and results/*.md, and writes nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import orjson

from lineage.core import ids
from lineage.loaders.csv_chunks import read_small
from lineage.core.files import MAX_INPUT_BYTES, open_regular
from lineage.loaders.store import MAX_METADATA_BYTES, read_capped
from lineage.loaders.walk import in_store
from lineage.loaders.lineage_graph import LineageGraph, of
from lineage.core.model import Generation, Reference, Store, gen_key
from lineage.analyses.rename import MappingResult, Rename, cascade, result_of
from lineage.core.status import UsageError
from lineage.core.text import count

PLACE_COLUMNS = ["old_id", "new_id", "stage", "cause", "kind", "path", "line", "column", "pointer",
                 "old_value", "new_value", "action"]
RENAME_COLUMNS = ["stage", "old_id", "new_id", "cause", "via", "path"]
RUN_METADATA_FILES = ("raw_metadata.json", "parsed_metadata.json")
KIND_ORDER = {k: i for i, k in enumerate(
    ("folder", "json", "membership", "csv", "csv_path", "selection", "file_name", "text", "partition"))}

_ABSOLUTE_WINDOWS = re.compile(r"^[A-Za-z]:")
_GENS_ID = re.compile(r"gens[/\\](draft|essay|evaluation)[/\\]([0-9A-Za-z_-]+)")  # a path names the stage


# --- input ---------------------------------------------------------------------------------------

def unsafe_reason(value: str) -> str:
    """Why `value` cannot be an ID (it would name another place than gens/<stage>/<id>), or ''."""
    if not value.strip():
        return "is empty"
    if "\x00" in value:
        return "contains a NUL byte"
    if "/" in value or "\\" in value:
        return "contains a path separator"
    if ".." in value:
        return "contains '..'"
    if os.path.isabs(value) or _ABSOLUTE_WINDOWS.match(value):
        return "is an absolute path"
    return ""


def new_id_reason(value: str) -> str:
    """Why `value` cannot name a new generation folder, or ''. Besides the path tricks: no
    whitespace or control character (a selection file strips its lines, a newline splits a
    CSV row) and no leading '-' (every command-line tool would read it as an option)."""
    why = unsafe_reason(value)
    if why:
        return why
    if any(c.isspace() or not c.isprintable() for c in value):
        return "contains whitespace or a control character"
    if value.startswith("-"):
        return "starts with '-'"
    return ""


def check_ids(values: Iterable[str], where: str = "argument", reason: Callable[[str], str] = unsafe_reason) -> None:
    for value in values:
        why = reason(value)
        if why:
            raise UsageError(f"{where}: ID {value!r} {why}; refusing to continue")


@dataclass(slots=True)
class Entry:
    """One line of a mapping CSV."""

    old_id: str
    new_id: str
    stage: str  # "" when the file has no stage column
    line: int


def read_mapping(path: str) -> list[Entry]:
    """A mapping CSV with columns old_id,new_id and optionally stage (any order, header required).

    Every ID is checked for path tricks before anything else uses it.
    """
    rows = read_small(path, f"mapping {path}", UsageError, limit=MAX_INPUT_BYTES)
    if not rows:
        raise UsageError(f"mapping {path} is empty; expected a header old_id,new_id[,stage]")
    header = [c.strip().lower() for c in rows[0]]
    if "old_id" not in header or "new_id" not in header:
        raise UsageError(f"mapping {path}: the header must name old_id and new_id (and optionally stage)")
    i_old, i_new = header.index("old_id"), header.index("new_id")
    i_stage = header.index("stage") if "stage" in header else None
    entries: list[Entry] = []
    for line, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(i_old, i_new, i_stage or 0):
            raise UsageError(f"mapping {path}:{line}: row has fewer columns than the header")
        old, new = row[i_old].strip(), row[i_new].strip()
        check_ids([row[i_old]], f"mapping {path}:{line}")
        check_ids([new], f"mapping {path}:{line}", new_id_reason)
        stage = row[i_stage].strip().lower() if i_stage is not None else ""
        if stage and stage not in ids.STAGES:
            raise UsageError(f"mapping {path}:{line}: unknown stage {stage!r}; expected {', '.join(ids.STAGES)}")
        entries.append(Entry(old, new, stage, line))
    return entries


# --- the result ----------------------------------------------------------------------------------

@dataclass(slots=True)
class Place:
    old_id: str
    new_id: str
    stage: str
    cause: str
    kind: str  # folder | json | membership | csv | csv_path | selection | file_name | text | partition
    path: str  # relative to the data root; "" for a Dagster partition
    line: int | None = None  # 1-based; a CSV header is line 1
    column: str = ""  # CSV column, or the partition set
    pointer: str = ""  # JSON pointer (RFC 6901) inside a JSON file
    old_value: str = ""
    new_value: str = ""
    action: str = ""

    def as_dict(self) -> dict:
        return {c: getattr(self, c) for c in PLACE_COLUMNS}


@dataclass
class Impact:
    renames: list[Rename]
    places: list[Place]
    conflicts: list[dict]
    blocked: list[dict]
    warnings: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (parent key, child key) for drawings
    nodes: dict[str, dict] = field(default_factory=dict)  # key -> {stage, old_id, new_id, role}

    def as_dict(self) -> dict:
        partitions = {"delete": {}, "add": {}}
        for r in self.renames:
            partitions["delete"].setdefault(ids.PARTITION_SET[r.stage], []).append(r.old_id)
            partitions["add"].setdefault(ids.PARTITION_SET[r.stage], []).append(r.new_id)
        return {"renames": [r.as_dict() for r in self.renames],
                "places": [p.as_dict() for p in self.places],
                "conflicts": self.conflicts, "blocked": self.blocked,
                "partitions": partitions, "warnings": self.warnings}

    def summary(self) -> str:
        causes: dict[str, int] = {}
        for r in self.renames:
            causes[r.cause] = causes.get(r.cause, 0) + 1
        files = {p.path for p in self.places if p.path and p.kind != "folder"}
        why = ", ".join(f"{n:,} {c}" for c, n in sorted(causes.items()))
        return (count(len(self.renames), "rename") + (f" ({why})" if why else "") +
                f", {count(len(self.places), 'place')} in {count(len(files), 'file')}, "
                f"{count(len(self.conflicts), 'conflict')}")


# --- computing it --------------------------------------------------------------------------------

def seeds_from_ids(g: LineageGraph, gen_ids: list[str]) -> dict[str, None]:
    """Generation keys to rename to the ID their metadata implies; an unknown ID is an error."""
    seeds: dict[str, None] = {}
    for gen_id in gen_ids:
        found = g.find(gen_id.strip())
        if not found:
            raise UsageError(f"{gen_id} names no generation folder under gens/")
        seeds.update(dict.fromkeys(found))
    return seeds


def seeds_from_mapping(g: LineageGraph, entries: list[Entry]) -> tuple[dict[str, str], list[str]]:
    seeds: dict[str, str] = {}
    warnings = []
    for e in entries:
        found = [g.record(k) for k in g.find(e.old_id) if not e.stage or g.nodes[k]["stage"] == e.stage]
        where = f"mapping line {e.line}"
        if not found:
            raise UsageError(f"{where}: {e.old_id} names no generation folder under gens/"
                             + (f"{e.stage}/" if e.stage else ""))
        if len(found) > 1:
            raise UsageError(f"{where}: {e.old_id} exists in {', '.join(g.stage for g in found)}; "
                             "add a stage column to the mapping")
        gen = found[0]
        if gen.key in seeds:
            raise UsageError(f"{where}: {gen.stage} {e.old_id} is mapped twice")
        if e.new_id == e.old_id:
            warnings.append(f"{where}: {e.old_id} maps to itself; nothing to rename")
            continue
        shape = ids.classify(e.new_id)
        if shape.kind != ids.DETERMINISTIC or shape.prefix_stage != gen.stage:
            warnings.append(f"{where}: new ID {e.new_id} is not a deterministic {gen.stage} ID")
        seeds[gen.key] = e.new_id
    return seeds, warnings


def impact(source: Store | LineageGraph, gen_ids: list[str] | None = None, entries: list[Entry] | None = None,
           allow_broken: bool = False) -> Impact:
    """Every place to update for the renames: GEN_IDs (to the IDs their metadata implies) or a
    mapping; their descendants follow (cascade). A rename under a broken chain is blocked
    unless `allow_broken`, as in a migration plan."""
    g = of(source)
    if entries is not None:
        seeds, warnings = seeds_from_mapping(g, entries)
        nodes = cascade(g, seeds, seed_cause="mapping", allow_broken=allow_broken)
    else:
        seeds, warnings = seeds_from_ids(g, gen_ids or []), []
        nodes = cascade(g, seeds, seed_cause="given", allow_broken=allow_broken)
    result: MappingResult = result_of(g, nodes, None)

    for key in seeds:
        n = nodes[key]
        if not n.renamed:
            if n.blocked:
                pass  # said below, with every other blocked rename
            elif n.problem:
                warnings.append(f"{n.gen.stage} {n.gen.gen_id}: no ID can be computed ({n.problem}); not renamed")
            else:
                warnings.append(f"{n.gen.stage} {n.gen.gen_id} already has the ID its metadata implies; not renamed")
        elif n.cause == "mapping" and n.candidate and n.candidate != n.new_id:
            warnings.append(f"{n.gen.stage} {n.gen.gen_id}: mapped to {n.new_id}, but its metadata implies "
                            f"{n.candidate}")
    warnings += blocked_warnings(result)

    out = Impact(result.renames, [], result.conflicts, result.blocked, warnings)
    if result.renames:
        out.places = places(g, result.renames, out.warnings)
    _drawing(out, g, nodes)
    return out


def blocked_warnings(result: MappingResult) -> list[str]:
    """One line per rename left out (and per rename done despite a broken chain)."""
    out = []
    for b in result.blocked:
        below = f" (below {b['via']})" if b["via"] else ""
        out.append(f"{b['stage']} {b['gen_id']}{below} keeps its ID: {b['check']}: {b['problem']}")
    return out + result.warnings


class _Renames:
    """Look up the rename a mention of an old ID belongs to, preferring the stage the place implies."""

    def __init__(self, renames: list[Rename]):
        self.by_old: dict[str, list[Rename]] = {}
        for r in renames:
            self.by_old.setdefault(r.old_id, []).append(r)

    def __contains__(self, old_id: str) -> bool:
        return old_id in self.by_old

    def get(self, old_id: str, stage: str = "") -> Rename | None:
        found = self.by_old.get(old_id)
        if not found:
            return None
        return next((r for r in found if r.stage == stage), found[0])


def places(g: LineageGraph, renames: list[Rename], warnings: list[str]) -> list[Place]:
    """Every place that mentions an old ID of `renames`, found in the graph's store."""
    store = g.store
    lookup = _Renames(renames)
    out: list[Place] = []
    for r in renames:
        out.append(Place(r.old_id, r.new_id, r.stage, _cause(r), "folder", f"gens/{r.stage}/{r.old_id}",
                         old_value=f"gens/{r.stage}/{r.old_id}", new_value=f"gens/{r.stage}/{r.new_id}",
                         action="rename folder"))
        out.append(Place(r.old_id, r.new_id, r.stage, _cause(r), "partition", "", column=ids.PARTITION_SET[r.stage],
                         old_value=r.old_id, new_value=r.new_id,
                         action=f"delete_dynamic_partition({ids.PARTITION_SET[r.stage]}, old); "
                                f"add_dynamic_partitions({ids.PARTITION_SET[r.stage]}, [new])"))

    # metadata.json: already in memory for every generation, so every one is searched.
    touched: set[str] = set()
    renamed_keys = {gen_key(r.stage, r.old_id) for r in renames}
    for gen in store.generations:
        if gen.meta is None:
            continue
        found = _json_places(gen.meta, gen, f"{gen.metadata_path}", lookup, renamed_keys)
        if found or gen.key in renamed_keys:
            touched.add(gen.key)
        out += found
    # raw_metadata.json / parsed_metadata.json: only of the generations concerned.
    concerned = set(touched)
    starts = [k for k in (gen_key(r.stage, r.old_id) for r in renames) if k in g]
    concerned.update(g.below(starts, cut_loops=True))  # one walk for all: a chain's renames nest
    for key in sorted(concerned):
        gen = g.record(key)
        for name in RUN_METADATA_FILES:
            if name not in gen.files:
                continue
            value = _read_json(store, f"{gen.path}/{name}", warnings)
            if value is not None:
                out += _json_places(value, gen, f"{gen.path}/{name}", lookup, set())

    # membership rows (the gen_id column) and every other reference the scan collected.
    # Read column by column: a record is made only for the few places a rename touches.
    for cohort in store.cohorts:
        for gen_id, stage, line in zip(cohort.gen_ids, cohort.stages, cohort.lines):
            r = lookup.get(gen_id, stage)
            if r is not None:
                out.append(Place(r.old_id, r.new_id, r.stage, _cause(r), "membership", cohort.membership_path,
                                 line, "gen_id", old_value=gen_id, new_value=r.new_id, action="replace cell"))
    for refs in store.reference_columns:
        for gen_id, line, stage in zip(refs.gen_ids, refs.lines, refs.stages):
            r = lookup.get(gen_id, stage)
            if r is not None:
                out.append(_reference_place(Reference(refs.path, gen_id, line, refs.column, stage, refs.kind), r))
    out += _text_places(store, lookup, warnings)
    order = {(r.stage, r.old_id): i for i, r in enumerate(renames)}
    out.sort(key=lambda p: (order[(p.stage, p.old_id)], KIND_ORDER[p.kind], p.path, p.line or 0,
                            p.column, p.pointer))
    return out


def _cause(r: Rename) -> str:
    return f"cascade from {r.via}" if r.cause == "cascade" and r.via else r.cause


def _reference_place(ref, r: Rename) -> Place:
    base = dict(old_id=r.old_id, new_id=r.new_id, stage=r.stage, cause=_cause(r), path=ref.path, line=ref.line,
                column=ref.column)
    if ref.kind == "selection":
        return Place(kind="selection", old_value=ref.gen_id, new_value=r.new_id, action="replace line", **base)
    if ref.kind == "file_name":
        folder, _, name = ref.path.rpartition("/")
        new_name = name.replace(ref.gen_id, r.new_id, 1)
        return Place(kind="file_name", old_value=ref.path, new_value=f"{folder}/{new_name}" if folder else new_name,
                     action="rename file", **base)
    kind = "membership" if ref.path.endswith("membership.csv") else ("csv_path" if ref.kind == "path" else "csv")
    if kind == "csv_path":
        return Place(kind=kind, old_value=f"gens/{ref.stage}/{r.old_id}", new_value=f"gens/{ref.stage}/{r.new_id}",
                     action="replace the ID inside the path", **base)
    return Place(kind=kind, old_value=ref.gen_id, new_value=r.new_id, action="replace cell", **base)


def pointer_token(key: str) -> str:
    """A key as one JSON Pointer token (RFC 6901: ~ -> ~0, / -> ~1)."""
    return key.replace("~", "~0").replace("/", "~1")


def _strings(value, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer, string) of every string in `value`, in document order. A stack, not
    recursion: JSON nested a thousand levels deep (orjson reads up to 1024) is still data."""
    stack = [(pointer, value)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed([(f"{pointer}/{pointer_token(str(k))}", v) for k, v in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{pointer}/{i}", v) for i, v in enumerate(value)]))
        elif isinstance(value, str):
            yield pointer, value


def mentions(text: str, lookup: _Renames) -> list[str]:
    """Old IDs that `text` holds whole or as a path component / word (never as part of a longer ID)."""
    if text.strip() in lookup:
        return [text.strip()]
    return sorted({t for t in ids.ID_TOKEN.findall(text) if t in lookup})


def replace_id(text: str, old: str, new: str) -> str:
    if text.strip() == old:
        return text.replace(old, new)
    return ids.replace_token(text, old, new)[0]


def _stage_hint(gen: Generation, pointer: str, text: str, old: str) -> str:
    stage = next((m.group(1) for m in _GENS_ID.finditer(text) if m.group(2) == old), None)
    if stage:
        return stage
    if pointer == "/gen_id":
        return gen.stage
    if pointer == "/parent_gen_id":
        return ids.PARENT_STAGE.get(gen.stage, "")
    if pointer == "/draft_gen_id":
        return "draft"
    return gen.stage


def _json_places(value: dict, gen: Generation, path: str, lookup: _Renames, renamed_keys: set[str]) -> list[Place]:
    out = []
    own = None
    if gen.key in renamed_keys:
        own = lookup.get(gen.gen_id, gen.stage)
    saw_gen_id = False
    for pointer, text in _strings(value):
        for old in mentions(text, lookup):
            r = lookup.get(old, _stage_hint(gen, pointer, text, old))
            if pointer == "/gen_id" and own is not None and r is not own:
                continue  # handled below: the own gen_id always becomes the new ID
            if pointer == "/gen_id" and r is own:
                saw_gen_id = True
            out.append(Place(r.old_id, r.new_id, r.stage, _cause(r), "json", path, pointer=pointer,
                             old_value=text, new_value=replace_id(text, r.old_id, r.new_id), action="set value"))
    if own is not None and path.endswith("/metadata.json") and not saw_gen_id:
        # The folder name is the ID: metadata must say so after the rename, whatever it says now.
        current = value.get("gen_id")
        out.append(Place(own.old_id, own.new_id, own.stage, _cause(own), "json", path, pointer="/gen_id",
                         old_value="" if current is None else str(current), new_value=own.new_id,
                         action="set value"))
    return out


def _read_json(store: Store, rel: str, warnings: list[str]):
    path = os.path.join(store.root, rel)
    if not in_store(store, path):
        warnings.append(f"{rel}: symlink leads outside the data root; not read")
        return None
    try:
        raw = read_capped(path)  # as the scan reads metadata: no 16 MiB buffer per small file
    except OSError as exc:
        warnings.append(f"{rel}: cannot read: {exc.strerror or exc}")
        return None
    if len(raw) > MAX_METADATA_BYTES:
        warnings.append(f"{rel}: larger than {MAX_METADATA_BYTES // (1024 * 1024)} MiB; not searched")
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        warnings.append(f"{rel}: not JSON; not searched")
        return None


def _text_places(store: Store, lookup: _Renames, warnings: list[str]) -> list[Place]:
    """Mentions in results/*.md (the hand-written README next to the curated essays)."""
    out: list[Place] = []
    folder = os.path.join(store.root, "results")
    if not os.path.isdir(folder):
        return out
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith(".md"):
            continue
        rel = f"results/{name}"
        path = os.path.join(folder, name)
        if not in_store(store, path) or not os.path.isfile(path):
            if os.path.islink(path):
                warnings.append(f"{rel}: symlink leads outside the data root; not read")
            continue
        try:
            fd, _ = open_regular(path)
            with os.fdopen(fd, "rb") as fh:
                text = fh.read().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            warnings.append(f"{rel}: cannot read: {exc}")
            continue
        for line_no, line in enumerate(text.splitlines(), 1):
            for old in mentions(line, lookup):
                r = lookup.get(old, "essay")
                out.append(Place(r.old_id, r.new_id, r.stage, _cause(r), "text", rel, line_no,
                                 old_value=line, new_value=replace_id(line, r.old_id, r.new_id),
                                 action="replace text"))
    return out


# --- drawings ------------------------------------------------------------------------------------

def _drawing(out: Impact, g: LineageGraph, nodes: dict) -> None:
    """The cascade as a graph: renamed generations, the kept parents of the first renames, and
    descendants that get no new ID; edges go parent -> child."""
    keys: dict[str, str] = {}
    for r in out.renames:
        keys[gen_key(r.stage, r.old_id)] = "renamed"
    for b in out.blocked:
        keys[gen_key(b["stage"], b["gen_id"])] = "blocked"
    for key in list(keys):
        parent = g.parent_generation(key)
        if parent is not None and parent not in keys:
            keys[parent] = "kept"
    for key, role in keys.items():
        gen = g.record(key)
        n = nodes.get(key)
        out.nodes[key] = {"stage": gen.stage, "old_id": gen.gen_id,
                          "new_id": n.new_id if n is not None and n.renamed else "", "role": role}
    for key in keys:
        parent = g.parent_generation(key)
        if parent is not None and parent in keys:
            out.edges.append((parent, key))
    order = {s: i for i, s in enumerate(ids.STAGES)}
    out.nodes = dict(sorted(out.nodes.items(), key=lambda kv: (order[kv[1]["stage"]], kv[1]["old_id"])))
    position = {key: i for i, key in enumerate(out.nodes)}
    out.edges.sort(key=lambda e: (position[e[0]], position[e[1]]))
