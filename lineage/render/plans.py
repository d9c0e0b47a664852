"""Migration plans and simulations as rows: the steps of a plan, a simulation's verdicts, and
the one-line summary of a plan."""

from __future__ import annotations

from typing import Iterable

from lineage.migrate.plan import PartitionsStep, Plan, RenameStep, Step, WriteStep

STEP_COLUMNS = ["step", "phase", "op", "path", "to", "detail"]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def step_row(s: Step) -> dict:
    if isinstance(s, RenameStep):
        row = {"path": s.src, "to": s.dst, "detail": f"{s.old_id} -> {s.new_id}"}
    elif isinstance(s, WriteStep):
        what = "restore original bytes" if s.content_b64 is not None else _count(len(s.edits), "edit")
        row = {"path": s.path, "to": "", "detail": what}
    elif isinstance(s, PartitionsStep):
        row = {"path": "", "to": "", "detail": f"{s.partition_set}: delete {len(s.delete)}, add {len(s.add)}"}
    else:
        row = {"path": "", "to": "", "detail": f"restore mtimes of {len(s.entries)} folders"}
    return {"step": s.step, "phase": s.phase, "op": s.op, **row}


def step_rows(plan: Plan, steps: Iterable[Step] | None = None) -> list[dict]:
    return [step_row(s) for s in (plan.steps if steps is None else steps)]


def plan_summary(plan: Plan) -> str:
    s = plan.summary()
    stages = ", ".join(f"{n:,} {st}" for st, n in s["by_stage"].items() if n)
    blocked = f", {s['blocked']:,} blocked" if s["blocked"] else ""
    return (_count(s["renames"], "rename") + (f" ({stages})" if stages else "") + blocked +
            f", {_count(s['steps'], 'step')}, {_count(s['writes'], 'file write')}, "
            f"{_count(s['files'], 'file')} fingerprinted")


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
