"""The synthetic store generator: planted problems yield exactly their findings, healthy data none."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

import pytest

from conftest import run_audit
from lineage.core import ids
from lineage import synthetic
from lineage.queries.catalog import CHECKS

SMALL = 200
PLACE = ("check", "stage", "gen_id", "path", "line", "column", "cohort")


def place(f) -> tuple:
    """The fields a finding is matched on (an empty stage counts as none: that one has a test of
    its own, test_dangling_reference_of_unknown_stage_has_null_stage)."""
    d = f if isinstance(f, dict) else f.__dict__
    return tuple((d[k] or None) if k == "stage" else d[k] for k in PLACE)


def serious(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["severity"] in ("warn", "error")]


def check_against_plan(made: synthetic.SyntheticStore, report: dict) -> None:
    """Every expected finding is reported; every warn/error finding is expected or tainted."""
    got = Counter(place(f) for f in report["findings"])
    want = Counter(place(e) for e in made.expected)
    missing = [(k, n, got[k]) for k, n in want.items() if got[k] < n]
    assert not missing, f"planted findings not reported (finding, expected n, reported n): {missing}"
    tainted_ids = {gen_id for _, gen_id in made.tainted}
    stray = []
    for f in serious(report):
        if place(f) in want:
            continue
        if f["stage"] and (f["stage"], f["gen_id"]) in made.tainted:
            continue
        if not f["stage"] and f["gen_id"] in tainted_ids:  # e.g. a membership parent_gen_id cell
            continue
        stray.append((f["check"], f["stage"], f["gen_id"], f["path"], f["message"]))
    assert not stray, f"warn/error findings nobody planted: {stray}"
    assert report["statistics"]["generations"] == made.counts


def test_every_catalog_check_can_be_planted():
    assert set(synthetic.ALL_PROBLEMS) == {c.id for c in CHECKS}


@pytest.mark.parametrize("check", [c.id for c in CHECKS])
def test_one_planted_problem_gives_its_findings(tmp_path, check):
    made = synthetic.generate(tmp_path / "data", SMALL, seed=11, problems=[check])
    assert any(e.check == check for e in made.expected), f"{check} planted nothing"
    assert {e.check for e in made.expected} <= {check}
    check_against_plan(made, run_audit(made.root))


def test_all_problems_at_once(tmp_path):
    made = synthetic.generate(tmp_path / "data", SMALL, seed=5, problems="all")
    assert {e.check for e in made.expected} == set(synthetic.ALL_PROBLEMS)
    check_against_plan(made, run_audit(made.root))


def test_the_unusual_index_holds_every_generation_a_check_reports(tmp_path, monkeypatch):
    """Checks of one generation read only the unusual ones; indexing every generation
    instead must not find anything more."""
    from lineage.loaders import graph_model

    made = synthetic.generate(tmp_path / "data", SMALL, seed=5, problems="all", legacy_fraction=0.2)
    indexed = run_audit(made.root)
    monkeypatch.setattr(graph_model, "is_unusual", lambda props: True)
    assert run_audit(made.root) == indexed


def test_a_graph_model_in_another_node_order_gives_the_same_missing_and_problem_nodes(tmp_path):
    """LineageGraph reads the Missing and Problem nodes from the tail the graph model puts after
    the generations; a GraphData in any other order still gives them all."""
    from lineage.loaders.graph_model import build
    from lineage.loaders.lineage_graph import LineageGraph
    from lineage.loaders.store import scan

    made = synthetic.generate(tmp_path / "data", SMALL, seed=5, problems="all")
    store = scan(str(made.root))
    expected = LineageGraph(store)
    data = build(store)
    data.nodes.reverse()
    reordered = LineageGraph(store, data)
    assert expected.missing_keys and expected.problem_nodes
    assert reordered.missing_keys == expected.missing_keys
    assert sorted(n["key"] for n in reordered.problem_nodes) == sorted(n["key"] for n in expected.problem_nodes)


def test_every_query_returns_the_columns_its_cypher_names(tmp_path):
    """`lineage query` takes an empty result's header from the Cypher text, so the networkx
    rows must carry exactly those columns, in that order."""
    from lineage.loaders.networkx_graph import NetworkxBackend
    from lineage.loaders.store import scan
    from lineage.queries.catalog import QUERIES

    made = synthetic.generate(tmp_path / "data", SMALL, seed=5, problems="all", legacy_fraction=0.2)
    g = NetworkxBackend.from_store(scan(str(made.root))).graph
    children = g.children_index
    draft = max((k for k in children if k.startswith("gen:draft/")), key=lambda k: len(children[k]))
    leaf = g.children(g.children(draft)[0])[0]
    for q in QUERIES.values():
        rows = q.find(g, gen_id=g.nodes[leaf if q.name == "ancestry" else draft]["gen_id"]) if q.params else q.find(g)
        assert rows, f"{q.name} returned no rows: a vacuous comparison"
        assert {tuple(r) for r in rows} == {tuple(q.columns)}, q.name


def test_variants_are_planted(tmp_path):
    """The brief's variants: each metadata_invalid kind, both stage mismatches, every ref kind."""
    made = synthetic.generate(tmp_path / "data", SMALL, seed=2, problems="all")
    report = run_audit(made.root)
    errors = [f["details"]["error"] for f in report["findings"] if f["check"] == "store.metadata_invalid"]
    kinds = ("a JSON array", "not UTF-8", "empty file", "not JSON")
    assert sorted(next(k for k in kinds if e.startswith(k)) for e in errors) == sorted(kinds)
    sources = {f["details"]["source"] for f in report["findings"] if f["check"] == "id.stage_mismatch"}
    assert sources == {"metadata", "prefix"}
    kinds = {f["details"]["kind"] for f in report["findings"] if f["check"] == "ref.dangling"
             and place(f) in {place(e) for e in made.expected}}
    assert kinds == {"cell", "path", "selection", "file_name"}
    skipped = {f["message"] for f in report["findings"] if f["check"] == "store.path_skipped"}
    assert any("symlink" in m for m in skipped) and any("not UTF-8" in m for m in skipped)
    malformed = {f["details"]["problem"] for f in report["findings"] if f["check"] == "id.malformed"}
    assert malformed == {"upper-case characters", "leading zero in the hash"}


