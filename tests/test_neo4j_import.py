"""The first load by offline import (`neo4j-admin database import full`) against real servers:
it gives the graph the UNWIND load gives, node for node and property for property, the same
audit and the same rows for every canned query, also for IDs and file names that could break
a CSV file; and for a server lineage does not run, the printed command and --finish-import do
the same.

The import stops and restarts the server it imports into, so these tests run a throwaway
server of their own (the shared one of scripts/test.sh keeps running for the other tests).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage import synthetic
from lineage.analyses.audit import audit
from lineage.cli import app
from lineage.core.status import LineageError
from lineage.loaders.graph_model import build
from lineage.loaders.neo4j_csv import write
from lineage.loaders.neo4j_graph import Connection, Neo4jBackend
from lineage.loaders.neo4j_load import load
from lineage.loaders.networkx_graph import NetworkxBackend
from lineage.loaders.store import scan
from lineage.queries.catalog import QUERIES

from test_neo4j import _query_params, _unavailable, neo4j_conn  # noqa: F401 - the shared server's fixture

REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()

# Names that end a CSV cell, a row or a list, or that the terminal would act on.
HOSTILE_IDS = ['d_q"uote,comma', "d_new\nline", "d_cr\rlf\r\n", "d_ctl\x01\x1b[2J\x7f", "d_unit\x1fsep",
               "d_semi;colon", "d_ tab\tspace ", "d_back\\slash\\"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def import_server(tmp_path_factory):
    """(uri, environment) of a throwaway server of this module's own, on free ports."""
    if shutil.which("java") is None:
        _unavailable("java is not installed, so no server for the import can be started")
    env = {**os.environ, "LINEAGE_NEO4J_BOLT_PORT": str(_free_port()), "LINEAGE_NEO4J_HTTP_PORT": str(_free_port()),
           "LINEAGE_NEO4J_EPHEMERAL_HOME": str(tmp_path_factory.mktemp("import-home") / "home")}
    env.pop("NEO4J_PASSWORD", None)
    script = [str(REPO / "neo4j" / "neo4j.sh")]
    started = subprocess.run(script + ["start", "--ephemeral", "--wait"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        _unavailable(f"could not start a server for the import: {started.stderr[-500:]}")
    try:
        yield f"bolt://127.0.0.1:{env['LINEAGE_NEO4J_BOLT_PORT']}", env
    finally:
        subprocess.run(script + ["stop", "--ephemeral"], env=env, capture_output=True, text=True)


def _connection(uri: str, env: dict) -> Connection:
    password = (Path(env["LINEAGE_NEO4J_EPHEMERAL_HOME"]) / "password").read_text().strip()
    return Connection(uri=uri, password=password)


def _invoke(args: list[str], env: dict):
    """The CLI with the import server's environment (its ports and home), as a user would run it."""
    keys = ("LINEAGE_NEO4J_BOLT_PORT", "LINEAGE_NEO4J_HTTP_PORT", "LINEAGE_NEO4J_EPHEMERAL_HOME", "NEO4J_PASSWORD",
            "NEO4J_URI", "NEO4J_DATABASE")
    return runner.invoke(app, args, env={k: env.get(k) for k in keys})


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A store with every planted problem, legacy and mismatched IDs, and hostile names: IDs,
    a file name and metadata keys with quotes, commas, line breaks, control characters and
    the import's list delimiter (U+001F)."""
    root = tmp_path_factory.mktemp("import") / "data"
    synthetic.generate(str(root), 400, seed=7, problems="all", legacy_fraction=0.2, mismatch_fraction=0.05)
    for gen_id in HOSTILE_IDS:
        folder = root / "gens" / "draft" / gen_id
        folder.mkdir()
        (folder / "metadata.json").write_text(json.dumps({
            "stage": "draft", "gen_id": gen_id, "mode": "llm", "template_id": 't"1,\n', "combo_id": "c\x1fx",
            "llm_model_id": "m", "replicate": 1, "": "an empty key", "odd\x1fkey": 1, "nul\u0000key": 2}))
        (folder / "raw\x1f.txt").write_text("x")
    essay = root / "gens" / "essay" / "e_child,of\nhostile"
    essay.mkdir()
    (essay / "metadata.json").write_text(json.dumps({"stage": "essay", "gen_id": essay.name, "mode": "copy",
                                                     "parent_gen_id": HOSTILE_IDS[1], "template_id": "t"}))
    (root / "gens" / "draft" / "d_empty_folder").mkdir()
    return root


def _dump(conn: Connection, root: str) -> dict:
    """Every node and relationship of `root`'s graph with all properties, in a fixed order, and
    the LoadRun node without its times and load ID."""
    drv = conn.driver()
    try:
        nodes, _, _ = drv.execute_query(
            "MATCH (n:Lineage {root: $root}) RETURN n.uid AS uid, labels(n) AS labels, properties(n) AS p "
            "ORDER BY uid", root=root, database_=conn.database)
        rels, _, _ = drv.execute_query(
            "MATCH (a:Lineage {root: $root})-[r]->(b) RETURN a.uid AS s, type(r) AS t, b.uid AS d, "
            "properties(r) AS p", root=root, database_=conn.database)
        run, _, _ = drv.execute_query("MATCH (l:LoadRun {root: $root}) RETURN properties(l) AS p", root=root,
                                      database_=conn.database)
    finally:
        drv.close()
    loadrun = {k: v for k, v in run[0]["p"].items() if k not in ("started", "finished", "load_id")}
    return {"nodes": [(r["uid"], sorted(r["labels"]), r["p"]) for r in nodes],
            "relationships": sorted(json.dumps([r["s"], r["t"], r["d"], r["p"]], sort_keys=True) for r in rels),
            "loadrun": loadrun, "run_keys": sorted(run[0]["p"])}


def _results(conn: Connection, store) -> tuple[dict, list]:
    """The full audit and the rows of every canned query, on the graph of `store` in `conn`."""
    neo = Neo4jBackend(conn, store.root)
    try:
        report = audit(neo, store.root).as_dict()
        rows = [(name, params, neo.run(q.cypher, {**dict(q.fixed), **params}))
                for name, q in QUERIES.items() for params in _query_params(store, name)]
    finally:
        neo.close()
    return report, rows


@pytest.fixture(scope="module")
def unwind_loaded(neo4j_conn, planted):  # noqa: F811 - the shared server
    """The planted store loaded by UNWIND batches into the shared server: the reference graph."""
    store = scan(str(planted))
    load(neo4j_conn, store)
    return store, _dump(neo4j_conn, store.root), _results(neo4j_conn, store)


def test_the_import_gives_the_unwind_graph_the_same_audit_and_the_same_query_rows(import_server, planted,
                                                                                  unwind_loaded):
    uri, env = import_server
    store, graph, (report, rows) = unwind_loaded
    result = _invoke(["load", str(planted), "--method", "import", "--uri", uri, "--no-progress"], env)
    assert result.exit_code == 0, result.output
    assert "imported" in result.stderr and "Traceback" not in result.output
    conn = _connection(uri, env)
    imported = _dump(conn, store.root)
    assert imported["nodes"] == graph["nodes"]
    assert imported["relationships"] == graph["relationships"]
    assert imported["loadrun"] == graph["loadrun"] and imported["run_keys"] == graph["run_keys"]
    assert {n[0].rpartition("|")[2] for n in imported["nodes"]} >= {f"gen:draft/{i}" for i in HOSTILE_IDS}
    assert not [n for n in imported["nodes"] if "key" in n[2]]  # the node key is in the uid only
    imported_report, imported_rows = _results(conn, store)
    assert imported_report == report
    assert imported_rows == rows
    # The import stored the fingerprints a reload stores: reloading the unchanged store writes nothing.
    stats = load(conn, scan(str(planted)))
    assert stats.kept == stats.nodes and stats.written == (0, 0)
    assert _dump(conn, store.root)["nodes"] == graph["nodes"]
    nx_report = audit(NetworkxBackend.from_store(store), store.root).as_dict()
    assert {**nx_report, "backend": "neo4j"} == imported_report


def test_hostile_values_are_escaped_or_set_after_the_import(planted, tmp_path):
    """No value reaches a CSV file unescaped: every text cell is quoted, line breaks switch on
    the import's multi-line mode, and lists the delimiter cannot tell apart are fix-ups."""
    store = scan(str(planted))
    files = write(str(tmp_path / "csv"), store.root, build(store), "test")
    assert files.multiline
    fixed = {(f["uid"].rpartition("|")[2], name) for f in files.fixups for name in f["p"]}
    assert ("gen:draft/d_unit\x1fsep", "extraneous") in fixed and ("gen:draft/d_unit\x1fsep", "files") in fixed
    import csv

    for _, path in files.node_files + files.relationship_files:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert len({len(r) for r in rows}) == 1, path  # no value added or split a column


def test_a_server_lineage_does_not_run_gets_the_command_and_finish_import(import_server, planted, unwind_loaded,
                                                                          tmp_path):
    """Seen as another server (its home hidden from lineage), the load writes the files and
    prints the neo4j-admin command; run as printed (here through neo4j.sh import, the same tool),
    then --finish-import, it gives the same graph."""
    uri, env = import_server
    store, graph, _ = unwind_loaded
    conn = _connection(uri, env)
    foreign = {**env, "LINEAGE_NEO4J_EPHEMERAL_HOME": str(tmp_path / "not-this-server"),
               "NEO4J_PASSWORD": conn.password, "NEO4J_DATABASE": "neo4j"}
    csv_dir = tmp_path / "import-files"
    result = _invoke(["load", str(planted), "--fresh", "--csv-dir", str(csv_dir), "--uri", uri, "--no-progress"],
                     foreign)
    assert result.exit_code == 0, result.output
    assert str(csv_dir) in result.stderr and "--finish-import" in result.stderr
    command = shlex.split(result.stdout.strip())
    assert command[:6] == ["neo4j-admin", "database", "import", "full", "neo4j", "--overwrite-destination=true"]
    assert conn.password not in result.output
    imported = subprocess.run([str(REPO / "neo4j" / "neo4j.sh"), "import", "--ephemeral", "--", *command[6:]],
                              env=env, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    with pytest.raises(LineageError, match="not finished"):
        Neo4jBackend(conn, store.root)  # until --finish-import has made the schema
    finished = _invoke(["load", "--finish-import", str(csv_dir), "--uri", uri], foreign)
    assert finished.exit_code == 0, finished.output
    dumped = _dump(conn, store.root)
    assert dumped["nodes"] == graph["nodes"] and dumped["relationships"] == graph["relationships"]


def test_the_import_refuses_a_database_with_other_roots_unless_fresh_names_it(neo4j_conn, planted,  # noqa: F811
                                                                             unwind_loaded, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_conn.uri)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_conn.password or "")
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    result = runner.invoke(app, ["load", str(planted), "--method", "import", "--no-progress"])
    assert result.exit_code == 2 and "--fresh" in result.stderr and "not empty" in result.stderr, result.output
    result = runner.invoke(app, ["load", str(planted), "--fresh", "--no-progress"])
    assert result.exit_code == 2 and "--database" in result.stderr, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("lineage: error:")


def test_references_fold_the_same_on_the_short_path_as_in_the_general_loop(monkeypatch):
    """The places of one file, column, kind, target and stage fold into one relationship. A
    column no other column shares its file, column and kind with, with a line for each place,
    folds on a short path; it must give what the general loop gives, in the same order."""
    from lineage.loaders import neo4j_shape
    from lineage.loaders.graph_model import Edges

    x, y = "artifact:x.csv", "artifact:y.csv"
    columns = [
        Edges("REFERENCES", [x] * 5, ["g1", "g2", "g1", "g3", "g1"],
              {"line": [1, 2, 3, 4, 5], "column": "parent", "kind": "gen_id", "stage": ["draft"] * 4 + ["essay"]}),
        Edges("REFERENCES", [x] * 4, ["g1", "g2", "g1", "g1"],
              {"line": [7, 8, 9, 6], "column": "other", "kind": "gen_id",
               "stage": ["draft", "draft", "essay", "draft"]}),
        Edges("REFERENCES", [x] * 2, ["g1", "g1"],
              {"line": [None, None], "column": "", "kind": "file_name", "stage": "essay"}),
        Edges("REFERENCES", [y] * 3, ["g1", "g2", "g1"],
              {"line": [1, 2, 3], "column": "parent", "kind": "gen_id", "stage": "draft"}),
        # x's file, column and kind again: this and the first fold together, in the general loop
        Edges("REFERENCES", [x] * 2, ["g1", "g4"],
              {"line": [9, 10], "column": "parent", "kind": "gen_id", "stage": "draft"}),
    ]

    def rows(e: Edges) -> list:
        return [(e.sources[i], e.targets[i], e.place(i)) for i in range(len(e))]

    assert neo4j_shape._alone(columns) == {id(columns[1]), id(columns[3])}
    short = rows(neo4j_shape.fold_references(columns))
    monkeypatch.setattr(neo4j_shape, "_alone", lambda columns: set())
    assert short == rows(neo4j_shape.fold_references(columns))
    assert (x, "g1", {"line": [1, 3, 9], "column": "parent", "kind": "gen_id", "stage": "draft"}) in short
    assert [r for r in short if r[2]["column"] == "other"] == [
        (x, "g1", {"line": [7, 6], "column": "other", "kind": "gen_id", "stage": "draft"}),
        (x, "g2", {"line": [8], "column": "other", "kind": "gen_id", "stage": "draft"}),
        (x, "g1", {"line": [9], "column": "other", "kind": "gen_id", "stage": "essay"})]
    assert [r for r in short if r[2]["kind"] == "file_name"] == [
        (x, "g1", {"line": [], "column": "", "kind": "file_name", "stage": "essay"})] * 2


def test_a_root_with_a_line_break_switches_on_multiline_fields(tmp_path):
    # The root and every uid (which holds it) are written beside the per-column test.
    root = tmp_path / "data\nroot"
    synthetic.generate(str(root), 20, seed=1)
    store = scan(str(root))
    files = write(str(tmp_path / "csv"), store.root, build(store), "test")
    assert files.multiline and "--multiline-fields=true" in files.arguments()


@pytest.mark.parametrize("change", [{"node_files": 5}, {"nodes": "a"}, {"multiline": "yes"},
                                    {"relationship_files": [["DERIVED_FROM"]]}, {"fixups": [1]},
                                    {"graph_version": "3"}])
def test_a_hand_edited_manifest_is_a_usage_error(tmp_path, planted, change):
    store = scan(str(planted))
    folder = tmp_path / "csv"
    files = write(str(folder), store.root, build(store), "test")
    doc = json.loads((folder / "import.json").read_text())
    (folder / "import.json").write_text(json.dumps({**doc, **change}))
    result = CliRunner().invoke(app, ["load", "--finish-import", str(folder), "--uri", "bolt://127.0.0.1:9"],
                                env={"NEO4J_PASSWORD": "pw"})
    assert result.exit_code == 2, result.output
    assert "is not a manifest lineage wrote" in result.stderr and "internal error" not in result.stderr
    assert files.nodes > 0


def test_import_files_of_an_older_graph_version_are_refused(tmp_path, planted):
    """Files written before the Unusual label would load a graph the checks of one generation
    find nothing in; their manifest has no graph_version."""
    store = scan(str(planted))
    folder = tmp_path / "csv"
    write(str(folder), store.root, build(store), "test")
    doc = json.loads((folder / "import.json").read_text())
    assert doc.pop("graph_version") == 3
    (folder / "import.json").write_text(json.dumps(doc))
    result = CliRunner().invoke(app, ["load", "--finish-import", str(folder), "--uri", "bolt://127.0.0.1:9"],
                                env={"NEO4J_PASSWORD": "pw"})
    assert result.exit_code == 2, result.output
    assert "graph version 1, not 3" in result.stderr and "write them again" in result.stderr


def test_a_failed_import_keeps_its_files_and_names_them(tmp_path, planted, monkeypatch):
    from lineage.neo4j import importer, server

    home = tmp_path / "home"
    (home / "import").mkdir(parents=True)

    class Local:  # the local server's home, as server.local_instance finds it
        pass

    local = Local()
    local.home = home
    monkeypatch.setattr(server, "local_instance", lambda uri: local)

    def fail(*args, **kwargs):
        raise LineageError("neo4j-admin database import full failed (exit 1)")

    monkeypatch.setattr(server, "import_database", fail)
    store = scan(str(planted))
    said = []
    with pytest.raises(LineageError):
        importer.import_load(Connection(uri="bolt://127.0.0.1:9"), store.root, build(store), None, said.append)
    [folder] = (home / "import").iterdir()
    assert (folder / "import.json").is_file()
    assert any(f"the import files stay in {folder}" in line for line in said)


def test_finish_import_takes_only_its_own_root_and_no_load_options(tmp_path, planted, make_store):
    store = scan(str(planted))
    folder = tmp_path / "csv"
    write(str(folder), store.root, build(store), "test")
    env = {"NEO4J_PASSWORD": "pw"}
    base = ["load", "--finish-import", str(folder), "--uri", "bolt://127.0.0.1:9"]
    for extra in (["--fresh"], ["--rewrite"], ["--method", "unwind"], ["--csv-dir", str(tmp_path / "x")]):
        result = CliRunner().invoke(app, [*base, *extra], env=env)
        assert result.exit_code == 2 and "takes no --method, --fresh, --rewrite or --csv-dir" in result.stderr, extra
    other = make_store({"gens/draft/d_1/": None})
    result = CliRunner().invoke(app, ["load", str(other), *base[1:]], env=env)
    assert result.exit_code == 2 and f"are of {store.root}, not of {other}" in result.stderr, result.output
