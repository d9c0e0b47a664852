"""`lineage cohorts simulate`: one small store per rule of DOMAIN section 4, with exact counts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lineage.analyses import cohorts
from lineage.core import ids
from lineage.cli import app
from lineage.loaders.store import scan
from test_readonly import tree_digest

runner = CliRunner()

# The published golden vectors (DOMAIN 3.1).
COMBO, DT, GM = "combo_v1_85128e4e5ef3", "creative-synthesis-v10", "gemini_25_pro"
D0, E0 = "d_5ezrffv9uf3lr37d", "e_sq5klak2lljyyom"
V1, V2 = "v_4xdwfjt7penqwg2g", "v_1fo1pv48lzrkhwlh"  # novelty-v2 x sonnet-4, replicates 1 and 2
VT, VM = "novelty-v2", "sonnet-4"

# Legacy IDs: 16 bare base36 characters.
LD, LE = "43ftibqi56628az1", "659pyykizln161i6"


def det(stage: str, *parts) -> str:
    return ids.deterministic_id(stage, tuple(str(p).strip().lower() for p in parts))


def raw_inputs(replicates=(1, 1, 1), eval_templates=((VT, True), ("novelty-v0", False)),
               eval_models=((VM, True),)) -> dict:
    n_d, n_e, n_v = replicates
    models = {GM: (True, False)}
    for m, active in eval_models:
        models[m] = (models.get(m, (False, False))[0], active)
    return {
        "1_raw/replication_config.csv": f"stage,replicates\ndraft,{n_d}\nessay,{n_e}\nevaluation,{n_v}\n",
        "1_raw/evaluation_templates.csv": "template_id,template_name,active\n"
        + "".join(f"{t},{t},{a}\n" for t, a in eval_templates),
        "1_raw/llm_models.csv": "id,model,for_generation,for_evaluation\n"
        + "".join(f"{m},x/{m},{g},{e}\n" for m, (g, e) in models.items()),
        "1_raw/essay_templates.csv": "template_id,active,generator\n"
        f"{DT},True,llm\nparsed-from-links-v1,True,copy\n",
        "1_raw/draft_templates.csv": f"template_id,active\n{DT},True\n",
    }


def gen(stage: str, gen_id: str, meta: dict, *files: str) -> dict:
    folder = f"gens/{stage}/{gen_id}"
    spec = {f"{folder}/metadata.json": {"stage": stage, "gen_id": gen_id, **meta}}
    spec.update({f"{folder}/{name}": "text" for name in files})
    return spec


def draft(gen_id=D0, combo=COMBO, template=DT, model=GM, rep=1, *files, **extra):
    return gen("draft", gen_id, {"mode": "llm", "template_id": template, "combo_id": combo,
                                 "llm_model_id": model, "replicate": rep, **extra}, *files)


def essay(gen_id=E0, parent=D0, template=DT, rep=1, *files, mode="llm", **extra):
    return gen("essay", gen_id, {"mode": mode, "template_id": template, "parent_gen_id": parent,
                                 "replicate": rep, **extra}, *files)


def evaluation(gen_id, parent=E0, template=VT, model=VM, rep=1, *files, mode="llm", template_key="template_id",
               model_key="llm_model_id"):
    return gen("evaluation", gen_id, {"mode": mode, template_key: template, "parent_gen_id": parent,
                                      model_key: model, "replicate": rep}, *files)


def store_spec(*parts: dict, **raw) -> dict:
    spec = raw_inputs(**raw)
    for p in parts:
        spec.update(p)
    return spec


def sim(root, essays=(E0,), **kw) -> cohorts.Simulation:
    selection = cohorts.SelectionInput(source="--essay", essays=list(essays)) if essays is not None else None
    return cohorts.simulate(scan(str(root)), selection=selection, **kw)


def stages(s: cohorts.Simulation, mode: str) -> dict:
    return next(m for m in s.document["modes"] if m["mode"] == mode)["stages"]


def counts(s, mode, stage, *keys):
    c = stages(s, mode)[stage]
    return tuple(c[k] for k in keys)


def items(s, mode, stage) -> list[dict]:
    return [i for e in s.document["detail"] if e["mode"] == mode for i in e["items"] if i["stage"] == stage]


def test_golden_lineage_ids_are_real():
    assert det("draft", COMBO, DT, GM, 1) == D0
    assert det("essay", D0, DT, 1) == E0
    assert det("evaluation", E0, VT, VM, 1) == V1
    assert det("evaluation", E0, VT, VM, 2) == V2


# --- the allocator -------------------------------------------------------------------------------

def test_allocator_starts_at_the_first_gap_then_counts_on_without_rechecking(make_store):
    # Replicates 1 and 3 exist: the probe stops at 2, then hands out 3 and 4 without looking.
    v3 = det("evaluation", E0, VT, VM, 3)
    root = make_store(store_spec(draft(), essay(), evaluation(V1), evaluation(v3, E0, VT, VM, 3, "raw.txt"),
                                 replicates=(1, 1, 3)))
    s = sim(root)
    got = items(s, "reuse-essays", "evaluation")
    assert [i["gen_id"] for i in got] == [V2, v3, det("evaluation", E0, VT, VM, 4)]
    assert [(i["new"], i["clash"]) for i in got] == [(True, False), (False, True), (True, False)]
    # 3 scheduled: replicate 3 is the existing folder (a clash), so 2 new and 2 LLM calls.
    assert counts(s, "reuse-essays", "evaluation", "scheduled", "reused", "new", "clashes", "llm_calls") == (3, 1, 2, 1, 2)
    # Fill-up: replicates 1 and 3 are reused; the shortfall of 1 gets replicate 2 (the first gap).
    assert counts(s, "reuse-essays+fill-up", "evaluation", "scheduled", "reused", "new", "clashes") == (3, 2, 1, 0)
    assert [i["gen_id"] for i in items(s, "reuse-essays+fill-up", "evaluation") if i["new"]] == [V2]


def test_unchecked_consecutive_numbers_can_land_on_a_reused_evaluation(make_store):
    # N_v = 4 with replicates 1 and 3 on disk: fill-up reuses both, the shortfall of 2 gets 2 and 3,
    # and 3 is already scheduled: the cohort ends with 3 evaluations, not 4.
    v3 = det("evaluation", E0, VT, VM, 3)
    root = make_store(store_spec(draft(), essay(), evaluation(V1), evaluation(v3, E0, VT, VM, 3),
                                 replicates=(1, 1, 4)))
    s = sim(root)
    assert counts(s, "reuse-essays+fill-up", "evaluation", "scheduled", "reused", "new", "clashes") == (3, 2, 1, 1)


def test_a_folder_without_metadata_counts_as_taken(make_store):
    root = make_store(store_spec(draft(), essay(), {f"gens/evaluation/{V1}/": None}))
    s = sim(root)
    for mode in ("reuse-essays", "reuse-essays+fill-up", "current"):
        got = items(s, mode, "evaluation")
        assert [(i["gen_id"], i["new"]) for i in got] == [(V2, True)], mode  # replicate 2, not 1
        assert counts(s, mode, "evaluation", "reused", "new", "llm_calls") == (0, 1, 1)


def test_new_drafts_and_essays_go_through_the_allocator(make_store):
    root = make_store(store_spec(draft(), essay(), replicates=(2, 2, 1)))
    s = sim(root)
    # regenerate: D0 is replicate 1, so the new drafts are replicates 2 and 3; each gets 2 essays.
    new_drafts = [i["gen_id"] for i in items(s, "regenerate", "draft")]
    assert new_drafts == [det("draft", COMBO, DT, GM, 2), det("draft", COMBO, DT, GM, 3)]
    essays = [i["gen_id"] for i in items(s, "regenerate", "essay")]
    assert essays == [det("essay", d, DT, r) for d in new_drafts for r in (1, 2)]
    assert counts(s, "regenerate", "evaluation", "new") == (4,)
    # reuse-drafts: E0 is replicate 1 of D0, so the new essays are replicates 2 and 3.
    assert [i["gen_id"] for i in items(s, "reuse-drafts", "essay")] == [det("essay", D0, DT, 2), det("essay", D0, DT, 3)]


def test_regenerate_takes_the_model_from_the_essay_first(make_store):
    root = make_store(store_spec(draft(), essay(llm_model_id="deepseek_r1_p")))
    s = sim(root)
    assert [i["gen_id"] for i in items(s, "regenerate", "draft")] == [det("draft", COMBO, DT, "deepseek_r1_p", 1)]


# --- legacy generations ----------------------------------------------------------------------------

def legacy_store(make_store):
    lv = "0legacyevalnov01"
    spec = store_spec(
        draft(LD, COMBO, DT, GM, 1, "raw.txt"),
        essay(LE, LD, DT, 1, "raw.txt", mode="copy"),
        evaluation(lv, LE, VT, VM, 1, "raw.txt", "parsed.txt", mode="copy"),
        replicates=(1, 1, 2),
    )
    return make_store(spec), lv


def test_legacy_generations_are_invisible_so_replicate_1_is_minted_again(make_store):
    root, lv = legacy_store(make_store)
    s = sim(root, essays=[LE])
    # regenerate: the new draft is replicate 1 again and duplicates the legacy draft.
    [d] = items(s, "regenerate", "draft")
    assert (d["gen_id"], d["new"], d["duplicates"]) == (det("draft", COMBO, DT, GM, 1), True, [LD])
    # reuse-drafts: the legacy draft is kept, the new essay duplicates the legacy essay.
    [e] = [i for i in items(s, "reuse-drafts", "essay")]
    assert (e["gen_id"], e["duplicates"]) == (det("essay", LD, DT, 1), [LE])
    # reuse-essays: both new evaluations are new, replicate 1 duplicates the legacy evaluation.
    got = items(s, "reuse-essays", "evaluation")
    assert [(i["gen_id"], i["new"], i["duplicates"]) for i in got] == [
        (det("evaluation", LE, VT, VM, 1), True, [lv]), (det("evaluation", LE, VT, VM, 2), True, [])]
    # fill-up: the legacy evaluation is reused (strings match) and the shortfall of 1 is
    # replicate 1 again: a duplicate of the evaluation it just reused.
    got = items(s, "reuse-essays+fill-up", "evaluation")
    assert [(i["gen_id"], i["new"], i["legacy"], i["duplicates"]) for i in got] == [
        (lv, False, True, []), (det("evaluation", LE, VT, VM, 1), True, False, [lv])]
    for mode, expected in {
        "regenerate": ((0, 1, 1), (0, 1, 1), (0, 2, 2)),
        "reuse-drafts": ((1, 0, 0), (0, 1, 1), (0, 2, 2)),
        "reuse-essays": ((1, 0, 0), (1, 0, 0), (0, 2, 2)),
        "reuse-essays+fill-up": ((1, 0, 0), (1, 0, 0), (1, 1, 1)),
        "current": ((1, 0, 0), (1, 0, 0), (1, 1, 1)),
    }.items():
        assert tuple(counts(s, mode, st, "reused", "new", "llm_calls") for st in ids.STAGES) == expected, mode


def test_legacy_reuse_table_is_derived_from_the_numbers(make_store):
    root, _ = legacy_store(make_store)
    s = sim(root, essays=[LE])
    table = {r["mode"]: r for r in s.legacy_rows}
    assert table["regenerate"]["draft"] == "legacy 0/1 reused; 1 new (1 duplicate legacy)"
    assert table["regenerate"]["essay"] == "legacy 0/1 reused; 1 new"
    assert table["reuse-drafts"]["draft"] == "legacy 1/1 reused"
    assert table["reuse-drafts"]["essay"] == "legacy 0/1 reused; 1 new (1 duplicate legacy)"
    assert table["reuse-essays"]["evaluation"] == "legacy 0/1 reused; 2 new (1 duplicate legacy)"
    assert table["reuse-essays+fill-up"]["evaluation"] == "legacy 1/1 reused; 1 new (1 duplicate legacy)"
    assert s.answer == [
        "legacy drafts: reused by reuse-drafts, reuse-essays, reuse-essays+fill-up, current; "
        "regenerated (never reused) by regenerate",
        "legacy essays: reused by reuse-essays, reuse-essays+fill-up, current; "
        "regenerated (never reused) by regenerate, reuse-drafts",
        "legacy evaluations: reused by reuse-essays+fill-up, current; "
        "regenerated (never reused) by regenerate, reuse-drafts, reuse-essays",
    ]


# --- fill-up ---------------------------------------------------------------------------------------

def test_fill_up_caps_at_n_v_in_gen_id_order_and_current_sorts_by_replicate(make_store):
    a3, b1, c2 = "aaaaaaaaaaaaaaa3", "bbbbbbbbbbbbbbb1", "ccccccccccccccc2"
    root = make_store(store_spec(
        draft(D0, COMBO, DT, GM, 1, "raw.txt"), essay(E0, D0, DT, 1, "raw.txt"),
        evaluation(a3, E0, VT, VM, 3, "raw.txt"),
        evaluation(b1, E0, VT, VM, 1, "raw.txt"),
        evaluation(c2, E0, VT, VM, 2),  # no raw.txt, no parsed.txt: reusing it costs a call
        replicates=(1, 1, 2)))
    s = sim(root)
    fill = [i["gen_id"] for i in items(s, "reuse-essays+fill-up", "evaluation")]
    current = [i["gen_id"] for i in items(s, "current", "evaluation")]
    assert fill == [a3, b1]  # gen_id order, capped at N_v = 2: nothing new
    assert current == [b1, c2]  # replicate order
    assert counts(s, "reuse-essays+fill-up", "evaluation", "reused", "new", "llm_calls") == (2, 0, 0)
    assert counts(s, "current", "evaluation", "reused", "new", "llm_calls") == (2, 0, 1)
    # Without fill-up all three are ignored: 2 new (first gap: replicate 1 is legacy, so free).
    assert counts(s, "reuse-essays", "evaluation", "reused", "new") == (0, 2)


def test_fill_up_matches_exact_strings(make_store):
    by_old_name = "0evaltemplate001"  # evaluation_template instead of template_id: matches
    upper_t = det("evaluation", E0, VT, VM, 1)  # template "Novelty-V2": no match, but its ID is replicate 1
    upper_m = "0evalmodelupper1"  # llm_model_id "Sonnet-4": no match
    old_model = "0evalmodelold001"  # model_id instead of llm_model_id: no match (no fallback)
    other_essay = "0evalotheressay"  # parent_gen_id with a trailing space: no match
    root = make_store(store_spec(
        draft(), essay(),
        evaluation(by_old_name, E0, VT, VM, 5, template_key="evaluation_template"),
        evaluation(upper_t, E0, "Novelty-V2", VM, 1),
        evaluation(upper_m, E0, VT, "Sonnet-4", 2),
        evaluation(old_model, E0, VT, VM, 3, model_key="model_id"),
        evaluation(other_essay + "1", E0 + " ", VT, VM, 4),
        replicates=(1, 1, 2)))
    s = sim(root)
    got = items(s, "reuse-essays+fill-up", "evaluation")
    # One match; the shortfall probes replicate 1, finds the "Novelty-V2" folder, starts at 2.
    assert [(i["gen_id"], i["new"]) for i in got] == [(by_old_name, False), (V2, True)]
    assert counts(s, "reuse-essays+fill-up", "evaluation", "reused", "new") == (1, 1)


# --- Cartesian ------------------------------------------------------------------------------------

MANIFEST = {"combos": [COMBO], "templates": {"draft": [DT], "essay": [DT], "evaluation": [VT]},
            "llms": {"generation": [GM], "evaluation": [VM]},
            "replication": {"draft": 1, "essay": 1, "evaluation": 2}}


def test_cartesian_build_and_rebuild_and_the_allocator_growth(make_store):
    root = make_store(store_spec(
        draft(D0, COMBO, DT, GM, 1, "raw.txt"), essay(E0, D0, DT, 1, "raw.txt"),
        evaluation(V1, E0, VT, VM, 1, "raw.txt"),
        {"cohorts/c1/manifest.json": MANIFEST, "cohorts/c1/membership.csv": "stage,gen_id\n"}))
    s = sim(root, essays=None, cartesian="c1")
    table = {m: tuple(counts(s, m, st, "reused", "new", "llm_calls") for st in ids.STAGES)
             for m, _ in cohorts.CARTESIAN_MODES}
    assert table == {
        # fixed replicates: D0, E0, V1 reused; V2 new.
        "cartesian": ((1, 0, 0), (1, 0, 0), (1, 1, 1)),
        "cartesian-rebuild": ((1, 0, 0), (1, 0, 0), (2, 0, 0)),
        # 2025-09-30..10-04: the essay goes through the allocator, so every build adds N_e essays.
        "cartesian-allocator": ((1, 0, 0), (0, 1, 1), (0, 2, 2)),
        "cartesian-allocator-rebuild": ((1, 0, 0), (0, 1, 1), (0, 2, 2)),
    }
    assert [i.gen_id for i in _build_items(s, "cartesian-allocator", "essay")] == [det("essay", D0, DT, 2)]
    assert [i.gen_id for i in _build_items(s, "cartesian-allocator-rebuild", "essay")] == [det("essay", D0, DT, 3)]


def _build_items(s, mode, stage):
    return [i for i in s.builds[mode].items.values() if i.stage == stage]


def test_cartesian_does_not_see_legacy_drafts(make_store):
    root = make_store(store_spec(draft(LD, COMBO, DT, GM, 1, "raw.txt"),
                                 {"cohorts/c1/manifest.json": {**MANIFEST, "templates": {**MANIFEST["templates"], "essay": ["parsed-from-links-v1"]}}}))
    s = sim(root, essays=None, cartesian="c1")
    assert counts(s, "cartesian", "draft", "reused", "new", "duplicates", "llm_calls") == (0, 1, 1, 1)
    # The copy-mode essay template: new essay, no LLM call; its 2 evaluations call the LLM.
    assert counts(s, "cartesian", "essay", "new", "llm_calls") == (1, 0)
    assert counts(s, "cartesian", "evaluation", "new", "llm_calls") == (2, 2)
    row = next(r for r in s.legacy_rows if r["mode"] == "cartesian")
    assert row["draft"] == "legacy 0/1 reused; 1 new (1 duplicate legacy)"
    assert s.answer[0] == "legacy drafts: regenerated (never reused) by cartesian, cartesian-allocator"


# --- LLM calls --------------------------------------------------------------------------------------

def test_copy_mode_never_calls_an_llm(make_store):
    root = make_store(store_spec(draft(D0, COMBO, DT, GM, 1, "raw.txt"),
                                 essay(E0, D0, "parsed-from-links-v1", 1, mode="copy")))  # no raw.txt
    e_copy = det("essay", D0, "parsed-from-links-v1", 1)
    root2 = make_store(store_spec(draft(D0, COMBO, DT, GM, 1, "raw.txt"),
                                  essay(e_copy, D0, "parsed-from-links-v1", 1, mode="copy")))
    for r, e in ((root, E0), (root2, e_copy)):
        s = sim(r, essays=[e])
        assert counts(s, "regenerate", "essay", "new", "llm_calls") == (1, 0)  # template generator: copy
        assert counts(s, "reuse-drafts", "essay", "new", "llm_calls") == (1, 0)
        assert counts(s, "reuse-essays", "essay", "reused", "llm_calls") == (1, 0)  # metadata mode: copy
        assert counts(s, "current", "draft", "reused", "llm_calls") == (1, 0)  # raw.txt exists


@pytest.mark.parametrize("files,force,calls", [
    ((), False, 1), (("raw.txt",), False, 0), (("parsed.txt",), False, 1), (("raw.txt",), True, 1)])
def test_raw_txt_decides_whether_a_reused_generation_calls_the_llm(make_store, files, force, calls):
    root = make_store(store_spec(draft(D0, COMBO, DT, GM, 1, *files), essay(E0, D0, DT, 1, "raw.txt")))
    s = sim(root, force=force)
    assert counts(s, "reuse-drafts", "draft", "reused", "llm_calls") == (1, calls)


@pytest.mark.parametrize("files,calls", [((), 1), (("parsed.txt",), 0), (("raw.txt",), 0),
                                         (("raw.txt", "parsed.txt"), 0)])
def test_parsed_txt_spares_a_reused_evaluation(make_store, files, calls):
    root = make_store(store_spec(draft(D0, COMBO, DT, GM, 1, "raw.txt"), essay(E0, D0, DT, 1, "raw.txt"),
                                 evaluation(V1, E0, VT, VM, 1, *files)))
    s = sim(root)
    assert counts(s, "reuse-essays+fill-up", "evaluation", "reused", "new", "llm_calls") == (1, 0, calls)


@pytest.mark.parametrize("files,calls", [((), 2), (("raw.txt",), 1)])
def test_an_allocated_folder_without_metadata_gets_the_builds_mode(make_store, files, calls):
    # Replicate 1 exists, 2 is free, 3 is a folder without metadata.json: the allocator starts at 2
    # and hands out 3 unchecked. Metadata is written when missing (mode llm), so replicate 3 calls
    # the LLM unless its raw.txt exists.
    v3 = det("evaluation", E0, VT, VM, 3)
    spec = store_spec(draft(), essay(), evaluation(V1), {f"gens/evaluation/{v3}/": None}, replicates=(1, 1, 2))
    spec.update({f"gens/evaluation/{v3}/{f}": "x" for f in files})
    s = sim(make_store(spec))
    got = items(s, "reuse-essays", "evaluation")
    assert [(i["gen_id"], i["new"], i["clash"]) for i in got] == [(V2, True, False), (v3, False, True)]
    assert counts(s, "reuse-essays", "evaluation", "reused", "new", "clashes", "llm_calls") == (1, 1, 1, calls)


# --- inputs and configuration ----------------------------------------------------------------------

def test_selection_file_rules_and_directives():
    sel = cohorts.parse_selection("# top essays\n\n  e_a  \n# mode: evaluation-only\n# fill-up\ne_b # note\n", "f")
    assert sel.essays == ["e_a", "e_b # note"]  # no inline comments
    assert (sel.directive_mode, sel.directive_flags) == ("reuse-essays", ["fill-up"])
    assert cohorts.directive_choice(sel) == "reuse-essays+fill-up"
    assert cohorts.directive_choice(cohorts.parse_selection("e_a\n", "f")) == "regenerate"
    assert cohorts.directive_choice(cohorts.parse_selection("# mode: reuse_drafts\ne_a\n", "f")) == "reuse-drafts"


def test_flags_override_the_csvs(make_store):
    spec = store_spec(draft(), essay())
    del spec["1_raw/evaluation_templates.csv"], spec["1_raw/llm_models.csv"]  # not needed with flags
    root = make_store(spec)
    s = sim(root, evaluation_templates=["a", "b"], evaluation_models=["m1", "m2", "m3"],
            replicates={"evaluation": 2, "essay": 3})
    assert counts(s, "reuse-drafts", "essay", "new") == (3,)
    assert counts(s, "reuse-drafts", "evaluation", "new") == (3 * 2 * 3 * 2,)
    assert counts(s, "reuse-essays", "evaluation", "new") == (2 * 3 * 2,)


def test_sample_is_deterministic_and_takes_legacy_essays(make_store):
    spec = store_spec(draft(), essay())
    for k in range(5):
        lid = f"{k}legacyessay0000"[:16]
        spec.update(essay(lid, D0, DT, k + 2, "raw.txt"))
    root = make_store(spec)
    store = scan(str(root))
    a = cohorts.simulate(store, sample=(3, 7)).document["input"]["essays"]
    b = cohorts.simulate(store, sample=(3, 7)).document["input"]["essays"]
    assert a == b and len(a) == 3 and all(ids.classify(e).kind == ids.LEGACY for e in a)
    assert cohorts.simulate(store, sample=(9, 7)).warnings[0].startswith("--sample 9: only 5 legacy essays")


def test_duplicates_within_one_build_are_counted_once(make_store):
    # Two selected essays under the same draft: regenerate mints the same new draft for both.
    e2 = det("essay", D0, DT, 2)
    root = make_store(store_spec(draft(), essay(), essay(e2, D0, DT, 2)))
    s = sim(root, essays=[E0, e2])
    assert counts(s, "regenerate", "draft", "new") == (1,)
    assert counts(s, "regenerate", "essay", "new") == (1,)
    assert counts(s, "reuse-essays", "essay", "reused") == (2,)


# --- the command --------------------------------------------------------------------------------------

def invoke(*args):
    result = runner.invoke(app, ["cohorts", "simulate", *map(str, args), "--no-progress"])
    assert "Traceback" not in result.output, result.output
    return result


def test_cli_json_csv_md_table(make_store, tmp_path):
    root = make_store(store_spec(draft(), essay(), {"2_tasks/selected_essays.txt": f"# mode: reuse-essays\n{E0}\n"}))
    result = invoke(root, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["input"]["source"] == "2_tasks/selected_essays.txt"
    assert [m["mode"] for m in doc["modes"]] == [m for m, _ in cohorts.ESSAY_MODES]
    assert [m["selected_by_directive"] for m in doc["modes"]] == [False, False, True, False, False]
    assert "detail" not in doc
    assert {m["mode"]: m["llm_calls"] for m in doc["modes"]} == {
        "regenerate": 3, "reuse-drafts": 3, "reuse-essays": 3, "reuse-essays+fill-up": 3, "current": 3}
    out = tmp_path / "rows.csv"
    assert invoke(root, "--format", "csv", "--output", out).exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(cohorts.SUMMARY_COLUMNS) and len(lines) == 1 + 5 * 4
    detail = invoke(root, "--format", "csv", "--detail", "--essay", E0)
    assert detail.stdout.splitlines()[0] == ",".join(cohorts.DETAIL_COLUMNS)
    md = invoke(root, "--format", "md", "--detail")
    assert "## Legacy generations: reused or regenerated" in md.stdout and "## Per selected essay" in md.stdout
    table = invoke(root)
    assert table.exit_code == 0 and "Rebuild simulation" in table.stdout
    assert "LLM calls: regenerate 3, reuse-drafts 3" in table.stderr


@pytest.mark.parametrize("drop,edit,message", [
    ("1_raw/evaluation_templates.csv", None, "1_raw/evaluation_templates.csv is missing"),
    ("1_raw/llm_models.csv", None, "1_raw/llm_models.csv is missing"),
    ("1_raw/essay_templates.csv", None, "1_raw/essay_templates.csv is missing"),
    (None, ("1_raw/evaluation_templates.csv", "template_id,enabled\nnovelty-v2,True\n"),
     "1_raw/evaluation_templates.csv lacks column 'active'"),
    (None, ("1_raw/llm_models.csv", "model,for_evaluation\nx,True\n"), "1_raw/llm_models.csv lacks column 'id'"),
    (None, ("1_raw/replication_config.csv", "stage,count\nessay,1\n"),
     "1_raw/replication_config.csv lacks column 'replicates'"),
    (None, ("1_raw/replication_config.csv", "stage,replicates\nessay,two\n"),
     "1_raw/replication_config.csv line 2: replicates 'two' is not a positive integer"),
    (None, ("1_raw/replication_config.csv", "stage,replicates\nevaluation,1000000000\n"),
     "1_raw/replication_config.csv line 2: replicates 1,000,000,000 is more than 1,000 per stage"),
    (None, ("1_raw/evaluation_templates.csv", b"template_id,active\n\xff,True\n"),
     "1_raw/evaluation_templates.csv: not UTF-8 (byte 19)"),
])
def test_missing_or_broken_csvs_exit_2_with_one_line(make_store, drop, edit, message):
    spec = store_spec(draft(), essay())
    if drop:
        del spec[drop]
    if edit:
        spec[edit[0]] = edit[1]
    result = invoke(make_store(spec), "--essay", E0)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"lineage: error: {message}"


@pytest.mark.parametrize("flag", ["--evaluation-model", "--evaluation-template"])
def test_an_empty_template_or_model_flag_is_a_usage_error(make_store, flag):
    result = invoke(make_store(store_spec(draft(), essay())), "--essay", E0, flag, " ")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"lineage: error: {flag} needs a non-empty value"


def test_replication_config_is_optional(make_store):
    spec = store_spec(draft(), essay())
    del spec["1_raw/replication_config.csv"]
    s = sim(make_store(spec))
    assert s.document["parameters"]["selected"]["replicates"] == {"draft": 1, "essay": 1, "evaluation": 1}


@pytest.mark.parametrize("args,message", [
    (["--essay", E0, "--sample", "2"], "use one of --selection, --essay and --sample"),
    (["--essay", "e_nothere"], "no selected essay can be simulated"),
    (["--essay", D0], "no selected essay can be simulated"),
    (["--replicates", "essay=0", "--essay", E0], "--replicates 'essay=0'"),
    (["--replicates", "stage3", "--essay", E0], "expected STAGE=N"),
    (["--cartesian", "nope"], "no cohort 'nope' under cohorts/"),
    (["--cartesian", "bad"], "cohorts/bad/manifest.json is missing or unusable"),
    (["--cartesian", "nocombos"], "cohorts/nocombos/manifest.json lacks a combos list"),
    ([], "no 2_tasks/selected_essays.txt"),
    (["--selection", "/nonexistent/sel.txt"], "cannot read /nonexistent/sel.txt"),
])
def test_usage_errors_exit_2(make_store, args, message):
    root = make_store(store_spec(draft(), essay(), {"cohorts/bad/manifest.json": "{not json",
                                                    "cohorts/nocombos/manifest.json": {"templates": {}}}))
    result = invoke(root, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_output_inside_the_data_root_and_a_non_root_exit_2(make_store, tmp_path):
    root = make_store(store_spec(draft(), essay()))
    assert invoke(root, "--essay", E0, "--output", root / "x.json").exit_code == 2
    assert invoke(tmp_path / "nothing", "--essay", E0).exit_code == 2


def test_skipped_essays_are_warned_about(make_store, tmp_path):
    root = make_store(store_spec(draft(), essay()))
    sel = tmp_path / "sel.txt"
    sel.write_text(f"{E0}\n{E0} # keep\n")
    result = invoke(root, "--selection", sel, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["input"]["essays"] == [E0]
    assert doc["input"]["skipped"] == [{"essay": f"{E0} # keep", "reason": "no such essay under gens/essay/"}]
    assert f"lineage: warning: skipped {E0} # keep" in result.stderr


@pytest.mark.parametrize("args", [["--format", "json", "--detail"], ["--format", "md"], ["--format", "csv"],
                                  ["--cartesian", "c1"], ["--sample", "1", "--cartesian", "c1"]])
def test_simulate_is_read_only(make_store, args):
    root, _ = legacy_store(make_store)
    (root / "cohorts/c1").mkdir(parents=True)
    (root / "cohorts/c1/manifest.json").write_text(json.dumps(MANIFEST))
    (root / "2_tasks").mkdir()
    (root / "2_tasks/selected_essays.txt").write_text(f"{LE}\n")
    before = tree_digest(root)
    result = invoke(root, *args)
    assert result.exit_code == 0, result.output
    assert tree_digest(root) == before
