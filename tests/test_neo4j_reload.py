"""A reload of a root loaded before writes only what changed since (neo4j_delta), and gives the
graph a whole load gives, node for node and property for property; when it cannot trust what
is stored (an unfinished load, a graph without fingerprints, counts that do not add up) it
writes the root whole. The planning is tested on its own too, without a server."""

from __future__ import annotations

import json
import shutil

import pytest

from lineage import synthetic
from lineage.core.status import LineageError
from lineage.loaders.graph_model import Edges, build
from lineage.loaders.neo4j_delta import plan, touching
from lineage.loaders.neo4j_load import load
from lineage.loaders.neo4j_shape import FINGERPRINT, node_columns
from lineage.loaders.store import scan

from test_neo4j import neo4j_conn  # noqa: F401 - the shared server's fixture
from test_neo4j_import import _dump, _results


@pytest.fixture()
def grown(tmp_path):
    """A store with every planted problem, and a function that changes it as a new cohort and
    some hand edits would: a generation gone (its children now point at nothing), one whose
    metadata changed (its ID no longer implied), new generations, a new CSV naming old ones."""
    root = tmp_path / "data"
    synthetic.generate(str(root), 300, seed=7, problems="all", legacy_fraction=0.2, mismatch_fraction=0.05,
                       text_files=False)

    def meta(folder):  # None where a problem was planted in it
        try:
            value = json.loads((folder / "metadata.json").read_bytes())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def change() -> None:
        drafts = sorted((root / "gens" / "draft").iterdir())
        essays = sorted((root / "gens" / "essay").iterdir())
        parents = {(meta(e) or {}).get("parent_gen_id") for e in essays}
        gone = next(d for d in drafts if d.name in parents)
        shutil.rmtree(gone)
        edited = next(d for d in drafts if d.name not in parents and meta(d))
        values = meta(edited)
        values["template_id"] = "a-template-renamed-by-hand"
        (edited / "metadata.json").write_text(json.dumps(values))
        synthetic.generate(str(tmp_path / "more"), 40, seed=8, text_files=False)
        for stage in ("draft", "essay", "evaluation"):
            for folder in (tmp_path / "more" / "gens" / stage).iterdir():
                if not (root / "gens" / stage / folder.name).exists():
                    shutil.copytree(folder, root / "gens" / stage / folder.name)
        (root / "6_summary" / "picked_by_hand.csv").write_text(
            "gen_id,note\n" + "".join(f"{e.name},kept\n" for e in essays[:5]))
        # A cohort's membership loses its last row and gains another: the generations they
        # name change, not the cohort or the file that name them (those name many more).
        membership = root / "cohorts" / "novelty-baseline-2025-09-30" / "membership.csv"
        lines = membership.read_text().splitlines()
        kept_essay = next(e for e in essays[5:] if meta(e) and e.name not in membership.read_text())
        membership.write_text("\n".join([*lines[:-1], f"essay,{kept_essay.name},novelty-baseline-2025-09-30,"
                                          f",,t,m,1"]) + "\n")

    return root, change


def _cypher(conn, query: str, **params) -> None:
    """A write by other hands, as in Neo4j Browser."""
    driver = conn.driver()
    try:
        driver.execute_query(query, params, database_=conn.database)
    finally:
        driver.close()


def _graph(conn, root) -> dict:
    dump = _dump(conn, str(root))
    return {k: dump[k] for k in ("nodes", "relationships", "loadrun", "run_keys")}


def test_a_reload_of_an_unchanged_root_writes_nothing(neo4j_conn, grown, monkeypatch):  # noqa: F811
    from lineage.loaders import neo4j_load

    root, _ = grown
    store = scan(str(root))
    first = load(neo4j_conn, store)
    assert first.kept == 0 and first.written == (first.nodes, first.relationships)
    graph = _graph(neo4j_conn, store.root)
    # The sum of the fingerprints and the counts tell it: no fingerprint is read one by one.
    monkeypatch.setattr(neo4j_load, "_stored_fingerprints", lambda *a: pytest.fail("read the fingerprints"))
    again = load(neo4j_conn, scan(str(root)))
    assert again.kept == again.nodes == first.nodes and again.written == (0, 0)
    assert _graph(neo4j_conn, store.root) == graph


