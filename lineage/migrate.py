"""`lineage migrate`: rename generations to their deterministic IDs as a plan (a pure function of
the store), a simulation on a copy, and a journaled, resumable, undoable apply.

Plan (`build_plan`): phases drafts -> essays -> evaluations (each new ID from the parent's new ID,
lineage.rename); every place from lineage.impact becomes a byte-precise edit (a JSON string
value, a CSV cell, a text line; the rest of the file keeps its bytes) grouped into steps, and
every file the plan touches is fingerprinted (size, mtime_ns, sha256).

Apply (`Executor`): a write-ahead journal next to the plan (`PLAN.json.journal/journal.jsonl`):
  {"event": "begin", "plan_sha256", "data_root", "steps", "partitions", "dagster_home", "pid", "time"}
  {"event": "intent", "step": n, "op", "path", "pre", "post"}     fsynced before the action
  {"event": "done", "step": n, "outcome": "applied"|"already"}    fsynced after it
  {"event": "commit", "undo": "PLAN.undo.json", "time"}
`backups/<sha256>` holds the original bytes of every file the plan writes and `prepare.json`
the original mtimes of those files and their folders (for the byte- and mtime-exact undo plan).
Every step is idempotent: a write compares the file's sha256 with the step's pre and post
hashes, a rename looks at which of its two paths exists.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

import orjson

from lineage import __version__, ids
from lineage.journal import (Checkpoints, Journal, Lock, atomic_write, fsync_dir, remove_leftover,
                             require_inside, sha256_bytes, sha256_file)
from lineage.loaders.store import is_inside
from lineage.model import Store
from lineage.status import ExitStatus, LineageError, UsageError

PLAN_FORMAT = "lineage-migrate-plan"
PLAN_VERSION = 1
RUNNING_STATUSES = ("STARTED", "STARTING", "QUEUED", "CANCELING")
# How each kind of place impact reports is edited: a JSON string, a CSV cell or a text line.
EDIT_KINDS = {"json": "json", "membership": "csv", "csv": "csv", "csv_path": "csv", "selection": "line",
              "text": "line"}
STEP_COLUMNS = ["step", "phase", "op", "path", "to", "detail"]

Progress = Callable[[str], None]


class StaleError(LineageError):
    """The tree changed since the plan was made; nothing was written."""

    status = ExitStatus.USAGE


class ConflictError(LineageError):
    """The renames collide (two onto one ID, or onto an existing folder)."""

    status = ExitStatus.FINDINGS


class StepError(LineageError):
    """A step found its target in neither its before nor its after state."""


class EditError(LineageError):
    """An edit does not match the file it is meant for."""


# --- byte-precise edits ----------------------------------------------------------------------

def _swap(text: str, old: str, new: str) -> str | None:
    """`text` with every whole-token `old` replaced, or None when it holds none."""
    out, n = ids.replace_token(text, old, new)
    return out if n else None


_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def json_string_spans(text: str) -> dict[str, tuple[int, int]]:
    """JSON pointer -> (start, end) of every string value's token (quotes included)."""
    from json.decoder import scanstring

    from lineage.impact import pointer_token  # lazily, as elsewhere here: impact loads rename

    spans: dict[str, tuple[int, int]] = {}

    def ws(i: int) -> int:
        return _WS.match(text, i).end()

    def value(i: int, ptr: str) -> int:
        i = ws(i)
        c = text[i]
        if c == '"':
            _, end = scanstring(text, i + 1)
            spans[ptr] = (i, end)
            return end
        if c in "{[":
            close = "}" if c == "{" else "]"
            i = ws(i + 1)
            if text[i] == close:
                return i + 1
            index = 0
            while True:
                if c == "{":
                    i = ws(i)
                    if text[i] != '"':
                        raise ValueError(f"expected a key at {i}")
                    key, i = scanstring(text, i + 1)
                    i = ws(i)
                    if text[i] != ":":
                        raise ValueError(f"expected ':' at {i}")
                    i = value(i + 1, f"{ptr}/{pointer_token(key)}")
                else:
                    i = value(i, f"{ptr}/{index}")
                    index += 1
                i = ws(i)
                if text[i] == ",":
                    i += 1
                    continue
                if text[i] == close:
                    return i + 1
                raise ValueError(f"expected ',' or {close!r} at {i}")
        m = _SCALAR.match(text, i)
        if not m:
            raise ValueError(f"unexpected {c!r} at {i}")
        return m.end()

    value(0, "")
    return spans


