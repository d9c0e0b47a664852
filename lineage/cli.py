"""The `lineage` command line: a thin typer layer over the library. Only this module imports typer.

Data goes to stdout (or --output); progress, logs and the closing verdict line go to stderr.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console

from lineage import ids
from lineage.model import SEVERITIES, Store
from lineage.output import emit_rows, destination, to_json, rows_to_markdown, console_for, rows_to_table, terminal_text
from lineage.status import ExitStatus, LineageError, Terminated, UsageError

if TYPE_CHECKING:
    from lineage.audit import Report

# The audit (and with it networkx) is imported by the commands that run it, not here: commands
# such as `neo4j`, `ids`, `migrate` and `--version` start without it.

# One message, one line; no :emoji: codes replaced in names from the data.
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

app = typer.Typer(
    help="Lineage analyzer for the DayDreaming generation store (data/gens/<stage>/<gen_id>/).\n\n"
         "Example: lineage audit data/ --format json --output audit.json",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(str, Enum):
    table = "table"
    json = "json"
    md = "md"
    csv = "csv"


class FailOn(str, Enum):
    error = "error"
    warn = "warn"
    info = "info"
    never = "never"


class BackendName(str, Enum):
    networkx = "networkx"
    neo4j = "neo4j"


# The shared output options, declared once (as sqlite-utils' output_options does).
DataRoot = Annotated[Path, typer.Argument(help="The data root (holds gens/, cohorts/, ...).",
                                          envvar="DAYDREAMING_DATA_ROOT", show_default=False)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o",
                                                   help="Write the data to this file instead of stdout.")]
FailOnOpt = Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when a finding is at or above this severity.")]
NoProgressOpt = Annotated[bool, typer.Option("--no-progress", help="No progress bar on stderr.")]
BackendOpt = Annotated[BackendName, typer.Option("--backend", help="Graph backend: embedded networkx, or a Neo4j server.")]
# Neo4j connection: flags or NEO4J_URI / NEO4J_USER / NEO4J_DATABASE; the password only from
# NEO4J_PASSWORD or a prompt, so it never sits in shell history or a process list.
UriOpt = Annotated[Optional[str], typer.Option("--uri", help="Neo4j URI (bolt://, neo4j://, neo4j+s://); default $NEO4J_URI or bolt://localhost:7687.", show_default=False)]
UserOpt = Annotated[Optional[str], typer.Option("--user", help="Neo4j user; default $NEO4J_USER or neo4j.", show_default=False)]
DatabaseOpt = Annotated[Optional[str], typer.Option("--database", help="Neo4j database; default $NEO4J_DATABASE or the server default.", show_default=False)]
PasswordPromptOpt = Annotated[bool, typer.Option("--password-prompt", help="Ask for the Neo4j password instead of reading $NEO4J_PASSWORD.")]


def command(fn: Callable) -> Callable:
    """Turn library errors into one-line messages and exit codes; tracebacks only with LINEAGE_DEBUG=1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except LineageError as exc:
            _fail(str(exc), exc.status)
        except KeyboardInterrupt:
            _fail("interrupted", ExitStatus.INTERRUPTED)
        except Terminated:
            _fail("terminated", ExitStatus.TERMINATED)
        except BrokenPipeError:
            # The reader left (`| head`): nothing is wrong, and nothing more can be written.
            # stdout goes to /dev/null so the interpreter's final flush does not complain.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(ExitStatus.SIGPIPE)
        except OSError as exc:
            _fail(f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}", ExitStatus.ERROR)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
            if os.environ.get("LINEAGE_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (set LINEAGE_DEBUG=1 for the traceback)",
                  ExitStatus.ERROR)

    return wrapper


def _say(message: str) -> None:
    """A line for the person at the terminal: on stderr, never read as rich markup, and with
    control characters from the data (names, IDs, values in error messages) escaped."""
    err.print(f"lineage: {terminal_text(message)}", markup=False)


def _warn(message: str) -> None:
    _say(f"warning: {message}")


def _fail(message: str, status: ExitStatus):
    _say(f"error: {message}")
    raise typer.Exit(int(status))


@contextmanager
def _progress(enabled: bool, label: str = "scanning generations",
              unit: str = "folders") -> Iterator[Callable[[int], None] | None]:
    """A counter on stderr during long work; silent when stderr is not a terminal."""
    if not enabled or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # No refresh thread: it fights the scan for the interpreter lock (it made a 100,000-folder
    # scan ten times slower). The bar redraws when the scan reports, every 2,000 folders.
    with Progress(SpinnerColumn(), TextColumn(label), BarColumn(),
                  TextColumn("{task.completed:,} " + unit), TimeElapsedColumn(),
                  console=err, transient=True, auto_refresh=False) as bar:
        task = bar.add_task("scan", total=None)

        def advance(n: int) -> None:
            bar.advance(task, n)
            bar.refresh()

        yield advance


def _check_output_place(root: Path, *outputs: Optional[Path], folder: Optional[Path] = None,
                        make_parents: bool = False) -> None:
    """Read-only commands never write under the data root, not even when asked to; and an
    output that cannot be written is said before the work, not after it."""
    from lineage.loaders.store import is_inside

    def outside_root(out: Path) -> None:
        if is_inside(out, root):
            raise UsageError(f"{out} is inside the data root; read-only commands never write there")

    for out in outputs:
        if out is None or str(out) == "-":
            continue
        outside_root(out)
        if os.path.isdir(out):
            raise UsageError(f"{out} is a folder; name a file to write")
        parent = os.path.dirname(os.path.abspath(out))
        if not make_parents and not os.path.isdir(parent):
            raise UsageError(f"cannot write {out}: there is no folder {parent}")
    if folder is not None:
        outside_root(folder)
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise UsageError(f"{folder} exists and is not a folder")


def _load(root: Path, no_progress: bool) -> tuple[Store, float]:
    from lineage.loaders.store import StoreError, scan

    start = time.perf_counter()
    try:
        with _progress(not no_progress) as progress:
            store = scan(str(root), progress)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    if not store.generations:
        raise UsageError(f"no generations found under {root}/gens/ (is this a data root?)")
    return store, time.perf_counter() - start


