"""The lineage audit as Dagster asset checks, for a DayDreaming project's `Definitions`.

    from lineage.dagster import lineage_checks

    defs = Definitions(assets=[...], asset_checks=[..., *lineage_checks()])

- `generation_checks()`: one check per stage asset (`draft_parsed`, `essay_parsed`,
  `evaluation_parsed` by default), run with each partition the pipeline materializes. It audits
  the store and reports the findings of that generation (the partition key is its gen_id):
  metadata, ID, parent chain, cohort membership, and a partition key with no generation folder.
- `store_check()`: one check on the cohort asset (`cohort_membership` by default) that reports
  every finding of the store, and the keys of `draft_gens`/`essay_gens`/`evaluation_gens` that
  name no generation folder.

Severities: a finding at `error` fails the check with `AssetCheckSeverity.ERROR`, one at `warn`
(and none at `error`) with `WARN`; `info` findings pass and are listed in the metadata.

Which partition a check sees: from dagster 1.13 an asset check can be partitioned itself
(`@asset_check(partitions_def=...)`); the generation checks then carry the stage's dynamic
partition set, run for exactly the partition being materialized and their results are kept per
partition. Older dagster (the pipeline pins >=1.11.5) has no partitioned checks; there the check
is unpartitioned and reads the partition of the run it executes in, so each run's result replaces
the asset's last one. `partitioned=None` picks the first when the installed dagster has it.

In 1.13 dagster still calls partitioned checks a preview (it warns once per check definition).

Every check run scans and audits the whole data root once (about 0.2 s for 5,000 generations),
because a generation's findings depend on its parents and on every cohort; it never writes.
"""

from __future__ import annotations

import inspect
import os
import re
from collections import Counter
from typing import Any, Mapping

try:
    import dagster as dg
except ImportError as exc:  # the extra is optional; say which one brings it in
    raise ImportError("lineage.dagster needs the dagster package: pip install 'daydream-lineage[dagster]'") from exc

from lineage.analyses.audit import audit
from lineage.loaders.networkx_graph import NetworkxBackend
from lineage.loaders.store import scan

STAGES = ("draft", "essay", "evaluation")
# The pipeline's names (daydreaming_dagster.definitions): the last asset of each stage, the
# dynamic partition set of each stage, the cohort asset and the environment's data root.
STAGE_ASSETS = {"draft": "draft_parsed", "essay": "essay_parsed", "evaluation": "evaluation_parsed"}
PARTITION_SETS = {"draft": "draft_gens", "essay": "essay_gens", "evaluation": "evaluation_gens"}
COHORT_ASSET = "cohort_membership"
DATA_ROOT_ENV = "DAYDREAMING_DATA_ROOT"
DEFAULT_DATA_ROOT = "data"

GENERATION_CHECK = "lineage_generation"
STORE_CHECK = "lineage_store"
PARTITION_WITHOUT_GENERATION = "dagster.partition_without_generation"
MAX_FINDINGS = 50  # findings listed in a check's metadata; the counts cover all of them
MAX_MESSAGE = 300

_RANK = {"info": 1, "warn": 2, "error": 3}
_SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


# --- choices made when the checks are defined ----------------------------------------------------

def supports_partitioned_checks() -> bool:
    """Whether the installed dagster runs partitioned asset checks (1.13 and later)."""
    if "partitions_def" not in inspect.signature(dg.asset_check).parameters:
        return False
    m = re.match(r"(\d+)\.(\d+)\.", dg.__version__)
    return m is None or (int(m[1]), int(m[2])) >= (1, 13)  # no version number: a development build


def _severity_overrides(severity: Mapping[str, str] | None) -> dict[str, str]:
    from lineage.queries.catalog import BY_ID

    out = dict(severity or {})
    bad = {k: v for k, v in out.items() if v not in _RANK}
    if bad:
        raise ValueError(f"severity overrides must be error, warn or info: {bad}")
    unknown = sorted(k for k in out if k not in BY_ID and k != PARTITION_WITHOUT_GENERATION)
    if unknown:
        raise ValueError(f"severity overrides name no check of the catalog: {unknown} (lineage checks lists them)")
    return out


def _per_stage(name: str, given: Mapping[str, Any] | None, default: Mapping[str, Any]) -> dict[str, Any]:
    """`given` (else `default`), a value per stage: a key that is not a stage is an error."""
    out = dict(default if given is None else given)
    unknown = sorted(set(out) - set(STAGES))
    if unknown:
        raise ValueError(f"{name}: unknown stages {unknown}; the stages are {list(STAGES)}")
    return out


# --- what a check run does -----------------------------------------------------------------------

def resolve_data_root(data_root: str | os.PathLike | None = None) -> str:
    """The given data root, else $DAYDREAMING_DATA_ROOT, else `data` (as the pipeline resolves it)."""
    chosen = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV, DEFAULT_DATA_ROOT)
    return os.path.abspath(os.fspath(chosen))