def test_healthy_store_has_no_warning_or_error(tmp_path):
    made = synthetic.generate(tmp_path / "data", 600, seed=3)
    report = run_audit(made.root)
    assert made.expected == [] and made.tainted == set()
    assert serious(report) == [], serious(report)[:5]
    assert report["findings"] == []  # not even info: every generation is in a cohort
    assert report["statistics"]["generations"] == made.counts
    assert sum(made.counts.values()) >= 600
    counts = made.counts
    assert counts["evaluation"] > 5 * counts["essay"]  # evaluations dominate, as in the real store


def test_healthy_store_looks_like_the_pipeline_wrote_it(tmp_path):
    made = synthetic.generate(tmp_path / "data", 300, seed=4)
    root = made.root
    draft_dir = os.path.join(root, "gens", "draft")
    gen_id = sorted(os.listdir(draft_dir))[0]
    with open(os.path.join(draft_dir, gen_id, "metadata.json"), "rb") as fh:
        raw = fh.read()
    assert raw.startswith(b'{\n  "stage": "draft",\n  "gen_id": ') and not raw.endswith(b"\n")
    meta = json.loads(raw)
    assert list(meta) == ["stage", "gen_id", "origin_cohort_id", "mode", "template_id", "combo_id",
                          "llm_model_id", "replicate"]
    assert ids.id_for("draft", meta) == gen_id
    assert set(os.listdir(os.path.join(draft_dir, gen_id))) == {
        "metadata.json", "prompt.txt", "raw.txt", "parsed.txt", "raw_metadata.json", "parsed_metadata.json"}
    shapes = set()
    for cohort in os.listdir(os.path.join(root, "cohorts")):
        with open(os.path.join(root, "cohorts", cohort, "membership.csv")) as fh:
            shapes.add(fh.readline().strip())
    assert {"stage,gen_id"} < shapes
    assert any(",cohort_id," in s for s in shapes) and any(s.endswith("origin_cohort_id,parent_gen_id,combo_id,"
                                                                     "template_id,llm_model_id,replicate")
                                                            for s in shapes)
    for rel in ("1_raw/llm_models.csv", "1_raw/replication_config.csv", "1_raw/essay_templates.csv",
                "2_tasks/selected_essays.txt", "7_cross_experiment/aggregated_scores.csv",
                "6_summary/generation_scores_pivot.csv", "results/README.md"):
        assert os.path.isfile(os.path.join(root, rel)), rel
    replicates = Counter()
    for v in sorted(os.listdir(os.path.join(root, "gens", "evaluation")))[:200]:
        with open(os.path.join(root, "gens", "evaluation", v, "metadata.json"), "rb") as fh:
            replicates[json.loads(fh.read())["replicate"]] += 1
    assert replicates[2] > 0


