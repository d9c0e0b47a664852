"""What every command shares: the typer app, the output options declared once, the wrapper that
turns library errors into one-line messages and exit codes, and the few steps every command
takes (load the store, pick a backend, say the verdict).

Data goes to stdout (or --output); progress, logs and the closing verdict line go to stderr.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Iterator, Optional

import typer

from lineage.cli.help import LineageTyper
from lineage.core import ids
from lineage.core.model import SEVERITIES, Store
from lineage.core.status import ExitStatus, LineageError, Terminated, UsageError
from lineage.core.text import count, terminal_text

if TYPE_CHECKING:
    from lineage.analyses.audit import Report
    from lineage.core.config import Config

# The audit (and with it networkx) is imported by the commands that run it, not here: commands
# such as `neo4j`, `ids`, `migrate` and `--version` start without it.

app = LineageTyper(
    help="Lineage analyzer for the DayDreaming generation store (data/gens/<stage>/<gen_id>/).\n\n"
         "Example: lineage audit data/ --format json --output audit.json",
    no_args_is_help=True,
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


def complete_check(incomplete: str) -> list[str]:
    """Shell completion of a check ID or family."""
    from lineage.queries.catalog import CHECKS

    names = sorted({c.id for c in CHECKS} | {c.id.partition(".")[0] for c in CHECKS})
    return [n for n in names if n.startswith(incomplete)]


def complete_stage(incomplete: str) -> list[str]:
    return [s for s in ids.STAGES if s.startswith(incomplete)]


# The shared output options, declared once (as sqlite-utils' output_options does).
DataRoot = Annotated[Path, typer.Argument(metavar="DATA_ROOT", help="The data root (holds gens/, cohorts/, ...).",
                                          envvar="DAYDREAMING_DATA_ROOT", show_default=False)]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", metavar="FILE",
                                                   help="Write the data to this file instead of stdout.")]
# No default here: the configuration file's fail-on comes between the environment and `error`.
FailOnOpt = Annotated[Optional[FailOn], typer.Option("--fail-on", envvar="LINEAGE_FAIL_ON", show_default=False,
                                                     help="Exit 1 when a finding is at or above this severity; default: the configuration file's, else error.")]
NoProgressOpt = Annotated[bool, typer.Option("--no-progress", help="No progress bar on stderr.")]
BackendOpt = Annotated[BackendName, typer.Option("--backend", help="Graph backend: embedded networkx, or a Neo4j server (the root's graph is loaded there first, or brought up to date: only what changed since its last load is written).")]
# Neo4j connection: flags, NEO4J_URI / NEO4J_USER / NEO4J_DATABASE or the configuration file; the password only from
# NEO4J_PASSWORD or a prompt, so it never sits in shell history or a process list.
UriOpt = Annotated[Optional[str], typer.Option("--uri", help="Neo4j URI (bolt://, neo4j://, neo4j+s://); default $NEO4J_URI, the configuration file's neo4j-uri, else bolt://localhost on $LINEAGE_NEO4J_BOLT_PORT or 7687.", show_default=False)]
UserOpt = Annotated[Optional[str], typer.Option("--user", help="Neo4j user; default $NEO4J_USER, the configuration file's neo4j-user, or neo4j.", show_default=False)]
DatabaseOpt = Annotated[Optional[str], typer.Option("--database", metavar="NAME", help="Neo4j database; default $NEO4J_DATABASE, the configuration file's neo4j-database, or the server default.", show_default=False)]
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
            fail(str(exc), exc.status)
        except KeyboardInterrupt:
            fail("interrupted", ExitStatus.INTERRUPTED)
        except Terminated:
            fail("terminated", ExitStatus.TERMINATED)
        except BrokenPipeError:
            # The reader left (`| head`): nothing is wrong, and nothing more can be written.
            # stdout goes to /dev/null so the interpreter's final flush does not complain.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(ExitStatus.SIGPIPE)
        except OSError as exc:
            fail(f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}", ExitStatus.ERROR)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
            if os.environ.get("LINEAGE_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set LINEAGE_DEBUG=1 for the traceback)",
                  ExitStatus.ERROR)

    return wrapper


def say(message: str) -> None:
    """A line for the person at the terminal: on stderr, never read as rich markup, and with
    control characters from the data (names, IDs, values in error messages) escaped."""
    # Plain text, one line: no markup, no :emoji: codes replaced in names from the data. When
    # nobody reads stderr any more (closed, or its reader left) the line is dropped: the work
    # and the exit status do not depend on it.
    try:
        sys.stderr.write(f"lineage: {terminal_text(message)}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass


def warn(message: str) -> None:
    say(f"warning: {message}")


def fail(message: str, status: ExitStatus):
    say(f"error: {message}")
    raise typer.Exit(int(status))


@contextmanager
def progress(enabled: bool, label: str = "scanning generations",
              unit: str = "folders") -> Iterator[Callable[[int], None] | None]:
    """A counter on stderr during long work; silent when stderr is not a terminal."""
    if not enabled or sys.stderr is None or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # No refresh thread: it fights the scan for the interpreter lock (it made a 100,000-folder
    # scan ten times slower). The bar redraws when the scan reports, every 2,000 folders.
    with Progress(SpinnerColumn(), TextColumn(label), BarColumn(),
                  TextColumn("{task.completed:,} " + unit), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("scan", total=None)

        def advance(n: int) -> None:
            bar.advance(task, n)
            bar.refresh()

        yield advance


def check_output_place(root: Optional[Path], *outputs: Optional[Path], folder: Optional[Path] = None) -> None:
    """Read-only commands never write under the data root, not even when asked to; and an
    output that cannot be written is said before the work, not after it. Every output is
    checked the same way: its folder must exist (an output folder may be new, its parent not)."""
    from lineage.loaders.walk import is_inside

    def outside_root(out: Path) -> None:
        if root is not None and is_inside(out, root):
            raise UsageError(f"{out} is inside the data root; read-only commands never write there")

    for out in outputs:
        if out is None or str(out) == "-":
            continue
        outside_root(out)
        if os.path.isdir(out):
            raise UsageError(f"{out} is a folder; name a file to write")
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise UsageError(f"cannot write {out}: there is no folder {parent}")
    if folder is not None:
        outside_root(folder)
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise UsageError(f"{folder} exists and is not a folder")
        parent = os.path.dirname(os.path.abspath(folder))
        if not os.path.isdir(parent):
            raise UsageError(f"cannot create {folder}: there is no folder {parent}")


def load_store(root: Path, no_progress: bool, metadata: bool = True) -> tuple[Store, float]:
    """The store, with each generation's parsed metadata.json only if `metadata` (commands
    that read the lineage graph alone need just the facts derived from it)."""
    from lineage.loaders.store import StoreError, scan

    start = time.perf_counter()
    try:
        with progress(not no_progress) as advance:
            store = scan(str(root), advance, metadata)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    if not store.generations:
        raise UsageError(f"no generations found under {os.path.join(root, 'gens', '')} ({root_hint(root)})")
    return store, time.perf_counter() - start


def root_hint(root: Path) -> str:
    """What an empty scan most likely means: the gens/ folder (or a stage folder) was named
    instead of the data root that holds it."""
    path = Path(os.path.abspath(root))
    if path.name == "gens":
        return f"the data root is {path.parent}, which holds gens/"
    if path.name in ids.STAGES and path.parent.name == "gens":
        return f"the data root is {path.parent.parent}, which holds gens/{path.name}/"
    if any((path / stage).is_dir() for stage in ids.STAGES):
        return f"this looks like a gens/ folder; the data root is {path.parent}"
    return "is this a data root? it holds gens/<stage>/<gen_id>/"


def connection(uri, user, database, password_prompt, config: "Config | None" = None):
    """The Neo4j connection the flags, the environment and then the configuration file name.
    Without a password, a throwaway server of `lineage neo4j start --ephemeral` on that URI
    logs in with the random password in its home (a file only this user can read)."""
    from lineage.loaders.neo4j_graph import Connection, driver_module
    from lineage.neo4j.server import Instance, ephemeral_password

    driver_module()  # a missing driver is said before the scan, not after it

    if config is not None:  # the file's values rank below the environment's
        if not (uri or os.environ.get("NEO4J_URI")) and config.neo4j_uri:
            uri = config.neo4j_uri
            _password_may_go_to(uri, config, password_prompt or bool(os.environ.get("NEO4J_PASSWORD")))
        user = user or os.environ.get("NEO4J_USER") or config.neo4j_user
        database = database or os.environ.get("NEO4J_DATABASE") or config.neo4j_database

    password = typer.prompt("Neo4j password", hide_input=True) if password_prompt else None
    # The server `lineage neo4j start` runs listens where LINEAGE_NEO4J_BOLT_PORT says; so, by
    # default, does the client.
    uri = uri or os.environ.get("NEO4J_URI") or f"bolt://localhost:{Instance().bolt}"
    conn = Connection.from_env(uri, user, database, password)
    if not conn.password and conn.user == "neo4j":
        conn.password = ephemeral_password(conn.uri)
    return conn


def _password_may_go_to(uri: str, config: "Config", has_password: bool) -> None:
    """A configuration file found in the working folder or above it is not trusted with the
    password (the folder may be a download): the password goes to a server it names only on
    the loopback, or when the file was named with --config."""
    from urllib.parse import urlsplit

    from lineage.neo4j.server import LOOPBACK

    if not has_password or config.named:
        return
    try:
        host = urlsplit(uri).hostname
    except ValueError:
        host = None
    if host not in LOOPBACK:
        raise UsageError(f"{config.where('neo4j-uri')}: the Neo4j password goes to a server a found "
                         f"configuration file names only on this machine; name the file with --config, "
                         f"or the server with --uri or NEO4J_URI")


def load_neo4j(store: Store, conn, show_progress: bool, method: str = "unwind", fresh: bool = False,
               csv_dir: Optional[Path] = None, rewrite: bool = False) -> None:
    """Put the graph of `store` into Neo4j, saying how it went on stderr: the offline import
    into an empty database (lineage.neo4j.importer), else UNWIND batches replacing its graph
    (only what changed since its last load, unless `rewrite`)."""
    from lineage.loaders.neo4j_load import load_graph
    from lineage.loaders.graph_model import build
    from lineage.neo4j import importer

    data = build(store)
    if importer.choose(conn, method, fresh, len(data.nodes) + data.relationship_count) == "import":
        result = importer.import_load(conn, store.root, data, str(csv_dir) if csv_dir else None, say)
        if not result.imported:
            for line in importer.instructions(result.files, store.root, conn.database):
                say(line)
            typer.echo(importer.admin_command(result.files, conn.database or importer.COMMUNITY_DATABASE))
            return
        seconds = result.seconds
        say(f"imported {count(result.files.nodes, 'node')} and {count(result.files.relationships, 'relationship')} "
            f"into {conn.uri} in {seconds:.1f}s ({result.rows / seconds:,.0f} rows/s; files "
            f"{result.phases['csv']:.1f}s, stop-import-start {result.phases['import']:.1f}s, "
            f"schema {result.phases['finish']:.1f}s)")
        return
    if csv_dir is not None:
        warn(f"--csv-dir {csv_dir} is not used: this load goes through UNWIND batches (--method import "
             f"takes the offline import, which writes the files there)")
    with progress(show_progress, "loading into Neo4j", "rows") as advance:
        stats = load_graph(conn, store.root, data, progress=advance, rewrite=rewrite)
    nodes, rels = stats.written
    how = (f"{count(stats.kept, 'node')} unchanged since the last load, {count(nodes, 'node')} and "
           f"{count(rels, 'relationship')} written" if stats.kept else f"{stats.rows_per_second:,.0f} rows/s")
    say(f"loaded {count(stats.nodes, 'node')} and {count(stats.relationships, 'relationship')} into "
        f"{conn.uri} in {stats.seconds:.1f}s ({how})")


def backend_for(store: Store, name: BackendName, conn=None, show_progress: bool = True):
    """The graph of `store` in the chosen backend; for Neo4j that means (re)loading it first."""
    if name == BackendName.neo4j:
        from lineage.loaders.neo4j_graph import Neo4jBackend

        load_neo4j(store, conn, show_progress)
        return Neo4jBackend(conn, store.root)
    from lineage.loaders.networkx_graph import NetworkxBackend

    return NetworkxBackend.from_store(store)


def run_audit(backend, data_root: str, *args, **kwargs) -> "Report":
    from lineage.analyses.audit import audit

    return audit(backend, data_root, *args, **kwargs)


def verdict(report: "Report", fail_on: FailOn, seconds: float, note: str = "") -> int:
    """Say the closing line and return the exit code. Baselined findings are counted apart:
    they neither fail the run nor appear among the errors, warnings and info."""
    by_sev = {s: 0 for s in SEVERITIES}
    for f in report.new_findings:
        by_sev[f.severity] += 1
    total = sum(report.statistics["generations"].values())
    from lineage.analyses.audit import exit_code_for

    code = exit_code_for(report, fail_on.value)
    word = "FAIL" if code else "OK"
    old = f", {len(report.findings) - len(report.new_findings):,} baselined" if report.baselined is not None else ""
    say(f"{word}: {count(total, 'generation')}, {count(by_sev['error'], 'error')}, {count(by_sev['warn'], 'warning')}, "
        f"{by_sev['info']:,} info{old} ({seconds:.1f}s, fail-on {fail_on.value}{note})")
    return code


def check_stages(stage: Optional[list[str]]) -> None:
    bad = [s for s in stage or [] if s not in ids.STAGES]
    if bad:
        raise UsageError(f"unknown stage(s): {', '.join(bad)}; expected {', '.join(ids.STAGES)}")


def parse_severity(pairs: list[str]) -> dict[str, str]:
    from lineage.queries.catalog import BY_ID

    out = {}
    for pair in pairs:
        check, sep, level = pair.partition("=")
        if not sep or check not in BY_ID or level not in SEVERITIES:
            raise UsageError(f"--severity {pair!r}: expected CHECK=LEVEL with a catalog check and "
                             f"LEVEL in {', '.join(SEVERITIES)}")
        out[check] = level
    return out
