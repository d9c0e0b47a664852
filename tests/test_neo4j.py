"""The Neo4j backend against a real server: loading, Cypher/networkx parity, injection, failure.

The server comes from NEO4J_URI (scripts/test.sh starts one from the Maven Central jars), else
from testcontainers when a Docker daemon answers, else the tests skip with the reason, unless
LINEAGE_REQUIRE_NEO4J=1, which turns the skip into a failure (CI sets it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import signal
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.analyses.audit import audit
from lineage.cli import app
from lineage import synthetic
from lineage.loaders.neo4j_graph import Connection, Neo4jBackend, return_columns
from lineage.loaders.neo4j_load import load
from lineage.loaders.networkx_graph import NetworkxBackend
from lineage.loaders.store import scan
from lineage.queries.catalog import BY_ID, CHECKS, LINEAGE_QUERIES, QUERIES, Check
from lineage.core.status import LineageError

REPO = Path(__file__).resolve().parent.parent


def _unavailable(reason: str):
    if os.environ.get("LINEAGE_REQUIRE_NEO4J") == "1":
        pytest.fail(f"Neo4j is required (LINEAGE_REQUIRE_NEO4J=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def neo4j_conn():
    if os.environ.get("NEO4J_URI"):
        conn = Connection.from_env()
        try:
            conn.driver().close()
        except LineageError as exc:
            _unavailable(f"NEO4J_URI is set but unusable: {exc}")
        yield conn
        return
    try:
        try:
            from testcontainers.neo4j import Neo4jContainer
        except ImportError:
            from testcontainers.community.neo4j import Neo4jContainer
        container = Neo4jContainer("neo4j:5.26-community", password="lineage-test")
        container.start()
    except Exception as exc:  # no Docker daemon: DockerException, connection errors
        _unavailable(f"no NEO4J_URI and no Docker for testcontainers ({type(exc).__name__})")
        return
    try:
        yield Connection(uri=container.get_connection_url(), user="neo4j", password="lineage-test")
    finally:
        container.stop()


def canon(rows):
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


@pytest.fixture(scope="module")
def loaded(neo4j_conn, tmp_path_factory):
    """A store with every planted problem plus legacy and mismatched IDs, in both backends."""
    root = tmp_path_factory.mktemp("parity") / "data"
    made = synthetic.generate(str(root), 1500, seed=5, problems="all", legacy_fraction=0.2, mismatch_fraction=0.05)
    store = scan(str(root))
    load(neo4j_conn, store)
    neo = Neo4jBackend(neo4j_conn, store.root)
    yield store, NetworkxBackend.from_store(store), neo, made
    neo.close()


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_check_parity(loaded, check):
    _, nx_backend, neo, _ = loaded
    nx_rows = nx_backend.rows(check)
    assert canon(neo.rows(check)) == canon(nx_rows)


def test_the_columns_read_from_each_checks_return_are_the_servers(loaded):
    """The collected read names its columns from the query's RETURN instead of asking the
    server: for every check the names must be the ones the server's plan gives."""
    _, _, neo, _ = loaded
    with neo._driver.session(database=neo.conn.database) as session:
        for check in CHECKS:
            planned = tuple(session.run("EXPLAIN " + check.cypher, {"root": "", **dict(check.params)}).keys())
            assert return_columns(check.cypher) == planned, check.id


