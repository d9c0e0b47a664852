"""A cohort rebuild simulation as tables, Markdown, JSON or CSV."""

from __future__ import annotations

from lineage.analyses.cohorts import DETAIL_COLUMNS, LEGACY_COLUMNS, PRIORITY, SUMMARY_COLUMNS, Simulation
from lineage.core.text import count, terminal_text
from lineage.render.formats import Output, console_for, destination, emit_rows, rows_to_markdown, rows_to_table

TITLES = ("Rebuild simulation: per mode and stage", "Legacy generations: reused or regenerated",
          "Per selected essay")


def write_simulation(sim: Simulation, fmt: str, output: Output, detail: bool) -> None:
    if fmt == "json":
        emit_rows([], [], "json", output, document=sim.document)
    elif fmt == "csv":
        if detail:
            emit_rows(sim.detail_rows, DETAIL_COLUMNS, "csv", output)
        else:
            emit_rows(sim.summary_rows, SUMMARY_COLUMNS, "csv", output)
    else:
        sections = [(TITLES[0], sim.summary_rows, SUMMARY_COLUMNS), (TITLES[1], sim.legacy_rows, LEGACY_COLUMNS)]
        if detail and sim.detail_rows:
            sections.append((TITLES[2], sim.detail_rows, DETAIL_COLUMNS))
        with destination(output) as out:
            console = console_for(out) if fmt == "table" else None
            for i, (title, rows, columns) in enumerate(sections):
                if console is not None:
                    console.print(rows_to_table(rows, columns, title, PRIORITY))
                    if i == 1:
                        for line in sim.answer:
                            console.print(terminal_text(line), markup=False, highlight=False)
                else:
                    out.write(f"## {title}\n\n{rows_to_markdown(rows, columns)}\n")
                    if i == 1:
                        out.write("".join(f"- {terminal_text(line)}\n" for line in sim.answer) + "\n")


def simulation_summary(sim: Simulation) -> str:
    """The one line the command ends with."""
    totals = ", ".join(f"{m['mode']} {m['llm_calls']:,}" for m in sim.document["modes"])
    what = []
    if sim.document["input"]:
        what.append(count(len(sim.document['input']['essays']), 'selected essay'))
    if sim.document["cartesian"]:
        what.append(f"cohort {sim.document['cartesian']['cohort_id']}")
    if sim.document.get("spec"):
        what.append(f"cohort {sim.document['spec']['cohort_id']} from its spec")
    return f"simulated {' and '.join(what)}; LLM calls: {totals}"
