"""`lineage cohorts simulate --cohort ID`: a cohort built from its spec, as the pipeline at
2849708 builds it, on copies of the store that pipeline wrote (tests/fixtures/upstream-2849708).

Expected numbers come from the fixture's own files (membership, metadata, folders) and from
counting what an edit of the spec adds, never from lineage's code.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.cli import app
from lineage.core import ids
from test_readonly import tree_digest
from test_upstream_fixtures import copy_fixture, metadata, write_metadata

runner = CliRunner()
COHORT = "spec-tie-pair-tuple"
STAGES = ("draft", "essay", "evaluation")


def invoke(*args):
    result = runner.invoke(app, ["cohorts", "simulate", *map(str, args), "--no-progress"])
    assert "Traceback" not in result.output, result.output
    return result


def spec_json(data: Path, *more) -> dict:
    result = invoke(data, "--cohort", COHORT, "--format", "json", *more)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def spec_mode(doc: dict) -> dict:
    [mode] = [m for m in doc["modes"] if m["mode"] == "spec"]
    return mode


def members(data: Path) -> dict[str, list[str]]:
    with (data / "cohorts" / COHORT / "membership.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {s: [r["gen_id"] for r in rows if r["stage"] == s] for s in STAGES}


def stage_counts(scheduled, reused, new, calls) -> dict:
    return {"scheduled": scheduled, "reused": reused, "new": new, "llm_calls": calls, "duplicates": 0,
            "clashes": 0, "legacy_reused": 0}


def spec_dir(data: Path) -> Path:
    return data / "cohorts" / COHORT / "spec"


def one_error_line(result, *fragments: str) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lineage: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- a fully built cohort --------------------------------------------------------------------

def test_a_fully_built_cohort_reuses_every_generation_and_calls_no_llm(tmp_path):
    data, fixture = copy_fixture(tmp_path, "2849708")
    doc = spec_json(data)
    built = fixture["counts"]["membership"][COHORT]
    mode = spec_mode(doc)
    assert [m["mode"] for m in doc["modes"]] == ["spec"]
    assert mode["stages"] == {s: stage_counts(built[s], built[s], 0, 0) for s in STAGES}
    assert mode["llm_calls"] == 0 and mode["duplicates"] == []
    assert doc["spec"]["cohort_id"] == COHORT
    assert doc["spec"]["spec"] == f"cohorts/{COHORT}/spec/config.yaml"
    assert doc["spec"]["planned"] == built
    assert doc["spec"]["membership"] == {"path": f"cohorts/{COHORT}/membership.csv", "read": True,
                                         "added": 0, "dropped": 0}
    assert doc["spec"]["new"] == {s: [] for s in STAGES} and doc["warnings"] == []
    # Replicates from the spec (the tuple binds draft replicates 1 and 2), not from
    # replication_config.csv (1 for every stage) or the manifest.
    assert doc["parameters"]["spec"]["replicates"] == {"draft": [1, 2], "essay": [1], "evaluation": [1]}


def test_the_spec_mode_has_the_json_shape_of_the_earlier_modes(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    spec = spec_mode(spec_json(data))
    old_root, fixture = copy_fixture(tmp_path / "old", "ef84f79")
    result = invoke(old_root, "--cartesian", fixture["cohorts"]["cartesian"], "--format", "json")
    assert result.exit_code == 0, result.output
    cartesian = json.loads(result.stdout)["modes"][0]
    assert set(spec) == set(cartesian)
    assert {s: set(c) for s, c in spec["stages"].items()} == {s: set(c) for s, c in cartesian["stages"].items()}


def test_deleted_evaluation_folders_are_new_and_each_costs_a_call(tmp_path):
    data, fixture = copy_fixture(tmp_path, "2849708")
    gone = members(data)["evaluation"][:4]
    for gen_id in gone:
        shutil.rmtree(data / "gens" / "evaluation" / gen_id)
    doc = spec_json(data)
    built = fixture["counts"]["membership"][COHORT]
    stages = spec_mode(doc)["stages"]
    assert stages["evaluation"] == stage_counts(built["evaluation"], built["evaluation"] - 4, 4, 4)
    assert stages["draft"] == stage_counts(built["draft"], built["draft"], 0, 0)
    assert stages["essay"] == stage_counts(built["essay"], built["essay"], 0, 0)
    assert sorted(doc["spec"]["new"]["evaluation"]) == sorted(gone)  # the very IDs, minted again
    assert spec_mode(doc)["llm_calls"] == 4


@pytest.mark.parametrize("stage,remove,calls", [
    ("evaluation", ("raw.txt",), 0),  # parsed.txt spares an evaluation
    ("evaluation", ("raw.txt", "parsed.txt"), 1),
    ("evaluation", ("metadata.json", "raw.txt", "parsed.txt"), 1),  # the folder is reused, metadata seeded
    ("essay", ("raw.txt",), 1),  # only evaluations are spared by parsed.txt
    ("draft", ("parsed.txt",), 0),
])
def test_the_llm_call_rule_for_an_existing_folder(tmp_path, stage, remove, calls):
    data, fixture = copy_fixture(tmp_path, "2849708")
    gen_id = members(data)[stage][0]
    for name in remove:
        (data / "gens" / stage / gen_id / name).unlink()
    stages = spec_mode(spec_json(data))["stages"]
    n = fixture["counts"]["membership"][COHORT][stage]
    assert stages[stage] == stage_counts(n, n, 0, calls)


def test_force_calls_for_every_llm_generation(tmp_path):
    data, fixture = copy_fixture(tmp_path, "2849708")
    built = fixture["counts"]["membership"][COHORT]
    stages = spec_mode(spec_json(data, "--force"))["stages"]
    assert stages == {s: stage_counts(built[s], built[s], 0, built[s]) for s in STAGES}


def test_a_copy_mode_essay_is_minted_without_a_call(tmp_path):
    data, fixture = copy_fixture(tmp_path, "2849708")
    essays = data / "1_raw" / "essay_templates.csv"
    essays.write_text(essays.read_text(encoding="utf-8").replace(",,llm\n", ",,copy\n", 1), encoding="utf-8")
    essay = members(data)["essay"][0]
    template = metadata(data, "essay")[essay]["template_id"]
    copies = [e for e, m in metadata(data, "essay").items() if m["template_id"] == template]
    shutil.rmtree(data / "gens" / "essay" / essay)
    stages = spec_mode(spec_json(data))["stages"]
    built = fixture["counts"]["membership"][COHORT]
    # The essay's evaluations keep their folders: their IDs hold the essay's ID, which is the same.
    assert stages["essay"] == stage_counts(built["essay"], built["essay"] - 1, 1, 0)
    assert stages["evaluation"] == stage_counts(built["evaluation"], built["evaluation"], 0, 0)
    assert len(copies) > 1  # the other essays of that template exist: mode copy changes nothing for them


# --- edits of the spec -----------------------------------------------------------------------

def test_a_new_tied_template_adds_its_drafts_essays_and_evaluations(tmp_path):
    data, fixture = copy_fixture(tmp_path, "2849708")
    (spec_dir(data) / "items" / "templates.csv").open("a", encoding="utf-8").write("sketch-metaphors\n")
    for stage in ("draft", "essay"):
        path = data / "1_raw" / f"{stage}_templates.csv"
        path.open("a", encoding="utf-8").write("sketch-metaphors,Sketch metaphors,Metaphors,,llm\n")
    doc = spec_json(data)
    combos = len(list(csv.DictReader((spec_dir(data) / "items" / "combos.csv").open(encoding="utf-8"))))
    runs = len(list(csv.DictReader((spec_dir(data) / "items" / "writer_runs.csv").open(encoding="utf-8"))))
    judges = len(list(csv.DictReader((spec_dir(data) / "items" / "judge_pairs.csv").open(encoding="utf-8"))))
    drafts = combos * runs  # one more draft template: every combo, every writer run
    built = fixture["counts"]["membership"][COHORT]
    assert spec_mode(doc)["stages"] == {
        "draft": stage_counts(built["draft"] + drafts, built["draft"], drafts, drafts),
        "essay": stage_counts(built["essay"] + drafts, built["essay"], drafts, drafts),  # tied: one essay each
        "evaluation": stage_counts(built["evaluation"] + drafts * judges, built["evaluation"], drafts * judges,
                                   drafts * judges),
    }
    assert (drafts, judges) == (4, 2)
    assert doc["spec"]["membership"]["added"] == drafts * 2 + drafts * judges


def test_a_new_judge_pair_adds_one_evaluation_per_essay(tmp_path):
    data, fixture = copy_fixture(tmp_path, "2849708")
    config = spec_dir(data) / "config.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("evaluation_template: [judge-clarity, judge-novelty]",
                        "evaluation_template: [judge-clarity, judge-novelty, judge-depth]")
    text = text.replace("evaluation_llm: [fixture-judge-a, fixture-judge-b]",
                        "evaluation_llm: [fixture-judge-a, fixture-judge-b, fixture-judge-c]")
    config.write_text(text, encoding="utf-8")
    (spec_dir(data) / "items" / "judge_pairs.csv").open("a", encoding="utf-8").write("judge-depth,fixture-judge-c\n")
    (data / "1_raw" / "evaluation_templates.csv").open("a", encoding="utf-8").write(
        "judge-depth,Judge Depth,Evaluation ending in a SCORE line,in_last_line,llm\n")
    (data / "1_raw" / "llm_models.csv").open("a", encoding="utf-8").write(
        "fixture-judge-c,fixture/judge-c,fixture,Fixture Judge C\n")
    built = fixture["counts"]["membership"][COHORT]
    stages = spec_mode(spec_json(data))["stages"]
    assert stages["evaluation"] == stage_counts(built["evaluation"] + built["essay"], built["evaluation"],
                                                built["essay"], built["essay"])
    assert stages["draft"]["new"] == stages["essay"]["new"] == 0


def test_a_folder_holding_another_signature_makes_the_build_take_a_suffix(tmp_path):
    """The pipeline reserves `<id>-1` when the k = 0 folder's metadata has another signature."""
    data, fixture = copy_fixture(tmp_path, "2849708")
    victim = members(data)["evaluation"][0]
    meta = metadata(data, "evaluation")[victim]
    edited = dict(meta, template_id="judge-edited-by-hand")
    write_metadata(data / "gens" / "evaluation" / victim / "metadata.json", edited)
    parts = (meta["parent_gen_id"], meta["template_id"], meta["llm_model_id"], str(meta["replicate"]))
    doc = spec_json(data)
    n = fixture["counts"]["membership"][COHORT]["evaluation"]
    assert spec_mode(doc)["stages"]["evaluation"] == stage_counts(n, n - 1, 1, 1)
    assert doc["spec"]["new"]["evaluation"] == [ids.deterministic_id("evaluation", parts, 1)]
    assert doc["spec"]["collisions"] == 1
    assert doc["spec"]["membership"] == {"path": f"cohorts/{COHORT}/membership.csv", "read": True,
                                         "added": 1, "dropped": 1}