@pytest.mark.parametrize("query,columns", [
    ("CALL () {\n  MATCH (g) RETURN g.x AS inner\n}\nRETURN inner, count(DISTINCT g) AS n, 'a,b' AS text, "
     "[1, 2] AS pair, {k: 1} AS m\norder by inner", ("inner", "n", "text", "pair", "m")),
    ("MATCH (g) RETURN DISTINCT g.stage AS stage LIMIT 3", ("stage",)),
    ("MATCH (g) RETURN g.key AS k, COLLECT { MATCH (g)-->(p) RETURN p.key AS k ORDER BY k } AS parents",
     ("k", "parents")),  # a nested RETURN and ORDER BY are not the query's
    ("MATCH (g) RETURN g.key AS key, n // n AS count", ("key", "n")),  # the rest is a comment
    ("MATCH (g) /* RETURN x AS y */ RETURN g.a AS a /* , g.c AS c */, g.b AS b", ("a", "b")),
    ("MATCH (g) RETURN 'x\\' AS a, \\'' AS b", ("b",)),  # one string with escaped quotes
    ("MATCH (g) RETURN g.key AS key, 'a\nRETURN b AS c' AS note", ("key", "note")),
    ("RETURN 1 AS a UNION RETURN 2 AS a", ("a",)),
    ("MATCH (g) RETURN g", ("g",)),
    ("MATCH (g) RETURN g.stage", None),  # a column named by its expression: the server is asked
    ("MATCH (g) RETURN *", None),
    ("MATCH (g) RETURN g.x AS `odd name`", None),
    ("MATCH (g) RETURN g.return AS skip", None),
])
def test_return_columns_reads_the_last_top_level_return_or_gives_up(query, columns):
    assert return_columns(query) == columns


def test_the_audit_is_the_same_one_query_at_a_time_or_several(loaded, monkeypatch):
    store, nx_backend, neo, _ = loaded
    expected = audit(nx_backend, store.root).as_dict() | {"backend": "neo4j"}
    default, rows, asked_on = neo.concurrency, neo.rows, []
    monkeypatch.setattr(neo, "rows", lambda check: asked_on.append(threading.current_thread().name) or rows(check))
    try:
        for concurrency in (1, 4):
            neo.concurrency = concurrency
            asked_on.clear()
            assert audit(neo, store.root).as_dict() == expected, concurrency
            threads = set(asked_on)
            assert len(asked_on) == len(CHECKS)
            assert threads == {"MainThread"} if concurrency == 1 else (
                len(threads) > 1 and all(t.startswith("lineage-neo4j") for t in threads)), threads
    finally:
        neo.concurrency = default


@pytest.mark.parametrize("code", ["Neo.TransientError.General.MemoryPoolOutOfMemoryError",
                                  "Neo.ClientError.General.TransactionOutOfMemoryError"])
def test_rows_the_server_cannot_collect_are_read_one_by_one(loaded, monkeypatch, code):
    """A check's rows come in one record the server collects; when it will not hold them at
    once (its memory pool, or a transaction's memory cap, on a big store with a small heap),
    they are streamed. The error comes when the record is pulled, as the server's would."""
    import neo4j

    store, nx_backend, neo, _ = loaded
    refused, run = [], neo4j.Session.run

    class Refused:
        def single(self):
            refused.append(code)
            raise neo4j.exceptions.Neo4jError._hydrate_neo4j(code=code, message="out of memory (injected)")

    def refusing(self, query, *args, **kwargs):
        return Refused() if query.startswith("CALL () {") else run(self, query, *args, **kwargs)

    monkeypatch.setattr(neo4j.Session, "run", refusing)
    check = BY_ID["id.legacy"]
    assert canon(neo.rows(check)) == canon(nx_backend.rows(check)) != []
    assert refused == [code]


def test_a_query_failing_in_a_concurrent_audit_is_one_error_and_leaves_no_thread(loaded):
    @dataclasses.dataclass(frozen=True)
    class Broken(Check):
        @property
        def cypher(self) -> str:
            return "MATCH (g:Generation {root: $root}) RETURN g.gen_id AS"  # a syntax error

    store, _, neo, _ = loaded
    legacy = BY_ID["id.legacy"]
    broken = Broken(*(getattr(legacy, f.name) for f in dataclasses.fields(legacy)))
    with pytest.raises(LineageError, match="^Neo4j query failed: .*SyntaxError"):
        audit(neo, store.root, checks=[*CHECKS[:3], broken, *CHECKS[3:]])
    assert not [t for t in threading.enumerate() if t.name.startswith("lineage-neo4j")]