def _connection(uri, user, database, password_prompt):
    from lineage.loaders.neo4j_graph import Connection

    password = typer.prompt("Neo4j password", hide_input=True) if password_prompt else None
    return Connection.from_env(uri, user, database, password)


def _load_neo4j(store: Store, conn, progress: bool) -> None:
    """Replace the graph of `store` in Neo4j, saying how it went on stderr."""
    from lineage.loaders.neo4j_graph import load

    with _progress(progress, "loading into Neo4j", "rows") as advance:
        stats = load(conn, store, progress=advance)
    _say(f"loaded {stats.nodes:,} nodes and {stats.relationships:,} relationships into "
         f"{conn.uri} in {stats.seconds:.1f}s ({stats.rows_per_second:,.0f} rows/s)")


def _backend(store: Store, name: BackendName, conn=None, progress: bool = True):
    """The graph of `store` in the chosen backend; for Neo4j that means (re)loading it first."""
    if name == BackendName.neo4j:
        from lineage.loaders.neo4j_graph import Neo4jBackend

        _load_neo4j(store, conn, progress)
        return Neo4jBackend(conn, store.root)
    from lineage.loaders.networkx_graph import NetworkxBackend

    return NetworkxBackend.from_store(store)


def run_audit(backend, data_root: str, *args, **kwargs) -> "Report":
    from lineage.audit import audit

    return audit(backend, data_root, *args, **kwargs)


def _verdict(report: Report, fail_on: FailOn, seconds: float) -> int:
    by_sev = {s: 0 for s in SEVERITIES}
    for f in report.findings:
        by_sev[f.severity] += 1
    total = sum(report.statistics["generations"].values())
    from lineage.audit import exit_code_for

    code = exit_code_for(report, fail_on.value)
    word = "FAIL" if code else "OK"
    _say(f"{word}: {total:,} generations, {by_sev['error']:,} errors, {by_sev['warn']:,} warnings, "
         f"{by_sev['info']:,} info ({seconds:.1f}s, fail-on {fail_on.value})")
    return code


def _check_stages(stage: Optional[list[str]]) -> None:
    bad = [s for s in stage or [] if s not in ids.STAGES]
    if bad:
        raise UsageError(f"unknown stage(s): {', '.join(bad)}; expected {', '.join(ids.STAGES)}")


def _parse_severity(pairs: list[str]) -> dict[str, str]:
    from lineage.queries.catalog import BY_ID

    out = {}
    for pair in pairs:
        check, sep, level = pair.partition("=")
        if not sep or check not in BY_ID or level not in SEVERITIES:
            raise UsageError(f"--severity {pair!r}: expected CHECK=LEVEL with a catalog check and "
                             f"LEVEL in {', '.join(SEVERITIES)}")
        out[check] = level
    return out


# --- audit -----------------------------------------------------------------------------------

FINDING_COLUMNS = ["check", "severity", "stage", "gen_id", "path", "line", "column", "cohort", "message", "details"]


