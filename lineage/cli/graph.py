"""Commands for Neo4j: load a store, run a canned query (on either backend), and run a local
server with Neo4j Browser's guide and style."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lineage.core.status import UsageError
from lineage.cli.help import LineageTyper
from lineage.cli.app import (BackendName, BackendOpt, DatabaseOpt, Format, FormatOpt, NoProgressOpt,
                             OutputOpt, PasswordPromptOpt, UriOpt, UserOpt, app, backend_for,
                             check_output_place, command, connection, load_neo4j, load_store, say, warn)
from lineage.cli.settings import ConfigOpt, NoConfigOpt, settings
from lineage.render.formats import emit_rows
from lineage.core.text import count


class LoadMethod(str, Enum):
    auto = "auto"
    import_ = "import"
    unwind = "unwind"


@app.command()
@command
def load(
    data_root: Annotated[Optional[Path], typer.Argument(metavar="DATA_ROOT", envvar="DAYDREAMING_DATA_ROOT", help="The data root (holds gens/, cohorts/, ...).", show_default=False)] = None,
    method: Annotated[LoadMethod, typer.Option("--method", help="auto: the offline import into an empty database (from 500,000 nodes and relationships on), else UNWIND batches over Bolt; import or unwind: only that.")] = LoadMethod.auto,
    fresh: Annotated[bool, typer.Option("--fresh", help="Replace everything in the database named by --database with this root's graph, by the offline import.")] = False,
    rewrite: Annotated[bool, typer.Option("--rewrite", help="Over Bolt, delete the root's graph and write it whole, instead of only the nodes that changed since its last load (and their relationships).")] = False,
    csv_dir: Annotated[Optional[Path], typer.Option("--csv-dir", metavar="DIR", help="Write the import files here and keep them (default: a temporary folder, deleted after an import into the local server).", show_default=False)] = None,
    finish_import: Annotated[Optional[Path], typer.Option("--finish-import", metavar="DIR", help="Complete a load whose import files (in DIR) were imported by hand: schema, checks, marked complete.", show_default=False)] = None,
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DatabaseOpt = None,
    password_prompt: PasswordPromptOpt = False,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Load a data root into Neo4j, replacing its previous graph.

    Into an empty database (or one replaced with --fresh), the offline import
    (neo4j-admin database import full): on the server `lineage neo4j start` runs, lineage stops
    it, imports and starts it again; for another server it writes the files and prints the
    command to run there. Into a database that holds graphs already, UNWIND batches over Bolt;
    for a root loaded before, only the nodes that changed since (and their relationships) are
    written again, unless --rewrite.

    The connection may also come from neo4j-uri, neo4j-user and neo4j-database in the
    configuration file (below the flags and NEO4J_URI, NEO4J_USER, NEO4J_DATABASE).

    Example: NEO4J_PASSWORD=... lineage load data/ --uri bolt://localhost:7687
    """
    if finish_import is not None and (fresh or rewrite or csv_dir is not None or method != LoadMethod.auto):
        raise UsageError("--finish-import completes an import already made: it takes no --method, "
                         "--fresh, --rewrite or --csv-dir")
    cfg = settings(config, no_config, data_root)
    if fresh and not (database or os.environ.get("NEO4J_DATABASE") or (cfg.named and cfg.neo4j_database)):
        # Wiping a database takes its name from the user: a flag, the environment or a file named
        # with --config, never a configuration file that happened to be found upward.
        raise UsageError("--fresh replaces everything in the database; name it with --database NAME "
                         "(or NEO4J_DATABASE) to confirm")
    conn = connection(uri, user, database, password_prompt, cfg)
    if finish_import is not None:
        from lineage.neo4j import importer

        files = importer.finish(conn, str(finish_import), os.path.realpath(data_root) if data_root else None)
        say(f"finished the import of {files.root}: {count(files.nodes, 'node')} and "
            f"{count(files.relationships, 'relationship')} in {conn.uri}")
        return
    if data_root is None:
        raise UsageError("name the data root: lineage load DATA_ROOT")
    check_output_place(data_root, folder=csv_dir)
    store, seconds = load_store(data_root, no_progress, metadata=False)
    say(f"scanned {count(len(store.generations), 'generation')} in {seconds:.1f}s")
    load_neo4j(store, conn, not no_progress, method.value, fresh, csv_dir, rewrite)