def test_the_chain_checks_find_nothing_more_when_every_generation_is_labelled(neo4j_conn, tmp_path, monkeypatch):
    """The chain checks and orphans start from the label Unusual, which the graph model's own
    verdict on each link fills. Loaded with every generation labelled, their Cypher tests its
    conditions on every child, independently of that verdict, and must find the rows networkx
    reports from the verdict."""
    from lineage.loaders import graph_model

    root = tmp_path / "data"
    synthetic.generate(str(root), 1500, seed=5, problems="all", legacy_fraction=0.2, mismatch_fraction=0.05)
    monkeypatch.setattr(graph_model, "is_unusual", lambda props: True)
    store = scan(str(root))
    nx_backend = NetworkxBackend.from_store(store)
    load(neo4j_conn, store)
    neo = Neo4jBackend(neo4j_conn, store.root)
    try:
        for check in [c for c in CHECKS if c.id.startswith("chain.")]:
            rows = nx_backend.rows(check)
            assert rows, f"{check.id}: a vacuous comparison"
            assert canon(neo.rows(check)) == canon(rows), check.id
        assert canon(neo.run(QUERIES["orphans"].cypher, {})) == canon(QUERIES["orphans"].find(nx_backend.graph))
    finally:
        neo.close()


def test_every_check_fires_in_the_parity_store(loaded):
    _, nx_backend, _, _ = loaded
    assert all(nx_backend.rows(c) for c in CHECKS)


def _query_params(store, name):
    if name not in ("ancestry", "descendants", "rename_cascade"):
        return [{}]
    # A draft with a whole tree, an essay in the middle and an evaluation at the bottom.
    g = NetworkxBackend.from_store(store).graph

    children = g.children_index
    draft = max((k for k in children if k.startswith("gen:draft/")), key=lambda k: len(children[k]))
    essay = g.children(draft)[0]
    leaf = g.children(essay)[0]
    return [{"gen_id": g.nodes[k]["gen_id"]} for k in (draft, essay, leaf)]


@pytest.mark.parametrize("query", list(QUERIES.values()), ids=list(QUERIES))
def test_queries_give_the_same_rows_in_the_same_order(loaded, query):
    """Every .cypher result is ordered explicitly (ORDER BY), and the networkx twin's rows are
    put in that order: both backends list the same rows in the same order."""
    store, nx_backend, neo, _ = loaded
    for params in _query_params(store, query.name):
        nx_rows = query.rows(nx_backend.graph, **params)
        neo_rows = neo.run(query.cypher, {**dict(query.fixed), **params})
        assert [json.dumps(r, sort_keys=True, default=str) for r in neo_rows] == \
               [json.dumps(r, sort_keys=True, default=str) for r in nx_rows]


@pytest.mark.parametrize("query", LINEAGE_QUERIES, ids=[q.name for q in LINEAGE_QUERIES])
def test_query_parity(loaded, query):
    store, nx_backend, neo, _ = loaded
    compared = 0
    for params in _query_params(store, query.name):
        nx_rows = query.find(nx_backend.graph, **params)
        assert canon(neo.run(query.cypher, {**dict(query.fixed), **params})) == canon(nx_rows)
        compared += len(nx_rows)
    assert compared, f"{query.name} returned no rows at all: a vacuous comparison"


def test_full_report_parity(loaded):
    store, nx_backend, neo, _ = loaded
    nx_report = audit(nx_backend, store.root).as_dict()
    neo_report = audit(neo, store.root).as_dict()
    assert neo_report.pop("backend") == "neo4j" and nx_report.pop("backend") == "networkx"
    assert neo_report == nx_report


