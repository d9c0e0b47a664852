"""`build_plan`: the migration plan as a pure function of the scanned store (it reads files and
writes nothing).

Phases go drafts -> essays -> evaluations, each new ID computed from the parent's new ID
(lineage.analyses.rename). Every place lineage.analyses.impact finds becomes a byte-precise edit
(a JSON string, a CSV cell, a text line) grouped into one write step per file, and every file
the plan touches is fingerprinted (size, mtime_ns, sha256). A rename whose chain the lineage
graph calls broken is not planned: it is listed under `blocked` with the check that reports it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterable

from lineage.core import ids
from lineage.core.model import Store
from lineage.core.status import UsageError
from lineage.loaders.lineage_graph import LineageGraph, of
from lineage.migrate.edits import Edit, apply_edits
from lineage.migrate.plan import (ConflictError, PartitionsStep, Plan, RenameStep, Step, WriteStep, now, remap)
from lineage.migrate.rootfs import RootFS, parts_of
from lineage.core.text import count

Progress = Callable[[str], None]
# How each kind of place impact reports is edited: a JSON string, a CSV cell or a text line.
EDIT_OF_PLACE = {"json": "json", "membership": "csv", "csv": "csv", "csv_path": "csv", "selection": "line",
                 "text": "line"}


# --- building one ------------------------------------------------------------------------------

def build_plan(source: Store | LineageGraph, only: str = "all", stages: Iterable[str] | None = None,
               progress: Progress | None = None, allow_broken: bool = False) -> Plan:
    """The migration plan for a scanned store. Reads files, writes nothing."""
    from lineage.analyses.impact import blocked_warnings, places as impact_places, unsafe_reason
    from lineage.analyses.rename import cascade, is_seed, result_of

    g = of(source)
    say = progress or (lambda _m: None)
    wanted = [s for s in ids.STAGES if not stages or s in set(stages)]
    seeds = {x.key: None for x in g.store.generations if x.stage in wanted and is_seed(x, only)}
    result = result_of(g, cascade(g, seeds, allow_broken=allow_broken), None)
    for r in result.renames:
        for value in (r.old_id, r.new_id):
            why = unsafe_reason(value)
            if why:
                raise UsageError(f"{r.stage} ID {value!r} {why}; refusing to plan a rename with it")
    if result.conflicts:
        raise ConflictError("renames collide: " + "; ".join(c["message"] for c in result.conflicts[:5])
                            + (f" (and {len(result.conflicts) - 5} more)" if len(result.conflicts) > 5 else ""))
    warnings = blocked_warnings(result)
    say(f"{count(len(result.renames), 'rename')}; finding every place they touch")
    places = impact_places(g, result.renames, warnings) if result.renames else []
    root = g.store.root
    with RootFS(root) as fs:
        steps = _steps(fs, result.renames, places)
    plan = Plan(data_root=root, steps=steps.steps, files=steps.files, kind="migrate",
                phases=[{"stage": s, "renames": [r.as_dict() for r in result.renames if r.stage == s]}
                        for s in ids.STAGES if any(r.stage == s for r in result.renames)],
                blocked=result.blocked, warnings=warnings, only=only, stages=wanted, created=now())
    for n, step in enumerate(plan.steps, 1):
        step.step = n
    return plan


@dataclass
class _Steps:
    """The steps of a plan as they are built, with the files read for them."""

    fs: RootFS
    steps: list[Step] = field(default_factory=list)
    files: dict[str, dict] = field(default_factory=dict)  # original path -> fingerprint
    contents: dict[str, bytes] = field(default_factory=dict)  # original path -> bytes after the edits so far
    folders: dict[str, str] = field(default_factory=dict)  # original folder -> its path after the renames so far
    moved: dict[str, str] = field(default_factory=dict)  # original file -> its path after a file rename

    def load(self, orig: str) -> bytes:
        """A file's bytes, read once (O_NOFOLLOW, regular files only) and fingerprinted."""
        if orig not in self.contents:
            data, st = self.fs.read(orig)
            if len(data) != st.st_size:
                raise UsageError(f"{orig} changed while it was read; try again")
            self.files[orig] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                "sha256": hashlib.sha256(data).hexdigest()}
            self.contents[orig] = data
        return self.contents[orig]

    def at(self, orig: str) -> str:
        return self.moved[orig] if orig in self.moved else remap(orig, self.folders)


def _steps(fs: RootFS, renames: list, places: list) -> _Steps:
    out = _Steps(fs)
    for stage in ids.STAGES:
        mine = [r for r in renames if r.stage == stage]
        if not mine:
            continue
        for r in mine:
            src, dst = f"gens/{stage}/{r.old_id}", f"gens/{stage}/{r.new_id}"
            parts_of(src), parts_of(dst)
            if fs.exists(dst):
                raise ConflictError(f"{dst} already exists; cannot rename {src} onto it")
            out.steps.append(RenameStep(0, stage, "rename_dir", src, dst, r.old_id, r.new_id, r.cause))
            out.folders[src] = dst
        # Edits per file, each once: keyed by the edit itself, where a list scanned for
        # duplicates made planning quadratic in a file's edits (28,000 in one scores CSV).
        by_file: dict[str, dict[tuple, Edit]] = {}
        for p in places:
            if p.stage != stage or p.kind not in EDIT_OF_PLACE:
                continue
            kind = EDIT_OF_PLACE[p.kind]
            ed = Edit(kind, p.old_id, p.new_id, pointer=p.pointer if kind == "json" else "",
                      line=None if kind == "json" else p.line, column=p.column if kind == "csv" else "")
            by_file.setdefault(p.path, {}).setdefault(ed.key(), ed)
        for orig in sorted(by_file):
            before = out.load(orig)
            after, described = apply_edits(before, list(by_file[orig].values()), orig)
            if after == before:
                continue
            out.steps.append(WriteStep(0, stage, out.at(orig), _hashed(before), _hashed(after), described))
            out.contents[orig] = after
        for p in places:
            if p.stage == stage and p.kind == "file_name":
                out.load(p.path)
                dst = p.new_value
                parts_of(dst)
                if fs.exists(dst):
                    raise ConflictError(f"{dst} already exists; cannot rename {p.path} onto it")
                out.steps.append(RenameStep(0, stage, "rename_file", out.at(p.path), dst, p.old_id, p.new_id,
                                            sha256=out.files[p.path]["sha256"]))
                out.moved[p.path] = dst
        out.steps.append(PartitionsStep(0, stage, ids.PARTITION_SET[stage], [r.old_id for r in mine],
                                        [r.new_id for r in mine]))
    return out


def _hashed(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


