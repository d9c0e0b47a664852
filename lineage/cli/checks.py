"""`lineage checks`: the check catalog, and what one check means, why it matters and how to fix it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from lineage.cli.app import Format, FormatOpt, OutputOpt, app, check_output_place, command, complete_check
from lineage.core.status import UsageError
from lineage.render.formats import destination, emit_rows, to_json


@app.command()
@command
def checks(
    check_id: Annotated[Optional[str], typer.Argument(metavar="CHECK_ID", autocompletion=complete_check, help="One check: what it means, why it matters, how to fix it, an example finding.", show_default=False)] = None,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
):
    """List the checks of the audit, or explain one.

    Example: lineage checks chain.parent_missing
    """
    check_output_place(None, output)
    from lineage.queries.catalog import BY_ID, CHECKS
    from lineage.render.checks import CATALOG_COLUMNS, DETAIL_COLUMNS, catalog_markdown, catalog_rows, check_detail

    if check_id is None:
        if format == Format.md:
            with destination(output) as out:
                out.write(catalog_markdown())
        else:
            # JSON and CSV carry every field of a check; a table and Markdown the summary.
            full = format in (Format.json, Format.csv)
            rows = [check_detail(c) for c in CHECKS] if full else catalog_rows()
            emit_rows(rows, DETAIL_COLUMNS if full else CATALOG_COLUMNS, format.value, output, title="Checks")
        return
    if check_id not in BY_ID:
        near = [c.id for c in CHECKS if check_id in c.id or c.id.endswith("." + check_id)]
        hint = f"; did you mean {', '.join(near)}?" if near else "; `lineage checks` lists them"
        raise UsageError(f"unknown check {check_id!r}{hint}")
    from lineage.synthetic import example_finding

    detail = check_detail(BY_ID[check_id])
    detail["example"] = example_finding(check_id)
    if format == Format.json:
        with destination(output) as out:
            out.write(to_json(detail))
        return
    rows = [{"field": k, "value": v} for k, v in detail.items()]
    emit_rows(rows, ["field", "value"], format.value, output, title=check_id)