HOSTILE = [  # folder names cannot hold "/", everything else is fair game
    "d_x'\"}) DETACH DELETE n",
    "e_`) MATCH (n) DETACH DELETE n; ",
    "v_{root: 'x'} RETURN 1 UNION MATCH (m) DETACH DELETE m",
    "$root",
]


def test_hostile_ids_and_values_load_and_query_as_data(neo4j_conn, make_store):
    spec = {}
    membership = ["stage,gen_id,template_id"]
    for i, gen_id in enumerate(HOSTILE):
        stage = ("draft", "essay", "evaluation", "draft")[i]
        spec[f"gens/{stage}/{gen_id}/metadata.json"] = {
            "stage": stage, "gen_id": gen_id, "mode": "llm", "template_id": "tpl`}) CALL {MATCH (n) DELETE n}",
            "combo_id": "c'; DROP", "parent_gen_id": HOSTILE[i - 1] if stage != "draft" else "",
            "llm_model_id": "m\\\"", "replicate": 1}
        membership.append(f'{stage},"{gen_id.replace(chr(34), chr(34) * 2)}","=cmd|\' /C calc\'!A0"')
    spec["cohorts/c{x}/membership.csv"] = "\n".join(membership) + "\n"
    spec["7_cross_experiment/aggregated_scores.csv"] = 'gen_id,evaluation_response_path\n"MATCH (n) RETURN n",/data/gens/essay/e_`)x/parsed.txt\n'
    root = make_store(spec)
    store = scan(str(root))
    load(neo4j_conn, store)
    neo = Neo4jBackend(neo4j_conn, store.root)
    try:
        nx_backend = NetworkxBackend.from_store(store)
        for check in CHECKS:
            assert canon(neo.rows(check)) == canon(nx_backend.rows(check)), check.id
        stored = {r["gen_id"] for r in neo.run("MATCH (g:Generation {root: $root}) RETURN g.gen_id AS gen_id", {})}
        assert stored == set(HOSTILE)
    finally:
        neo.close()


def test_both_backends_order_strings_alike_beyond_the_basic_plane(neo4j_conn, make_store):
    """Strings in code point order in both (Java's UTF-16 units would put U+FF5E after U+1F600):
    the networkx rows take Neo4j's order, non-ASCII, case and beyond the basic plane included."""
    names = ["d_a\U0001F600", "d_a\uFF5E", "d_a\u00e9", "d_aa", "d_A"]
    root = make_store({f"gens/draft/{n}/": None for n in names})
    store = scan(str(root))
    load(neo4j_conn, store)
    neo = Neo4jBackend(neo4j_conn, store.root)
    try:
        query = QUERIES["store.metadata_missing"]
        nx_rows = query.rows(NetworkxBackend.from_store(store).graph)
        assert [r["gen_id"] for r in neo.run(query.cypher, {})] == [r["gen_id"] for r in nx_rows]
        assert [r["gen_id"] for r in nx_rows] == sorted(names)
        # The server counts ID lengths in UTF-16 units; an ID beyond the basic plane is counted here.
        assert neo.id_tally() == NetworkxBackend.from_store(store).id_tally()
        assert sum(n for (_, _, length), n in neo.id_tally().items() if length == 4) == 4  # all but d_A
    finally:
        neo.close()


def test_reload_replaces_only_that_roots_graph(neo4j_conn, make_store):
    draft = {"stage": "draft", "gen_id": "d_5ezrffv9uf3lr37d", "mode": "llm", "template_id": "creative-synthesis-v10",
             "combo_id": "combo_v1_85128e4e5ef3", "llm_model_id": "gemini_25_pro", "replicate": 1}
    a = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": draft})
    b = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": draft,
                    "gens/draft/43ftibqi56628az1/": None})
    for root in (a, b):
        load(neo4j_conn, scan(str(root)))
    load(neo4j_conn, scan(str(a)))  # again: replaces, never duplicates

    def count(root):
        neo = Neo4jBackend(neo4j_conn, os.path.realpath(root))
        try:
            return sum(neo.id_tally().values())
        finally:
            neo.close()

    assert (count(a), count(b)) == (1, 2)
    shutil.rmtree(b / "gens/draft/43ftibqi56628az1")
    load(neo4j_conn, scan(str(b)))
    assert (count(a), count(b)) == (1, 1)