def _splice(text: str, replacements: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, new) span replaced; the spans do not overlap. One join,
    where replacing span by span copied the whole file once per edit."""
    pieces, pos = [], 0
    for start, end, new in sorted(replacements):
        pieces += (text[pos:start], new)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def _apply_json(text: str, edits: list[dict], where: str) -> tuple[str, list[dict]]:
    try:
        spans = json_string_spans(text)
    except (ValueError, IndexError) as exc:
        raise EditError(f"{where}: not JSON the plan can edit ({exc})") from None
    by_ptr: dict[str, list[dict]] = {}
    for e in edits:
        by_ptr.setdefault(e["pointer"], []).append(e)
    out_edits: list[dict] = []
    if any(p not in spans for p in by_ptr):
        return _apply_json_reserialized(text, by_ptr, where)
    replacements = []
    for ptr, eds in by_ptr.items():
        s, e = spans[ptr]
        raw = text[s:e]
        before = json.loads(raw)
        value, new_raw = before, raw
        for ed in eds:
            swapped = _swap(value, ed["old_id"], ed["new_id"])
            if swapped is not None:
                value = swapped
                new_raw = _swap(new_raw, ed["old_id"], ed["new_id"]) or new_raw
            elif ptr == "/gen_id":  # the folder is the ID: metadata says so, whatever it said
                value = ed["new_id"]
                new_raw = json.dumps(value, ensure_ascii=False)
            else:
                raise EditError(f"{where}: {ptr} does not mention {ed['old_id']}")
        try:
            ok = json.loads(new_raw) == value
        except ValueError:
            ok = False
        if not ok:
            new_raw = json.dumps(value, ensure_ascii=False)
        replacements.append((s, e, new_raw))
        out_edits += [{**_edit_key(ed), "old_value": before, "new_value": value} for ed in eds[:1]]
        out_edits += [_edit_key(ed) for ed in eds[1:]]
    return _splice(text, replacements), out_edits


def _apply_json_reserialized(text: str, by_ptr: dict[str, list[dict]], where: str) -> tuple[str, list[dict]]:
    """A field to set that holds no string (absent, a number): rewrite the document in the
    pipeline's style (2-space indent, UTF-8). Only top-level fields can be set this way."""
    doc = json.loads(text)
    out_edits = []
    for ptr, eds in by_ptr.items():
        parts = ptr.split("/")[1:]
        if len(parts) != 1 or not isinstance(doc, dict):
            raise EditError(f"{where}: {ptr} is not a string field")
        key = parts[0].replace("~1", "/").replace("~0", "~")  # the inverse of pointer_token
        before = doc.get(key)
        value = before
        for ed in eds:
            swapped = _swap(value, ed["old_id"], ed["new_id"]) if isinstance(value, str) else None
            if swapped is not None:
                value = swapped
            elif ptr == "/gen_id":
                value = ed["new_id"]
            else:
                raise EditError(f"{where}: {ptr} does not mention {ed['old_id']}")
        if key not in doc and key == "gen_id" and "stage" in doc:
            items = list(doc.items())
            i = next(n for n, (k, _) in enumerate(items) if k == "stage") + 1
            doc = dict(items[:i] + [(key, value)] + items[i:])
        else:
            doc[key] = value
        out_edits.append({**_edit_key(eds[0]), "old_value": before, "new_value": value})
        out_edits += [_edit_key(ed) for ed in eds[1:]]
    tail = "\n" if text.endswith("\n") else ""
    return json.dumps(doc, indent=2, ensure_ascii=False) + tail, out_edits


_BREAK = re.compile(r"\r\n|\r|\n")
_FIELD_END = re.compile(r"[,\r\n]")


def _row_fields(text: str, i: int) -> list[tuple[int, int]]:
    """(start, end) of each raw field of the CSV row starting at offset i (excel dialect)."""
    fields = []
    n = len(text)
    while True:
        s = i
        if i < n and text[i] == '"':
            i += 1
            while True:
                j = text.find('"', i)
                if j < 0:
                    i = n
                    break
                if j + 1 < n and text[j + 1] == '"':
                    i = j + 2
                    continue
                i = j + 1
                break
        m = _FIELD_END.search(text, i)
        i = m.start() if m else n
        fields.append((s, i))
        if i < n and text[i] == ",":
            i += 1
            continue
        return fields