# --- refusals: one line, exit 2, never a number ------------------------------------------------

RULE_OVER_TUPLE = "  subsets:\n    writer_runs: [fixture-writer-a]\n"
RULE_OVER_PAIR = "  subsets:\n    judge_assignment: [judge-clarity]\n"


@pytest.mark.parametrize("old,new,helper,fragments", [
    ("\noutput:", f"{RULE_OVER_TUPLE}\noutput:", None,
     ("rules.subsets.writer_runs", "subsets of tuples are not supported")),
    ("\noutput:", f"{RULE_OVER_PAIR}\noutput:", None,
     ("rules.subsets.judge_assignment", "is a pair; rules over pairs are not supported")),
    ("@file:items/judge_pairs.csv", "@file:items/judge_pairs.json",
     ("items/judge_pairs.json", '[["judge-clarity", "fixture-judge-a"], ["judge-novelty", "fixture-judge-b"]]'),
     ("rules.pairs.judge_assignment.allowed", "'items/judge_pairs.json': only .csv and .txt helpers are supported")),
], ids=["subset-of-tuple", "subset-of-pair", "json-helper"])
def test_an_unsupported_construct_is_a_one_line_error_naming_it(tmp_path, old, new, helper, fragments):
    data, _ = copy_fixture(tmp_path, "2849708")
    config = spec_dir(data) / "config.yaml"
    text = config.read_text(encoding="utf-8")
    assert text.count(old) == 1
    config.write_text(text.replace(old, new), encoding="utf-8")
    if helper:
        (spec_dir(data) / helper[0]).write_text(helper[1], encoding="utf-8")
    result = invoke(data, "--cohort", COHORT, "--format", "json")
    one_error_line(result, f"cohorts/{COHORT}/spec/config.yaml", *fragments)
    assert result.stdout == ""