def test_small_text_files_off(tmp_path):
    made = synthetic.generate(tmp_path / "data", 100, seed=1, text_files=False)
    for stage in ids.STAGES:
        folder = os.path.join(made.root, "gens", stage)
        for name in os.listdir(folder)[:20]:
            if os.path.isdir(os.path.join(folder, name)):
                assert set(os.listdir(os.path.join(folder, name))) <= {"metadata.json", "raw.txt", "parsed.txt"}
    assert serious(run_audit(made.root)) == []


def test_legacy_and_mismatched_ids_are_the_only_findings(tmp_path):
    made = synthetic.generate(tmp_path / "data", 500, seed=9, legacy_fraction=0.3, mismatch_fraction=0.1)
    report = run_audit(made.root)
    by_check = Counter(f["check"] for f in report["findings"])
    assert set(by_check) == {"id.legacy", "id.signature_mismatch"}, by_check
    stats = report["statistics"]
    assert stats["generations"] == made.counts
    assert by_check["id.legacy"] == stats["id_classes"]["legacy"] > 0
    assert stats["id_classes"]["malformed"] == 0
    # Mismatches are exactly the planted ones (descendants of a mismatched parent still match).
    mismatches = sorted(place(f) for f in report["findings"] if f["check"] == "id.signature_mismatch")
    assert mismatches == sorted(place(e) for e in made.expected)
    assert len(mismatches) == round(0.1 * sum(made.counts.values()))
    assert {(e.stage, e.gen_id) for e in made.expected} == made.tainted
    assert all(f["severity"] in ("info", "warn") for f in report["findings"])


def test_legacy_findings_are_expected_only_when_asked_for(tmp_path):
    made = synthetic.generate(tmp_path / "data", 300, seed=9, legacy_fraction=0.3, problems=["id.legacy"])
    report = run_audit(made.root)
    legacy = sorted(place(f) for f in report["findings"] if f["check"] == "id.legacy")
    assert legacy == sorted(place(e) for e in made.expected)
    assert made.tainted == set()


def tree_hash(root: str) -> str:
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            h.update(os.path.relpath(path, root).encode() + b"\0")
            if os.path.islink(path):
                h.update(b"link:" + os.readlink(path).encode())
            elif os.path.isfile(path):
                with open(path, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def test_same_seed_same_tree(tmp_path):
    kw = dict(problems="all", legacy_fraction=0.2, mismatch_fraction=0.05)
    a = synthetic.generate(tmp_path / "a", 300, seed=21, **kw)
    b = synthetic.generate(tmp_path / "b", 300, seed=21, **kw)
    c = synthetic.generate(tmp_path / "c", 300, seed=22, **kw)
    assert tree_hash(a.root) == tree_hash(b.root)
    assert a.expected == b.expected and a.tainted == b.tainted and a.counts == b.counts
    assert tree_hash(a.root) != tree_hash(c.root)


def test_refuses_a_non_empty_root_and_unknown_problems(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x").write_text("")
    with pytest.raises(FileExistsError):
        synthetic.generate(tmp_path / "data", 10)
    with pytest.raises(ValueError, match="unknown problem"):
        synthetic.generate(tmp_path / "other", 10, problems=["no.such_check"])


def test_tiny_store_with_all_problems(tmp_path):
    made = synthetic.generate(tmp_path / "data", 5, seed=0, problems="all")
    check_against_plan(made, run_audit(made.root))


def test_dangling_reference_of_unknown_stage_has_null_stage(tmp_path):
    """A dangling ID in a CSV column that implies no stage (`gen_id` in aggregated_scores.csv,
    `parent_gen_id` in a wide membership.csv) has "stage": null, like column and cohort when they
    are unknown (DESIGN 3.1). The audit once reported "" here.
    """
    made = synthetic.generate(tmp_path / "data", SMALL, seed=11, problems=["ref.dangling"])
    report = run_audit(made.root)
    stages = [f["stage"] for f in report["findings"] if f["check"] == "ref.dangling"]
    assert None in [e.stage for e in made.expected]
    assert "" not in stages, (
        "AUDIT BUG: ref.dangling in a stage-less column (aggregated_scores.csv gen_id) reports "
        f"stage '' instead of null; stages reported: {stages}")