def _cell(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        raw = raw[1:-1].replace('""', '"')
    return raw


def _apply_csv(text: str, edits: list[dict], where: str) -> tuple[str, list[dict]]:
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    names = [_cell(text[s:e]).lstrip("\ufeff").strip() for s, e in _row_fields(text, 0)]
    current: dict[tuple[int, int], str] = {}  # field span -> its raw text after the edits so far
    out_edits = []
    for ed in edits:
        line = ed["line"]
        if not isinstance(line, int) or not 1 <= line <= len(starts):
            raise EditError(f"{where}: no line {line}")
        fields = _row_fields(text, starts[line - 1])
        cols = [i for i, n in enumerate(names) if n == ed["column"]] or \
               [i for i, n in enumerate(names) if n.lower() == str(ed["column"]).lower()]
        hit = False
        for i in cols:
            if i >= len(fields):
                continue
            span = fields[i]
            raw = current.get(span, text[span[0]:span[1]])
            swapped = _swap(raw, ed["old_id"], ed["new_id"])
            if swapped is not None:
                out_edits.append({**_edit_key(ed), "old_value": _cell(raw), "new_value": _cell(swapped)})
                current[span] = swapped
                hit = True
        if not hit:
            raise EditError(f"{where}:{line}: column {ed['column']} does not mention {ed['old_id']}")
    return _splice(text, [(s, e, raw) for (s, e), raw in current.items()]), out_edits


def _apply_lines(text: str, edits: list[dict], where: str) -> tuple[str, list[dict]]:
    lines = text.splitlines(keepends=True)
    out_edits = []
    for ed in edits:
        line = ed["line"]
        if not isinstance(line, int) or not 1 <= line <= len(lines):
            raise EditError(f"{where}: no line {line}")
        full = lines[line - 1]
        body = full.splitlines()[0] if full.splitlines() else ""
        swapped = _swap(body, ed["old_id"], ed["new_id"])
        if swapped is None:
            raise EditError(f"{where}:{line}: does not mention {ed['old_id']}")
        lines[line - 1] = swapped + full[len(body):]
        out_edits.append({**_edit_key(ed), "old_value": body, "new_value": swapped})
    return "".join(lines), out_edits


def _edit_key(ed: dict) -> dict:
    return {k: ed[k] for k in ("kind", "pointer", "line", "column", "old_id", "new_id") if k in ed}


def apply_edits(data: bytes, edits: list[dict], where: str = "") -> tuple[bytes, list[dict]]:
    """The file's bytes after `edits` (every other byte kept) and the edits with their before
    and after values. Plan and apply both call this, so the post hash is known in advance."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditError(f"{where}: not UTF-8 (byte {exc.start})") from None
    described: list[dict] = []
    for kind, fn in (("json", _apply_json), ("csv", _apply_csv), ("line", _apply_lines)):
        chosen = [e for e in edits if e["kind"] == kind]
        if chosen:
            text, out = fn(text, chosen, where)
            described += out
    return text.encode("utf-8"), described


# --- the plan ---------------------------------------------------------------------------------

def fingerprint(path: str) -> dict:
    st = os.lstat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256_file(path)}


def build_plan(store: Store, only: str = "all", stages: Iterable[str] | None = None,
               progress: Progress | None = None) -> dict:
    """The migration plan for a scanned store. Reads files, writes nothing."""
    from lineage.impact import places as impact_places, unsafe_reason
    from lineage.rename import Index, cascade, is_seed, result_of

    say = progress or (lambda _m: None)
    wanted = [s for s in ids.STAGES if not stages or s in set(stages)]
    index = Index(store)
    seeds = {g.key: None for g in store.generations if g.stage in wanted and is_seed(g, only)}
    nodes = cascade(store, seeds, index)
    result = result_of(index, nodes, None)
    for r in result.renames:
        for value in (r.old_id, r.new_id):
            why = unsafe_reason(value)
            if why:
                raise UsageError(f"{r.stage} ID {value!r} {why}; refusing to plan a rename with it")
    if result.conflicts:
        raise ConflictError("renames collide: " + "; ".join(c["message"] for c in result.conflicts[:5])
                            + (f" (and {len(result.conflicts) - 5} more)" if len(result.conflicts) > 5 else ""))
    warnings: list[str] = []
    say(f"{len(result.renames):,} renames; finding every place they touch")
    places = impact_places(store, index, result.renames, nodes, warnings) if result.renames else []
    warnings += [f"{b['stage']} {b['gen_id']} (below {b['via']}) keeps its ID: {b['problem']}"
                 for b in result.blocked]

    root = store.root
    files: dict[str, dict] = {}
    contents: dict[str, bytes] = {}

    def load(orig: str) -> bytes:
        if orig not in contents:
            full = require_inside(root, orig)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                raise UsageError(f"{orig} is a symlink; lineage migrate does not write through links")
            # Read once, hashed once; a size or mtime that moved meanwhile means a writer was busy.
            with open(full, "rb") as fh:
                contents[orig] = fh.read()
            again = os.lstat(full)
            if (again.st_size, again.st_mtime_ns) != (st.st_size, st.st_mtime_ns) or len(contents[orig]) != st.st_size:
                raise UsageError(f"{orig} changed while it was read; try again")
            files[orig] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256_bytes(contents[orig])}
        return contents[orig]

    folders: dict[str, str] = {}  # original folder -> its path after the renames so far
    moved_files: dict[str, str] = {}

    def at(orig: str) -> str:
        return moved_files[orig] if orig in moved_files else _remap(orig, folders)

    steps: list[dict] = []
    phases = []
    for stage in ids.STAGES:
        renames = [r for r in result.renames if r.stage == stage]
        if not renames:
            continue
        phases.append({"stage": stage, "renames": [r.as_dict() for r in renames]})
        for r in renames:
            src, dst = f"gens/{stage}/{r.old_id}", f"gens/{stage}/{r.new_id}"
            require_inside(root, src), require_inside(root, dst)
            if os.path.lexists(os.path.join(root, dst)):
                raise ConflictError(f"{dst} already exists; cannot rename {src} onto it")
            steps.append({"phase": stage, "op": "rename_dir", "from": src, "to": dst,
                          "old_id": r.old_id, "new_id": r.new_id, "cause": r.cause})
            folders[src] = dst
        # Edits per file, each once: a dict keyed by the edit's own items, where a list scanned
        # for duplicates made planning quadratic in a file's edits (28,000 in one scores CSV).
        by_file: dict[str, dict[tuple, dict]] = {}
        for p in places:
            if p.stage != stage or p.kind not in EDIT_KINDS:
                continue
            kind = EDIT_KINDS[p.kind]
            ed = {"kind": kind, "old_id": p.old_id, "new_id": p.new_id}
            if kind == "json":
                ed["pointer"] = p.pointer
            else:
                ed["line"] = p.line
                if kind == "csv":
                    ed["column"] = p.column
            by_file.setdefault(p.path, {}).setdefault(tuple(ed.items()), ed)
        for orig in sorted(by_file):
            before = load(orig)
            after, described = apply_edits(before, list(by_file[orig].values()), orig)
            if after == before:
                continue
            steps.append({"phase": stage, "op": "write", "path": at(orig),
                          "pre": {"sha256": sha256_bytes(before), "size": len(before)},
                          "post": {"sha256": sha256_bytes(after), "size": len(after)},
                          "edits": described})
            contents[orig] = after
        for p in places:
            if p.stage == stage and p.kind == "file_name":
                load(p.path)
                dst = p.new_value
                require_inside(root, dst)
                if os.path.lexists(os.path.join(root, dst)):
                    raise ConflictError(f"{dst} already exists; cannot rename {p.path} onto it")
                steps.append({"phase": stage, "op": "rename_file", "from": at(p.path), "to": dst,
                              "old_id": p.old_id, "new_id": p.new_id, "sha256": files[p.path]["sha256"]})
                moved_files[p.path] = dst
        steps.append({"phase": stage, "op": "partitions", "partition_set": ids.PARTITION_SET[stage],
                      "delete": [r.old_id for r in renames], "add": [r.new_id for r in renames]})
    for n, step in enumerate(steps, 1):
        step["step"] = n
    by_stage = Counter(r.stage for r in result.renames)
    causes = Counter(r.cause for r in result.renames)
    return {
        "format": PLAN_FORMAT, "format_version": PLAN_VERSION, "kind": "migrate",
        "tool": {"name": "lineage", "version": __version__},
        "created": _now(),
        "data_root": root, "only": only, "stages": wanted,
        "summary": {"renames": len(result.renames), "by_stage": {s: by_stage.get(s, 0) for s in ids.STAGES},
                    "by_cause": dict(sorted(causes.items())), "steps": len(steps), "files": len(files),
                    "writes": sum(1 for s in steps if s["op"] == "write")},
        "phases": phases, "blocked": result.blocked, "warnings": warnings,
        "files": dict(sorted(files.items())), "steps": steps,
    }


def plan_summary(plan: dict) -> str:
    s = plan["summary"]
    stages = ", ".join(f"{n:,} {st}" for st, n in s["by_stage"].items() if n)
    return (f"{s['renames']:,} renames" + (f" ({stages})" if stages else "") +
            f", {s['steps']:,} steps, {s['writes']:,} file writes, {s['files']:,} files fingerprinted")


def dumps_plan(plan: dict) -> bytes:
    return orjson.dumps(plan, option=orjson.OPT_INDENT_2) + b"\n"


MAX_PLAN_BYTES = 4 * 1024 * 1024 * 1024  # far above any plan; bounds what a wrong path can make us read


def load_plan(path: str) -> tuple[dict, str]:
    """The plan and the sha256 of its bytes; a UsageError when it is not a plan."""
    from lineage.loaders.files import read_input

    raw = read_input(path, f"plan {path}", MAX_PLAN_BYTES)  # a regular file: not a FIFO, not /dev/zero
    try:
        plan = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"plan {path} is not JSON: {exc}") from None
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise UsageError(f"{path} is not a lineage migrate plan")
    if plan.get("format_version") != PLAN_VERSION:
        raise UsageError(f"{path}: plan format version {plan.get('format_version')!r} is not supported")
    return plan, sha256_bytes(raw)


def validate_plan(plan: dict, root: str) -> None:
    """Every path stays inside `root` and every ID is a plain name; raises before any write."""
    from lineage.impact import unsafe_reason

    def check_id(value, what):
        why = unsafe_reason(value) if isinstance(value, str) else "is not a string"
        if why:
            raise UsageError(f"plan {what} ID {value!r} {why}; refusing the plan")

    if not isinstance(plan.get("steps"), list) or not isinstance(plan.get("files"), dict):
        raise UsageError("plan has no steps/files lists")
    for rel in plan["files"]:
        require_inside(root, rel)
    for phase in plan.get("phases", []):
        for r in phase.get("renames", []):
            check_id(r.get("old_id"), "old"), check_id(r.get("new_id"), "new")
    for n, step in enumerate(plan["steps"], 1):
        if step.get("step") != n:
            raise UsageError(f"plan step {n} is numbered {step.get('step')!r}")
        op = step.get("op")
        if op in ("rename_dir", "rename_file"):
            check_id(step.get("old_id"), "old"), check_id(step.get("new_id"), "new")
            require_inside(root, step["from"]), require_inside(root, step["to"])
            if op == "rename_dir":
                for p in (step["from"], step["to"]):
                    parts = p.split("/")
                    if len(parts) != 3 or parts[0] != "gens" or parts[1] not in ids.STAGES:
                        raise UsageError(f"plan step {n}: {p!r} is not a gens/<stage>/<id> folder")
                    check_id(parts[2], "folder")
        elif op == "write":
            require_inside(root, step["path"])
            if "content_b64" not in step:
                for ed in step.get("edits", []):
                    check_id(ed.get("old_id"), "old"), check_id(ed.get("new_id"), "new")
        elif op == "partitions":
            if step.get("partition_set") not in ids.PARTITION_SET.values():
                raise UsageError(f"plan step {n}: unknown partition set {step.get('partition_set')!r}")
            for key in step.get("delete", []) + step.get("add", []):
                check_id(key, "partition key")
        elif op == "utime":
            for entry in step.get("entries", []):
                if entry.get("path") != "":
                    require_inside(root, entry["path"])
        else:
            raise UsageError(f"plan step {n}: unknown op {op!r}")


def step_rows(plan: dict) -> list[dict]:
    rows = []
    for s in plan["steps"]:
        op = s["op"]
        if op in ("rename_dir", "rename_file"):
            row = {"path": s["from"], "to": s["to"], "detail": f"{s['old_id']} -> {s['new_id']}"}
        elif op == "write":
            what = "restore original bytes" if "content_b64" in s else f"{len(s['edits'])} edits"
            row = {"path": s["path"], "to": "", "detail": what}
        elif op == "partitions":
            row = {"path": "", "to": "", "detail": f"{s['partition_set']}: delete {len(s['delete'])}, "
                                                 f"add {len(s['add'])}"}
        else:
            row = {"path": "", "to": "", "detail": f"restore mtimes of {len(s['entries'])} folders"}
        rows.append({"step": s["step"], "phase": s.get("phase", ""), "op": op, **row})
    return rows


# --- paths next to the plan -------------------------------------------------------------------

def journal_dir(plan_path: str) -> str:
    return os.path.abspath(plan_path) + ".journal"


def lock_path(plan_path: str) -> str:
    return os.path.abspath(plan_path) + ".lock"


def root_lock_path(root: str) -> str:
    """One lock per data root: the flock is taken on the root folder itself (nothing is
    written), so two different plans cannot apply to one root at once."""
    return os.path.realpath(root)


def undo_path(plan_path: str) -> str:
    base = os.path.abspath(plan_path)
    stem = base[:-5] if base.endswith(".json") else base
    return stem + ".undo.json"


def partitions_csv(plan_path: str) -> str:
    return os.path.abspath(plan_path) + ".partitions.csv"


# --- Dagster ---------------------------------------------------------------------------------

def runs_in_progress(dagster_home: str) -> tuple[list[tuple[str, str]] | None, str]:
    """(run_id, status) of runs in progress in $DAGSTER_HOME/history/runs.db, or None and why
    they cannot be known (no SQLite run storage there)."""
    db = os.path.join(dagster_home, "history", "runs.db")
    if not os.path.isfile(db):
        return None, f"no run database at {db} (not a SQLite run storage?): cannot tell whether runs are in progress"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            marks = ",".join("?" * len(RUNNING_STATUSES))
            rows = conn.execute(f"SELECT run_id, status FROM runs WHERE status IN ({marks})",
                                RUNNING_STATUSES).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return None, f"cannot read {db}: {exc}"
    return [(str(a), str(b)) for a, b in rows], ""


def dagster_available() -> bool:
    try:
        import dagster  # noqa: F401
    except ImportError:
        return False
    return True


class DagsterPartitions:
    """Dynamic partition keys through the Dagster instance; each call is idempotent."""

    def __init__(self, dagster_home: str):
        from dagster import DagsterInstance

        self.instance = DagsterInstance.from_config(dagster_home)

    def apply(self, partition_set: str, delete: list[str], add: list[str]) -> None:
        for key in delete:
            if self.instance.has_dynamic_partition(partition_set, key):
                self.instance.delete_dynamic_partition(partition_set, key)
        missing = [k for k in add if not self.instance.has_dynamic_partition(partition_set, k)]
        if missing:
            self.instance.add_dynamic_partitions(partition_set, missing)


# --- apply ------------------------------------------------------------------------------------

def _remap(path: str, table: dict[str, str]) -> str:
    """`path` with its longest prefix found in `table` replaced (folder renames move children)."""
    parts = path.split("/")
    for n in range(len(parts), 0, -1):
        prefix = "/".join(parts[:n])
        if prefix in table:
            return "/".join([table[prefix]] + parts[n:])
    return path


def _trace(steps: list[dict]) -> tuple[Callable[[str, int], str], Callable[[str], str]]:
    """(original path of a path as a step names it, final path of an original path)."""
    back: dict[str, str] = {}  # path after the renames so far -> original path
    fwd: dict[str, str] = {}  # original path -> path after all renames
    step_orig: dict[tuple[int, str], str] = {}
    for s in steps:
        for key in ("path", "from"):
            if key in s:
                step_orig[(s["step"], s[key])] = _remap(s[key], back)
        if s["op"] in ("rename_dir", "rename_file"):
            o = _remap(s["from"], back)
            back[s["to"]] = o
            fwd[o] = s["to"]

    def original(path: str, step: int = 0) -> str:
        return step_orig.get((step, path), path)

    return original, (lambda orig: _remap(orig, fwd))


@dataclass
class ApplyResult:
    steps: int = 0
    applied: int = 0
    already: int = 0
    undo: str = ""
    partitions: str = ""  # where the partition key changes went
    resumed: bool = False
    note: str = ""


@dataclass
class Executor:
    plan: dict
    plan_sha256: str
    root: str
    journal_dir: str
    undo_path: str
    partitions_csv: str
    partitions_mode: str = "file"  # file | dagster
    dagster_home: str = ""
    progress: Progress | None = None
    locks: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.root = os.path.realpath(self.root)
        self.checkpoint = Checkpoints()
        self.journal = Journal(os.path.join(self.journal_dir, "journal.jsonl"), self.checkpoint)
        self.backups = os.path.join(self.journal_dir, "backups")
        self._dagster: DagsterPartitions | None = None
        self.original, self.final = _trace(self.plan["steps"])

    def say(self, message: str) -> None:
        if self.progress:
            self.progress(message)

    def path(self, rel: str) -> str:
        return require_inside(self.root, rel) if rel else self.root

    # -- checks --

    def stale(self) -> list[str]:
        """Why the plan no longer fits the tree (empty when it fits)."""
        problems = []
        for rel, fp in self.plan["files"].items():
            full = self.path(rel)
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                problems.append(f"{rel} is gone")
                continue
            if st.st_size != fp["size"] or (fp.get("mtime_ns") is not None and st.st_mtime_ns != fp["mtime_ns"]):
                problems.append(f"{rel} changed (size or mtime)")
            elif sha256_file(full) != fp["sha256"]:
                problems.append(f"{rel} changed (content)")
        for s in self.plan["steps"]:
            if s["op"] == "rename_dir" and self.original(s["from"], s["step"]) == s["from"]:
                if not os.path.isdir(self.path(s["from"])):
                    problems.append(f"{s['from']} is gone")
                if os.path.lexists(self.path(s["to"])):
                    problems.append(f"{s['to']} already exists")
        return problems

    # -- the run --

    def run(self, resume: bool = False) -> ApplyResult:
        held = [Lock(p).acquire(self.root) for p in self.locks]
        try:
            return self._run(resume)
        finally:
            self.journal.close()
            for lock in held:
                lock.release()

    def _run(self, resume: bool) -> ApplyResult:
        state = self.journal.state()
        out = ApplyResult(steps=len(self.plan["steps"]), undo=self.undo_path)
        if state.committed:
            if resume:
                out.note = "already complete: the journal says this plan was applied; nothing to resume"
                return out
            raise UsageError(f"plan already applied (journal {self.journal.path}); "
                             f"to revert it, apply {state.committed.get('undo', 'the undo plan')}")
        if state.begin:
            if not resume:
                raise UsageError(f"an earlier apply of this plan was interrupted (journal {self.journal.path}); "
                                 "finish it with --resume")
            if state.begin.get("plan_sha256") != self.plan_sha256:
                raise UsageError("the plan file changed since the interrupted apply began; refusing to resume")
            self.partitions_mode = state.begin.get("partitions", self.partitions_mode)
            self.dagster_home = state.begin.get("dagster_home", self.dagster_home)
            out.resumed = True
            self.say(f"resuming: {len(state.done):,} of {out.steps:,} steps done")
        else:
            problems = self.stale()
            if problems:
                if all("already exists" in p or "is gone" in p for p in problems) and self._looks_applied():
                    raise StaleError("the plan appears to be applied already (its folders are renamed); nothing written")
                raise StaleError(f"plan is stale: {len(problems):,} changes since it was made "
                                 f"(e.g. {problems[0]}); nothing written. Make a new plan")
            if resume:
                self.say("no step had started; starting from the beginning")
            self._prepare()
            self.journal.append({"event": "begin", "plan_sha256": self.plan_sha256, "data_root": self.root,
                                 "steps": out.steps, "partitions": self.partitions_mode,
                                 "dagster_home": self.dagster_home, "pid": os.getpid(), "time": _now()})
        for step in self.plan["steps"]:
            n = step["step"]
            if n in state.done:
                continue
            self.journal.append({"event": "intent", "step": n, "op": step["op"],
                                 "path": step.get("path") or step.get("from") or step.get("partition_set", ""),
                                 "pre": (step.get("pre") or {}).get("sha256"),
                                 "post": (step.get("post") or {}).get("sha256")})
            outcome = self._perform(step)
            self.checkpoint("action")
            self.journal.append({"event": "done", "step": n, "outcome": outcome})
            if outcome == "applied":
                out.applied += 1
            else:
                out.already += 1
            # Every 500th step and every partition change (a few per plan): enough to follow a
            # long apply without drowning stderr in one line per folder.
            if n == out.steps or n % 500 == 0 or step["op"] == "partitions":
                self.say(f"step {n:,}/{out.steps:,}: {step['op']} {step.get('path') or step.get('from') or step.get('partition_set', '')}")
        self._write_undo()
        self.journal.append({"event": "commit", "undo": self.undo_path, "time": _now()})
        out.partitions = (f"Dagster instance {self.dagster_home}" if self.partitions_mode == "dagster"
                          else self.partitions_csv)
        return out

    def _looks_applied(self) -> bool:
        renames = [s for s in self.plan["steps"] if s["op"] == "rename_dir"]
        return bool(renames) and all(not os.path.lexists(self.path(s["from"])) and os.path.isdir(self.path(s["to"]))
                                     for s in renames)

    def _prepare(self) -> None:
        """Back up the original bytes of every file to be written and record the mtimes the
        undo plan restores. Repeatable: a run killed here starts over."""
        os.makedirs(self.backups, exist_ok=True)
        fsync_dir(self.journal_dir)
        files, dirs = {}, {}
        for s in self.plan["steps"]:
            if s["op"] == "write":
                orig = self.original(s["path"], s["step"])
                if orig in files:
                    continue
                full = self.path(orig)
                st = os.lstat(full)
                with open(full, "rb") as fh:
                    data = fh.read()
                digest = sha256_bytes(data)
                blob = os.path.join(self.backups, digest)
                if not (os.path.exists(blob) and sha256_file(blob) == digest):
                    atomic_write(blob, data, mode=0o600)
                files[orig] = {"sha256": digest, "size": len(data), "mtime_ns": st.st_mtime_ns}
                dirs[os.path.dirname(orig)] = None
            elif s["op"] in ("rename_dir", "rename_file"):
                orig = self.original(s["from"], s["step"])
                dirs[os.path.dirname(orig)] = None
                if s["op"] == "rename_dir":
                    dirs[orig] = None
            elif s["op"] == "utime":
                for e in s["entries"]:
                    dirs[e["path"]] = None
        for d in list(dirs):
            try:
                dirs[d] = os.stat(self.path(d)).st_mtime_ns
            except FileNotFoundError:
                dirs.pop(d)
        atomic_write(os.path.join(self.journal_dir, "prepare.json"),
                     orjson.dumps({"files": files, "dirs": dict(sorted(dirs.items()))}, option=orjson.OPT_INDENT_2))
        self.checkpoint("prepared")

    def _perform(self, step: dict) -> str:
        op = step["op"]
        if op in ("rename_dir", "rename_file"):
            src, dst = self.path(step["from"]), self.path(step["to"])
            has_src, has_dst = os.path.lexists(src), os.path.lexists(dst)
            if has_src and not has_dst:
                if op == "rename_file" and sha256_file(src) != step["sha256"]:
                    raise StepError(f"step {step['step']}: {step['from']} changed since the plan was made")
                os.rename(src, dst)
                fsync_dir(os.path.dirname(dst))
                return "applied"
            if has_dst and not has_src:
                return "already"
            raise StepError(f"step {step['step']}: cannot rename {step['from']} -> {step['to']}: "
                            + ("both exist" if has_src else "neither exists"))
        if op == "write":
            full = self.path(step["path"])
            remove_leftover(full)
            if os.path.islink(full):
                raise StepError(f"step {step['step']}: {step['path']} is a symlink; refusing to write through it")
            try:
                with open(full, "rb") as fh:
                    data = fh.read()
            except FileNotFoundError:
                raise StepError(f"step {step['step']}: {step['path']} is missing") from None
            digest = sha256_bytes(data)
            mtime = step.get("mtime_ns")
            if digest == step["post"]["sha256"]:
                if mtime is not None and os.stat(full).st_mtime_ns != mtime:
                    st = os.stat(full)
                    os.utime(full, ns=(st.st_atime_ns, mtime))
                return "already"
            if digest != step["pre"]["sha256"]:
                raise StepError(f"step {step['step']}: {step['path']} is in neither its planned before nor "
                                "after state; someone else changed it")
            if "content_b64" in step:
                new = base64.b64decode(step["content_b64"])
            else:
                new, _ = apply_edits(data, step["edits"], step["path"])
            if sha256_bytes(new) != step["post"]["sha256"]:
                raise StepError(f"step {step['step']}: the edits of {step['path']} do not give the planned content")
            atomic_write(full, new, mtime_ns=mtime)
            return "applied"
        if op == "partitions":
            if self.partitions_mode == "dagster":
                if self._dagster is None:
                    self._dagster = DagsterPartitions(self.dagster_home)
                self._dagster.apply(step["partition_set"], step["delete"], step["add"])
            else:
                self._write_partitions_csv(step["step"])
            return "applied"
        if op == "utime":
            for e in step["entries"]:
                full = self.path(e["path"])
                if os.path.isdir(full):
                    st = os.stat(full)
                    os.utime(full, ns=(st.st_atime_ns, e["mtime_ns"]))
            return "applied"
        raise StepError(f"step {step['step']}: unknown op {op!r}")

    def _write_partitions_csv(self, upto: int) -> None:
        """Every key change of the partition steps up to `upto`, for the operator to run."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["step", "partition_set", "action", "partition_key"])
        for s in self.plan["steps"]:
            if s["op"] == "partitions" and s["step"] <= upto:
                w.writerows([s["step"], s["partition_set"], "delete", k] for k in s["delete"])
                w.writerows([s["step"], s["partition_set"], "add", k] for k in s["add"])
        atomic_write(self.partitions_csv, buf.getvalue().encode())

    def _write_undo(self) -> None:
        with open(os.path.join(self.journal_dir, "prepare.json"), "rb") as fh:
            prepared = orjson.loads(fh.read())
        undo = build_undo(self.plan, self.plan_sha256, prepared, self.backups, self.root, self.final)
        atomic_write(self.undo_path, dumps_plan(undo))


def build_undo(plan: dict, plan_sha256: str, prepared: dict, backups: str, root: str,
               final: Callable[[str], str]) -> dict:
    """A plan that puts back the tree `plan` started from: renames reversed, every written file
    restored from its backup with its mtime, folder mtimes restored, partition keys swapped back."""
    steps: list[dict] = []
    for s in reversed(plan["steps"]):
        if s["op"] in ("rename_dir", "rename_file"):
            back = {"phase": s.get("phase", ""), "op": s["op"], "from": s["to"], "to": s["from"],
                    "old_id": s["new_id"], "new_id": s["old_id"]}
            if s["op"] == "rename_file":
                back["sha256"] = s["sha256"]
            steps.append(back)
    last_post: dict[str, dict] = {}
    trace_orig, _ = _trace(plan["steps"])
    for s in plan["steps"]:
        if s["op"] == "write":
            last_post[trace_orig(s["path"], s["step"])] = s["post"]
    files: dict[str, dict] = {}
    for orig, fp in sorted(prepared["files"].items()):
        with open(os.path.join(backups, fp["sha256"]), "rb") as fh:
            data = fh.read()
        steps.append({"phase": "restore", "op": "write", "path": orig, "pre": last_post[orig],
                      "post": {"sha256": fp["sha256"], "size": fp["size"]}, "mtime_ns": fp["mtime_ns"],
                      "content_b64": base64.b64encode(data).decode()})
        now = final(orig)
        files[now] = fingerprint(os.path.join(root, now))
    for s in plan["steps"]:
        if s["op"] == "rename_file":
            files[s["to"]] = fingerprint(os.path.join(root, s["to"]))
    for s in reversed(plan["steps"]):
        if s["op"] == "partitions":
            steps.append({"phase": s.get("phase", ""), "op": "partitions", "partition_set": s["partition_set"],
                          "delete": list(s["add"]), "add": list(s["delete"])})
    if prepared["dirs"]:
        steps.append({"phase": "restore", "op": "utime",
                      "entries": [{"path": d, "mtime_ns": m} for d, m in prepared["dirs"].items()]})
    for n, s in enumerate(steps, 1):
        s["step"] = n
    phases = [{"stage": p["stage"], "renames": [{**r, "old_id": r["new_id"], "new_id": r["old_id"], "cause": "undo"}
                                                for r in p["renames"]]} for p in reversed(plan.get("phases", []))]
    writes = sum(1 for s in steps if s["op"] == "write")
    return {
        "format": PLAN_FORMAT, "format_version": PLAN_VERSION, "kind": "undo",
        "tool": {"name": "lineage", "version": __version__}, "created": _now(),
        "data_root": root, "undoes": plan_sha256,
        "summary": {"renames": sum(len(p["renames"]) for p in phases),
                    "by_stage": {p["stage"]: len(p["renames"]) for p in phases},
                    "by_cause": {"undo": sum(len(p["renames"]) for p in phases)},
                    "steps": len(steps), "files": len(files), "writes": writes},
        "phases": phases, "blocked": [], "warnings": [], "files": dict(sorted(files.items())), "steps": steps,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def executor_for(plan_path: str, plan: dict, plan_sha: str, dagster_home: str | None,
                 progress: Progress | None = None) -> Executor:
    """The in-place executor: journal, lock, undo plan and partitions file next to the plan."""
    root = plan["data_root"]
    if is_inside(plan_path, root):
        raise UsageError(f"the plan {plan_path} lies inside the data root; its journal would be written there")
    mode = "dagster" if dagster_home and dagster_available() else "file"
    return Executor(plan, plan_sha, root, journal_dir(plan_path), undo_path(plan_path), partitions_csv(plan_path),
                    partitions_mode=mode, dagster_home=os.path.abspath(dagster_home) if dagster_home else "",
                    progress=progress, locks=[lock_path(plan_path), root_lock_path(root)])


# --- simulate ---------------------------------------------------------------------------------

FAMILIES_NOT_TO_GROW = ("chain.", "cohort.", "ref.")


def _audit(root: str):
    from lineage.audit import audit
    from lineage.loaders.networkx_graph import NetworkxBackend
    from lineage.loaders.store import scan

    store = scan(root)
    return store, audit(NetworkxBackend.from_store(store), root)


def _tree_files(root: str) -> dict[str, str]:
    """relative path -> sha256 of every regular file (links: 'link:' + target)."""
    out = {}
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in names:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            out[rel] = ("link:" + os.readlink(full)) if os.path.islink(full) else sha256_file(full)
    return out


def simulate(plan: dict, plan_sha: str, into: str, progress: Progress | None = None) -> dict:
    """Copy the data root to `into`, apply the plan there, audit both and verify the result."""
    say = progress or (lambda _m: None)
    root = os.path.realpath(plan["data_root"])
    validate_plan(plan, root)
    if not os.path.isdir(root):
        raise UsageError(f"data root {root} of the plan is not a folder")
    if is_inside(into, root):
        raise UsageError(f"{into} is inside the data root; simulate copies the root elsewhere")
    if os.path.exists(into) and (not os.path.isdir(into) or os.listdir(into)):
        raise UsageError(f"{into} exists and is not an empty folder")
    say(f"copying {root} to {into}")
    try:
        shutil.copytree(root, into, symlinks=True, dirs_exist_ok=True)
    except shutil.Error as exc:  # one entry per file it could not copy (a named pipe, a socket)
        failed = exc.args[0]
        src, _, why = failed[0]
        raise LineageError(f"cannot copy {len(failed):,} file(s) of the data root into {into}, "
                           f"e.g. {os.path.relpath(src, root)}: {why}")
    before_files = _tree_files(root)
    say("auditing the original")
    _, before = _audit(root)
    with tempfile.TemporaryDirectory(prefix="lineage-simulate-") as tmp:
        ex = Executor(plan, plan_sha, into, tmp, os.path.join(tmp, "undo.json"),
                      os.path.join(tmp, "partitions.csv"), progress=progress)
        say(f"applying {len(plan['steps']):,} steps to the copy")
        result = ex.run()
        partitions = open(ex.partitions_csv, encoding="utf-8").read() if os.path.exists(ex.partitions_csv) else ""
    say("auditing the copy")
    store_after, after = _audit(into)
    renames = [r for p in plan.get("phases", []) for r in p["renames"]]
    new_of = {r["old_id"]: r["new_id"] for r in renames}
    verifications = [
        _verify_renamed(renames, store_after, after),
        _verify_no_new(before, after, new_of),
        _verify_artifacts(plan, before_files, _tree_files(into), ex.final, ex.original),
    ]
    return {
        "data_root": root, "into": os.path.abspath(into), "plan_sha256": plan_sha,
        "steps": result.steps, "renames": len(renames),
        "partition_changes": max(0, partitions.count("\n") - 1),
        "before": _stats(before), "after": _stats(after),
        "findings_by_check": [
            {"check": c, "before": before.statistics["findings_by_check"].get(c, 0),
             "after": after.statistics["findings_by_check"].get(c, 0),
             "delta": after.statistics["findings_by_check"].get(c, 0) - before.statistics["findings_by_check"].get(c, 0)}
            for c in dict.fromkeys(list(before.statistics["findings_by_check"]) + list(after.statistics["findings_by_check"]))],
        "verifications": verifications,
        "ok": all(v["ok"] for v in verifications),
    }


def _stats(report) -> dict:
    s = report.statistics
    return {"generations": s["generations"], "id_classes": s["id_classes"],
            "findings_by_check": s["findings_by_check"], "max_severity": s["max_severity"]}


def _translate(text: str | None, new_of: dict[str, str]) -> str | None:
    if not text:
        return text
    if text in new_of:
        return new_of[text]
    return ids.ID_TOKEN.sub(lambda m: new_of.get(m.group(0), m.group(0)), text)


def _finding_key(f, new_of: dict[str, str] | None = None) -> tuple:
    t = (lambda v: _translate(v, new_of)) if new_of else (lambda v: v)
    return (f.check, f.stage, t(f.gen_id), t(f.path), f.line, f.column, f.cohort)


def _verify_renamed(renames: list[dict], store, report) -> dict:
    by_key = {g.key: g for g in store.generations}
    # The checks a rename must clear; a wrong metadata `stage` (id.stage_mismatch) is not an ID problem.
    id_checks = {"id.legacy", "id.signature_mismatch", "id.dir_mismatch", "id.malformed"}
    flagged = {(f.stage, f.gen_id) for f in report.findings if f.check in id_checks}
    failures = []
    for r in renames:
        g = by_key.get(f"{r['stage']}/{r['new_id']}")
        if g is None:
            failures.append(f"{r['stage']} {r['new_id']} (from {r['old_id']}) has no folder")
        elif g.id_kind != ids.DETERMINISTIC or g.id_matches is not True:
            failures.append(f"{r['stage']} {r['new_id']} does not recompute from its metadata ({g.id_kind})")
        elif (r["stage"], r["new_id"]) in flagged:
            failures.append(f"{r['stage']} {r['new_id']} still has an id.* finding")
    return {"name": "renamed_ids_deterministic", "ok": not failures, "checked": len(renames),
            "detail": f"{len(renames) - len(failures):,} of {len(renames):,} renamed IDs are deterministic and recompute",
            "failures": failures[:50]}


def _verify_no_new(before, after, new_of: dict[str, str]) -> dict:
    old = {_finding_key(f, new_of) for f in before.findings}
    new_ids = set(new_of.values())
    failures = []
    for f in after.findings:
        if _finding_key(f) in old:
            continue
        if f.check.startswith(FAMILIES_NOT_TO_GROW) or (f.gen_id in new_ids and f.severity in ("warn", "error")):
            failures.append(f"{f.check} {f.stage or ''} {f.gen_id or ''} {f.path or ''}: {f.message}".strip())
    return {"name": "no_new_findings", "ok": not failures, "checked": len(after.findings),
            "detail": "no new chain/cohort/ref findings and no new warn/error findings on renamed IDs"
            if not failures else f"{len(failures):,} new findings", "failures": failures[:50]}


def _verify_artifacts(plan: dict, before: dict[str, str], after: dict[str, str],
                      final: Callable[[str], str], original: Callable[[str, int], str]) -> dict:
    expected_post = {original(s["path"], s["step"]): s["post"]["sha256"] for s in plan["steps"] if s["op"] == "write"}
    written = expected_post.keys()
    failures = []
    moved = 0
    for rel, digest in before.items():
        dst = final(rel)
        want = expected_post.get(rel, digest)
        got = after.get(dst)
        if got is None:
            failures.append(f"{rel}: missing at {dst}")
        elif got != want:
            failures.append(f"{rel}: content differs at {dst}")
        elif dst != rel and rel not in written:
            moved += 1
    mapped = {final(rel) for rel in before}
    failures += [f"{rel}: not in the original tree" for rel in sorted(set(after) - mapped)]
    untouched = len(before) - len(written)
    return {"name": "artifacts_identical", "ok": not failures, "checked": len(before),
            "detail": f"{untouched:,} files not rewritten are byte-identical ({moved:,} of them under a new path); "
                      f"{len(written):,} rewritten files have their planned content",
            "failures": failures[:50]}


def simulation_rows(doc: dict) -> list[dict]:
    rows = [{"section": "findings", "name": r["check"], "before": r["before"], "after": r["after"],
             "result": f"{r['delta']:+d}" if r["delta"] else ""} for r in doc["findings_by_check"]
            if r["before"] or r["after"]]
    for k in doc["before"]["id_classes"]:
        b, a = doc["before"]["id_classes"][k], doc["after"]["id_classes"][k]
        rows.append({"section": "id_classes", "name": k, "before": b, "after": a, "result": f"{a - b:+d}" if a != b else ""})
    for v in doc["verifications"]:
        rows.append({"section": "verify", "name": v["name"], "before": "", "after": "",
                     "result": ("ok: " if v["ok"] else "FAILED: ") + v["detail"] +
                               ("" if v["ok"] else " (" + "; ".join(v["failures"][:3]) + ")")})
    return rows


SIMULATION_COLUMNS = ["section", "name", "before", "after", "result"]