def test_a_failed_load_is_refused_until_a_load_completes(neo4j_conn, make_store, monkeypatch):
    from lineage.loaders import neo4j_load

    root = make_store({"gens/draft/43ftibqi56628az1/": None, "gens/essay/659pyykizln161i6/": None})
    store = scan(str(root))
    real = neo4j_load._create_rels_query
    monkeypatch.setattr(neo4j_load, "_create_nodes_query",
                        lambda labels: "UNWIND $rows AS r CALL { RETURN 1/0 AS boom } RETURN boom")
    with pytest.raises(LineageError, match="marked incomplete"):
        load(neo4j_conn, store)
    with pytest.raises(LineageError, match="did not complete"):
        Neo4jBackend(neo4j_conn, store.root)
    monkeypatch.undo()
    assert neo4j_load._create_rels_query is real
    load(neo4j_conn, store)
    neo = Neo4jBackend(neo4j_conn, store.root)
    try:
        assert sum(neo.id_tally().values()) == 2
    finally:
        neo.close()


def test_a_graph_loaded_by_an_older_lineage_is_refused(neo4j_conn, make_store):
    """A graph without the Unusual labels would give the checks of one generation no rows."""
    root = make_store({"gens/draft/Not-An-ID/": None})
    store = scan(str(root))
    load(neo4j_conn, store)
    driver = neo4j_conn.driver()
    try:
        driver.execute_query("MATCH (l:LoadRun {root: $root}) REMOVE l.graph_version", {"root": store.root},
                             database_=neo4j_conn.database)
    finally:
        driver.close()
    with pytest.raises(LineageError, match="loaded by an older lineage.*run `lineage load"):
        Neo4jBackend(neo4j_conn, store.root)
    load(neo4j_conn, store)
    neo = Neo4jBackend(neo4j_conn, store.root)
    try:
        assert [r["gen_id"] for r in neo.rows(BY_ID["id.malformed"])] == ["Not-An-ID"]
    finally:
        neo.close()


runner = CliRunner()


def test_cli_audit_and_query_on_neo4j(neo4j_conn, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_conn.uri)
    if neo4j_conn.password:
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_conn.password)
    examples = REPO / "examples" / "data"
    nx_run = runner.invoke(app, ["audit", str(examples), "-f", "json", "--no-progress"])
    neo_run = runner.invoke(app, ["audit", str(examples), "-f", "json", "--backend", "neo4j", "--no-progress"])
    assert nx_run.exit_code == neo_run.exit_code == 1, neo_run.output
    nx_doc, neo_doc = json.loads(nx_run.stdout), json.loads(neo_run.stdout)
    assert neo_doc.pop("backend") == "neo4j" and nx_doc.pop("backend") == "networkx"
    assert neo_doc == nx_doc
    assert neo4j_conn.password is None or neo4j_conn.password not in neo_run.output
    # A routing URI (neo4j://) works against a single server too: clusters and hosted
    # instances are just another URI.
    routed = neo4j_conn.uri.replace("bolt://", "neo4j://", 1)
    q = runner.invoke(app, ["query", str(examples), "counts", "--backend", "neo4j", "-f", "json",
                            "--uri", routed])
    assert q.exit_code == 0, q.output
    assert sum(r["generations"] for r in json.loads(q.stdout)) == sum(nx_doc["statistics"]["generations"].values())


