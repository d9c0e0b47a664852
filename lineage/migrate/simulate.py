"""`lineage migrate simulate`: copy the data root, apply the plan to the copy, audit both and
verify that renamed IDs recompute, that no chain, cohort or reference finding is new, and that
every other file is byte-identical under its new path. The original is only read."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Callable

from lineage.core import ids
from lineage.core.files import sha256_file
from lineage.loaders.walk import is_inside
from lineage.migrate.executor import Executor
from lineage.migrate.plan import Plan, WriteStep
from lineage.core.status import LineageError, UsageError
from lineage.core.text import count

Progress = Callable[[str], None]

FAMILIES_NOT_TO_GROW = ("chain.", "cohort.", "ref.")


def _audit(root: str):
    """The graph and the audit of a root."""
    from lineage.analyses.audit import audit
    from lineage.loaders.networkx_graph import NetworkxBackend
    from lineage.loaders.store import scan

    backend = NetworkxBackend.from_store(scan(root))
    return backend.graph, audit(backend, root)


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


def simulate(plan: Plan, plan_sha: str, into: str, progress: Progress | None = None) -> dict:
    """Copy the data root to `into`, apply the plan there, audit both and verify the result.
    A copy that fails half way is removed again (only what this call created)."""
    say = progress or (lambda _m: None)
    root = os.path.realpath(plan.data_root)
    if not os.path.isdir(root):
        raise UsageError(f"data root {root} of the plan is not a folder")
    if is_inside(into, root):
        raise UsageError(f"{into} is inside the data root; simulate copies the root elsewhere")
    if os.path.exists(into) and (not os.path.isdir(into) or os.listdir(into)):
        raise UsageError(f"{into} exists and is not an empty folder")
    created = not os.path.exists(into)
    say(f"copying {root} to {into}")
    try:
        try:
            shutil.copytree(root, into, symlinks=True, dirs_exist_ok=True)
        except shutil.Error as exc:  # one entry per file it could not copy (a named pipe, a socket)
            failed = exc.args[0]
            src, _, why = failed[0]
            raise LineageError(f"cannot copy {len(failed):,} file(s) of the data root into {into}, "
                               f"e.g. {os.path.relpath(src, root)}: {why}") from None
        return _simulate_on_copy(plan, plan_sha, root, into, say, progress)
    except BaseException:
        _remove_copy(into, created)
        raise


def _remove_copy(into: str, created: bool) -> None:
    """Take back the copy of a simulation that failed: the folder if this run made it, else its
    contents (it was empty before)."""
    if not os.path.isdir(into) or os.path.islink(into):
        return
    if created:
        shutil.rmtree(into, ignore_errors=True)
        return
    for name in os.listdir(into):
        path = os.path.join(into, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def _simulate_on_copy(plan: Plan, plan_sha: str, root: str, into: str, say: Progress,
                      progress: Progress | None) -> dict:
    before_files = _tree_files(root)
    say("auditing the original")
    graph_before, before = _audit(root)
    with tempfile.TemporaryDirectory(prefix="lineage-simulate-") as tmp:
        ex = Executor(plan, plan_sha, into, tmp, os.path.join(tmp, "undo.json"),
                      os.path.join(tmp, "partitions.csv"), progress=progress)
        say(f"applying {count(len(plan.steps), 'step')} to the copy")
        # The copy has the original's paths and bytes, so the original's scan tells what the
        # apply's check for unplanned mentions of renamed IDs would find.
        result = ex.run(graph=graph_before)
        partitions = open(ex.partitions_csv, encoding="utf-8").read() if os.path.exists(ex.partitions_csv) else ""
    say("auditing the copy")
    graph_after, after = _audit(into)
    renames = plan.renames
    new_of = {r["old_id"]: r["new_id"] for r in renames}
    verifications = [
        _verify_renamed(renames, graph_after, after),
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


def _verify_renamed(renames: list[dict], graph, report) -> dict:
    # The checks a rename must clear; a wrong metadata `stage` (id.stage_mismatch) is not an ID problem.
    id_checks = {"id.legacy", "id.signature_mismatch", "id.dir_mismatch", "id.malformed"}
    flagged = {(f.stage, f.gen_id) for f in report.findings if f.check in id_checks}
    failures = []
    for r in renames:
        g = graph.get(r["stage"], r["new_id"])
        if g is None:
            failures.append(f"{r['stage']} {r['new_id']} (from {r['old_id']}) has no folder")
        elif g["id_kind"] != ids.DETERMINISTIC or g["id_matches"] is not True:
            failures.append(f"{r['stage']} {r['new_id']} does not recompute from its metadata ({g['id_kind']})")
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
            if not failures else f"{count(len(failures), 'new finding')}", "failures": failures[:50]}


def _verify_artifacts(plan: Plan, before: dict[str, str], after: dict[str, str],
                      final: Callable[[str], str], original: Callable[[str, int], str]) -> dict:
    expected_post = {original(s.path, s.step): s.post["sha256"] for s in plan.steps if isinstance(s, WriteStep)}
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
            "detail": f"{count(untouched, 'file')} not rewritten are byte-identical ({moved:,} of them under a new path); "
                      f"{count(len(written), 'rewritten file')} have their planned content",
            "failures": failures[:50]}
