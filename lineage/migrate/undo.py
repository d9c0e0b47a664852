"""The plan that puts back the tree a migration started from.

It is written before the migration's first write, so a migration that stops half way (a
crash, a file it may not write) can always be rolled back. Each of its steps finds out what the
migration got to: a rename is reversed only if it happened, a file is restored from any state
the migration can have left it in (its original bytes, or the result of any of its planned
writes), and anything else stops the undo before it writes over someone else's change.
"""

from __future__ import annotations

import base64
from typing import Callable

from lineage.migrate.plan import (PartitionsStep, Plan, RenameStep, Step, UtimeStep, WriteStep, now,
                                  trace)


def build_undo(plan: Plan, plan_sha256: str, prepared: dict, backup: Callable[[str], bytes],
               journal_dir: str) -> Plan:
    """`prepared`: {"files": {original path: {sha256, size, mtime_ns}}, "dirs": {path: mtime_ns}}
    as recorded before the first write; `backup(sha256)` gives a file's original bytes."""
    original, _ = trace(plan.steps)
    steps: list[Step] = []
    for s in reversed(plan.steps):
        if isinstance(s, RenameStep):
            steps.append(RenameStep(0, s.phase, s.kind, s.dst, s.src, s.new_id, s.old_id, "undo", s.sha256))
    written: dict[str, list[dict]] = {}  # original path -> the post state of each write, in order
    for s in plan.steps:
        if isinstance(s, WriteStep):
            written.setdefault(original(s.path, s.step), []).append(s.post)
    for orig, fp in sorted(prepared["files"].items()):
        posts = written[orig]
        steps.append(WriteStep(0, "restore", orig, pre=posts[-1], post={"sha256": fp["sha256"], "size": fp["size"]},
                               content_b64=base64.b64encode(backup(fp["sha256"])).decode(), mtime_ns=fp["mtime_ns"],
                               accept=[p["sha256"] for p in posts[:-1]]))
    for s in reversed(plan.steps):
        if isinstance(s, PartitionsStep):
            steps.append(PartitionsStep(0, s.phase, s.partition_set, list(s.add), list(s.delete)))
    if prepared["dirs"]:
        steps.append(UtimeStep(0, "restore", [{"path": d, "mtime_ns": m} for d, m in prepared["dirs"].items()]))
    for n, s in enumerate(steps, 1):
        s.step = n
    phases = [{"stage": p["stage"], "renames": [{**r, "old_id": r["new_id"], "new_id": r["old_id"], "cause": "undo"}
                                                for r in p["renames"]]} for p in reversed(plan.phases)]
    # No fingerprints: every step checks the state it finds instead, so the undo fits the tree
    # whatever part of the migration ran.
    return Plan(data_root=plan.data_root, steps=steps, files={}, phases=phases, kind="undo",
                undoes=plan_sha256, undoes_journal=journal_dir, created=now())