def test_a_database_that_does_not_exist_is_one_line_and_nothing_is_marked(neo4j_conn, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_conn.uri)
    if neo4j_conn.password:
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_conn.password)
    examples = str(REPO / "examples" / "data")
    for args in (["load", examples], ["audit", examples, "--backend", "neo4j"],
                 ["query", examples, "counts", "--backend", "neo4j"]):
        result = runner.invoke(app, [*args, "--database", "nosuchdb", "--no-progress"])
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 3, result.output
        assert lines[-1].startswith("lineage: error:") and "has no database 'nosuchdb'" in lines[-1], result.stderr
        assert "marked incomplete" not in result.stderr and "Neo.ClientError" not in result.stderr


def test_a_query_for_an_unknown_generation_on_neo4j_says_so(neo4j_conn, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_conn.uri)
    if neo4j_conn.password:
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_conn.password)
    examples = str(REPO / "examples" / "data")
    assert runner.invoke(app, ["load", examples, "--no-progress"]).exit_code == 0
    result = runner.invoke(app, ["query", examples, "descendants", "-p", "gen_id=d_nope", "--backend", "neo4j"])
    assert result.exit_code == 2 and "no generation d_nope under" in result.stderr, result.output


# --- a real server stopped in the middle of a load ---------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def own_server():
    """A second throwaway server that this test may stop, so the shared one stays up."""
    if shutil.which("java") is None:
        _unavailable("java is not installed, so no second server can be started")
    env = {**os.environ, "LINEAGE_NEO4J_BOLT_PORT": str(_free_port()), "LINEAGE_NEO4J_HTTP_PORT": str(_free_port())}
    script = [str(REPO / "neo4j" / "neo4j.sh")]

    def run(*args):
        return subprocess.run(script + list(args) + ["--ephemeral"], env=env, capture_output=True, text=True)

    started = run("start", "--wait")
    if started.returncode != 0:
        _unavailable(f"could not start a second Neo4j: {started.stderr[-500:]}")
    try:
        yield f"bolt://127.0.0.1:{env['LINEAGE_NEO4J_BOLT_PORT']}", run
    finally:
        run("stop")


