"""Migration plans and simulations as rows: the steps of a plan, a simulation's verdicts, and
the one-line summary of a plan."""

from __future__ import annotations

from typing import Iterable

from lineage.migrate.plan import PartitionsStep, Plan, RenameStep, Step, WriteStep
from lineage.core.text import count
from lineage.render.formats import console_for, destination, emit_rows, rows_to_table

STEP_COLUMNS = ["step", "phase", "op", "path", "to", "detail"]



def step_row(s: Step) -> dict:
    if isinstance(s, RenameStep):
        row = {"path": s.src, "to": s.dst, "detail": f"{s.old_id} -> {s.new_id}"}
    elif isinstance(s, WriteStep):
        what = "restore original bytes" if s.content_b64 is not None else count(len(s.edits), "edit")
        row = {"path": s.path, "to": "", "detail": what}
    elif isinstance(s, PartitionsStep):
        row = {"path": "", "to": "", "detail": f"{s.partition_set}: delete {len(s.delete)}, add {len(s.add)}"}
    else:
        row = {"path": "", "to": "", "detail": f"restore mtimes of {len(s.entries)} folders"}
    return {"step": s.step, "phase": s.phase, "op": s.op, **row}


def step_rows(plan: Plan, steps: Iterable[Step] | None = None) -> list[dict]:
    return [step_row(s) for s in (plan.steps if steps is None else steps)]


def phase_rows(steps: Iterable[Step]) -> tuple[list[dict], list[str]]:
    """Steps counted by phase and operation: what a run does, in as many rows as it has phases."""
    phases: dict[str, dict[str, int]] = {}
    ops: list[str] = []
    for s in steps:
        counts = phases.setdefault(s.phase or "-", {})
        counts[s.op] = counts.get(s.op, 0) + 1
        if s.op not in ops:
            ops.append(s.op)
    rows = [{"phase": phase, **{op: counts.get(op, 0) for op in ops}, "steps": sum(counts.values())}
            for phase, counts in phases.items()]
    return rows, ["phase", *ops, "steps"]


def plan_summary(plan: Plan) -> str:
    s = plan.summary()
    stages = ", ".join(f"{n:,} {st}" for st, n in s["by_stage"].items() if n)
    blocked = f", {s['blocked']:,} blocked" if s["blocked"] else ""
    return (count(s["renames"], "rename") + (f" ({stages})" if stages else "") + blocked +
            f", {count(s['steps'], 'step')}, {count(s['writes'], 'file write')}, "
            f"{count(s['files'], 'file')} fingerprinted")


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


def write_simulation(doc: dict, fmt: str, output) -> None:
    """A table shows the counts before and after and the verifications as two tables (they
    share no column a narrow terminal could keep); the other formats one row list."""
    rows = simulation_rows(doc)
    if fmt != "table":
        emit_rows(rows, SIMULATION_COLUMNS, fmt, output, title="Migration simulation", document=doc)
        return
    counts = [{k: r[k] for k in ("section", "name", "before", "after", "result")} for r in rows
              if r["section"] != "verify"]
    checks = [{"verification": r["name"], "result": r["result"]} for r in rows if r["section"] == "verify"]
    with destination(output) as out:
        console = console_for(out)
        console.print(rows_to_table(counts, SIMULATION_COLUMNS, "Before and after"))
        console.print(rows_to_table(checks, ["verification", "result"], "Verifications"))


SIMULATION_COLUMNS = ["section", "name", "before", "after", "result"]
