"""`lineage ids` and lineage.analyses.rename: stored vs recomputed vs cascaded IDs on tiny stores with exact rows."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from lineage.cli import app
from lineage.loaders.store import scan
from lineage.analyses.rename import id_report, id_rows, mapping, mapping_rows

runner = CliRunner()


def draft(gen_id, combo, template, model, replicate=1, mode="llm"):
    return {"stage": "draft", "gen_id": gen_id, "origin_cohort_id": "c1", "mode": mode, "template_id": template,
            "combo_id": combo, "llm_model_id": model, "replicate": replicate}


def essay(gen_id, parent, template, replicate=1, mode="llm"):
    meta = {"stage": "essay", "gen_id": gen_id, "origin_cohort_id": "c1", "mode": mode, "template_id": template,
            "parent_gen_id": parent, "replicate": replicate}
    return {k: v for k, v in meta.items() if v is not None}


def evaluation(gen_id, parent, template="novelty-v2", model="sonnet-4", replicate=1, mode="llm"):
    return {"stage": "evaluation", "gen_id": gen_id, "origin_cohort_id": "c1", "mode": mode,
            "template_id": template, "parent_gen_id": parent, "llm_model_id": model, "replicate": replicate}


def gens(*metas):
    return {f"gens/{m['stage']}/{m['gen_id']}/metadata.json": m for m in metas}


def row(stage, stored, id_class, recomputed, cascaded, action, reason, descendants, calls, problem="", conflict=""):
    return {"stage": stage, "stored_id": stored, "id_class": id_class, "recomputed_id": recomputed,
            "cascaded_id": cascaded, "signature_problem": problem, "action": action, "reason": reason,
            "descendants_regenerated": descendants, "llm_calls": calls, "conflict": conflict}


def ids_json(root, *args):
    result = runner.invoke(app, ["ids", str(root), "--format", "json", "--no-progress", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


# A legacy draft whose metadata implies the published d_5ezrffv9uf3lr37d. Its children were minted
# from the legacy ID, so each matches its own metadata but cascades to the published IDs.
GOLDEN_STORE = gens(
    draft("43ftibqi56628az1", "combo_v1_85128e4e5ef3", "creative-synthesis-v10", "gemini_25_pro"),
    essay("e_42r41mo8t4mdmatr", "43ftibqi56628az1", "creative-synthesis-v10"),
    # A collision-suffixed sibling that matches its metadata with k = 1: the suffix survives the cascade.
    essay("e_9xa7e6hapmcpfgk-1", "43ftibqi56628az1", "essay-theme-v6"),
    evaluation("v_21jxnrz383kjn7tf", "e_42r41mo8t4mdmatr", replicate=1),
    evaluation("v_35v5cdixaiy3mhqb", "e_42r41mo8t4mdmatr", replicate=2),
    # A draft minted with k = 2 that nothing renames: reused, suffix kept.
    draft("d_2t87ykz2y0zva9iy-2", "combo_v1_aaaa", "creative-synthesis-v7", "deepseek_r1_p"),
)

GOLDEN_ROWS = [
    row("draft", "43ftibqi56628az1", "legacy", "d_5ezrffv9uf3lr37d", "d_5ezrffv9uf3lr37d", "regenerate",
        "legacy ID", 4, 5),
    row("draft", "d_2t87ykz2y0zva9iy-2", "deterministic", "d_59u8leyxaex5lw68", "d_2t87ykz2y0zva9iy-2", "reuse",
        "stored ID matches its metadata (collision suffix -2 kept)", 0, 0),
    row("essay", "e_42r41mo8t4mdmatr", "deterministic", "e_42r41mo8t4mdmatr", "e_sq5klak2lljyyom", "regenerate",
        "parent 43ftibqi56628az1 becomes d_5ezrffv9uf3lr37d", 2, 3),
    row("essay", "e_9xa7e6hapmcpfgk-1", "deterministic", "e_1craw706emx9jksd", "e_237udnoe5156rkcu-1", "regenerate",
        "parent 43ftibqi56628az1 becomes d_5ezrffv9uf3lr37d; collision suffix -1 kept", 0, 1),
    row("evaluation", "v_21jxnrz383kjn7tf", "deterministic", "v_21jxnrz383kjn7tf", "v_4xdwfjt7penqwg2g",
        "regenerate", "parent e_42r41mo8t4mdmatr becomes e_sq5klak2lljyyom", 0, 1),
    row("evaluation", "v_35v5cdixaiy3mhqb", "deterministic", "v_35v5cdixaiy3mhqb", "v_1fo1pv48lzrkhwlh",
        "regenerate", "parent e_42r41mo8t4mdmatr becomes e_sq5klak2lljyyom", 0, 1),
]


def test_golden_chain_cascades_to_the_published_ids(make_store):
    root = make_store(GOLDEN_STORE)
    rows, stderr = ids_json(root)
    assert rows == GOLDEN_ROWS
    assert "6 generations: 1 reuse, 5 regenerate (5 new IDs, 0 without an ID), 5 LLM calls" in stderr
    assert "0 conflicts" in stderr


def test_library_and_cli_agree_and_filters_apply(make_store):
    root = make_store(GOLDEN_STORE)
    assert id_rows(scan(str(root))) == GOLDEN_ROWS
    rows, _ = ids_json(root, "--stage", "evaluation")
    assert rows == GOLDEN_ROWS[4:]
    rows, stderr = ids_json(root, "--only", "changed")
    assert rows == [r for r in GOLDEN_ROWS if r["action"] == "regenerate"]
    assert "1 reuse" in stderr  # the summary still counts every generation of the selected stages


def test_mapping_csv_lists_every_changed_id(make_store, tmp_path):
    root = make_store(GOLDEN_STORE)
    out = tmp_path / "renames.csv"
    result = runner.invoke(app, ["ids", str(root), "--no-progress", "--format", "csv", "--mapping-csv", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (
        "stage,old_id,new_id\n"
        "draft,43ftibqi56628az1,d_5ezrffv9uf3lr37d\n"
        "essay,e_42r41mo8t4mdmatr,e_sq5klak2lljyyom\n"
        "essay,e_9xa7e6hapmcpfgk-1,e_237udnoe5156rkcu-1\n"
        "evaluation,v_21jxnrz383kjn7tf,v_4xdwfjt7penqwg2g\n"
        "evaluation,v_35v5cdixaiy3mhqb,v_1fo1pv48lzrkhwlh\n")
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["cascaded_id"] for r in table] == [r["cascaded_id"] for r in GOLDEN_ROWS]


def test_mapping_csv_inside_the_data_root_is_refused(make_store):
    root = make_store(GOLDEN_STORE)
    result = runner.invoke(app, ["ids", str(root), "--no-progress", "--mapping-csv", str(root / "renames.csv")])
    assert result.exit_code == 2
    assert not (root / "renames.csv").exists()


def test_copy_mode_missing_inputs_and_missing_parent(make_store):
    root = make_store(gens(
        draft("659pyykizln161i6", "combo_v1_f74195c24ea7", "creative-synthesis-v10", "gemini_25_pro"),
        essay("e_3muh5p0za896ywgi", "659pyykizln161i6", "parsed-from-links-v1", mode="copy"),
        evaluation("v_2omr8t1jbtzkwc6n", "e_3muh5p0za896ywgi"),
        essay("e_notemplate", "659pyykizln161i6", None),
        evaluation("v_1bn9pj1wcccvrd6k", "e_gone"),
    ))
    rows, stderr = ids_json(root)
    assert rows == [
        # 1 (draft) + 0 (copy essay) + 1 (its evaluation) + 1 (the llm essay without a template)
        row("draft", "659pyykizln161i6", "legacy", "d_3cxfemmhegfzaguo", "d_3cxfemmhegfzaguo", "regenerate",
            "legacy ID", 3, 3),
        row("essay", "e_3muh5p0za896ywgi", "deterministic", "e_3muh5p0za896ywgi", "e_ihamrly62zz70jw",
            "regenerate", "parent 659pyykizln161i6 becomes d_3cxfemmhegfzaguo", 1, 1),
        row("essay", "e_notemplate", "deterministic", "", "", "regenerate",
            "no ID can be computed: template_id is missing; parent 659pyykizln161i6 becomes d_3cxfemmhegfzaguo",
            0, 1,
            problem="template_id is missing"),
        row("evaluation", "v_1bn9pj1wcccvrd6k", "deterministic", "v_1bn9pj1wcccvrd6k", "v_1bn9pj1wcccvrd6k",
            "reuse", "stored ID matches its metadata; parent e_gone not found; cascaded from the stored "
            "parent_gen_id", 0, 0),
        row("evaluation", "v_2omr8t1jbtzkwc6n", "deterministic", "v_2omr8t1jbtzkwc6n", "v_35e70p4p3lqon7o6",
            "regenerate", "parent e_3muh5p0za896ywgi becomes e_ihamrly62zz70jw", 0, 1),
    ]
    assert "5 generations: 1 reuse, 4 regenerate (3 new IDs, 1 without an ID), 3 LLM calls" in stderr
    # The essay without a template is a descendant that a migration cannot rename.
    result = mapping(scan(str(root)))
    assert result.blocked == [{"stage": "essay", "gen_id": "e_notemplate", "check": "id.signature_incomplete",
                               "via": "659pyykizln161i6", "problem": "template_id is missing"}]


def test_unreadable_metadata_has_no_new_id(make_store):
    root = make_store({"gens/draft/d_2t87ykz2y0zva9iy/": None,
                       "gens/draft/d_59u8leyxaex5lw68/metadata.json": b"{not json"})
    rows, _ = ids_json(root)
    assert [(r["stored_id"], r["cascaded_id"], r["action"], r["signature_problem"][:21]) for r in rows] == [
        ("d_2t87ykz2y0zva9iy", "", "regenerate", "metadata.json missing"),
        ("d_59u8leyxaex5lw68", "", "regenerate", "metadata.json invalid"),
    ]
    assert all(r["llm_calls"] == 1 for r in rows)  # an unknown mode counts as an LLM call


def test_a_parent_loop_terminates_and_is_reported(make_store):
    root = make_store(gens(essay("e_cyclea", "e_cycleb", "creative-synthesis-v10"),
                           essay("e_cycleb", "e_cyclea", "creative-synthesis-v10")))
    rows, _ = ids_json(root)
    loop = "parent chain loops (essay/e_cyclea -> essay/e_cycleb)"
    # A loop needs a parent in the wrong stage: the rename is blocked, and the ID is kept.
    blocked = "blocked by chain.parent_wrong_stage: parent {} is filed under gens/essay/, not gens/draft/"
    assert rows == [
        row("essay", "e_cyclea", "deterministic", "e_3o29ey0cv72lzu3c", "e_cyclea", "regenerate",
            f"stored ID does not match its metadata (recomputes to e_3o29ey0cv72lzu3c); {loop}; "
            f"rename to e_3o29ey0cv72lzu3c {blocked.format('e_cycleb')}", 0, 1),
        row("essay", "e_cycleb", "deterministic", "e_8pn4ik3rf0wj4ep", "e_cycleb", "regenerate",
            f"stored ID does not match its metadata (recomputes to e_8pn4ik3rf0wj4ep); {loop}; "
            f"rename to e_8pn4ik3rf0wj4ep {blocked.format('e_cyclea')}", 0, 1),
    ]


CONFLICT_STORE = gens(
    # Two legacy drafts with one signature: both would become d_1z2eobtuv71xs5az.
    draft("aaaaaaaaaaaaaaa1", "combo_v1_13c725cf02fa", "creative-synthesis-v7", "deepseek_r1_p"),
    draft("aaaaaaaaaaaaaaa2", "combo_v1_13c725cf02fa", "creative-synthesis-v7", "deepseek_r1_p"),
    # A legacy draft whose new ID is already a folder (the allocator minted a duplicate).
    draft("bbbbbbbbbbbbbbb1", "combo_v1_f74195c24ea7", "creative-synthesis-v10", "gemini_25_pro"),
    draft("d_3cxfemmhegfzaguo", "combo_v1_f74195c24ea7", "creative-synthesis-v10", "gemini_25_pro"),
)


def test_conflicts_are_detected(make_store):
    root = make_store(CONFLICT_STORE)
    rows, stderr = ids_json(root)
    by_id = {r["stored_id"]: r["conflict"] for r in rows}
    both = "aaaaaaaaaaaaaaa1 and aaaaaaaaaaaaaaa2 would both become d_1z2eobtuv71xs5az"
    assert by_id == {"aaaaaaaaaaaaaaa1": both, "aaaaaaaaaaaaaaa2": both,
                     "bbbbbbbbbbbbbbb1": "d_3cxfemmhegfzaguo already exists as gens/draft/d_3cxfemmhegfzaguo",
                     "d_3cxfemmhegfzaguo": ""}
    assert "3 conflicts" in stderr
    result = mapping(scan(str(root)), "legacy")
    assert result.conflicts == [
        {"kind": "same_new_id", "stage": "draft", "new_id": "d_1z2eobtuv71xs5az",
         "old_ids": ["aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa2"], "message": both},
        {"kind": "exists", "stage": "draft", "new_id": "d_3cxfemmhegfzaguo", "old_ids": ["bbbbbbbbbbbbbbb1"],
         "message": "d_3cxfemmhegfzaguo already exists as gens/draft/d_3cxfemmhegfzaguo"},
    ]


# A legacy chain beside a mismatched draft (metadata relinked after minting) with a legacy child.
SCOPE_STORE = gens(
    draft("43ftibqi56628az1", "combo_v1_85128e4e5ef3", "creative-synthesis-v10", "gemini_25_pro"),
    essay("e_42r41mo8t4mdmatr", "43ftibqi56628az1", "creative-synthesis-v10"),
    draft("d_3cxfemmhegfzaguo", "combo_v1_13c725cf02fa", "creative-synthesis-v7", "deepseek_r1_p"),
    essay("7bseupeh2u7h0gof", "d_3cxfemmhegfzaguo", "creative-synthesis-v10"),
)


@pytest.mark.parametrize("only,expected", [
    ("legacy", [("draft", "43ftibqi56628az1", "d_5ezrffv9uf3lr37d", "legacy", ""),
                ("essay", "7bseupeh2u7h0gof", "e_1cx6440bb5zj9466", "legacy", ""),  # parent kept: published ID
                ("essay", "e_42r41mo8t4mdmatr", "e_sq5klak2lljyyom", "cascade", "43ftibqi56628az1")]),
    ("mismatch", [("draft", "d_3cxfemmhegfzaguo", "d_1z2eobtuv71xs5az", "mismatch", ""),
                  ("essay", "7bseupeh2u7h0gof", "e_2bz9i8fijipccvit", "cascade", "d_3cxfemmhegfzaguo")]),
    ("all", [("draft", "43ftibqi56628az1", "d_5ezrffv9uf3lr37d", "legacy", ""),
             ("draft", "d_3cxfemmhegfzaguo", "d_1z2eobtuv71xs5az", "mismatch", ""),
             ("essay", "7bseupeh2u7h0gof", "e_2bz9i8fijipccvit", "legacy", "d_3cxfemmhegfzaguo"),
             ("essay", "e_42r41mo8t4mdmatr", "e_sq5klak2lljyyom", "cascade", "43ftibqi56628az1")]),
])
def test_mapping_scopes(make_store, only, expected):
    root = make_store(SCOPE_STORE)
    result = mapping(scan(str(root)), only)
    assert [(r.stage, r.old_id, r.new_id, r.cause, r.via) for r in result.renames] == expected
    assert result.conflicts == [] and result.blocked == []
    assert mapping_rows(mapping(scan(str(root)), only, stages=["essay"])) == [
        {"stage": s, "old_id": o, "new_id": n} for s, o, n, _, _ in expected if s == "essay"]


def test_mapping_only_option_of_the_cli(make_store, tmp_path):
    root = make_store(SCOPE_STORE)
    out = tmp_path / "legacy.csv"
    result = runner.invoke(app, ["ids", str(root), "--no-progress", "--mapping-csv", str(out),
                                 "--mapping-only", "legacy"])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[1:] == ["draft,43ftibqi56628az1,d_5ezrffv9uf3lr37d",
                                               "essay,7bseupeh2u7h0gof,e_1cx6440bb5zj9466",
                                               "essay,e_42r41mo8t4mdmatr,e_sq5klak2lljyyom"]


@pytest.mark.parametrize("fmt", ["table", "md", "csv"])
def test_other_formats(make_store, fmt):
    root = make_store(GOLDEN_STORE)
    result = runner.invoke(app, ["ids", str(root), "--no-progress", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert ("Generation IDs" if fmt == "table" else "e_sq5klak2lljyyom") in result.stdout


def test_bad_stage_is_a_usage_error(make_store):
    root = make_store(GOLDEN_STORE)
    result = runner.invoke(app, ["ids", str(root), "--no-progress", "--stage", "drafts"])
    assert result.exit_code == 2
    assert "unknown stage" in result.stderr


def test_totals_count_each_generation_once(make_store):
    _, totals = id_report(scan(str(make_store(GOLDEN_STORE))))
    assert totals == {"generations": 6, "reuse": 1, "regenerate": 5, "renamed": 5, "no_id": 0, "llm_calls": 5,
                      "conflicts": 0, "blocked": 0}
