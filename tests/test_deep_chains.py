"""A chain of thousands of generations is data, not an error: no command recurses along it,
and none does work that grows with the square of its length.

The chain: essays each naming the previous essay as parent (a parent filed in the wrong stage,
which the graph still links), under one draft. Work is counted, never timed: the walks are
handed counting child indexes, and a walk per generation would take n²/2 entries from them.
"""

from __future__ import annotations

import json

import orjson
import pytest
from typer.testing import CliRunner

from conftest import write_tree
from lineage.neo4j import browser
from lineage.analyses.audit import audit
from lineage.cli import app
from lineage.analyses.impact import impact
from lineage.loaders.networkx_graph import NetworkxBackend
from lineage.loaders.store import scan
from lineage.loaders.lineage_graph import LineageGraph
from lineage.analyses.rename import id_report

N = 3000  # well past Python's recursion limit (1000) and orjson's nesting limit (255)
runner = CliRunner()


def chain_ids(n: int = N) -> list[str]:
    return [f"c{i:015d}" for i in range(n)]  # legacy-shaped: every one counts its descendants


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    spec = {"gens/draft/d_root/metadata.json": {"stage": "draft", "gen_id": "d_root", "mode": "llm"}}
    parent = "d_root"
    for gen_id in chain_ids():
        spec[f"gens/essay/{gen_id}/metadata.json"] = {"stage": "essay", "gen_id": gen_id, "mode": "llm",
                                                      "template_id": "t", "parent_gen_id": parent, "replicate": 1}
        parent = gen_id
    return write_tree(tmp_path_factory.mktemp("chain") / "data", spec)


class Counting(dict):
    """A child index (key -> children) that counts the child entries it hands out."""

    handed = 0

    def get(self, key, default=None):
        value = super().get(key, default)
        Counting.handed += len(value) if value else 0
        return value

    def __getitem__(self, key):
        value = super().__getitem__(key)
        Counting.handed += len(value)
        return value

    def items(self):
        Counting.handed += sum(map(len, self.values()))
        return super().items()


@pytest.fixture
def counting():
    Counting.handed = 0
    return Counting


def test_audit_counts_descendants_in_one_pass(chain, counting):
    """id.legacy gives each of the chain's legacy IDs its number of descendants: one pass,
    not a walk below each of them (which took 23 s on a chain of 6,000)."""
    backend = NetworkxBackend.from_store(scan(str(chain)))
    g = backend.graph
    g._children = counting(g.children_index)
    report = audit(backend, str(chain))
    legacy = {f.gen_id: f.details["descendants"] for f in report.findings if f.check == "id.legacy"}
    assert legacy == {gen_id: N - 1 - i for i, gen_id in enumerate(chain_ids())}
    assert counting.handed <= 10 * N


def test_descendant_counts_match_a_walk_per_node(make_store):
    """The one-pass counts equal len(descendants()) everywhere, loops and self-loops included."""
    def essay(gen_id, parent):
        return {"stage": "essay", "gen_id": gen_id, "parent_gen_id": parent}

    root = make_store({
        "gens/draft/d_1/metadata.json": {"stage": "draft", "gen_id": "d_1"},
        **{f"gens/essay/{k}/metadata.json": essay(k, p) for k, p in [
            ("e_a", "d_1"), ("e_b", "e_a"), ("e_c", "e_a"), ("e_d", "e_c"),  # a tree
            ("e_x", "e_y"), ("e_y", "e_z"), ("e_z", "e_x"), ("e_w", "e_y"), ("e_v", "e_w"),  # a loop with a tail
            ("e_s", "e_s"), ("e_t", "e_s"),  # a self-loop
            ("e_m", "d_missing")]},  # below a Missing node
        "gens/evaluation/v_1/metadata.json": {"stage": "evaluation", "gen_id": "v_1", "parent_gen_id": "e_d"}})
    g = NetworkxBackend.from_store(scan(str(root))).graph
    counts = g.descendant_totals()
    for key in g.nodes:
        assert counts.get(key, 0) == len(g.descendants(key)), key
    # From chosen roots only (what the audit asks): the same numbers, loops or not.
    tree = [k for k in g.nodes if k not in g.loops and not any(a in g.loops for a in g.ancestors(k))]
    from_roots = g.descendant_totals(roots=tree)
    assert {k: from_roots.get(k, 0) for k in tree} == {k: counts.get(k, 0) for k in tree}
    assert g.descendant_totals(roots=list(g.nodes)) == counts  # a loop among them: the whole-graph pass


