"""lineage.dagster: the audit as asset checks, run by a real Dagster job.

A tiny project stands in for the pipeline: `draft_parsed`, `essay_parsed`, `evaluation_parsed`
partitioned by dynamic partition sets named like the pipeline's, each reading its generation's
`parsed.txt`, and `cohort_membership` partitioned by cohort (as at 2849708). The store and the
Dagster instance are copies of tests/fixtures/upstream-2849708 (the instance already holds every
gen_id as a partition key); runs go into that copied instance. Expected findings come from the
fixture's own files.
"""

from __future__ import annotations

import csv
import importlib
import json
import shutil
import sys
from pathlib import Path

import dagster as dg
import pytest

from lineage.dagster import (GENERATION_CHECK, PARTITION_WITHOUT_GENERATION, STORE_CHECK, lineage_checks,
                             supports_partitioned_checks)
from lineage.core.ids import legacy_id

from test_readonly import tree_digest

FIXTURE = Path(__file__).parent / "fixtures" / "upstream-2849708"
STAGES = ("draft", "essay", "evaluation")

# Partitioned asset checks are a preview in dagster 1.13; the module uses them on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::dagster.PreviewWarning")

needs_partitioned_checks = pytest.mark.skipif(not supports_partitioned_checks(),
                                              reason=f"dagster {dg.__version__} has no partitioned asset checks")
BOTH_MECHANISMS = [pytest.param(True, id="partitioned-check", marks=needs_partitioned_checks),
                   pytest.param(False, id="run-partition")]


# --- the stand-in project -----------------------------------------------------------------------

def stage_asset(stage: str):
    @dg.asset(name=f"{stage}_parsed", partitions_def=dg.DynamicPartitionsDefinition(name=f"{stage}_gens"))
    def _parsed(context) -> dg.MaterializeResult:
        # Like the pipeline's stage assets: the data root from the environment, the gen_id from the partition.
        root = Path(__import__("os").environ["DAYDREAMING_DATA_ROOT"])
        text = (root / "gens" / stage / context.partition_key / "parsed.txt").read_text(encoding="utf-8")
        return dg.MaterializeResult(metadata={"chars": len(text)})

    return _parsed


def project(cohorts: list[str], checks: list, downstream: bool = False, jobs: tuple = ()) -> dg.Definitions:
    @dg.asset(name="cohort_membership", partitions_def=dg.StaticPartitionsDefinition(cohorts))
    def cohort_membership(context) -> dg.MaterializeResult:
        root = Path(__import__("os").environ["DAYDREAMING_DATA_ROOT"])
        with (root / "cohorts" / context.partition_key / "membership.csv").open(encoding="utf-8") as fh:
            return dg.MaterializeResult(metadata={"rows": sum(1 for _ in csv.DictReader(fh))})

    assets = [stage_asset(s) for s in STAGES] + [cohort_membership]
    jobs = [*jobs, *(dg.define_asset_job(f"{s}_job", selection=[f"{s}_parsed"]) for s in STAGES)]
    jobs.append(dg.define_asset_job("cohort_job", selection=["cohort_membership"]))
    if downstream:
        @dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="essay_gens"), deps=["essay_parsed"])
        def essay_scored() -> None:
            return None

        assets.append(essay_scored)
        jobs.append(dg.define_asset_job("essay_and_score", selection=["essay_parsed", "essay_scored"]))
    return dg.Definitions(assets=assets, asset_checks=checks, jobs=jobs)


# --- the fixture ----------------------------------------------------------------------------------

class Pipeline:
    def __init__(self, tmp_path: Path, monkeypatch):
        dest = tmp_path / "upstream"
        shutil.copytree(FIXTURE, dest, symlinks=True)
        self.data, self.home = dest / "data", dest / "dagster_home"
        self.fixture = json.loads((dest / "FIXTURE.json").read_text(encoding="utf-8"))
        self.cohort = self.fixture["cohorts"]["spec"]
        monkeypatch.setenv("DAYDREAMING_DATA_ROOT", str(self.data))
        self.instance = dg.DagsterInstance.from_config(str(self.home))

    def metadata(self, stage: str) -> dict[str, dict]:
        return {p.name: json.loads((p / "metadata.json").read_text(encoding="utf-8"))
                for p in sorted((self.data / "gens" / stage).iterdir())}

    def children(self, stage: str, parent: str) -> list[str]:
        return [g for g, m in self.metadata(stage).items() if m.get("parent_gen_id") == parent]

    def run(self, defs: dg.Definitions, job: str, partition_key: str, **kwargs) -> dg.ExecuteInProcessResult:
        return defs.resolve_job_def(job).execute_in_process(partition_key=partition_key, instance=self.instance,
                                                            **kwargs)


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    p = Pipeline(tmp_path, monkeypatch)
    yield p
    p.instance.dispose()


