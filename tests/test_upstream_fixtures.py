"""Stores written by the pipeline itself (tests/fixtures/upstream-<commit>/, see
scripts/upstream_fixtures.py): clean, they must audit clean and keep every ID; with one piece of
damage planted on a copy, the audit must report exactly that damage.

Each test copies the fixture to tmp_path first; nothing here writes under tests/fixtures.
Expected findings are derived from the fixture's own files (metadata, membership, selection),
never from lineage's code.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.cli import app
from lineage.core.ids import legacy_id

runner = CliRunner()

FIXTURES = Path(__file__).parent / "fixtures"
ERAS = ["ef84f79", "2849708"]


# --- helpers ------------------------------------------------------------------------------

def copy_fixture(tmp_path: Path, era: str) -> tuple[Path, dict]:
    """Copy the whole fixture (data root and Dagster home) and return (data root, FIXTURE.json)."""
    dest = tmp_path / f"upstream-{era}"
    shutil.copytree(FIXTURES / f"upstream-{era}", dest, symlinks=True)
    return dest / "data", json.loads((dest / "FIXTURE.json").read_text(encoding="utf-8"))


def metadata(data: Path, stage: str) -> dict[str, dict]:
    return {p.name: json.loads((p / "metadata.json").read_text(encoding="utf-8"))
            for p in sorted((data / "gens" / stage).iterdir())}


def write_metadata(path: Path, meta: dict) -> None:
    # As the pipeline writes it: 2-space indent, UTF-8, no trailing newline.
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")


def children(data: Path, stage: str, parent: str) -> list[str]:
    return [g for g, m in metadata(data, stage).items() if m.get("parent_gen_id") == parent]


def memberships_listing(data: Path, stage: str, gen_id: str) -> list[str]:
    """Data-root-relative paths of the membership.csv files that list (stage, gen_id)."""
    found = []
    for path in sorted((data / "cohorts").glob("*/membership.csv")):
        with path.open(encoding="utf-8") as fh:
            if any(r["stage"] == stage and r["gen_id"] == gen_id for r in csv.DictReader(fh)):
                found.append(path.relative_to(data).as_posix())
    return found


def selection_lists(data: Path, gen_id: str) -> bool:
    path = data / "2_tasks" / "selected_essays.txt"
    return path.exists() and gen_id in path.read_text(encoding="utf-8").split()


def audit(data: Path) -> tuple[int, dict]:
    result = runner.invoke(app, ["audit", str(data), "--format", "json", "--no-progress"])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)


def found(report: dict) -> set[tuple[str, str, str, str, str]]:
    keys = [(f["check"], f["severity"], f["stage"], f["gen_id"], f["path"]) for f in report["findings"]]
    assert len(keys) == len(set(keys)), f"a finding is reported twice: {keys}"
    return set(keys)


def meta_path(stage: str, gen_id: str) -> str:
    return f"gens/{stage}/{gen_id}/metadata.json"


def folder(stage: str, gen_id: str) -> str:
    return f"gens/{stage}/{gen_id}"


# --- the clean stores ---------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_fixture_matches_its_record(tmp_path, era):
    data, fixture = copy_fixture(tmp_path, era)
    assert fixture["upstream_commit"] == era
    for stage, count in fixture["counts"]["generations"].items():
        assert len(metadata(data, stage)) == count
    for cohort, per_stage in fixture["counts"]["membership"].items():
        with (data / "cohorts" / cohort / "membership.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert {s: sum(r["stage"] == s for r in rows) for s in per_stage} == per_stage
    # Every generation has the files a finished pipeline run leaves.
    for stage in ("draft", "essay", "evaluation"):
        for gen_id in metadata(data, stage):
            names = {p.name for p in (data / "gens" / stage / gen_id).iterdir()}
            assert {"metadata.json", "prompt.txt", "raw.txt", "parsed.txt",
                    "raw_metadata.json", "parsed_metadata.json"} <= names, (stage, gen_id)


def test_recorded_legacy_id_is_what_our_algorithm_computes(tmp_path):
    """The ID the pipeline's own reserve_gen_id minted agrees with lineage.core.ids.legacy_id."""
    _, fixture = copy_fixture(tmp_path, "ef84f79")
    legacy = fixture["legacy_id"]
    args = legacy["args"]
    assert legacy_id(args["stage"], args["task_id"], args["run_id"], args["salt"]) == legacy["gen_id"]
    assert len(legacy["gen_id"]) == 16 and legacy["gen_id"].isalnum() and legacy["gen_id"].islower()


@pytest.mark.parametrize("era", ERAS)
def test_clean_store_audits_clean(tmp_path, era):
    data, fixture = copy_fixture(tmp_path, era)
    code, report = audit(data)
    assert report["findings"] == []
    assert code == 0
    stats = report["statistics"]
    assert stats["max_severity"] == "none"
    assert set(stats["findings_by_check"].values()) == {0}
    assert stats["generations"] == fixture["counts"]["generations"]
    total = sum(fixture["counts"]["generations"].values())
    assert stats["id_classes"] == {"deterministic": total, "legacy": 0, "malformed": 0}