def test_server_killed_mid_load_fails_cleanly_and_the_next_load_recovers(own_server, tmp_path):
    uri, run = own_server
    root = tmp_path / "data"
    synthetic.generate(str(root), 20_000, seed=2, text_files=False)
    env = {**os.environ, "NEO4J_URI": uri}
    env.pop("NEO4J_PASSWORD", None)
    cmd = [sys.executable, "-m", "lineage", "load", str(root), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    from lineage.neo4j.server import ephemeral_password

    conn = Connection(uri=uri, password=ephemeral_password(uri))  # the throwaway server's, from its home
    deadline = time.time() + 120
    while time.time() < deadline:  # stop the server once the load has started writing
        drv = conn.driver()
        try:
            recs, _, _ = drv.execute_query("MATCH (l:LoadRun) RETURN l.status AS s")
        finally:
            drv.close()
        if recs and recs[0]["s"] == "loading":
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the load never started")
    # The server dies (SIGKILL): a graceful stop keeps taking transactions for seconds, long
    # enough for a small load to finish first on a busy machine.
    home = Path(run("home").stdout.strip())
    os.kill(int((home / "run" / "neo4j.pid").read_text().split()[0]), signal.SIGKILL)
    out, errs = proc.communicate(timeout=180)
    assert proc.returncode == 3, errs
    assert "Traceback" not in errs
    assert errs.strip().splitlines()[-1].startswith("lineage: error: ")
    run("stop")  # the pid file and the throwaway home of the dead server
    assert run("start", "--wait").returncode == 0
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    # The restarted throwaway server has a new home, so a new password: connect again.
    neo = Neo4jBackend(Connection(uri=uri, password=ephemeral_password(uri)), os.path.realpath(root))
    try:
        assert sum(neo.id_tally().values()) == sum(1 for _ in (root / "gens").glob("*/*"))
    finally:
        neo.close()


def test_the_persistent_servers_jvm_does_not_keep_the_password(tmp_path):
    """The password sets up the server once; a process that keeps it in its environment would
    show it to anyone who may read /proc/PID/environ for the server's whole life."""
    if shutil.which("java") is None:
        _unavailable("java is not installed, so no persistent server can be started")
    secret = "not-in-the-jvm-7f3a"
    env = {**os.environ, "LINEAGE_NEO4J_BOLT_PORT": str(_free_port()), "LINEAGE_NEO4J_HTTP_PORT": str(_free_port()),
           "LINEAGE_NEO4J_HOME": str(tmp_path / "home"), "NEO4J_PASSWORD": secret}
    env.pop("LINEAGE_NEO4J_EPHEMERAL", None)
    script = [str(REPO / "neo4j" / "neo4j.sh")]
    started = subprocess.run(script + ["start", "--wait"], env=env, capture_output=True, text=True)
    try:
        if started.returncode != 0:
            _unavailable(f"could not start a persistent Neo4j: {started.stderr[-500:]}")
        pid = (tmp_path / "home/run/neo4j.pid").read_text().strip()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"java" in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert secret.encode() not in environ and b"NEO4J_PASSWORD=" not in environ
    finally:
        subprocess.run(script + ["stop"], env=env, capture_output=True, text=True)


# --- the throwaway server and web pages -------------------------------------------------------

def _ephemeral(neo4j_conn):
    """(bolt port, http port, home) of the local ephemeral server the tests run on."""
    from urllib.parse import urlsplit

    from lineage.neo4j import server as neo4j_server

    parts = urlsplit(neo4j_conn.uri)
    instance = neo4j_server.Instance(ephemeral=True, bolt_port=parts.port)
    if parts.hostname not in neo4j_server.LOOPBACK or not (instance.home / neo4j_server.EPHEMERAL_TAG).is_file():
        _unavailable(f"{neo4j_conn.uri} is not a local server of `neo4j.sh start --ephemeral`")
    bolt, http = instance.ports()
    return bolt, http, instance.home


def _pack(value) -> bytes:
    """PackStream for the few values a HELLO, LOGON and RUN need."""
    import struct

    if isinstance(value, int):
        return struct.pack(">b", value)
    if isinstance(value, str):
        data = value.encode()
        return (bytes([0x80 | len(data)]) if len(data) < 16 else b"\xd0" + bytes([len(data)])) + data
    return bytes([0xA0 | len(value)]) + b"".join(_pack(k) + _pack(v) for k, v in value.items())


def _page_over_bolt_websocket(port: int, origin: str, query: str) -> tuple[str, list[str]]:
    """What a web page at `origin` gets from the Bolt port: the WebSocket handshake's status
    line, then the replies (SUCCESS, FAILURE <code>, RECORD, IGNORED) to HELLO, LOGON with no
    credentials, RUN `query` and PULL, as a page's JavaScript would send them."""
    import base64
    import struct

    def frame(payload: bytes) -> bytes:  # a client frame: binary, masked
        mask, n = os.urandom(4), len(payload)
        size = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)  # the shortest form
        return b"\x82" + size + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def message(signature: int, *fields) -> bytes:
        body = bytes([0xB0 | len(fields), signature]) + b"".join(map(_pack, fields))
        return struct.pack(">H", len(body)) + body + b"\x00\x00"

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n").encode())
        status = stream.readline().decode().strip()
        while stream.readline() not in (b"\r\n", b""):
            pass
        if " 101 " not in status:
            return status, []

        def read_frame() -> bytes:
            head = stream.read(2)
            if len(head) < 2 or head[0] & 0x0F == 8:  # closed
                raise EOFError
            n = head[1] & 0x7F
            n = struct.unpack(">H", stream.read(2))[0] if n == 126 else struct.unpack(">Q", stream.read(8))[0] if n == 127 else n
            return stream.read(n)

        sock.sendall(frame(bytes.fromhex("6060b017") + bytes.fromhex("00040405") + bytes(12)))  # Bolt 5.0..5.4
        assert read_frame() != bytes(4), "no Bolt version agreed"
        sock.sendall(frame(message(0x01, {"user_agent": "page/1.0", "bolt_agent": {"product": "page/1.0"}})
                           + message(0x6A, {"scheme": "none"}) + message(0x10, query, {}, {})
                           + message(0x3F, {"n": -1})))
        replies, data = [], b""
        while len(replies) < 4:
            try:
                data += read_frame()
            except (EOFError, OSError):
                break
            while len(data) >= 2:
                n = struct.unpack(">H", data[:2])[0]
                if n == 0:
                    data = data[2:]
                    continue
                if len(data) < 2 + n:
                    break
                body, data = data[2:2 + n], data[2 + n:]
                kind = {0x70: "SUCCESS", 0x7F: "FAILURE", 0x7E: "IGNORED", 0x71: "RECORD"}.get(body[1], hex(body[1]))
                if kind == "FAILURE":
                    code = re.search(rb"Neo\.[A-Za-z]+\.[A-Za-z]+\.[A-Za-z]+", body)
                    kind += " " + (code.group().decode() if code else "?")
                replies.append(kind)
        return status, replies