def test_simulating_a_spec_cohort_writes_nothing_under_the_data_root(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    shutil.rmtree(data / "gens" / "evaluation" / members(data)["evaluation"][0])  # something to mint
    before = tree_digest(data)
    for fmt in ("table", "json", "md", "csv"):
        assert invoke(data, "--cohort", COHORT, "--format", fmt, "--detail").exit_code == 0
    assert tree_digest(data) == before


@pytest.mark.parametrize("edit,fragments", [
    (("1_raw/llm_models.csv", "fixture-judge-b,", "fixture-judge-z,"),
     ("1_raw/llm_models.csv does not list the evaluation model(s) 'fixture-judge-b'", "refuses the cohort")),
    (("combo_mappings.csv", "combo_v1_1062b6b1382e", "combo_v1_000000000000"),
     ("combo_mappings.csv does not list the combo(s) 'combo_v1_1062b6b1382e'",)),
    (("1_raw/evaluation_templates.csv", "judge-novelty,", "judge-novelty-v2,"),
     ("evaluation template 'judge-novelty' is not listed in 1_raw/evaluation_templates.csv",)),
    (("1_raw/replication_config.csv", "evaluation,1", "evaluation,0"),
     ("1_raw/replication_config.csv has no replicate count of 1 or more for evaluation",)),
    (("cohorts/spec-tie-pair-tuple/spec/items/judge_pairs.csv", "judge-novelty,fixture-judge-b",
      "judge-novelty,fixture-judge-b\njudge-clarity,fixture-judge-b"),
     ("rules.pairs.judge_assignment: not balanced on the left",)),
])
def test_a_cohort_the_pipeline_refuses_is_a_one_line_error(tmp_path, edit, fragments):
    data, _ = copy_fixture(tmp_path, "2849708")
    rel, old, new = edit
    path = data / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    one_error_line(invoke(data, "--cohort", COHORT), *fragments)


def test_the_retired_active_column_is_refused_as_the_pipeline_does(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    path = data / "1_raw" / "draft_templates.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",active"] + [line + ",True" for line in lines[1:]]) + "\n",
                    encoding="utf-8")
    one_error_line(invoke(data, "--cohort", COHORT), "has the retired column 'active'")


# --- the era rules ---------------------------------------------------------------------------

def test_no_input_on_a_spec_era_store_asks_for_a_cohort(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    one_error_line(invoke(data), "a spec-era store", f"--cohort ID (cohorts with a spec: {COHORT})")


def test_cartesian_on_a_cohort_with_a_spec_points_to_cohort(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    one_error_line(invoke(data, "--cartesian", COHORT, "--evaluation-template", "judge-clarity",
                          "--evaluation-model", "fixture-judge-a"),
                   "has a spec", "not the Cartesian product of its manifest", f"use --cohort {COHORT}")


def test_curated_modes_on_a_spec_era_store_say_what_to_do_instead(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    essay = members(data)["essay"][0]
    one_error_line(invoke(data, "--essay", essay),
                   "1_raw/evaluation_templates.csv lacks column 'active'", "--cohort ID")
    # Named templates and models stand in for the retired columns: the curated modes run.
    meta = metadata(data, "evaluation")
    [judged] = [m for m in meta.values() if m["parent_gen_id"] == essay and m["template_id"] == "judge-clarity"]
    result = invoke(data, "--essay", essay, "--evaluation-template", "judge-clarity",
                    "--evaluation-model", judged["llm_model_id"], "--format", "json")
    assert result.exit_code == 0, result.output
    modes = {m["mode"]: m["stages"]["evaluation"] for m in json.loads(result.stdout)["modes"]}
    assert list(modes) == ["regenerate", "reuse-drafts", "reuse-essays", "reuse-essays+fill-up", "current"]
    assert (modes["current"]["reused"], modes["current"]["new"]) == (1, 0)  # its one evaluation, filled up
    assert (modes["reuse-essays"]["reused"], modes["reuse-essays"]["new"]) == (0, 1)


def test_template_model_and_replicate_flags_do_not_apply_to_a_spec(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    for flag in (["--evaluation-template", "judge-clarity"], ["--evaluation-model", "fixture-judge-a"],
                 ["--replicates", "evaluation=2"]):
        one_error_line(invoke(data, "--cohort", COHORT, *flag), "do not apply to --cohort")


def test_an_unknown_cohort_and_a_cohort_without_a_spec(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    one_error_line(invoke(data, "--cohort", "nope"), "no cohort 'nope' under cohorts/")
    old, fixture = copy_fixture(tmp_path / "old", "ef84f79")
    cartesian = fixture["cohorts"]["cartesian"]
    one_error_line(invoke(old, "--cohort", cartesian), "has no spec/config.yaml", f"--cartesian {cartesian}")


def test_a_store_before_the_spec_dsl_keeps_its_default_input(tmp_path):
    data, fixture = copy_fixture(tmp_path, "ef84f79")
    result = invoke(data, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["input"]["source"] == "2_tasks/selected_essays.txt" and doc["spec"] is None
    assert doc["input"]["essays"] == fixture["selection"]["essays"]


# --- the other formats -----------------------------------------------------------------------

def test_table_markdown_and_csv(tmp_path):
    data, fixture = copy_fixture(tmp_path, "2849708")
    built = fixture["counts"]["membership"][COHORT]
    table = invoke(data, "--cohort", COHORT)
    assert table.exit_code == 0 and "Rebuild simulation" in table.stdout and "spec" in table.stdout
    assert f"simulated cohort {COHORT} from its spec; LLM calls: spec 0" in table.stderr
    md = invoke(data, "--cohort", COHORT, "--format", "md")
    assert md.exit_code == 0 and "## Rebuild simulation: per mode and stage" in md.stdout
    rows = list(csv.DictReader(invoke(data, "--cohort", COHORT, "--format", "csv").stdout.splitlines()))
    assert [(r["mode"], r["stage"], r["scheduled"], r["new"], r["llm_calls"]) for r in rows] == \
        [("spec", s, str(built[s]), "0", "0") for s in STAGES] + [("spec", "total", str(sum(built.values())), "0", "0")]