@app.command()
@command
def audit(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    fail_on: FailOnOpt = FailOn.error,
    check: Annotated[Optional[list[str]], typer.Option("--check", help="Run only this check or family (repeatable), e.g. chain or id.legacy.")] = None,
    stage: Annotated[Optional[list[str]], typer.Option("--stage", help="Report findings of this stage only (repeatable).")] = None,
    severity: Annotated[Optional[list[str]], typer.Option("--severity", help="Override a check's severity: CHECK=LEVEL (repeatable).")] = None,
    backend: BackendOpt = BackendName.networkx,
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DatabaseOpt = None,
    password_prompt: PasswordPromptOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Run every check of the catalog and report the findings.

    With --backend neo4j the store is loaded into the server first and every check runs as
    Cypher; the report is the same.

    Example: lineage audit data/ --format json --output audit.json --fail-on warn
    """
    from lineage.queries import catalog

    if check and catalog.unknown(check):
        raise UsageError(f"unknown check(s): {', '.join(catalog.unknown(check))} (see README for the catalog)")
    _check_stages(stage)
    overrides = _parse_severity(severity or [])
    _check_output_place(data_root, output)
    start = time.perf_counter()
    store, _ = _load(data_root, no_progress)
    conn = _connection(uri, user, database, password_prompt) if backend == BackendName.neo4j else None
    report = run_audit(_backend(store, backend, conn, not no_progress), str(data_root), catalog.select(check),
                       overrides, stage)
    write_report(report, format.value, output)
    raise typer.Exit(_verdict(report, fail_on, time.perf_counter() - start))


def write_report(report: Report, fmt: str, output: Optional[Path]) -> None:
    rows = [f.as_dict() for f in report.findings]
    if fmt in ("json", "csv"):
        emit_rows(rows, FINDING_COLUMNS, fmt, output, document=report.as_dict())
    elif fmt == "md":
        with destination(output) as out:
            out.write(report_markdown(report))
    else:
        with destination(output) as out:
            console = console_for(out)
            console.print(rows_to_table(_summary_rows(report), ["check", "findings"], "Findings by check"))
            if rows:
                console.print(rows_to_table(rows, FINDING_COLUMNS[:-1], "Findings"))


def _summary_rows(report: Report) -> list[dict]:
    return [{"check": c, "findings": n} for c, n in report.statistics["findings_by_check"].items() if n]


def report_markdown(report: Report) -> str:
    s = report.statistics
    parts = [f"# lineage audit of `{terminal_text(report.data_root)}`\n",
             f"Backend {report.backend}; highest severity: **{s['max_severity']}**.\n",
             "## Generations\n",
             rows_to_markdown([{"stage": k, "folders": v} for k, v in s["generations"].items()], ["stage", "folders"]),
             "\n## ID classes\n",
             rows_to_markdown([{"class": k, "ids": v} for k, v in s["id_classes"].items()], ["class", "ids"]),
             "\n## Findings by check\n",
             rows_to_markdown(_summary_rows(report), ["check", "findings"]),
             "\n## Findings\n",
             rows_to_markdown([f.as_dict() for f in report.findings], FINDING_COLUMNS[:-1])]
    return "".join(parts)


# --- inventory -------------------------------------------------------------------------------

LEGACY_SHOWN = 50


@app.command()
@command
def inventory(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", help="Also write gen_id_inventory_<date>.json into this folder.")] = None,
    no_progress: NoProgressOpt = False,
):
    """Count generations by stage, ID class and ID length, and list the legacy IDs.

    Shows where the old length rule ("under 18 characters is legacy") disagrees with the
    classification by shape, with the expected share of short deterministic IDs.

    Example: lineage inventory data/ --output-dir reports/
    """
    from lineage.inventory import LEGACY_COLUMNS, LENGTH_COLUMNS, STAGE_COLUMNS, default_filename
    from lineage.inventory import inventory as build, legacy_rows, length_rows, stage_rows, verdict

    _check_output_place(data_root, output, folder=output_dir)
    store, seconds = _load(data_root, no_progress)
    inv = build(store)
    rows = length_rows(inv)
    legacy = legacy_rows(inv) if format in (Format.md, Format.table) else []
    if format == Format.md:
        with destination(output) as out:
            out.write("# Generation inventory\n\n" + rows_to_markdown(stage_rows(inv), STAGE_COLUMNS)
                      + "\n## ID lengths: length rule vs shape\n\n" + rows_to_markdown(rows, LENGTH_COLUMNS)
                      + "\n" + terminal_text(verdict(inv)) + "\n\n## Legacy IDs\n\n" + rows_to_markdown(legacy, LEGACY_COLUMNS))
    elif format == Format.table:
        with destination(output) as out:
            console = console_for(out)
            console.print(rows_to_table(stage_rows(inv), STAGE_COLUMNS, "Generations by stage and ID class"))
            console.print(rows_to_table(rows, LENGTH_COLUMNS, "ID lengths: length rule vs shape"))
            console.print(terminal_text(verdict(inv)), markup=False)
            # A terminal shows the first few; md and json list them all.
            console.print(rows_to_table(legacy[:LEGACY_SHOWN], LEGACY_COLUMNS, "Legacy IDs"))
            if len(legacy) > LEGACY_SHOWN:
                console.print(f"… and {len(legacy) - LEGACY_SHOWN:,} more; --format md or json lists them all",
                              markup=False)
    else:
        emit_rows(rows, LENGTH_COLUMNS, format.value, output, document=inv)
    if output_dir:
        output_dir.mkdir(parents=True, exist_ok=True)
        target = output_dir / default_filename()
        with destination(target) as out:
            out.write(to_json(inv))
        _say(f"wrote {target}")
    total = sum(inv["generations"].values())
    _say(f"OK: {total:,} generations, {inv['length_heuristic']['shape_legacy']:,} legacy IDs by shape "
         f"({seconds:.1f}s)")


# --- orphans ---------------------------------------------------------------------------------

ORPHAN_CHECKS = ["chain", "cohort.member_missing", "ref.dangling"]
ORPHAN_COLUMNS = ["check", "severity", "stage", "gen_id", "references", "path", "line", "column", "cohort", "message"]


@app.command()
@command
def orphans(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", help="Write the rows as CSV to this file (same as --format csv --output FILE).")] = None,
    fail_on: FailOnOpt = FailOn.error,
    no_progress: NoProgressOpt = False,
):
    """List every broken reference: parent chains, cohort members, dangling IDs in files.

    One row per broken reference, with the file, line and column (or metadata field) to fix.

    Example: lineage orphans data/ --csv orphans.csv
    """
    from lineage.queries import catalog

    if csv_file:
        format, output = Format.csv, csv_file
    _check_output_place(data_root, output)
    start = time.perf_counter()
    store, _ = _load(data_root, no_progress)
    report = run_audit(_backend(store, BackendName.networkx), str(data_root), catalog.select(ORPHAN_CHECKS))
    rows = [orphan_row(f.as_dict()) for f in report.findings]
    emit_rows(rows, ORPHAN_COLUMNS, format.value, output, title="Broken references")
    raise typer.Exit(_verdict(report, fail_on, time.perf_counter() - start))


def orphan_row(f: dict) -> dict:
    """Name the referenced ID and, for metadata, the field that holds it."""
    details = f["details"]
    row = dict(f)
    row["references"] = details.get("parent_gen_id") or (f["gen_id"] if f["check"] != "chain.parent_id_missing" else "")
    if f["path"] and f["path"].endswith("metadata.json") and not f["column"]:
        row["column"] = "parent_gen_id"
    return row


# --- show ------------------------------------------------------------------------------------

@app.command()
@command
def show(
    data_root: DataRoot,
    gen_id: Annotated[str, typer.Argument(help="The generation to show.")],
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    no_progress: NoProgressOpt = False,
):
    """Show the ancestry and descendants of one generation as a tree, with each node's problems.

    Example: lineage show data/ e_5b2bvhgzw1y5lp14
    """
    from lineage.lineage_tree import TREE_COLUMNS, lineage_of, render_tree, tree_rows

    _check_output_place(data_root, output)
    store, _ = _load(data_root, no_progress)
    backend = _backend(store, BackendName.networkx)
    report = run_audit(backend, str(data_root))
    views = lineage_of(backend.graph, gen_id, report.findings)
    if not views:
        raise UsageError(f"{gen_id} is neither a generation nor referenced anywhere under {data_root}")
    if format == Format.table:
        with destination(output) as out:
            for view in views:
                console_for(out).print(render_tree(view))
    else:
        emit_rows(tree_rows(views), TREE_COLUMNS, format.value, output, document=views)


# --- load and query --------------------------------------------------------------------------

@app.command()
@command
def load(
    data_root: DataRoot,
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DatabaseOpt = None,
    password_prompt: PasswordPromptOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Load a data root into Neo4j, replacing that root's previous graph.

    Example: NEO4J_PASSWORD=... lineage load data/ --uri bolt://localhost:7687
    """
    store, seconds = _load(data_root, no_progress)
    _say(f"scanned {len(store.generations):,} generations in {seconds:.1f}s")
    _load_neo4j(store, _connection(uri, user, database, password_prompt), not no_progress)


@app.command()
@command
def query(
    name: Annotated[Optional[str], typer.Argument(help="A canned query or a check ID; see --list.", show_default=False)] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="A query parameter as key=value (repeatable).")] = None,
    data_root: Annotated[Path, typer.Option("--data-root", envvar="DAYDREAMING_DATA_ROOT", help="The data root the graph comes from.")] = Path("data"),
    list_queries: Annotated[bool, typer.Option("--list", help="List the canned queries and exit.")] = False,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    backend: BackendOpt = BackendName.networkx,
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DatabaseOpt = None,
    password_prompt: PasswordPromptOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Run a canned query (lineage or check) on networkx, or on a graph loaded into Neo4j.

    Example: lineage query descendants --param gen_id=wzgl1y0w15i2g77h --data-root data/
    """
    from lineage.queries.catalog import QUERIES

    if list_queries:
        rows = [{"name": q.name, "parameters": ", ".join(q.params), "finds": q.summary} for q in QUERIES.values()]
        emit_rows(rows, ["name", "parameters", "finds"], format.value, output, title="Canned queries")
        return
    if not name:
        raise UsageError("name a query; lineage query --list shows them")
    if name not in QUERIES:
        raise UsageError(f"unknown query {name!r}; lineage query --list shows them")
    q = QUERIES[name]
    params = {}
    for pair in param or []:
        key, sep, value = pair.partition("=")
        if not sep or key not in q.params:
            raise UsageError(f"--param {pair!r}: {name} takes {', '.join(q.params) or 'no parameters'} as key=value")
        params[key] = value
    missing = [p for p in q.params if p not in params]
    if missing:
        raise UsageError(f"{name} needs --param {missing[0]}=...")
    _check_output_place(data_root, output)
    if backend == BackendName.neo4j:
        from lineage.loaders.neo4j_graph import Neo4jBackend

        neo = Neo4jBackend(_connection(uri, user, database, password_prompt), os.path.realpath(data_root))
        try:
            rows = neo.run(q.cypher, {**dict(q.fixed), **params})
        finally:
            neo.close()
    else:
        store, _ = _load(data_root, no_progress)
        rows = q.find(_backend(store, backend).graph, **params)
    emit_rows(rows, list(rows[0]) if rows else q.columns, format.value, output, title=name)
    _say(f"{name}: {len(rows):,} rows")


# --- cohorts ---------------------------------------------------------------------------------

cohorts_app = typer.Typer(help="Cohort rebuilds: what each mode would reuse, mint and pay for.\n\n"
                               "Example: lineage cohorts simulate data/ --sample 5 --seed 1",
                          no_args_is_help=True, add_completion=False, rich_markup_mode=None)
app.add_typer(cohorts_app, name="cohorts")


@cohorts_app.command("simulate")
@command
def cohorts_simulate(
    data_root: DataRoot,
    selection: Annotated[Optional[Path], typer.Option("--selection", help="Selected essays from this file (selected_essays.txt rules).", show_default=False)] = None,
    essay: Annotated[Optional[list[str]], typer.Option("--essay", help="A selected essay ID (repeatable).", show_default=False)] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", min=1, help="Select N legacy essays, chosen deterministically with --seed.", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --sample.")] = 0,
    cartesian: Annotated[Optional[str], typer.Option("--cartesian", help="Also simulate a Cartesian build and rebuild of this cohort from its manifest.json.", show_default=False)] = None,
    evaluation_template: Annotated[Optional[list[str]], typer.Option("--evaluation-template", help="Evaluation template instead of the active ones (repeatable).", show_default=False)] = None,
    evaluation_model: Annotated[Optional[list[str]], typer.Option("--evaluation-model", help="Evaluation model instead of the for_evaluation ones (repeatable).", show_default=False)] = None,
    replicates: Annotated[Optional[list[str]], typer.Option("--replicates", help="Override a replicate count: STAGE=N (repeatable).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Simulate forced materialization (raw.txt/parsed.txt do not spare llm calls).")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="Add one row per selected essay and mode (CSV: only those rows).")] = False,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    no_progress: NoProgressOpt = False,
):
    """Simulate a cohort rebuild of selected essays in every mode, side by side, without writing.

    Modes: regenerate, reuse-drafts, reuse-essays, reuse-essays+fill-up, current (today's
    behaviour), and with --cartesian the Cartesian build and rebuild (fixed replicates, and the
    2025-09-30..10-04 allocator). Per mode and stage: reused and new generations (real
    deterministic IDs, the allocator's first-gap rule, legacy IDs invisible to it) and LLM calls.
    Input: --selection FILE, --essay ID, --sample N, or the data root's 2_tasks/selected_essays.txt.

    Example: lineage cohorts simulate data/ --sample 5 --seed 1 --detail --format md
    """
    from lineage import cohorts

    if sum(x is not None for x in (selection, essay or None, sample)) > 1:
        raise UsageError("use one of --selection, --essay and --sample")
    overrides = cohorts.parse_replicate_overrides(replicates or [])
    _check_output_place(data_root, output)
    chosen = None
    if selection is not None:
        chosen = cohorts.read_selection_file(str(selection))
    elif essay:
        chosen = cohorts.SelectionInput(source="--essay", essays=[e.strip() for e in essay if e.strip()])
    store, _ = _load(data_root, no_progress)
    sim = cohorts.simulate(store, selection=chosen, sample=(sample, seed) if sample else None, cartesian=cartesian,
                           evaluation_templates=evaluation_template, evaluation_models=evaluation_model,
                           replicates=overrides, force=force)
    for warning in sim.warnings:
        _warn(warning)
    if not detail:
        sim.document.pop("detail", None)
    titles = ("Rebuild simulation: per mode and stage", "Legacy generations: reused or regenerated",
              "Per selected essay")
    if format == Format.json:
        emit_rows([], [], "json", output, document=sim.document)
    elif format == Format.csv:
        if detail:
            emit_rows(sim.detail_rows, cohorts.DETAIL_COLUMNS, "csv", output)
        else:
            emit_rows(sim.summary_rows, cohorts.SUMMARY_COLUMNS, "csv", output)
    else:
        with destination(output) as out:
            sections = [(titles[0], sim.summary_rows, cohorts.SUMMARY_COLUMNS),
                        (titles[1], sim.legacy_rows, cohorts.LEGACY_COLUMNS)]
            if detail and sim.detail_rows:
                sections.append((titles[2], sim.detail_rows, cohorts.DETAIL_COLUMNS))
            console = console_for(out) if format == Format.table else None
            for i, (title, rows, columns) in enumerate(sections):
                if console is not None:
                    console.print(rows_to_table(rows, columns, title))
                    if i == 1:
                        for line in sim.answer:
                            console.print(terminal_text(line), markup=False, highlight=False)
                else:
                    out.write(f"## {title}\n\n{rows_to_markdown(rows, columns)}\n")
                    if i == 1:
                        out.write("".join(f"- {terminal_text(line)}\n" for line in sim.answer) + "\n")
    totals = ", ".join(f"{m['mode']} {m['llm_calls']:,}" for m in sim.document["modes"])
    what = []
    if sim.document["input"]:
        what.append(f"{len(sim.document['input']['essays']):,} selected essays")
    if sim.document["cartesian"]:
        what.append(f"cohort {sim.document['cartesian']['cohort_id']}")
    _say(f"simulated {' and '.join(what)}; LLM calls: {totals}")


# --- ids and impact --------------------------------------------------------------------------

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
    stage: Annotated[Optional[list[str]], typer.Option("--stage", help="Only rows of this stage (repeatable).")] = None,
    only: Annotated[IdsOnly, typer.Option("--only", help="'changed': only generations a rebuild regenerates.")] = IdsOnly.all,
    mapping_csv: Annotated[Optional[Path], typer.Option("--mapping-csv", help="Write stage,old_id,new_id for every ID that changes (the whole cascade).")] = None,
    mapping_only: Annotated[RenameScope, typer.Option("--mapping-only", help="Renames in --mapping-csv: legacy IDs, mismatched IDs, or all; each with its cascade.")] = RenameScope.all,
    no_progress: NoProgressOpt = False,
):
    """Stored, recomputed and cascaded ID of every generation, and what a rebuild would regenerate.

    The cascaded ID is computed from the parent's cascaded ID (drafts -> essays -> evaluations).
    Read-only.

    Example: lineage ids data/ --only changed --mapping-csv renames.csv
    """
    from lineage.rename import ID_COLUMNS, id_report, mapping, mapping_rows

    _check_stages(stage)
    _check_output_place(data_root, output, mapping_csv)
    store, seconds = _load(data_root, no_progress)
    rows, totals = id_report(store, stage, only == IdsOnly.changed)
    emit_rows(rows, ID_COLUMNS, format.value, output, title="Generation IDs")
    if mapping_csv:
        result = mapping(store, mapping_only.value)
        emit_rows(mapping_rows(result), ["stage", "old_id", "new_id"], "csv", str(mapping_csv))
        _say(f"wrote {len(result.renames):,} renames to {mapping_csv}")
    _say(f"OK: {totals['generations']:,} generations: {totals['reuse']:,} reuse, "
         f"{totals['regenerate']:,} regenerate ({totals['renamed']:,} new IDs, {totals['no_id']:,} without "
         f"an ID), {totals['llm_calls']:,} LLM calls for a rebuild, {totals['conflicts']:,} conflicts "
         f"({seconds:.1f}s)")


@app.command()
@command
def impact(
    data_root: DataRoot,
    gen_ids: Annotated[Optional[list[str]], typer.Argument(help="Generations to rename to the IDs their metadata implies.", show_default=False)] = None,
    mapping_file: Annotated[Optional[Path], typer.Option("--mapping", help="A CSV with old_id,new_id[,stage] columns instead of GEN_IDs.")] = None,
    format: Annotated[ImpactFormat, typer.Option("--format", "-f", help="Output format; mermaid and dot draw the cascade.")] = ImpactFormat.table,
    output: OutputOpt = None,
    no_progress: NoProgressOpt = False,
):
    """List every place a rename must update: folders, JSON fields, CSV cells, selection lines,
    results/, Dagster partition keys, and the descendants renamed with it. Read-only.

    Exit 1 when two renames collide or a new ID already exists.

    Example: lineage impact data/ wzgl1y0w15i2g77h --format md
    """
    from lineage.impact import PLACE_COLUMNS, RENAME_COLUMNS, check_ids, impact as find_impact, read_mapping
    from lineage.impact import to_dot, to_markdown, to_mermaid

    check_ids(gen_ids or [])
    if bool(gen_ids) == bool(mapping_file):
        raise UsageError("give GEN_IDs or --mapping FILE (one of the two)")
    entries = read_mapping(str(mapping_file)) if mapping_file else None
    _check_output_place(data_root, output)
    store, seconds = _load(data_root, no_progress)
    result = find_impact(store, gen_ids=gen_ids, entries=entries)
    rows = [p.as_dict() for p in result.places]
    fmt = format.value
    if fmt in ("json", "csv"):
        emit_rows(rows, PLACE_COLUMNS, fmt, output, document=result.as_dict())
    elif fmt == "md":
        with destination(output) as out:
            out.write(to_markdown(result))
    elif fmt in ("mermaid", "dot"):
        with destination(output) as out:
            out.write(to_mermaid(result) if fmt == "mermaid" else to_dot(result))
    else:
        with destination(output) as out:
            console = console_for(out)
            console.print(rows_to_table([r.as_dict() for r in result.renames], RENAME_COLUMNS, "Renames"))
            if result.conflicts:
                console.print(rows_to_table(result.conflicts, ["kind", "stage", "new_id", "old_ids", "message"],
                                            "Conflicts"))
            console.print(rows_to_table(rows, PLACE_COLUMNS, "Places to update"))
    for warning in result.warnings:
        _warn(warning)
    word = "FAIL" if result.conflicts else "OK"
    _say(f"{word}: {result.summary()} ({seconds:.1f}s)")
    raise typer.Exit(int(ExitStatus.FINDINGS if result.conflicts else ExitStatus.OK))


# --- migrate ---------------------------------------------------------------------------------

migrate_app = typer.Typer(help="Rename generations to their deterministic IDs: plan (read-only), simulate on a "
                               "copy, apply in place with a write-ahead journal, resume, undo.\n\n"
                               "Example: lineage migrate plan data/ --only legacy --output plan.json",
                          no_args_is_help=True, add_completion=False, rich_markup_mode=None)
app.add_typer(migrate_app, name="migrate")

PlanArg = Annotated[Path, typer.Argument(help="A plan written by `lineage migrate plan` (or an undo plan).",
                                         show_default=False)]


AllowBrokenOpt = Annotated[bool, typer.Option(
    "--allow-broken-chains",
    help="Also rename generations whose chain the audit calls broken (parent missing, misplaced or "
         "unreadable, or such an ancestor); each is named in a warning. Without it they are blocked.")]


@migrate_app.command("plan")
@command
def migrate_plan(
    data_root: DataRoot,
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the plan (JSON) here, outside the data root.",
                                         show_default=False)],
    stage: Annotated[Optional[list[str]], typer.Option("--stage", help="Rename IDs of this stage (repeatable); their descendants always follow.")] = None,
    only: Annotated[RenameScope, typer.Option("--only", help="Which stored IDs to rename: legacy, mismatched, or all (with malformed).")] = RenameScope.all,
    allow_broken_chains: AllowBrokenOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Write a phased rename plan (drafts -> essays -> evaluations): every folder rename, every
    byte-precise file edit, partition key changes, and a fingerprint of every file it touches.
    A rename under a broken parent chain, or without a computable ID, is listed under
    `blocked` with the check that reports it. Read-only: nothing under DATA_ROOT is written.

    Example: lineage migrate plan data/ --only legacy --output plan.json
    """
    from lineage.migrate import build_plan, plan_summary

    _check_stages(stage)
    _check_output_place(data_root, output)
    store, seconds = _load(data_root, no_progress)
    plan = build_plan(store, only.value, stage, progress=None if no_progress else _say,
                      allow_broken=allow_broken_chains)
    for warning in plan.warnings:
        _warn(warning)
    with destination(output) as out:
        out.write(plan.dumps().decode())
    _say(f"OK: plan: {plan_summary(plan)}; wrote {output} ({seconds:.1f}s scan; nothing under {data_root} written)")


@migrate_app.command("simulate")
@command
def migrate_simulate(
    plan_file: PlanArg,
    into: Annotated[Path, typer.Option("--into", help="A new or empty folder outside the data root for the copy.",
                                       show_default=False)],
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
):
    """Copy the data root to --into, apply the plan to the copy, audit both and verify: renamed IDs
    recompute, no new chain/cohort/ref findings, every other file byte-identical under its new
    path. The original is not touched. Exit 1 when a verification fails.

    Example: lineage migrate simulate plan.json --into /tmp/migrated --format md
    """
    from lineage.migrate import SIMULATION_COLUMNS, load_plan, simulate, simulation_rows

    plan, sha = load_plan(str(plan_file))
    _check_output_place(Path(plan.data_root), output)
    doc = simulate(plan, sha, str(into), progress=_say)
    emit_rows(simulation_rows(doc), SIMULATION_COLUMNS, format.value, output, title="Migration simulation",
              document=doc)
    failed = [v["name"] for v in doc["verifications"] if not v["ok"]]
    legacy = doc["after"]["id_classes"]["legacy"]
    _say(f"{'FAIL' if failed else 'OK'}: simulated {doc['renames']:,} renames in {doc['steps']:,} steps on {into}; "
         f"legacy IDs {doc['before']['id_classes']['legacy']:,} -> {legacy:,}"
         + (f"; failed: {', '.join(failed)}" if failed else "; every verification passed"))
    raise typer.Exit(int(ExitStatus.FINDINGS if failed else ExitStatus.OK))


YesOpt = Annotated[bool, typer.Option("--yes", help="Really write; without it this is a dry run that writes nothing.")]
DagsterHomeOpt = Annotated[Optional[Path], typer.Option("--dagster-home", help="Refuse while this Dagster instance has runs in progress; move partition keys through it when dagster is importable.", show_default=False)]


def _run_plan(plan_file: Path, plan, sha: str, yes: bool, resume: bool, dagster_home: Optional[Path],
              format: Format, output: Optional[Path], what: str) -> None:
    """Apply (or dry-run) a loaded plan: the shared body of `apply` and `undo`."""
    from lineage import migrate as m
    from lineage.migrate.rootfs import RootFS

    root = plan.data_root
    if not os.path.isdir(root):
        raise UsageError(f"data root {root} of the plan is not a folder")
    _check_output_place(Path(root), output)  # only the plan's edits go into the data root
    if dagster_home is not None:
        runs, why = m.runs_in_progress(str(dagster_home))
        if runs is None:
            _warn(why)
        elif runs:
            shown = ", ".join(f"{r} ({s})" for r, s in runs[:3])
            raise UsageError(f"Dagster instance {dagster_home} has {len(runs)} runs in progress ({shown}); "
                             "wait for them to finish")
        if not m.dagster_available():
            _warn(f"dagster is not importable; partition key changes go to "
                  f"{m.partitions_csv(str(plan_file))} for the operator")
    executor = m.executor_for(str(plan_file), plan, sha, str(dagster_home) if dagster_home else None,
                              progress=_say)
    if not yes:
        state = executor.state()
        todo = executor.remaining(state) if state.begin else plan.steps
        emit_rows(m.step_rows(plan, todo), m.STEP_COLUMNS, format.value, output, title=f"Steps {what} would run")
        if state.committed:
            raise UsageError("dry run: this plan was already applied (see its journal); nothing written")
        if state.begin:
            _say(f"dry run: an earlier run was interrupted; {len(todo):,} of {len(plan.steps):,} steps remain. "
                 "Nothing written; --resume --yes finishes it")
            return
        with RootFS(root) as fs:
            problems = executor.preflight(fs)
        if problems:
            raise m.StaleError(f"dry run: plan is stale ({problems[0]}; {len(problems)} changes); nothing written")
        _say(f"dry run: nothing written; {len(plan.steps):,} steps would run on {root}; re-run with --yes to {what}")
        return
    result = executor.run(resume=resume)
    if result.note:
        _say(f"OK: {result.note}")
        return
    emit_rows(m.step_rows(plan), m.STEP_COLUMNS, format.value, output, title="Steps applied")
    tail = (f"; undo with: lineage migrate undo {plan_file} --yes" if plan.kind == "migrate" else "")
    _say(f"OK: {what}: {plan_file}: {result.applied:,} steps done, {result.already:,} already done"
         + (" (resumed)" if result.resumed else "") + f"; partition keys: {result.partitions}{tail}")


@migrate_app.command("apply")
@command
def migrate_apply(
    plan_file: PlanArg,
    yes: YesOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an apply that was interrupted (crash, kill, power loss); with --yes.")] = False,
    dagster_home: DagsterHomeOpt = None,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
):
    """Apply a plan in place, journaled next to the plan (PLAN.json.journal/). The undo plan
    PLAN.undo.json is written before the first write. Writing always needs --yes; without it
    this is a dry run that lists the steps (with --resume: the steps left) and writes nothing.

    Example: lineage migrate apply plan.json --yes --dagster-home ~/.dagster
    """
    from lineage import migrate as m

    plan, sha = m.load_plan(str(plan_file))  # every path and ID checked before anything is written
    _run_plan(plan_file, plan, sha, yes, resume, dagster_home, format, output, "apply")


@migrate_app.command("undo")
@command
def migrate_undo(
    plan_file: PlanArg,
    yes: YesOpt = False,
    dagster_home: DagsterHomeOpt = None,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
):
    """Roll back an apply of PLAN, finished or not (a crash, a file it could not write): run
    PLAN.undo.json, which the apply wrote before its first write. Every step finds out how far
    the apply got; an undo that is interrupted is finished by running this again.

    Example: lineage migrate undo plan.json --yes
    """
    from lineage import migrate as m

    plan, sha = m.load_plan(str(plan_file))
    path, undo, undo_sha = m.undo_for(str(plan_file), plan, sha)
    _run_plan(Path(path), undo, undo_sha, yes, True, dagster_home, format, output, "undo")


# --- report ----------------------------------------------------------------------------------

@app.command()
@command
def report(
    data_root: DataRoot,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="A folder (ends with / or exists: gets findings_<date>.md) or a file; default stdout.")] = None,
    sample: Annotated[int, typer.Option(min=1, help="Legacy essays to simulate cohort modes for.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for choosing them.")] = 0,
    no_progress: NoProgressOpt = False,
):
    """Write the Markdown findings report: inventory, metadata, chains, IDs, cohort modes, renames.

    Example: lineage report data/ --output docs/reports/
    """
    from lineage.report import build, default_filename

    target = None
    if output is not None:
        target = Path(output)
        if target.is_dir() or output.endswith(("/", os.sep)):
            target = target / default_filename()
    _check_output_place(data_root, target, make_parents=True)
    start = time.perf_counter()
    store, _ = _load(data_root, no_progress)
    backend = _backend(store, BackendName.networkx)
    audited = run_audit(backend, str(data_root))
    text = build(backend.graph, audited, sample=sample, seed=seed)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    with destination(target) as out:
        out.write(text)
    where = f" to {target}" if target else ""
    _say(f"wrote the findings report{where} ({time.perf_counter() - start:.1f}s)")