def test_ids_and_impact_walk_the_chain_once(chain, counting):
    store = scan(str(chain))
    g = LineageGraph(store)
    g._children = counting(g.children_index)
    rows, totals = id_report(g)
    below = {r["stored_id"]: (r["descendants_regenerated"], r["llm_calls"]) for r in rows}
    assert below["d_root"] == (N, N + 1)
    assert below[chain_ids()[-1]] == (0, 1)
    assert counting.handed <= 10 * N

    counting.handed = 0
    # Every essay but the first has an essay for a parent (a wrong-stage link): the cascade
    # goes through them only when asked to.
    result = impact(g, gen_ids=[chain_ids()[0]], allow_broken=True)
    assert len(result.renames) == N  # the given one and its whole cascade
    assert counting.handed <= 10 * N


def test_show_draws_a_deep_chain_as_text_json_and_csv(chain):
    """show walks down from the top of the chain and up from its end; the tree indents at most
    MAX_NESTING levels, and JSON is flat (orjson refuses more than 255 levels of nesting)."""
    from lineage.render.tree import MAX_NESTING

    ids = chain_ids()
    table = runner.invoke(app, ["show", str(chain), "d_root", "--no-progress"])
    assert table.exit_code == 0, table.output[-2000:]
    assert f"(depth {N}) essay {ids[-1]}" in table.stdout
    indents = [len(line) - len(line.lstrip(" │├└─")) for line in table.stdout.splitlines()]
    assert max(indents) <= 4 * (MAX_NESTING + 1) + 2

    result = runner.invoke(app, ["show", str(chain), "d_root", "--no-progress", "-f", "json"])
    assert result.exit_code == 0, result.output[-2000:]
    [view] = json.loads(result.stdout)
    below = view["descendants"]
    assert [n["gen_id"] for n in below] == ids and [n["depth"] for n in below] == list(range(1, N + 1))
    assert [n["parent_gen_id"] for n in below] == ["d_root", *ids[:-1]]
    assert all("children" not in n for n in below)

    result = runner.invoke(app, ["show", str(chain), ids[-1], "--no-progress", "-f", "json"])
    assert result.exit_code == 0, result.output[-2000:]
    [view] = orjson.loads(result.stdout)
    assert [a["gen_id"] for a in view["ancestors"]] == [*reversed(ids[:-1]), "d_root"]

    result = runner.invoke(app, ["show", str(chain), ids[-1], "--no-progress", "-f", "csv"])
    assert result.exit_code == 0, result.output[-2000:]
    assert result.stdout.splitlines()[1].startswith(f"-{N},ancestor,draft,d_root,")


def test_browse_examples_walk_a_deep_chain(chain):
    ex = browser.examples_for(chain)
    assert (ex.found, ex.gen_id, ex.leaf_id) == (True, "d_root", chain_ids()[-1])


def test_impact_reads_json_nested_a_thousand_levels(make_store):
    """orjson reads JSON nested up to 1024 levels; impact's search for IDs in metadata values
    must not recurse through them."""
    deep = "[" * 1000 + '"wzgl1y0w15i2g77h"' + "]" * 1000  # written as text: json.dumps recurses too
    essay = '{"stage": "essay", "gen_id": "e_sq5klak2lljyyom", "parent_gen_id": "wzgl1y0w15i2g77h", "notes": %s}'
    root = make_store({"gens/draft/wzgl1y0w15i2g77h/metadata.json": {"stage": "draft", "gen_id": "wzgl1y0w15i2g77h"},
                       "gens/essay/e_sq5klak2lljyyom/metadata.json": essay % deep})
    mapping = root.parent / "mapping.csv"
    mapping.write_text("old_id,new_id\nwzgl1y0w15i2g77h,d_y5ka5xgtvp603c2\n")
    result = runner.invoke(app, ["impact", str(root), "--mapping", str(mapping), "-f", "json", "--no-progress"])
    assert result.exit_code in (0, 1), result.output[-2000:]
    places = json.loads(result.stdout)["places"]
    assert any(p["pointer"] == "/notes" + "/0" * 1000 for p in places)  # the ID deep inside was found
