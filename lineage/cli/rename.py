"""Commands about IDs and renames: ids (what a rebuild would regenerate) and impact (every place a
rename touches)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lineage.core.status import ExitStatus, UsageError
from lineage.cli.app import (DataRoot, Format, FormatOpt, NoProgressOpt, OutputOpt, app, check_output_place,
                             check_stages, command, complete_stage, load_store, say, warn)
from lineage.render.formats import emit_rows
from lineage.core.text import count


class IdsOnly(str, Enum):
    all = "all"
    changed = "changed"


class RenameScope(str, Enum):
    all = "all"
    legacy = "legacy"
    mismatch = "mismatch"


class ImpactFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"
    csv = "csv"
    mermaid = "mermaid"
    dot = "dot"


@app.command("ids")
@command
def ids_report(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    stage: Annotated[Optional[list[str]], typer.Option("--stage", autocompletion=complete_stage, help="Only rows of this stage (repeatable).")] = None,
    only: Annotated[IdsOnly, typer.Option("--only", help="'changed': only generations a rebuild regenerates.")] = IdsOnly.all,
    mapping_csv: Annotated[Optional[Path], typer.Option("--mapping-csv", metavar="FILE", help="Write stage,old_id,new_id for every ID that changes (the whole cascade).")] = None,
    mapping_only: Annotated[RenameScope, typer.Option("--mapping-only", help="Renames in --mapping-csv: legacy IDs, mismatched IDs, or all; each with its cascade.")] = RenameScope.all,
    no_progress: NoProgressOpt = False,
):
    """List stored vs deterministic IDs and what a rebuild costs.

    One row per generation: its IDs, and what a rebuild would reuse or regenerate.

    The cascaded ID is computed from the parent's cascaded ID (drafts -> essays -> evaluations).
    Read-only.

    Example: lineage ids data/ --only changed --mapping-csv renames.csv
    """
    from lineage.analyses.rename import ID_COLUMNS, ID_PRIORITY, id_report, mapping, mapping_rows

    check_stages(stage)
    check_output_place(data_root, output, mapping_csv)
    store, seconds = load_store(data_root, no_progress)
    rows, totals = id_report(store, stage, only == IdsOnly.changed)
    emit_rows(rows, ID_COLUMNS, format.value, output, title="Generation IDs", priority=ID_PRIORITY)
    if mapping_csv:
        result = mapping(store, mapping_only.value)
        emit_rows(mapping_rows(result), ["stage", "old_id", "new_id"], "csv", str(mapping_csv))
        say(f"wrote {count(len(result.renames), 'rename')} to {mapping_csv}")
    say(f"OK: {count(totals['generations'], 'generation')}: {totals['reuse']:,} reuse, "
        f"{totals['regenerate']:,} regenerate ({count(totals['renamed'], 'new ID')}, {totals['no_id']:,} without "
        f"an ID), {count(totals['llm_calls'], 'LLM call')} to rebuild them"
        f"{' and their descendants' if stage else ''}, {count(totals['conflicts'], 'conflict')} "
        f"({seconds:.1f}s)")


@app.command()
@command
def impact(
    data_root: DataRoot,
    gen_ids: Annotated[Optional[list[str]], typer.Argument(metavar="GEN_ID", help="Generations to rename to the IDs their metadata implies.", show_default=False)] = None,
    mapping_file: Annotated[Optional[Path], typer.Option("--mapping", metavar="FILE", help="A CSV with old_id,new_id[,stage] columns instead of GEN_IDs.")] = None,
    format: Annotated[ImpactFormat, typer.Option("--format", "-f", help="Output format; mermaid and dot draw the cascade.")] = ImpactFormat.table,
    output: OutputOpt = None,
    no_progress: NoProgressOpt = False,
):
    """List every place a rename must update.

    Folders, JSON fields, CSV cells, selection lines, results/, Dagster partition keys, and the descendants renamed with it. Read-only.

    Exit 1 when two renames collide or a new ID already exists.

    Example: lineage impact data/ wzgl1y0w15i2g77h --format md
    """
    from lineage.analyses.impact import check_ids, impact as find_impact, read_mapping
    from lineage.render.impact import write_impact

    check_ids(gen_ids or [])
    if bool(gen_ids) == bool(mapping_file):
        raise UsageError("give GEN_IDs or --mapping FILE (one of the two)")
    entries = read_mapping(str(mapping_file)) if mapping_file else None
    check_output_place(data_root, output)
    store, seconds = load_store(data_root, no_progress)
    result = find_impact(store, gen_ids=gen_ids, entries=entries)
    write_impact(result, format.value, output)
    for warning in result.warnings:
        warn(warning)
    word = "FAIL" if result.conflicts else "OK"
    say(f"{word}: {result.summary()} ({seconds:.1f}s)")
    raise typer.Exit(int(ExitStatus.FINDINGS if result.conflicts else ExitStatus.OK))