def test_the_ephemeral_http_api_answers_cors_for_browsers_origin_only(neo4j_conn):
    """A web page's preflight for a JSON POST to the HTTP API (Neo4j refuses the content types
    that need none): the answer must not let another origin send it (Neo4j's default is '*')."""
    import urllib.request

    _, http, _ = _ephemeral(neo4j_conn)
    request = urllib.request.Request(f"http://127.0.0.1:{http}/db/neo4j/tx/commit", method="OPTIONS", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    with urllib.request.urlopen(request, timeout=10) as response:
        allowed = response.headers.get("Access-Control-Allow-Origin")
    assert allowed == f"http://localhost:{http}"


def test_the_ephemeral_server_takes_no_query_from_a_web_page(neo4j_conn):
    """Neo4j's Bolt port speaks Bolt over WebSocket and accepts a handshake from any page (it
    checks no Origin; 5.26 has no setting for it). So the throwaway server runs with auth on: a
    page without the password gets no further than LOGON."""
    bolt, _, home = _ephemeral(neo4j_conn)
    status, replies = _page_over_bolt_websocket(bolt, "http://evil.example", "CREATE (:PageProbe) RETURN 1")
    assert " 101 " in status  # what Neo4j does, and why auth must stay on
    assert replies[0] == "SUCCESS"  # HELLO
    assert replies[1].startswith("FAILURE Neo.ClientError.Security.Unauthorized")
    assert "RECORD" not in replies and replies.count("SUCCESS") == 1
    records, _, _ = neo4j_conn.driver().execute_query("MATCH (p:PageProbe) RETURN count(p) AS n",
                                                      database_=neo4j_conn.database)
    assert records[0]["n"] == 0
    mode = (home / "password").stat().st_mode
    assert mode & 0o777 == 0o600


def test_lineage_reads_the_password_of_a_local_ephemeral_server(neo4j_conn, monkeypatch):
    """With no NEO4J_PASSWORD, a URI naming the local ephemeral server logs in with the password
    in its home; any other URI gets none."""
    from lineage.neo4j import server as neo4j_server

    bolt, _, home = _ephemeral(neo4j_conn)
    password = (home / "password").read_text().strip()
    assert neo4j_server.ephemeral_password(f"bolt://127.0.0.1:{bolt}") == password
    assert neo4j_server.ephemeral_password(f"neo4j://localhost:{bolt}") == password
    assert neo4j_server.ephemeral_password(f"bolt://example.com:{bolt}") is None
    assert neo4j_server.ephemeral_password(f"bolt+s://127.0.0.1:{bolt}") is None
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    from lineage.cli.app import connection

    drv = connection(f"bolt://127.0.0.1:{bolt}", None, None, False).driver()
    drv.close()