# --- duplicates ------------------------------------------------------------------------------

@app.command()
@command
def duplicates(
    data_root: DataRoot,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    stage: Annotated[Optional[list[str]], typer.Option("--stage", help="Only this stage (repeatable).")] = None,
    no_progress: NoProgressOpt = False,
):
    """List generations whose raw.txt is byte-identical to another's (SHA-256).

    Reads every raw.txt once, so it is a separate command, not part of the audit.

    Example: lineage duplicates data/ --stage essay --format csv
    """
    from lineage.duplicates import duplicate_raw

    _check_stages(stage)
    _check_output_place(data_root, output)
    store, _ = _load(data_root, no_progress)
    rows, unreadable = duplicate_raw(store, set(stage or ()))
    for line in unreadable:
        _warn(f"cannot read {line}")
    emit_rows(rows, ["sha256", "copies", "stage", "gen_id", "path", "mode"], format.value, output,
              title="Generations with identical raw.txt")
    groups = len({r["sha256"] for r in rows})
    _say(f"{groups:,} groups of identical raw.txt covering {len(rows):,} generations")


# --- neo4j: a local server and Neo4j Browser ------------------------------------------------

neo4j_app = typer.Typer(
    help="Run a local Neo4j server (jars from Maven Central, needs Java 17 and Maven) and browse the graph.\n\n"
         "Example: lineage neo4j start --ephemeral",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(neo4j_app, name="neo4j")

EphemeralOpt = Annotated[bool, typer.Option("--ephemeral", help="A throwaway server: fresh temporary home, deleted by stop; user neo4j with a random password in <home>/password, which lineage reads for it.")]
BoltPortOpt = Annotated[Optional[int], typer.Option("--bolt-port", min=1, max=65535, help="Bolt port; default $LINEAGE_NEO4J_BOLT_PORT or 7687.", show_default=False)]
HttpPortOpt = Annotated[Optional[int], typer.Option("--http-port", min=1, max=65535, help="HTTP port; default $LINEAGE_NEO4J_HTTP_PORT or 7474.", show_default=False)]


def _instance(ephemeral: bool, bolt_port: Optional[int], http_port: Optional[int], timeout: Optional[int] = None):
    from lineage.neo4j_server import Instance

    return Instance(ephemeral=ephemeral, bolt_port=bolt_port, http_port=http_port, timeout=timeout)


@neo4j_app.command("start")
@command
def neo4j_start(
    ephemeral: EphemeralOpt = False,
    bolt_port: BoltPortOpt = None,
    http_port: HttpPortOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Return once Bolt answers, or as soon as the JVM runs.")] = True,
    timeout: Annotated[Optional[int], typer.Option("--timeout", min=1, help="Seconds to wait; default 120.", show_default=False)] = None,
):
    """Start the local Neo4j 5.26 server; the first start downloads the jars (about 160 MB).

    The persistent server keeps its data in $LINEAGE_NEO4J_HOME and runs with authentication
    on: the password of user neo4j comes from NEO4J_PASSWORD, or a prompt at a terminal.

    Example: NEO4J_PASSWORD=... lineage neo4j start && lineage load data/
    """
    from lineage import neo4j_server

    instance = _instance(ephemeral, bolt_port, http_port, timeout)
    password = None
    if not instance.is_ephemeral:
        password = os.environ.get("NEO4J_PASSWORD")
        if not password and sys.stdin.isatty():
            password = typer.prompt("Password for Neo4j user neo4j (at least 8 characters)", hide_input=True)
    neo4j_server.start(instance, password, wait)


@neo4j_app.command("stop")
@command
def neo4j_stop(ephemeral: EphemeralOpt = False, bolt_port: BoltPortOpt = None, http_port: HttpPortOpt = None):
    """Stop the local Neo4j server (an ephemeral one is deleted with its data).

    Example: lineage neo4j stop --ephemeral --bolt-port 7690
    """
    from lineage import neo4j_server

    neo4j_server.stop(_instance(ephemeral, bolt_port, http_port))


@neo4j_app.command("status")
@command
def neo4j_status(ephemeral: EphemeralOpt = False, bolt_port: BoltPortOpt = None, http_port: HttpPortOpt = None):
    """Say whether the local Neo4j server runs: exit 0 when it does, 3 when it does not.

    Example: lineage neo4j status || lineage neo4j start
    """
    from lineage import neo4j_server

    raise typer.Exit(neo4j_server.status(_instance(ephemeral, bolt_port, http_port)))


@neo4j_app.command("browse")
@command
def neo4j_browse(
    data_root: Annotated[Optional[Path], typer.Option("--data-root", envvar="DAYDREAMING_DATA_ROOT", help="The loaded data root: fills in $root and example IDs in the guide.", show_default=False)] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the guide server on 127.0.0.1 (0: any free port).")] = 7480,
    ephemeral: EphemeralOpt = False,
    bolt_port: BoltPortOpt = None,
    http_port: HttpPortOpt = None,
):
    """Serve a Neo4j Browser guide of every canned query and a style for the lineage graph.

    Prints the Browser URL and the two commands to paste (:guide for the guide, :style for the
    colours), then serves on 127.0.0.1 until Ctrl-C, to Browser's own origin only.

    Example: lineage neo4j browse --data-root data/
    """
    from lineage import browser, neo4j_server

    instance = _instance(ephemeral, bolt_port, http_port)
    bolt, http = instance.ports()
    server, ex = browser.make_server(data_root, port, http_port=http)
    no_auth = neo4j_server.auth_disabled(http)
    if no_auth is None:
        _warn(f"no Neo4j answers on http://127.0.0.1:{http}/ "
              f"(start one with `lineage neo4j start`)")
    elif not no_auth and instance.is_ephemeral:
        _say(f"log in to Browser as neo4j with the password in {instance.home / neo4j_server.PASSWORD_FILE}")
    if not ex.found:
        _say("the guide has placeholder parameters; pass --data-root DIR to fill them in")
    typer.echo(f"Open Neo4j Browser: {browser.browser_url(http, bolt, bool(no_auth))}")
    typer.echo("Then paste into its editor:")
    for line in browser.browser_commands(server.port):
        typer.echo(f"  {line}")
    _say(f"serving {server.url(browser.GUIDE_FILE)} and {server.url(browser.STYLE_FILE)}; "
         f"Ctrl-C stops")
    server.serve_until_interrupted()


# --- demo and generate -----------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"


@app.command()
@command
def demo(
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    data_root: Annotated[Optional[Path], typer.Option("--data-root", help="Audit this root instead of the bundled example.")] = None,
):
    """Audit the small example store that ships with lineage (it has known problems).

    Example: lineage demo --format md
    """
    root = data_root or EXAMPLES
    if not (root / "gens").is_dir():
        raise UsageError(f"no example store at {root}; run from a checkout or pass --data-root")
    _say(f"auditing the example store at {root}")
    # Annotated options keep plain defaults, so the command can be called like a function.
    audit(root, format=format, output=output, fail_on=FailOn.never, no_progress=True)


@app.command()
@command
def generate(
    target: Annotated[Path, typer.Argument(help="An empty or new folder to write the store into.")],
    generations: Annotated[int, typer.Option("--generations", "-n", min=1, help="How many generations.")] = 1000,
    problems: Annotated[Optional[list[str]], typer.Option("--problem", help="Plant this check's problem (repeatable), or 'all'.")] = None,
    legacy_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of draft lineages with legacy IDs.")] = 0.0,
    mismatch_fraction: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of generations whose ID its metadata no longer implies.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same tree.")] = 0,
    text_files: Annotated[bool, typer.Option(help="Write prompt/raw/parsed text files too.")] = True,
):
    """Write a realistic synthetic data root, optionally with planted problems.

    Example: lineage generate /tmp/store -n 5000 --problem all --legacy-fraction 0.2
    """
    from lineage.loaders import synthetic

    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} is not empty")
    chosen = synthetic.ALL_PROBLEMS if problems == ["all"] else tuple(problems or ())
    unknown = [p for p in chosen if p not in synthetic.ALL_PROBLEMS]
    if unknown:
        raise UsageError(f"cannot plant {', '.join(unknown)}; choose from {', '.join(synthetic.ALL_PROBLEMS)}")
    start = time.perf_counter()
    made = synthetic.generate(str(target), generations, seed=seed, problems=chosen,
                              legacy_fraction=legacy_fraction, mismatch_fraction=mismatch_fraction,
                              text_files=text_files)
    _say(f"wrote {sum(made.counts.values()):,} generations ({made.counts}) and "
         f"{len(made.expected)} planted problems to {target} in {time.perf_counter() - start:.1f}s")


def version_callback(value: bool):
    if value:
        from lineage import __version__

        typer.echo(f"lineage {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Print the version and exit.")] = False,
):
    """Lineage analyzer for the DayDreaming generation store."""


def on_sigterm(signum, frame) -> None:
    raise Terminated()


def main() -> None:
    # SIGTERM unwinds like Ctrl-C: outputs being written are removed, helpers are stopped.
    signal.signal(signal.SIGTERM, on_sigterm)
    app()