@app.command()
@command
def query(
    data_root: Annotated[Optional[Path], typer.Argument(metavar="DATA_ROOT", envvar="DAYDREAMING_DATA_ROOT", help="The data root the graph comes from.", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Argument(metavar="NAME", help="A canned query or a check ID; see --list.", show_default=False)] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", "-p", metavar="KEY=VALUE", help="A query parameter (repeatable).")] = None,
    list_queries: Annotated[bool, typer.Option("--list", help="List the canned queries and exit.")] = False,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    backend: BackendOpt = BackendName.networkx,
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DatabaseOpt = None,
    password_prompt: PasswordPromptOpt = False,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Run a canned lineage query or check on networkx or Neo4j.

    With --backend neo4j the query runs on the graph `lineage load` put there.

    Example: lineage query data/ descendants --param gen_id=wzgl1y0w15i2g77h
    """
    from lineage.queries.catalog import QUERIES

    if list_queries:
        check_output_place(None, output)
        rows = [{"name": q.name, "parameters": ", ".join(q.params), "finds": q.summary} for q in QUERIES.values()]
        emit_rows(rows, ["name", "parameters", "finds"], format.value, output, title="Canned queries")
        return
    if data_root is None or not name:
        raise UsageError("name the data root and a query: lineage query DATA_ROOT NAME (--list shows the queries)")
    if name not in QUERIES:
        raise UsageError(f"unknown query {name!r}; lineage query --list shows them")
    q = QUERIES[name]
    params = query_params(q, name, param or [])
    check_output_place(data_root, output)
    if backend == BackendName.neo4j:
        from lineage.loaders.neo4j_graph import Neo4jBackend

        cfg = settings(config, no_config, data_root)
        neo = Neo4jBackend(connection(uri, user, database, password_prompt, cfg), os.path.realpath(data_root))
        try:
            if "gen_id" in params and not neo.run(GENERATION_EXISTS, params):
                raise UsageError(no_generation(params["gen_id"], data_root))
            rows = neo.run(q.cypher, {**dict(q.fixed), **params})
        finally:
            neo.close()
    else:
        store, _ = load_store(data_root, no_progress, metadata=False)
        graph = backend_for(store, backend).graph
        if "gen_id" in params and not graph.find(params["gen_id"]):
            raise UsageError(no_generation(params["gen_id"], data_root))
        rows = q.rows(graph, **params)
    emit_rows(rows, list(rows[0]) if rows else q.columns, format.value, output, title=name)
    say(f"{name}: {count(len(rows), 'row')}")


# A query about one generation needs it to exist: an empty answer would read as "no
# descendants" where the truth is "no such generation" (a typo, a wrong root).
GENERATION_EXISTS = "MATCH (g:Generation {root: $root, gen_id: $gen_id}) RETURN g.gen_id AS gen_id LIMIT 1"


def no_generation(gen_id: str, data_root: Path) -> str:
    return f"no generation {gen_id} under {data_root} (`lineage show` finds IDs that are only referenced)"


def query_params(q, name: str, pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in q.params:
            raise UsageError(f"--param {pair!r}: {name} takes {', '.join(q.params) or 'no parameters'} as key=value")
        params[key] = value
    missing = [p for p in q.params if p not in params]
    if missing:
        raise UsageError(f"{name} needs --param {missing[0]}=...")
    return params


neo4j_app = LineageTyper(
    help="Run a local Neo4j server and browse the graph.\n\n"
         "The jars come from Maven Central; it needs Java 17 and Maven.\n\n"
         "Example: lineage neo4j start --ephemeral",
    no_args_is_help=True,
)
app.add_typer(neo4j_app, name="neo4j")

EphemeralOpt = Annotated[bool, typer.Option("--ephemeral", help="A throwaway server: fresh temporary home, deleted by stop; user neo4j with a random password in <home>/password, which lineage reads for it.")]
BoltPortOpt = Annotated[Optional[int], typer.Option("--bolt-port", min=1, max=65535, help="Bolt port; default $LINEAGE_NEO4J_BOLT_PORT or 7687.", show_default=False)]
HttpPortOpt = Annotated[Optional[int], typer.Option("--http-port", min=1, max=65535, help="HTTP port; default $LINEAGE_NEO4J_HTTP_PORT or 7474.", show_default=False)]


def _instance(ephemeral: bool, bolt_port: Optional[int], http_port: Optional[int], timeout: Optional[int] = None):
    from lineage.neo4j.server import Instance

    return Instance(ephemeral=ephemeral, bolt_port=bolt_port, http_port=http_port, timeout=timeout)


@neo4j_app.command("start")
@command
def neo4j_start(
    ephemeral: EphemeralOpt = False,
    bolt_port: BoltPortOpt = None,
    http_port: HttpPortOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Return once Bolt answers, or as soon as the JVM runs.")] = True,
    timeout: Annotated[Optional[int], typer.Option("--timeout", min=1, metavar="SECONDS", help="Seconds to wait; default 120.", show_default=False)] = None,
):
    """Start the local Neo4j 5.26 server.

    The first start downloads the jars (about 160 MB) from Maven Central.

    The persistent server keeps its data in $LINEAGE_NEO4J_HOME and runs with authentication
    on: the password of user neo4j comes from NEO4J_PASSWORD, or a prompt at a terminal.

    Example: NEO4J_PASSWORD=... lineage neo4j start && lineage load data/
    """
    from lineage.neo4j import server as neo4j_server

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
    """Stop the local Neo4j server.

    An ephemeral server is deleted with its data.

    Example: lineage neo4j stop --ephemeral --bolt-port 7690
    """
    from lineage.neo4j import server as neo4j_server

    neo4j_server.stop(_instance(ephemeral, bolt_port, http_port))


@neo4j_app.command("status")
@command
def neo4j_status(ephemeral: EphemeralOpt = False, bolt_port: BoltPortOpt = None, http_port: HttpPortOpt = None):
    """Say whether the local Neo4j server runs (exit 0, else 3).

    Example: lineage neo4j status || lineage neo4j start
    """
    from lineage.neo4j import server as neo4j_server

    raise typer.Exit(neo4j_server.status(_instance(ephemeral, bolt_port, http_port)))


@neo4j_app.command("browse")
@command
def neo4j_browse(
    data_root: Annotated[Optional[Path], typer.Option("--data-root", metavar="DATA_ROOT", envvar="DAYDREAMING_DATA_ROOT", help="The loaded data root: fills in $root and example IDs in the guide.", show_default=False)] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port of the guide server on 127.0.0.1 (0: any free port).")] = 7480,
    ephemeral: EphemeralOpt = False,
    bolt_port: BoltPortOpt = None,
    http_port: HttpPortOpt = None,
):
    """Serve a Neo4j Browser guide and style for the lineage graph.

    The guide has every canned query; the style colours the graph.

    Prints the Browser URL and the two commands to paste (:guide for the guide, :style for the
    colours), then serves on 127.0.0.1 until Ctrl-C, to Browser's own origin only.

    Example: lineage neo4j browse --data-root data/
    """
    from lineage.neo4j import browser
    from lineage.neo4j import server as neo4j_server

    instance = _instance(ephemeral, bolt_port, http_port)
    bolt, http = instance.ports()
    server, ex = browser.make_server(data_root, port, http_port=http)
    no_auth = neo4j_server.auth_disabled(http)
    if no_auth is None:
        warn(f"no Neo4j answers on http://127.0.0.1:{http}/ "
             f"(start one with `lineage neo4j start`)")
    elif not no_auth and instance.is_ephemeral:
        say(f"log in to Browser as neo4j with the password in {instance.home / neo4j_server.PASSWORD_FILE}")
    if not ex.found:
        say("the guide has placeholder parameters; pass --data-root DIR to fill them in")
    typer.echo(f"Open Neo4j Browser: {browser.browser_url(http, bolt, bool(no_auth))}")
    typer.echo("Then paste into its editor:")
    for line in browser.browser_commands(server.port):
        typer.echo(f"  {line}")
    say(f"serving {server.url(browser.GUIDE_FILE)} and {server.url(browser.STYLE_FILE)}; "
        f"Ctrl-C stops")
    server.serve_until_interrupted()
