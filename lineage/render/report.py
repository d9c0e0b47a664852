"""The findings report: one Markdown document with the numbers of one run over a data root.

It strings the other analyses together in the order of the migration plan: inventory, metadata,
parent chains, ID recomputation and rebuild cost, cohort-mode behaviour, rename impact, and a
recommendation derived from those numbers (not written in advance).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from lineage import __version__
from lineage.analyses import cohorts
from lineage.core import ids
from lineage.analyses.audit import Report
from lineage.analyses.impact import Entry, impact
from lineage.analyses.inventory import STAGE_COLUMNS, inventory, stage_rows, verdict
from lineage.core.model import Store
from lineage.core.text import terminal_text
from lineage.render.formats import rows_to_markdown
from lineage.loaders.lineage_graph import LineageGraph
from lineage.analyses.rename import id_report, mapping
from lineage.core.status import UsageError


def _counts(report: Report, prefix: str | tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"check": c, "findings": n} for c, n in report.statistics["findings_by_check"].items()
            if c.startswith(prefix)]


def _examples(report: Report, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
    seen: Counter = Counter()
    rows = []
    for f in report.findings:
        if f.check.startswith(prefix) and f.severity != "info" and seen[f.check] < 2 and len(rows) < limit:
            seen[f.check] += 1
            rows.append({"check": f.check, "stage": f.stage, "gen_id": f.gen_id, "path": f.path,
                         "message": f.message})
    return rows


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    return rows_to_markdown(rows, columns) if rows else "_none_\n"


def _cohort_section(store: Store, sample: int, seed: int) -> tuple[str, dict[str, Any]]:
    """Simulate a sample of legacy essays (the migration's question), else the store's own
    selection file."""
    has_legacy = any(g.stage == "essay" and g.id_kind == ids.LEGACY for g in store.generations)
    try:
        if has_legacy:
            sim = cohorts.simulate(store, sample=(sample, seed))
            source = f"{sample} legacy essays sampled with seed {seed} (`lineage cohorts simulate --sample {sample} --seed {seed}`)"
        else:
            sim = cohorts.simulate(store)
            source = "the store's own selection file"
    except UsageError as exc:
        return f"Not simulated: {terminal_text(str(exc))}\n", {}
    total_rows = [r for r in sim.summary_rows if r.get("stage") == "total"]
    totals = {r["mode"]: r["llm_calls"] for r in total_rows}
    cols = list(sim.legacy_rows[0]) if sim.legacy_rows else ["mode"]
    text = (f"Simulated for {source}.\n\n"
            + _table(total_rows,
                     [c for c in ("mode", "scheduled", "reused", "new", "llm_calls") if sim.summary_rows
                      and c in sim.summary_rows[0]])
            + "\nWhere legacy generations are reused, and where regeneration is unavoidable:\n\n"
            + _table(sim.legacy_rows, cols) + "\n" + "".join(f"- {terminal_text(a)}\n" for a in sim.answer))
    return text, totals


def build(graph: LineageGraph, report: Report, *, sample: int = 5, seed: int = 0) -> str:
    store = graph.store
    inv = inventory(store)
    stats = report.statistics
    _, totals = id_report(graph)
    full = mapping(graph, "all")
    entries = [Entry(r.old_id, r.new_id, r.stage, i) for i, r in enumerate(full.renames, 2)]
    rename_impact = impact(graph, entries=entries) if entries else None
    cohort_text, llm_by_mode = _cohort_section(store, sample, seed)

    legacy = inv["length_heuristic"]["shape_legacy"]
    mismatched = stats["findings_by_check"].get("id.signature_mismatch", 0)
    chain_errors = sum(n for c, n in stats["findings_by_check"].items()
                       if c.startswith(("chain.", "cohort.member")))
    parts = [
        f"# Generation store findings: `{terminal_text(report.data_root)}`\n\n",
        f"Produced by lineage {__version__} on {dt.date.today().isoformat()}. Every number below comes "
        "from this run; re-run `lineage report` to refresh it.\n\n",
        "## 1. Inventory\n\n",
        _table(stage_rows(inv), STAGE_COLUMNS),
        "\n" + verdict(inv) + "\n\n",
        "## 2. Metadata validation\n\n",
        _table(_counts(report, ("store.", "meta.")), ["check", "findings"]),
        "\nExamples:\n\n", _table(_examples(report, ("store.", "meta.")), ["check", "stage", "gen_id", "path", "message"]),
        "\n## 3. Parent chains and cohorts\n\n",
        _table(_counts(report, ("chain.", "cohort.", "ref.")), ["check", "findings"]),
        "\nExamples:\n\n",
        _table(_examples(report, ("chain.", "cohort.", "ref.")), ["check", "stage", "gen_id", "path", "message"]),
        "\n## 4. ID recomputation and rebuild impact\n\n",
        _table(_counts(report, "id."), ["check", "findings"]),
        f"\nA rebuild from today's metadata reuses {totals.get('reuse', 0):,} generations and regenerates "
        f"{totals.get('regenerate', 0):,}, at {totals.get('llm_calls', 0):,} LLM calls "
        "(`lineage ids` lists them one by one).\n\n",
        "## 5. Cohort-mode behaviour\n\n", cohort_text,
        "\n## 6. Rename impact\n\n",
    ]
    if rename_impact is None:
        parts.append("No generation needs a new ID.\n")
    else:
        kinds = Counter(p.kind for p in rename_impact.places)
        files = len({p.path for p in rename_impact.places if p.path})
        by_stage = Counter(r.stage for r in rename_impact.renames)
        parts += [
            f"Migrating every legacy, mismatched and malformed ID renames {len(rename_impact.renames):,} "
            f"generations ({', '.join(f'{n:,} {s}' for s, n in sorted(by_stage.items()))}) and edits "
            f"{len(rename_impact.places):,} places in {files:,} files; "
            f"{len(rename_impact.conflicts)} conflicts.\n\n",
            _table([{"place": k, "count": n} for k, n in sorted(kinds.items())], ["place", "count"]),
            "\n`lineage impact DATA_ROOT --mapping FILE` lists every place; `lineage migrate plan` turns "
            "them into a journaled, resumable plan.\n",
        ]
    parts += ["\n## 7. Recommendation\n\n", _recommendation(legacy, mismatched, chain_errors, llm_by_mode,
                                                            rename_impact)]
    return "".join(parts)


def _recommendation(legacy: int, mismatched: int, chain_errors: int, llm_by_mode: dict[str, int],
                    rename_impact) -> str:
    lines = []
    if chain_errors:
        lines.append(f"- Fix the {chain_errors:,} broken parent links and cohort members first "
                     "(`lineage orphans --csv`): a rename cannot compute IDs below a broken link.")
    if legacy or mismatched:
        costs = ", ".join(f"{m} {n:,}" for m, n in llm_by_mode.items())
        lines.append(
            f"- Mixed-ID operation ({legacy:,} legacy and {mismatched:,} mismatched IDs) is safe only under "
            "the reuse modes, and only for the stage a mode keeps: a legacy draft survives reuse-drafts, a "
            "legacy essay reuse-essays, legacy evaluations only fill-up. Regenerate and Cartesian rebuilds "
            "never reuse a legacy generation, and every mode mints duplicates next to legacy generations "
            "with the same signature, because the allocator only sees deterministic folders."
            + (f" LLM calls per mode in the simulation above: {costs}." if costs else ""))
        lines.append(
            "- \"Backfill only missing evaluations\" is reliable today only when existing evaluations match "
            "the active template and model strings exactly. A new curated directive, e.g. "
            "`# mode: backfill-missing-evaluations`, should match existing evaluations by normalised "
            "signature (stripped, lower-cased, with the template fallbacks) instead of exact strings, and "
            "the allocator should count legacy generations with the same signature as taken.")
        if rename_impact is not None:
            lines.append(
                f"- Migrating instead removes the question: `lineage migrate plan` → `simulate` → `apply --yes` "
                f"renames {len(rename_impact.renames):,} generations with a journal and an undo plan, keeps "
                "every raw.txt (no LLM call), and leaves only deterministic IDs.")
    else:
        lines.append("- Every ID is deterministic and recomputes: rebuilds reuse what exists in every mode.")
    return "\n".join(lines) + "\n"


def default_filename() -> str:
    return f"findings_{dt.date.today().isoformat()}.md"