def test_a_reload_after_changes_gives_the_graph_a_whole_load_gives(neo4j_conn, grown):  # noqa: F811
    root, change = grown
    load(neo4j_conn, scan(str(root)))
    change()
    store = scan(str(root))
    stats = load(neo4j_conn, store)
    assert 0 < stats.kept < stats.nodes and 0 < stats.written[0] < stats.nodes, stats
    assert 0 < stats.written[1] < stats.relationships / 4, stats  # not every relationship of a changed file
    delta_graph, delta_results = _graph(neo4j_conn, store.root), _results(neo4j_conn, store)
    whole = load(neo4j_conn, scan(str(root)), rewrite=True)
    assert whole.kept == 0 and whole.written == (whole.nodes, whole.relationships)
    assert _graph(neo4j_conn, store.root) == delta_graph
    assert _results(neo4j_conn, store) == delta_results
    # The new CSV, the vanished draft's Missing node and the new generations are there.
    uids = {n[0].rpartition("|")[2] for n in delta_graph["nodes"]}
    assert "artifact:6_summary/picked_by_hand.csv" in uids and any(u.startswith("missing:") for u in uids)


def test_a_graph_changed_by_other_hands_is_written_whole(neo4j_conn, grown):  # noqa: F811
    root, change = grown
    store = scan(str(root))
    load(neo4j_conn, store)
    graph = _graph(neo4j_conn, store.root)
    # A relationship deleted in the Browser: no fingerprint changes, the counts do.
    delete_one = "MATCH (:Lineage {root: $root})-[r:DERIVED_FROM]->() WITH r LIMIT 1 DELETE r"
    _cypher(neo4j_conn, delete_one, root=store.root)
    stats = load(neo4j_conn, scan(str(root)))
    assert stats.kept == 0 and stats.written == (stats.nodes, stats.relationships)
    assert _graph(neo4j_conn, store.root) == graph
    # A delta written before the counts failed is not counted on top of the whole write.
    _cypher(neo4j_conn, delete_one, root=store.root)
    change()
    stats = load(neo4j_conn, scan(str(root)))
    assert stats.kept == 0 and stats.written == (stats.nodes, stats.relationships)


@pytest.mark.parametrize("damage", ["unfinished", "no fingerprints", "a kept node deleted meanwhile"])
def test_a_root_whose_stored_graph_cannot_be_trusted_is_written_whole(neo4j_conn, grown, damage,  # noqa: F811
                                                                      monkeypatch):
    from lineage.loaders import neo4j_load

    root, change = grown
    load(neo4j_conn, scan(str(root)))
    change()
    store = scan(str(root))
    if damage == "unfinished":  # a reload that died after deleting part of the old graph
        monkeypatch.setattr(neo4j_load, "_create_rels_query", lambda t: "UNWIND $rows AS r RETURN 1/0 AS boom")
        with pytest.raises(LineageError, match="marked incomplete"):
            load(neo4j_conn, store)
        monkeypatch.undo()
    elif damage == "a kept node deleted meanwhile":  # by other hands, after the comparison
        real = neo4j_load.plan

        def plan_then_delete(stored, groups):
            delta = real(stored, groups)
            # The cohort is kept, and an end of the relationships to the generations it gained.
            _cypher(neo4j_conn, "MATCH (n:Lineage {uid: $uid}) DETACH DELETE n",
                    uid=f"{store.root}|cohort:novelty-baseline-2025-09-30")
            return delta

        monkeypatch.setattr(neo4j_load, "plan", plan_then_delete)
    else:  # loaded by a lineage that stored none
        _cypher(neo4j_conn, f"MATCH (n:Lineage {{root: $root}}) REMOVE n.{FINGERPRINT}", root=store.root)
    stats = load(neo4j_conn, store)
    assert stats.kept == 0 and stats.written == (stats.nodes, stats.relationships)
    graph = _graph(neo4j_conn, store.root)
    load(neo4j_conn, store, rewrite=True)
    assert _graph(neo4j_conn, store.root) == graph


# --- the planning, without a server ----------------------------------------------------------

