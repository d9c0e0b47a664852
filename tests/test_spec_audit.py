"""cohort.spec_mismatch and cohort.spec_invalid: a cohort's membership.csv against its compiled
spec, on copies of the store the pipeline wrote at 2849708; and the ID rules behind them.

Expected findings come from the fixture's own files (membership lines, metadata), never from
lineage's code.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from lineage.core import ids
from lineage.core.model import Cohort
from lineage.loaders.cohort_specs import as_listed
from lineage.loaders.spec import SpecError, against, check_catalogs, load_spec, plan_generations, plan_rows
from test_upstream_fixtures import audit, copy_fixture, found, metadata, write_metadata

COHORT = "spec-tie-pair-tuple"
MEMBERSHIP = f"cohorts/{COHORT}/membership.csv"
CONFIG = f"cohorts/{COHORT}/spec/config.yaml"


def rows(data: Path) -> list[dict]:
    """Membership rows with their line (the header is line 1)."""
    with (data / MEMBERSHIP).open(encoding="utf-8") as fh:
        return [dict(r, line=n) for n, r in enumerate(csv.DictReader(fh), 2)]


def write_rows(data: Path, kept: list[dict]) -> None:
    with (data / MEMBERSHIP).open("w", encoding="utf-8", newline="") as fh:
        fh.write("stage,gen_id\n" + "".join(f"{r['stage']},{r['gen_id']}\n" for r in kept))


def mismatch(stage: str, gen_id: str) -> tuple:
    return ("cohort.spec_mismatch", "warn", stage, gen_id, MEMBERSHIP)


def findings_of(report: dict, check: str) -> list[dict]:
    return [f for f in report["findings"] if f["check"] == check]


# --- the audit on the pipeline's store --------------------------------------------------------

def test_a_membership_edited_by_hand_gives_one_finding_per_disagreement(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    listed = rows(data)
    dropped = next(r for r in listed if r["stage"] == "evaluation")
    # A real generation the spec does not plan: an evaluation's second replicate, made by hand.
    source = next(r["gen_id"] for r in listed if r["stage"] == "evaluation" and r is not dropped)
    meta = dict(metadata(data, "evaluation")[source], replicate=2)
    extra = ids.id_for("evaluation", meta)
    shutil.copytree(data / "gens" / "evaluation" / source, data / "gens" / "evaluation" / extra)
    write_metadata(data / "gens" / "evaluation" / extra / "metadata.json", dict(meta, gen_id=extra))
    kept = [r for r in listed if r is not dropped] + [{"stage": "evaluation", "gen_id": extra}]
    write_rows(data, kept)

    code, report = audit(data)
    assert found(report) == {mismatch("evaluation", dropped["gen_id"]), mismatch("evaluation", extra),
                             ("cohort.unreachable", "info", "evaluation", dropped["gen_id"],
                              f"gens/evaluation/{dropped['gen_id']}")}
    assert code == 0  # warnings: under the default --fail-on error
    by_id = {f["gen_id"]: f for f in findings_of(report, "cohort.spec_mismatch")}
    assert by_id[extra]["line"] == len(kept) + 1 and by_id[extra]["cohort"] == COHORT
    assert by_id[extra]["message"] == f"member evaluation {extra} is not planned by the spec"
    assert by_id[extra]["details"] == {"in_membership": True}
    missing = by_id[dropped["gen_id"]]
    assert missing["line"] is None and missing["cohort"] == COHORT and missing["details"] == {"in_membership": False}
    assert missing["message"].startswith(f"the spec plans evaluation {dropped['gen_id']} (template ")


def test_a_spec_edited_after_the_build_flags_every_member_it_no_longer_plans(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    pairs = data / "cohorts" / COHORT / "spec" / "items" / "judge_pairs.csv"
    pairs.write_text("evaluation_template,evaluation_llm\njudge-clarity,fixture-judge-a\n", encoding="utf-8")
    judged = {g for g, m in metadata(data, "evaluation").items() if m["template_id"] == "judge-novelty"}
    expected_lines = {r["gen_id"]: r["line"] for r in rows(data) if r["gen_id"] in judged}

    code, report = audit(data)
    assert found(report) == {mismatch("evaluation", g) for g in judged}
    assert {f["gen_id"]: f["line"] for f in report["findings"]} == expected_lines
    assert len(judged) == 8 and code == 0


@pytest.mark.parametrize("edit,fragment", [
    (lambda text: text.replace("\noutput:", "  subsets:\n    writer_runs: [fixture-writer-a]\n\noutput:"),
     "rules.subsets.writer_runs: 'writer_runs' is a tuple; subsets of tuples are not supported"),
    (lambda text: text + "unknown_section: 1\n", "unknown key 'unknown_section'"),
    (lambda text: "axes: [\n", "not valid YAML (line 2)"),
    (lambda text: text.replace("'@file:items/combos.csv'", "'@file:../../../combo_mappings.csv'"),
     "leaves the spec folder"),
])
def test_an_unusable_spec_is_one_finding_never_a_crash(tmp_path, edit, fragment):
    data, _ = copy_fixture(tmp_path, "2849708")
    config = data / CONFIG
    config.write_text(edit(config.read_text(encoding="utf-8")), encoding="utf-8")
    code, report = audit(data)
    assert found(report) == {("cohort.spec_invalid", "warn", None, None, CONFIG)}
    [finding] = report["findings"]
    assert finding["cohort"] == COHORT and finding["line"] is None
    assert finding["message"].startswith(f"{CONFIG}: ") and fragment in finding["message"]
    assert code == 0


def test_the_spec_checks_fail_the_audit_at_fail_on_warn(tmp_path):
    from typer.testing import CliRunner
    from lineage.cli import app

    data, _ = copy_fixture(tmp_path, "2849708")
    (data / CONFIG).write_text("axes: [\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["audit", str(data), "--fail-on", "warn", "--no-progress"])
    assert result.exit_code == 1 and "cohort.spec_invalid" in result.stdout


def test_a_cohort_whose_spec_was_never_built_is_not_a_mismatch(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    (data / MEMBERSHIP).unlink()
    code, report = audit(data)
    assert {f["check"] for f in report["findings"]} == {"cohort.unreachable"}  # no spec_* finding
    assert code == 0


def test_a_damaged_generation_does_not_cascade_into_spec_findings(tmp_path):
    """An edited evaluation would make today's build take a collision suffix for it; the
    membership was written by the build before, and it is the ID check's to report."""
    data, _ = copy_fixture(tmp_path, "2849708")
    victim = next(r["gen_id"] for r in rows(data) if r["stage"] == "evaluation")
    path = data / "gens" / "evaluation" / victim / "metadata.json"
    write_metadata(path, dict(json.loads(path.read_text(encoding="utf-8")), template_id="judge-edited"))
    _, report = audit(data)
    assert {f["check"] for f in report["findings"]} == {"id.signature_mismatch"}