def _findings(root: str, overrides: dict[str, str]) -> tuple[list[dict], dict]:
    report = audit(NetworkxBackend.from_store(scan(root, metadata=False)), root, severity=overrides)
    rows = [{"check": f.check, "severity": f.severity, "stage": f.stage, "gen_id": f.gen_id, "path": f.path,
             "message": f.message} for f in report.findings]
    return rows, report.statistics


def _is_generation(root: str, stage: str, key: str) -> bool:
    if not key or key in (".", "..") or any(c in key for c in "/\\\0"):
        return False
    return os.path.isdir(os.path.join(root, "gens", stage, key))


def _no_generation(stage: str, key: str, partition_set: str, overrides: dict[str, str]) -> dict:
    return {"check": PARTITION_WITHOUT_GENERATION,
            "severity": overrides.get(PARTITION_WITHOUT_GENERATION, "warn"),
            "stage": stage, "gen_id": key, "path": f"gens/{stage}/{key}",
            "message": f"partition key {key} of {partition_set} names no generation folder"}


def _run_partition_keys(context) -> list[str] | None:
    """The partition key(s) of this check's execution: its own partition when the check is
    partitioned, else the run's; None when the run has none."""
    op = context.op_execution_context
    if op.has_partition_key:
        return [op.partition_key]
    if op.has_partition_key_range:
        return list(op.partition_keys)
    return None


def _unreadable_root(root: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR,
                               description=f"data root {root} is not a folder (set data_root or {DATA_ROOT_ENV})",
                               metadata={"data_root": dg.MetadataValue.path(root)})


def _cut(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 1] + "…"


def check_result(findings: list[dict], subject: str, metadata: Mapping[str, Any] | None = None,
                 max_findings: int = MAX_FINDINGS) -> dg.AssetCheckResult:
    """The check's verdict on `findings` (dicts with check, severity, stage, gen_id, path and
    message): failed with ERROR or WARN after the worst of them, passed when there are only info
    findings or none. The metadata lists the worst `max_findings` and counts all of them."""
    counts = Counter(f["severity"] for f in findings)
    worst = max((_RANK[f["severity"]] for f in findings), default=0)
    # Worst first, the audit's order within one severity.
    shown = sorted(findings, key=lambda f: -_RANK[f["severity"]])[:max(0, max_findings)]
    listed = [{**f, "message": _cut(f["message"])} for f in shown]
    meta: dict[str, Any] = {
        **(metadata or {}),
        "errors": counts["error"], "warnings": counts["warn"], "info": counts["info"],
        "findings_total": len(findings), "findings_shown": len(listed),
        "by_check": dg.MetadataValue.json(dict(sorted(Counter(f["check"] for f in findings).items()))),
        "findings": dg.MetadataValue.json(listed),
    }
    summary = (f"{subject}: {counts['error']} errors, {counts['warn']} warnings, {counts['info']} info"
               + (f"; {shown[0]['check']}: {listed[0]['message']}" if shown else ""))
    if worst >= _RANK["warn"]:
        level = "error" if worst == _RANK["error"] else "warn"
        return dg.AssetCheckResult(passed=False, severity=_SEVERITY[level], description=summary, metadata=meta)
    return dg.AssetCheckResult(passed=True, description=summary, metadata=meta)


# --- the checks ------------------------------------------------------------------------------------

def generation_checks(*, data_root: str | os.PathLike | None = None, stage_assets: Mapping[str, Any] | None = None,
                      partition_sets: Mapping[str, str] | None = None, partitioned: bool | None = None,
                      severity: Mapping[str, str] | None = None, max_findings: int = MAX_FINDINGS,
                      blocking: bool = False, name: str = GENERATION_CHECK) -> list[dg.AssetChecksDefinition]:
    """One check per stage asset that audits the generation(s) just materialized.

    data_root: the store (default: $DAYDREAMING_DATA_ROOT, else `data`), read when the check runs.
    stage_assets: {stage: asset key or AssetsDefinition}; default the pipeline's `*_parsed` assets.
        Pass a subset to check some stages only.
    partition_sets: {stage: name of its DynamicPartitionsDefinition}; default `<stage>_gens`.
    partitioned: True makes partitioned checks (dagster >= 1.13), False unpartitioned checks that
        read the run's partition; None: partitioned when the installed dagster supports it.
    severity: {check id: error|warn|info} overrides, as `lineage audit --severity`.
    blocking: a failed ERROR check stops downstream assets of the same run (Dagster's `blocking`).
    A run without a partition (a check launched on its own, unpartitioned) audits the whole stage.
    """
    assets = _per_stage("stage_assets", stage_assets, STAGE_ASSETS)
    sets = _per_stage("partition_sets", partition_sets, PARTITION_SETS)
    overrides = _severity_overrides(severity)
    if partitioned is None:
        partitioned = supports_partitioned_checks()
    elif partitioned and not supports_partitioned_checks():
        raise ValueError(f"partitioned asset checks need dagster >= 1.13 (installed: {dg.__version__}); "
                         "pass partitioned=False to read the run's partition instead")
    missing = [s for s in assets if partitioned and s not in sets]
    if missing:
        raise ValueError(f"partitioned checks need the partition set of stages {missing} (partition_sets)")
    return [_generation_check(stage, asset, sets.get(stage, ""), data_root, partitioned, overrides, max_findings,
                              blocking, name)
            for stage, asset in assets.items()]