def test_fingerprints_change_with_a_property_a_label_or_an_outgoing_relationship(make_store):
    draft = {"stage": "draft", "gen_id": "d_5ezrffv9uf3lr37d", "mode": "llm", "template_id": "creative-synthesis-v10",
             "combo_id": "combo_v1_85128e4e5ef3", "llm_model_id": "gemini_25_pro", "replicate": 1}
    essay = {"stage": "essay", "gen_id": "e_1", "parent_gen_id": "d_5ezrffv9uf3lr37d", "template_id": "t",
             "mode": "llm", "replicate": 1}

    def prints(spec) -> dict[str, int]:
        groups = node_columns(build(scan(str(make_store(spec)))))
        return {k: fp for _, p in groups for k, fp in zip(p["key"], p[FINGERPRINT])}

    base = {"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": draft, "gens/essay/e_1/metadata.json": essay}
    a, b = prints(base), prints(base)
    assert a == b and len(set(a.values())) == len(a)  # the same store, the same numbers
    parent_gone = prints({"gens/draft/d_other/metadata.json": {**draft, "gen_id": "d_other"},
                          "gens/essay/e_1/metadata.json": essay})
    assert parent_gone["gen:essay/e_1"] != a["gen:essay/e_1"]  # its DERIVED_FROM now ends at a Missing node
    edited = prints({**base, "gens/draft/d_5ezrffv9uf3lr37d/metadata.json": {**draft, "replicate": 2}})
    # The draft's ID is no longer the one its metadata implies: new values, and the label Unusual.
    assert edited["gen:draft/d_5ezrffv9uf3lr37d"] != a["gen:draft/d_5ezrffv9uf3lr37d"]
    assert edited["gen:essay/e_1"] == a["gen:essay/e_1"]
    # A file's rows belong to the generations they name: a row changes the generation's number,
    # not the file's.
    draft_key, csv_key = "gen:draft/d_5ezrffv9uf3lr37d", "artifact:6_summary/picked.csv"
    named = prints({**base, "6_summary/picked.csv": "gen_id\nd_5ezrffv9uf3lr37d\n"})
    moved = prints({**base, "6_summary/picked.csv": "gen_id\nd_other\nd_5ezrffv9uf3lr37d\n"})
    assert named[draft_key] != a[draft_key] and moved[draft_key] != named[draft_key]  # on another line
    assert moved[csv_key] == named[csv_key]


def test_the_plan_deletes_gone_and_changed_nodes_and_creates_new_and_changed_ones():
    groups = [(("Generation", "Draft"), {"key": ["a", "b", "c"], FINGERPRINT: [1, 2, 3]}),
              (("Missing",), {"key": ["m"], FINGERPRINT: [9]})]
    delta = plan({"a": 1, "b": 5, "gone": 7, "m": None}, groups)
    assert sorted(delta.stale) == ["b", "gone", "m"] and delta.fresh == {"b", "c", "m"} and delta.kept == 1
    assert delta.worth_it(4) is False and plan({"a": 1, "b": 2, "c": 3, "m": 9}, groups).worth_it(4)



def test_touching_keeps_the_relationships_with_an_end_among_the_fresh_nodes():
    refs = Edges("REFERENCES", ["f", "f", "f"], ["a", "b", "c"], {"line": [1, 2, 3], "column": "gen_id"})
    parents = Edges("DERIVED_FROM", ["x"], ["y"], {"expected_stage": "draft"})
    (picked,) = touching([refs, parents], {"b", "q"})
    assert (picked.sources, picked.targets, picked.props) == (["f"], ["b"], {"line": [2], "column": "gen_id"})
    assert touching([refs], {"f"}) == [refs]


def test_lineage_load_says_what_a_reload_kept_and_rewrite_writes_all(neo4j_conn, grown, monkeypatch):  # noqa: F811
    from typer.testing import CliRunner

    from lineage.cli import app

    monkeypatch.setenv("NEO4J_URI", neo4j_conn.uri)
    if neo4j_conn.password:
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_conn.password)
    root, _ = grown
    args = ["load", str(root), "--method", "unwind", "--no-progress"]
    runs = [CliRunner().invoke(app, args + extra) for extra in ([], [], ["--rewrite"])]
    assert [r.exit_code for r in runs] == [0, 0, 0], runs[0].output
    nodes = len(build(scan(str(root))).nodes)
    assert "rows/s" in runs[0].stderr and "unchanged" not in runs[0].stderr
    assert f"{nodes:,} nodes unchanged since the last load, 0 nodes and 0 relationships written" in runs[1].stderr
    assert "rows/s" in runs[2].stderr and "unchanged" not in runs[2].stderr