def evaluation(result: dg.ExecuteInProcessResult, check: str):
    [found] = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    return found


def findings(ev) -> list[dict]:
    return ev.metadata["findings"].value


def keys(ev) -> set[tuple[str, str, str, str]]:
    return {(f["check"], f["severity"], f["stage"], f["gen_id"]) for f in findings(ev)}


def delete_a_draft(p: Pipeline) -> tuple[str, list[str], list[str]]:
    """Delete a draft that has essays (the cleanup script's way: its partition key stays)."""
    draft = next(d for d in p.metadata("draft") if p.children("essay", d))
    essays = p.children("essay", draft)
    evaluations = [v for e in essays for v in p.children("evaluation", e)]
    shutil.rmtree(p.data / "gens" / "draft" / draft)
    assert evaluations and draft in p.instance.get_dynamic_partitions("draft_gens")
    return draft, essays, evaluations


# --- per-generation checks ----------------------------------------------------------------------

@pytest.mark.parametrize("partitioned", BOTH_MECHANISMS)
def test_generation_check_fails_on_the_partition_with_the_planted_problem(pipeline, partitioned):
    defs = project([pipeline.cohort], lineage_checks(partitioned=partitioned))
    draft, essays, evaluations = delete_a_draft(pipeline)
    essay, ev_id = essays[0], evaluations[0]
    clean_essay = next(e for e, m in pipeline.metadata("essay").items() if m["parent_gen_id"] != draft)

    result = pipeline.run(defs, "essay_job", essay)
    assert result.success
    ev = evaluation(result, GENERATION_CHECK)
    assert ev.asset_key == dg.AssetKey("essay_parsed")
    assert (ev.passed, ev.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert keys(ev) == {("chain.parent_missing", "error", "essay", essay)}
    [f] = findings(ev)
    assert f["path"] == f"gens/essay/{essay}/metadata.json" and draft in f["message"]
    assert ev.metadata["errors"].value == 1 and ev.metadata["findings_total"].value == 1
    assert ev.metadata["scope"].value == "generation"
    if partitioned:
        assert ev.partition == essay  # kept per partition, not as the asset's one latest result

    # The essay's evaluation: its grandparent is gone, a warning.
    ev = evaluation(pipeline.run(defs, "evaluation_job", ev_id), GENERATION_CHECK)
    assert (ev.passed, ev.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert keys(ev) == {("chain.ancestor_broken", "warn", "evaluation", ev_id)}

    # A partition of the same store that has nothing wrong passes, with nothing listed.
    ev = evaluation(pipeline.run(defs, "essay_job", clean_essay), GENERATION_CHECK)
    assert ev.passed and findings(ev) == []
    assert ev.metadata["findings_total"].value == 0
    if partitioned:
        assert ev.partition == clean_essay


@pytest.mark.parametrize("partitioned", BOTH_MECHANISMS)
def test_info_findings_pass_and_are_listed(pipeline, partitioned):
    """An evaluation moved to a legacy ID (folder and metadata), and a partition key for it:
    id.legacy and cohort.unreachable are info, so the check passes and lists them."""
    defs = project([pipeline.cohort], lineage_checks(partitioned=partitioned))
    old = next(iter(pipeline.metadata("evaluation")))
    new = legacy_id("evaluation", f"{old}-task")
    (pipeline.data / "gens" / "evaluation" / old).rename(pipeline.data / "gens" / "evaluation" / new)
    path = pipeline.data / "gens" / "evaluation" / new / "metadata.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**meta, "gen_id": new}, ensure_ascii=False, indent=2), encoding="utf-8")
    pipeline.instance.add_dynamic_partitions("evaluation_gens", [new])

    ev = evaluation(pipeline.run(defs, "evaluation_job", new), GENERATION_CHECK)
    assert ev.passed
    assert keys(ev) == {("id.legacy", "info", "evaluation", new), ("cohort.unreachable", "info", "evaluation", new)}
    assert ev.metadata["info"].value == 2 and ev.metadata["errors"].value == 0


@pytest.mark.parametrize("partitioned", BOTH_MECHANISMS)
def test_partition_key_without_a_generation(pipeline, partitioned):
    """A key whose folder is gone (the asset is materialized by hand after a cleanup): the
    generation check says so, with the cohort row that still names it."""
    checks = lineage_checks(partitioned=partitioned, severity={PARTITION_WITHOUT_GENERATION: "error"})
    draft, _, _ = delete_a_draft(pipeline)

    @dg.asset(name="draft_parsed", partitions_def=dg.DynamicPartitionsDefinition(name="draft_gens"))
    def draft_parsed() -> None:  # does not read the store, so it materializes a gen_id that is gone
        return None

    defs = dg.Definitions(assets=[draft_parsed], asset_checks=[c for c in checks if c.check_key.asset_key.path
                                                                == ["draft_parsed"]],
                          jobs=[dg.define_asset_job("draft_job", selection=["draft_parsed"])])
    ev = evaluation(pipeline.run(defs, "draft_job", draft), GENERATION_CHECK)
    assert (ev.passed, ev.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert keys(ev) == {(PARTITION_WITHOUT_GENERATION, "error", "draft", draft),
                        ("cohort.member_missing", "error", "draft", draft)}


@pytest.mark.parametrize("partitioned", BOTH_MECHANISMS)
def test_blocking_check_stops_downstream_assets(pipeline, partitioned):
    defs = project([pipeline.cohort], lineage_checks(blocking=True, partitioned=partitioned), downstream=True)
    _, essays, _ = delete_a_draft(pipeline)
    result = pipeline.run(defs, "essay_and_score", essays[0], raise_on_error=False)
    assert not evaluation(result, GENERATION_CHECK).passed
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {dg.AssetKey("essay_parsed")}  # essay_scored did not run


# --- the store-wide check -------------------------------------------------------------------------

def test_store_check_passes_on_the_clean_store(pipeline):
    defs = project([pipeline.cohort], lineage_checks())
    before = tree_digest(pipeline.data)
    ev = evaluation(pipeline.run(defs, "cohort_job", pipeline.cohort), STORE_CHECK)
    assert tree_digest(pipeline.data) == before  # the checks only read the store
    assert ev.asset_key == dg.AssetKey("cohort_membership")
    assert ev.passed and findings(ev) == []
    assert ev.metadata["generations"].value == pipeline.fixture["counts"]["generations"]
    assert ev.metadata["cohort"].value == pipeline.cohort
    assert ev.metadata["scope"].value == "store"


def test_store_check_reports_the_whole_store(pipeline):
    defs = project([pipeline.cohort], lineage_checks())
    draft, essays, evaluations = delete_a_draft(pipeline)
    ev = evaluation(pipeline.run(defs, "cohort_job", pipeline.cohort), STORE_CHECK)
    assert (ev.passed, ev.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert keys(ev) == (
        {("chain.parent_missing", "error", "essay", e) for e in essays}
        | {("chain.ancestor_broken", "warn", "evaluation", v) for v in evaluations}
        | {("cohort.member_missing", "error", "draft", draft),
           (PARTITION_WITHOUT_GENERATION, "warn", "draft", draft)}
    )
    [member] = [f for f in findings(ev) if f["check"] == "cohort.member_missing"]
    assert member["path"] == f"cohorts/{pipeline.cohort}/membership.csv"
    total = len(essays) + len(evaluations) + 2
    assert ev.metadata["findings_total"].value == total
    assert ev.metadata["by_check"].value == {"chain.ancestor_broken": len(evaluations),
                                             "chain.parent_missing": len(essays), "cohort.member_missing": 1,
                                             PARTITION_WITHOUT_GENERATION: 1}


def test_metadata_is_capped_worst_first(pipeline):
    defs = project([pipeline.cohort], lineage_checks(max_findings=2))
    draft, essays, evaluations = delete_a_draft(pipeline)
    ev = evaluation(pipeline.run(defs, "cohort_job", pipeline.cohort), STORE_CHECK)
    shown = findings(ev)
    assert len(shown) == 2 == ev.metadata["findings_shown"].value
    assert ev.metadata["findings_total"].value == len(essays) + len(evaluations) + 2
    assert {f["severity"] for f in shown} == {"error"}
    assert set(shown[0]) == {"check", "severity", "stage", "gen_id", "path", "message"}


# --- configuration ----------------------------------------------------------------------------------

def test_data_root_parameter_wins_over_the_environment(pipeline, tmp_path):
    """The assets read $DAYDREAMING_DATA_ROOT (the clean store); a check given data_root audits
    that root instead (a copy with a draft deleted), one without it audits the environment's."""
    damaged = tmp_path / "damaged"
    shutil.copytree(pipeline.data, damaged)
    draft = next(d for d in pipeline.metadata("draft") if pipeline.children("essay", d))
    essay = pipeline.children("essay", draft)[0]
    shutil.rmtree(damaged / "gens" / "draft" / draft)

    ev = evaluation(pipeline.run(project([pipeline.cohort], lineage_checks(data_root=damaged)), "essay_job", essay),
                    GENERATION_CHECK)
    assert keys(ev) == {("chain.parent_missing", "error", "essay", essay)}
    assert ev.metadata["data_root"].value == str(damaged)

    ev = evaluation(pipeline.run(project([pipeline.cohort], lineage_checks()), "essay_job", essay), GENERATION_CHECK)
    assert ev.passed and ev.metadata["data_root"].value == str(pipeline.data)


def test_unreadable_data_root_fails_the_check(pipeline, tmp_path):
    checks = [c for c in lineage_checks(data_root=tmp_path / "missing")
              if c.check_key.asset_key.path == ["cohort_membership"]]
    defs = project([pipeline.cohort], checks)
    ev = evaluation(pipeline.run(defs, "cohort_job", pipeline.cohort), STORE_CHECK)
    assert (ev.passed, ev.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert "not a folder" in ev.description


def test_definitions_take_the_pipeline_defaults():
    checks = lineage_checks()
    assert sorted((c.check_key.asset_key.to_user_string(), c.check_key.name) for c in checks) == [
        ("cohort_membership", STORE_CHECK), ("draft_parsed", GENERATION_CHECK),
        ("essay_parsed", GENERATION_CHECK), ("evaluation_parsed", GENERATION_CHECK)]
    with pytest.raises(ValueError, match="unknown stages"):
        lineage_checks(stage_assets={"drafts": "draft_parsed"})
    with pytest.raises(ValueError, match="error, warn or info"):
        lineage_checks(severity={"cohort.unreachable": "fatal"})


def test_missing_dagster_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dagster", None)  # `import dagster` now raises ImportError
    monkeypatch.delitem(sys.modules, "lineage.dagster")
    with pytest.raises(ImportError, match=r"daydream-lineage\[dagster\]"):
        importlib.import_module("lineage.dagster")


def test_generation_check_launched_without_a_partition_audits_its_stage(pipeline):
    """Run-partition mode, the check launched on its own (no partition in the run): every finding
    of its stage."""
    checks = lineage_checks(partitioned=False)
    draft, essays, _ = delete_a_draft(pipeline)
    check = dg.AssetCheckKey(dg.AssetKey("essay_parsed"), GENERATION_CHECK)
    job = dg.define_asset_job("essay_check", selection=dg.AssetSelection.checks(check))
    defs = project([pipeline.cohort], checks, jobs=(job,))
    result = defs.resolve_job_def("essay_check").execute_in_process(instance=pipeline.instance)
    ev = evaluation(result, GENERATION_CHECK)
    assert ev.metadata["scope"].value == "stage"
    assert keys(ev) == {("chain.parent_missing", "error", "essay", e) for e in essays}


def test_a_severity_override_must_name_a_check():
    with pytest.raises(ValueError, match="name no check of the catalog"):
        lineage_checks(severity={"chain.parent_gone": "warn"})