@pytest.mark.parametrize("era", ERAS)
def test_clean_store_keeps_every_id(tmp_path, era):
    data, fixture = copy_fixture(tmp_path, era)
    result = runner.invoke(app, ["ids", str(data), "--format", "json", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == sum(fixture["counts"]["generations"].values())
    for row in rows:
        assert row["id_class"] == "deterministic", row
        assert row["action"] == "reuse", row
        assert row["stored_id"] == row["recomputed_id"] == row["cascaded_id"], row
        assert row["llm_calls"] == 0 and row["descendants_regenerated"] == 0, row


@pytest.mark.parametrize("era", ERAS)
def test_clean_store_plans_no_rename(tmp_path, era):
    data, _ = copy_fixture(tmp_path, era)
    plan = tmp_path / "plan.json"
    result = runner.invoke(app, ["migrate", "plan", str(data), "--only", "all", "--output", str(plan),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    written = json.loads(plan.read_text(encoding="utf-8"))
    assert written["summary"]["renames"] == 0
    assert written["steps"] == [] and written["blocked"] == []


# --- planted damage -----------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_deleted_parent_draft(tmp_path, era):
    data, _ = copy_fixture(tmp_path, era)
    draft = next(d for d in metadata(data, "draft") if children(data, "essay", d))
    essays = children(data, "essay", draft)
    evaluations = [v for e in essays for v in children(data, "evaluation", e)]
    shutil.rmtree(data / folder("draft", draft))

    code, report = audit(data)
    assert code == 1
    assert found(report) == (
        {("chain.parent_missing", "error", "essay", e, meta_path("essay", e)) for e in essays}
        | {("chain.ancestor_broken", "warn", "evaluation", v, meta_path("evaluation", v)) for v in evaluations}
        | {("cohort.member_missing", "error", "draft", draft, m)
           for m in memberships_listing(data, "draft", draft)}
    )
    assert evaluations and memberships_listing(data, "draft", draft)


@pytest.mark.parametrize("era", ERAS)
def test_essay_parent_edited_to_a_missing_draft(tmp_path, era):
    data, _ = copy_fixture(tmp_path, era)
    essay = next(iter(metadata(data, "essay")))
    path = data / meta_path("essay", essay)
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["parent_gen_id"] = "d_2cwj8p6y0mmqnote"  # deterministic in shape, but no such draft
    write_metadata(path, meta)
    evaluations = children(data, "evaluation", essay)

    code, report = audit(data)
    assert code == 1
    assert found(report) == (
        # The essay's signature holds its parent, so the stored ID no longer recomputes.
        {("id.signature_mismatch", "warn", "essay", essay, folder("essay", essay)),
         ("chain.parent_missing", "error", "essay", essay, meta_path("essay", essay))}
        | {("chain.ancestor_broken", "warn", "evaluation", v, meta_path("evaluation", v)) for v in evaluations}
    )
    [mismatch] = [f for f in report["findings"] if f["check"] == "id.signature_mismatch"]
    assert mismatch["details"]["descendants"] == len(evaluations)
    assert mismatch["details"]["effect"] == "regenerate_essay_and_evaluations"


@pytest.mark.parametrize("era", ERAS)
def test_generation_folder_renamed_by_hand(tmp_path, era):
    data, fixture = copy_fixture(tmp_path, era)
    # In the ef84f79 store the first selected essay is in both cohorts and the selection file.
    essay = fixture["selection"]["essays"][0] if "selection" in fixture else next(iter(metadata(data, "essay")))
    renamed = f"{essay}-old"
    (data / folder("essay", essay)).rename(data / folder("essay", renamed))
    evaluations = children(data, "evaluation", essay)
    cohorts = memberships_listing(data, "essay", essay)

    code, report = audit(data)
    assert code == 1
    expected = (
        {("id.dir_mismatch", "error", "essay", renamed, meta_path("essay", renamed)),
         ("id.malformed", "error", "essay", renamed, folder("essay", renamed)),
         ("cohort.unreachable", "info", "essay", renamed, folder("essay", renamed))}
        | {("chain.parent_missing", "error", "evaluation", v, meta_path("evaluation", v)) for v in evaluations}
        | {("cohort.member_missing", "error", "essay", essay, m) for m in cohorts}
    )
    if selection_lists(data, essay):
        expected.add(("ref.dangling", "warn", "essay", essay, "2_tasks/selected_essays.txt"))
    assert found(report) == expected
    assert evaluations and cohorts
    assert (era == "ef84f79") == selection_lists(data, essay)


@pytest.mark.parametrize("era", ERAS)
def test_copy_mode_on_an_evaluation(tmp_path, era):
    data, _ = copy_fixture(tmp_path, era)
    evaluation = next(iter(metadata(data, "evaluation")))
    path = data / meta_path("evaluation", evaluation)
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["mode"] = "copy"
    write_metadata(path, meta)

    code, report = audit(data)
    assert code == 1
    assert found(report) == {("meta.invalid_value", "error", "evaluation", evaluation, meta_path("evaluation", evaluation))}


def test_generation_moved_to_a_legacy_id(tmp_path):
    data, fixture = copy_fixture(tmp_path, "ef84f79")
    legacy = fixture["legacy_id"]
    old, new = legacy["for_gen_id"], legacy["gen_id"]
    (data / folder("evaluation", old)).rename(data / folder("evaluation", new))
    path = data / meta_path("evaluation", new)
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["gen_id"] = new
    write_metadata(path, meta)
    cohorts = memberships_listing(data, "evaluation", old)

    code, report = audit(data)
    assert code == 1
    assert found(report) == (
        {("id.legacy", "info", "evaluation", new, folder("evaluation", new)),
         ("cohort.unreachable", "info", "evaluation", new, folder("evaluation", new))}
        | {("cohort.member_missing", "error", "evaluation", old, m) for m in cohorts}
    )
    assert cohorts == [f"cohorts/{fixture['cohorts']['cartesian']}/membership.csv"]
    [legacy_finding] = [f for f in report["findings"] if f["check"] == "id.legacy"]
    assert legacy_finding["details"]["expected_id"] == old
    assert legacy_finding["details"]["effect"] == "regenerate_evaluation"

    # The migration plan moves it back: one rename, of this evaluation, to the ID it had.
    plan = tmp_path / "plan.json"
    result = runner.invoke(app, ["migrate", "plan", str(data), "--only", "all", "--output", str(plan),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    written = json.loads(plan.read_text(encoding="utf-8"))
    assert written["summary"]["renames"] == 1
    renames = [s for s in written["steps"] if s["op"] == "rename_dir"]
    assert [(s["old_id"], s["new_id"], s["cause"]) for s in renames] == [(new, old, "legacy")]


# --- the cohort simulator against the pipeline's own curated build ------------------------

def test_simulator_predicts_the_curated_build(tmp_path):
    """Undo the evaluations the curated cohort minted; the simulation of today's behaviour for
    the same selection file must then reuse and mint what the pipeline did."""
    data, fixture = copy_fixture(tmp_path, "ef84f79")
    curated = fixture["cohorts"]["curated"]
    minted = [g for g, m in metadata(data, "evaluation").items() if m["origin_cohort_id"] == curated]
    for gen_id in minted:
        shutil.rmtree(data / folder("evaluation", gen_id))
    members = fixture["counts"]["membership"][curated]

    result = runner.invoke(app, ["cohorts", "simulate", str(data), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["input"]["essays"] == fixture["selection"]["essays"]
    [current] = [m for m in report["modes"] if m["mode"] == "current"]
    stages = current["stages"]
    assert (stages["draft"]["reused"], stages["draft"]["new"]) == (members["draft"], 0)
    assert (stages["essay"]["reused"], stages["essay"]["new"]) == (members["essay"], 0)
    assert stages["evaluation"]["new"] == len(minted) == fixture["counts"]["by_origin_cohort"][curated]["evaluation"]
    assert stages["evaluation"]["reused"] == members["evaluation"] - len(minted)
    assert current["llm_calls"] == len(minted)


def test_legacy_rename_applied_through_the_pipeline_instance(tmp_path):
    """The legacy damage with its partition key in the Dagster instance the pipeline wrote:
    plan, apply with --dagster-home, and both the store and the partition keys are whole again."""
    import dagster  # in the test extra: a missing dagster fails this test, never skips it

    data, fixture = copy_fixture(tmp_path, "ef84f79")
    home = data.parent / "dagster_home"
    legacy = fixture["legacy_id"]
    old, new = legacy["for_gen_id"], legacy["gen_id"]
    (data / folder("evaluation", old)).rename(data / folder("evaluation", new))
    path = data / meta_path("evaluation", new)
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["gen_id"] = new
    write_metadata(path, meta)
    instance = dagster.DagsterInstance.from_config(str(home))
    instance.add_dynamic_partitions("evaluation_gens", [new])
    instance.delete_dynamic_partition("evaluation_gens", old)

    plan = tmp_path / "plan.json"
    result = runner.invoke(app, ["migrate", "plan", str(data), "--only", "all", "--output", str(plan),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["migrate", "apply", str(plan), "--yes", "--dagster-home", str(home)])
    assert result.exit_code == 0, result.output

    code, report = audit(data)
    assert (code, report["findings"]) == (0, [])
    keys = set(dagster.DagsterInstance.from_config(str(home)).get_dynamic_partitions("evaluation_gens"))
    assert old in keys and new not in keys
    assert len(keys) == fixture["partitions"]["evaluation_gens"]
