"""The generation inventory as a table, Markdown, JSON or CSV."""

from __future__ import annotations

from lineage.analyses.inventory import (LEGACY_COLUMNS, LENGTH_COLUMNS, STAGE_COLUMNS, legacy_rows, length_rows,
                                        stage_rows, verdict)
from lineage.core.text import terminal_text
from lineage.render.formats import Output, console_for, destination, emit_rows, rows_to_markdown, rows_to_table

LEGACY_SHOWN = 50  # a terminal shows the first few legacy IDs; md and json list them all


def write_inventory(inv: dict, fmt: str, output: Output) -> None:
    rows = length_rows(inv)
    legacy = legacy_rows(inv) if fmt in ("md", "table") else []
    if fmt == "md":
        with destination(output) as out:
            out.write("# Generation inventory\n\n" + rows_to_markdown(stage_rows(inv), STAGE_COLUMNS)
                      + "\n## ID lengths: length rule vs shape\n\n" + rows_to_markdown(rows, LENGTH_COLUMNS)
                      + "\n" + terminal_text(verdict(inv)) + "\n\n## Legacy IDs\n\n"
                      + rows_to_markdown(legacy, LEGACY_COLUMNS))
    elif fmt == "table":
        with destination(output) as out:
            console = console_for(out)
            console.print(rows_to_table(stage_rows(inv), STAGE_COLUMNS, "Generations by stage and ID class"))
            console.print(rows_to_table(rows, LENGTH_COLUMNS, "ID lengths: length rule vs shape"))
            console.print(terminal_text(verdict(inv)), markup=False)
            console.print(rows_to_table(legacy[:LEGACY_SHOWN], LEGACY_COLUMNS, "Legacy IDs"))
            if len(legacy) > LEGACY_SHOWN:
                console.print(f"… and {len(legacy) - LEGACY_SHOWN:,} more; --format md or json lists them all",
                              markup=False)
    else:
        emit_rows(rows, LENGTH_COLUMNS, fmt, output, document=inv)