def test_a_spec_folder_linked_out_of_the_root_is_never_read(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    spec = data / "cohorts" / COHORT / "spec"
    outside = tmp_path / "outside-spec"
    shutil.move(str(spec), outside)
    (outside / "config.yaml").write_text("axes: [\n", encoding="utf-8")  # would be spec_invalid if read
    os.symlink(outside, spec)
    _, report = audit(data)
    assert found(report) == {("store.path_skipped", "warn", None, None, f"cohorts/{COHORT}/spec")}


# --- the ID rules: the build's collision rule, and the IDs a membership was written with ---------

def planned_ids(data: Path, reserve=None) -> list[str]:
    return plan_generations(load_spec(data / "cohorts" / COHORT / "spec"), reserve=reserve).ids()


def test_against_takes_the_first_free_or_same_signature_id():
    parts = ("e_x", "judge-clarity", "fixture-judge-a", "1")
    first = ids.deterministic_id("evaluation", parts)
    second = ids.deterministic_id("evaluation", parts, 1)

    def reserved(held: dict) -> str:
        return against(lambda stage, gen_id: held.get(gen_id))("evaluation", parts)

    assert reserved({}) == first  # nothing there
    assert reserved({first: first}) == first  # this very generation: reused
    assert reserved({first: "v_other"}) == second  # another signature: the next suffix
    assert reserved({first: ""}) == second  # unreadable metadata counts as another signature
    held = {ids.deterministic_id("evaluation", parts, k): "v_other" for k in range(5)}
    with pytest.raises(SpecError, match="collision 0..4 are all held by other generations"):
        reserved(held)


def test_as_listed_follows_the_suffix_a_membership_was_written_with(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    plain = planned_ids(data)
    row = {"combo_id": "c", "draft_template": "t", "draft_llm": "m", "essay_template": "t", "essay_llm": "m",
           "evaluation_template": "v", "evaluation_llm": "j"}
    draft = ids.deterministic_id("draft", ("c", "t", "m", "1"), 1)  # the build met a collision
    essay = ids.deterministic_id("essay", (draft, "t", "1"))
    cohort = Cohort("c1", "cohorts/c1", stages=["draft", "essay"], gen_ids=[draft, essay], lines=[2, 3])
    plan = plan_rows([row], reserve=as_listed(cohort))
    assert plan.ids()[:2] == [draft, essay]  # the essay's ID follows its draft's suffix
    assert plan.ids()[2] == ids.deterministic_id("evaluation", (essay, "v", "j", "1"))  # not listed: k = 0
    assert planned_ids(data, as_listed(Cohort(COHORT, "", stages=[], gen_ids=[], lines=[]))) == plain


def test_the_fixture_passes_the_catalog_checks(tmp_path):
    data, _ = copy_fixture(tmp_path, "2849708")
    check_catalogs(plan_generations(load_spec(data / "cohorts" / COHORT / "spec")), data)


@pytest.mark.parametrize("rel,text,message", [
    ("combo_mappings.csv", None, "combo_mappings.csv is missing or lists none"),
    ("combo_mappings.csv", "combo,x\n", "combo_mappings.csv is missing or lists none"),
    ("1_raw/llm_models.csv", "id\nfixture-writer-a\nfixture-judge-a\n",
     "1_raw/llm_models.csv does not list the evaluation model(s) 'fixture-judge-b'"),
    ("1_raw/llm_models.csv", "model\nx\n", "1_raw/llm_models.csv is missing or lists none"),
    ("1_raw/replication_config.csv", None, "1_raw/replication_config.csv has no replicate count of 1 or more "
                                           "for draft, essay, evaluation"),
    ("1_raw/replication_config.csv", "stage,replicates\ndraft,1\nessay,x\nevaluation,2.0\n",
     "1_raw/replication_config.csv has no replicate count of 1 or more for essay"),
    ("1_raw/llm_models.csv", b"id\n\xff\n", "1_raw/llm_models.csv: not UTF-8"),
])
def test_the_catalogs_a_build_refuses(tmp_path, rel, text, message):
    data, _ = copy_fixture(tmp_path, "2849708")
    plan = plan_generations(load_spec(data / "cohorts" / COHORT / "spec"))
    path = data / rel
    if text is None:
        path.unlink()
    elif isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        check_catalogs(plan, data)
    assert str(err.value).startswith(message)


def test_an_essay_model_may_be_the_text_none(tmp_path):
    row = {"combo_id": "c", "draft_template": "t", "draft_llm": "m", "essay_template": "t", "essay_llm": "None",
           "evaluation_template": "v", "evaluation_llm": "m"}
    (tmp_path / "1_raw").mkdir()
    (tmp_path / "combo_mappings.csv").write_text("combo_id\nc\n", encoding="utf-8")
    (tmp_path / "1_raw" / "llm_models.csv").write_text("id\nm\n", encoding="utf-8")
    (tmp_path / "1_raw" / "replication_config.csv").write_text(
        "stage,replicates\ndraft,1\nessay,1\nevaluation,1\n", encoding="utf-8")
    check_catalogs(plan_rows([row]), tmp_path)
