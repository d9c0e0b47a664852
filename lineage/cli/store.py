"""Commands that read a store and report on it: audit, inventory, orphans, show, report, duplicates."""

from __future__ import annotations

import os
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lineage.core.perf import gc_paused, hold_until_exit
from lineage.core.status import UsageError
from lineage.cli.app import (BackendName, BackendOpt, DataRoot, DatabaseOpt, FailOn, FailOnOpt, Format,
                             FormatOpt, NoProgressOpt, OutputOpt, PasswordPromptOpt, UriOpt, UserOpt, app,
                             backend_for, check_output_place, check_stages, command, complete_check,
                             complete_stage, connection, load_store, run_audit, say, verdict, warn)
from lineage.cli.settings import (ConfigOpt, NoConfigOpt, checks_for, config_note, fail_on_for,
                                  read_baseline, settings, severity_for)
from lineage.render.formats import console_for, destination, emit_rows, to_json
from lineage.core.text import count


class AuditFormat(str, Enum):
    """The audit's formats: the shared ones, and JUnit XML for CI systems (audit only)."""

    table = "table"
    json = "json"
    md = "md"
    csv = "csv"
    junit = "junit"


@app.command()
@command
def audit(
    data_root: DataRoot,
    format: Annotated[AuditFormat, typer.Option("--format", "-f", help="Output format; junit is JUnit XML for CI systems.")] = AuditFormat.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = None,
    check: Annotated[Optional[list[str]], typer.Option("--check", autocompletion=complete_check, help="Run only this check or family (repeatable), e.g. chain or id.legacy.")] = None,
    stage: Annotated[Optional[list[str]], typer.Option("--stage", autocompletion=complete_stage, help="Report findings of this stage only (repeatable).")] = None,
    severity: Annotated[Optional[list[str]], typer.Option("--severity", metavar="CHECK=LEVEL", help="Override a check's severity: CHECK=LEVEL (repeatable).")] = None,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", metavar="REPORT", help="An earlier JSON report: its findings are marked baselined and fail nothing.", show_default=False)] = None,
    write_baseline: Annotated[Optional[Path], typer.Option("--write-baseline", metavar="FILE", help="Write this run's JSON report to FILE as the new baseline, and exit 0.", show_default=False)] = None,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    backend: BackendOpt = BackendName.networkx,
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DatabaseOpt = None,
    password_prompt: PasswordPromptOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Run every check of the catalog and report the findings.

    With --backend neo4j the store is loaded into the server first and every check runs as
    Cypher; the report is the same. Options may also come from [tool.lineage] in a
    pyproject.toml or from a lineage.toml, the first found from the current folder upward.

    Example: lineage audit data/ --format json --output audit.json --fail-on warn

    Example (CI, only new findings fail): lineage audit data/ --baseline audit.json --format junit -o junit.xml
    """
    with gc_paused():  # the audit's modules and networkx: 0.07 s of imports, a tenth of it collections
        from lineage.analyses import baseline as baselines

    cfg = settings(config, no_config, data_root)
    checks, overrides, fail_on = _audit_options(check, stage, severity, cfg, fail_on)
    if write_baseline is not None and str(write_baseline) == "-":
        raise UsageError("--write-baseline needs a file (stdout carries the report itself: use --format json)")
    check_output_place(data_root, output, write_baseline)
    known = read_baseline(baseline, cfg, writing=write_baseline is not None)  # before the long part
    conn = connection(uri, user, database, password_prompt, cfg) if backend == BackendName.neo4j else None
    start = time.perf_counter()
    store, _ = load_store(data_root, no_progress, metadata=False)
    graph = backend_for(store, backend, conn, not no_progress)
    hold_until_exit(store, graph)
    try:
        report = run_audit(graph, str(data_root), checks, overrides, stage)
    finally:
        if backend == BackendName.neo4j:
            graph.close()
    if known is not None:
        baselines.apply(report, known, stage)
    if write_baseline is not None:
        fail_on = FailOn.never  # the baseline accepts every finding of this run
    _write_audit(report, format, output, fail_on, time.perf_counter() - start)
    if write_baseline is not None:
        with destination(write_baseline) as out:
            out.write(to_json(report.as_dict()))
        say(f"wrote {len(report.findings):,} findings to the baseline {write_baseline}")
    raise typer.Exit(verdict(report, fail_on, time.perf_counter() - start, config_note(cfg)))


def _audit_options(check, stage, severity, cfg, fail_on):
    """The audit's options checked and merged with the configuration: (checks, severity
    overrides, fail-on)."""
    from lineage.queries import catalog

    if check and catalog.unknown(check):
        raise UsageError(f"unknown check(s): {', '.join(catalog.unknown(check))} (`lineage checks` lists them)")
    check_stages(stage)
    return checks_for(check, cfg), severity_for(severity, cfg), fail_on_for(fail_on, cfg)


def _write_audit(report, format: AuditFormat, output, fail_on: FailOn, seconds: float) -> None:
    if format == AuditFormat.junit:
        from lineage.render.junit import write_junit

        write_junit(report, fail_on.value, seconds, output)
    else:
        from lineage.render.audit import write_report

        write_report(report, format.value, output)


@app.command()
@command
def inventory(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", metavar="DIR", help="Also write gen_id_inventory_<date>.json into this folder.")] = None,
    no_progress: NoProgressOpt = False,
):
    """Count generations by stage and ID shape; list legacy IDs.

    Shows where the old length rule ("under 18 characters is legacy") disagrees with the
    classification by shape, with the expected share of short deterministic IDs.

    Example: lineage inventory data/ --output-dir reports/
    """
    from lineage.analyses.inventory import default_filename, inventory as build
    from lineage.render.inventory import write_inventory

    check_output_place(data_root, output, folder=output_dir)
    store, seconds = load_store(data_root, no_progress, metadata=False)
    inv = build(store)
    write_inventory(inv, format.value, output)
    if output_dir:
        output_dir.mkdir(exist_ok=True)
        target = output_dir / default_filename()
        with destination(target) as out:
            out.write(to_json(inv))
        say(f"wrote {target}")
    total = sum(inv["generations"].values())
    say(f"OK: {count(total, 'generation')}, {count(inv['length_heuristic']['shape_legacy'], 'legacy ID')} by shape "
        f"({seconds:.1f}s)")


ORPHAN_CHECKS = ["chain", "cohort.member_missing", "ref.dangling"]


@app.command()
@command
def orphans(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", metavar="FILE", help="Write the rows as CSV to this file (same as --format csv --output FILE).")] = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    no_progress: NoProgressOpt = False,
):
    """List every broken reference, with the place to fix it.

    Parent chains, cohort members and dangling IDs in files: one row per broken reference, with
    the file, line and column (or metadata field) to fix. The configuration file's fail-on,
    severity and skip apply here too.

    Example: lineage orphans data/ --csv orphans.csv
    """
    from lineage.render.audit import FINDING_PRIORITY, ORPHAN_COLUMNS, orphan_row

    cfg = settings(config, no_config, data_root)
    if csv_file:
        format, output = Format.csv, csv_file
    check_output_place(data_root, output)
    start = time.perf_counter()
    store, _ = load_store(data_root, no_progress, metadata=False)
    report = run_audit(backend_for(store, BackendName.networkx), str(data_root),
                       checks_for(None, cfg, ORPHAN_CHECKS), severity_for(None, cfg))
    rows = [orphan_row(f.as_dict()) for f in report.findings]
    emit_rows(rows, ORPHAN_COLUMNS, format.value, output, title="Broken references", priority=FINDING_PRIORITY)
    raise typer.Exit(verdict(report, fail_on_for(fail_on, cfg), time.perf_counter() - start, config_note(cfg)))


@app.command()
@command
def show(
    data_root: DataRoot,
    gen_id: Annotated[str, typer.Argument(metavar="GEN_ID", help="The generation to show.")],
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    no_progress: NoProgressOpt = False,
):
    """Show one generation's ancestry and descendants as a tree.

    Each node is drawn with its problems.

    Example: lineage show data/ e_5b2bvhgzw1y5lp14
    """
    from lineage.analyses.show import TREE_COLUMNS, lineage_of, tree_rows
    from lineage.render.tree import render_tree

    check_output_place(data_root, output)
    store, _ = load_store(data_root, no_progress, metadata=False)
    backend = backend_for(store, BackendName.networkx)
    report = run_audit(backend, str(data_root))
    views = lineage_of(backend.graph, gen_id, report.findings)
    if not views:
        raise UsageError(f"{gen_id} is neither a generation nor referenced anywhere under {data_root}")
    if format == Format.table:
        with destination(output) as out:
            console = console_for(out)
            for view in views:
                console.print(render_tree(view, console.width))
    else:
        emit_rows(tree_rows(views), TREE_COLUMNS, format.value, output, document=views)


@app.command()
@command
def report(
    data_root: DataRoot,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="PATH", help="A file, or a folder (an existing one, or ends with /: gets findings_<date>.md); default stdout.")] = None,
    sample: Annotated[int, typer.Option(min=1, help="Legacy essays to simulate cohort modes for.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for choosing them.")] = 0,
    no_progress: NoProgressOpt = False,
):
    """Write the Markdown findings report.

    Inventory, metadata, chains, IDs, cohort modes and renames, with the run's numbers.

    Example: lineage report data/ --output docs/reports/
    """
    from lineage.render.report import build, default_filename

    target = folder = None
    if output is not None:
        target = Path(output)
        if target.is_dir() or output.endswith(("/", os.sep)):
            folder, target = target, target / default_filename()
    check_output_place(data_root, target if folder is None else None, folder=folder)
    start = time.perf_counter()
    store, _ = load_store(data_root, no_progress)
    backend = backend_for(store, BackendName.networkx)
    audited = run_audit(backend, str(data_root))
    text = build(backend.graph, audited, sample=sample, seed=seed)
    if folder is not None:
        folder.mkdir(exist_ok=True)
    with destination(target) as out:
        out.write(text)
    where = f" to {target}" if target else ""
    say(f"wrote the findings report{where} ({time.perf_counter() - start:.1f}s)")


@app.command()
@command
def duplicates(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    stage: Annotated[Optional[list[str]], typer.Option("--stage", autocompletion=complete_stage, help="Only this stage (repeatable).")] = None,
    no_progress: NoProgressOpt = False,
):
    """List generations with byte-identical raw.txt (SHA-256).

    Reads every raw.txt once, so it is a separate command, not part of the audit.

    Example: lineage duplicates data/ --stage essay --format csv
    """
    from lineage.analyses.duplicates import duplicate_raw

    check_stages(stage)
    check_output_place(data_root, output)
    store, _ = load_store(data_root, no_progress)
    rows, unreadable = duplicate_raw(store, set(stage or ()))
    for line in unreadable:
        warn(f"cannot read {line}")
    if format == Format.table:
        # A table shows the first 12 hex digits, as git shows a commit: enough to tell the
        # groups apart, and short enough to leave room for the IDs. The other formats keep all 64.
        rows = [{**r, "sha256": r["sha256"][:12]} for r in rows]
    emit_rows(rows, ["sha256", "copies", "stage", "gen_id", "path", "mode"], format.value, output,
              title="Generations with identical raw.txt")
    groups = len({r["sha256"] for r in rows})
    say(f"{count(groups, 'group')} of identical raw.txt covering {count(len(rows), 'generation')}")