def _generation_check(stage: str, asset: Any, partition_set: str, data_root, partitioned: bool,
                      overrides: dict[str, str], max_findings: int, blocking: bool, name: str):
    extra = {"partitions_def": dg.DynamicPartitionsDefinition(name=partition_set)} if partitioned else {}

    @dg.asset_check(asset=asset, name=name, blocking=blocking, **extra,
                    description=f"lineage audit of the {stage} generation(s) of this partition: metadata, ID, "
                                "parent chain and cohort findings of that gen_id")
    def _check(context) -> dg.AssetCheckResult:
        root = resolve_data_root(data_root)
        if not os.path.isdir(root):
            return _unreadable_root(root)
        keys = _run_partition_keys(context)
        rows, _ = _findings(root, overrides)
        if keys is None:
            found = [f for f in rows if f["stage"] == stage]
            subject, scope = f"every {stage}", {"scope": "stage"}
        else:
            wanted = set(keys)
            found = [f for f in rows if f["stage"] == stage and f["gen_id"] in wanted]
            found += [_no_generation(stage, k, partition_set or "the partition set", overrides)
                      for k in keys if not _is_generation(root, stage, k)]
            subject = f"{stage} {keys[0]}" if len(keys) == 1 else f"{len(keys)} {stage}s"
            scope = {"scope": "generation", "gen_ids": dg.MetadataValue.json(keys[:max(1, max_findings)])}
        return check_result(found, subject, {"data_root": dg.MetadataValue.path(root), "stage": stage, **scope},
                            max_findings)

    return _check


def store_check(*, data_root: str | os.PathLike | None = None, asset: Any = COHORT_ASSET,
                partition_sets: Mapping[str, str] | None = None, severity: Mapping[str, str] | None = None,
                max_findings: int = MAX_FINDINGS, blocking: bool = False,
                name: str = STORE_CHECK) -> dg.AssetChecksDefinition:
    """One check on the cohort asset that audits the whole store: every finding of every
    generation and cohort, and every key of the stages' dynamic partition sets (in the instance
    that runs the check) that names no generation folder. `partition_sets={}` leaves the keys
    alone. The other parameters are those of `generation_checks`."""
    sets = _per_stage("partition_sets", partition_sets, PARTITION_SETS)
    overrides = _severity_overrides(severity)

    @dg.asset_check(asset=asset, name=name, blocking=blocking,
                    description="lineage audit of the whole generation store, and partition keys without a "
                                "generation")
    def _check(context) -> dg.AssetCheckResult:
        root = resolve_data_root(data_root)
        if not os.path.isdir(root):
            return _unreadable_root(root)
        found, stats = _findings(root, overrides)
        for stage, partition_set in sets.items():
            keys = context.instance.get_dynamic_partitions(partition_set)
            found += [_no_generation(stage, k, partition_set, overrides) for k in keys
                      if not _is_generation(root, stage, k)]
        meta: dict[str, Any] = {"data_root": dg.MetadataValue.path(root), "scope": "store",
                                "generations": dg.MetadataValue.json(stats["generations"]),
                                "id_classes": dg.MetadataValue.json(stats["id_classes"])}
        keys = _run_partition_keys(context)
        if keys:
            meta["cohort"] = ", ".join(keys)
        return check_result(found, "the store", meta, max_findings)

    return _check


def lineage_checks(*, data_root: str | os.PathLike | None = None, stage_assets: Mapping[str, Any] | None = None,
                   cohort_asset: Any = COHORT_ASSET, partition_sets: Mapping[str, str] | None = None,
                   partitioned: bool | None = None, severity: Mapping[str, str] | None = None,
                   max_findings: int = MAX_FINDINGS, blocking: bool = False) -> list[dg.AssetChecksDefinition]:
    """The generation checks of every stage and the store check, with the pipeline's defaults."""
    common = {"data_root": data_root, "partition_sets": partition_sets, "severity": severity,
              "max_findings": max_findings, "blocking": blocking}
    return [*generation_checks(stage_assets=stage_assets, partitioned=partitioned, **common),
            store_check(asset=cohort_asset, **common)]


__all__ = ["COHORT_ASSET", "DATA_ROOT_ENV", "GENERATION_CHECK", "PARTITION_SETS", "PARTITION_WITHOUT_GENERATION",
           "STAGE_ASSETS", "STORE_CHECK", "check_result", "generation_checks", "lineage_checks", "resolve_data_root",
           "store_check", "supports_partitioned_checks"]
