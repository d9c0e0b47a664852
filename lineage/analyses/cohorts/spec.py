"""The spec-era cohort build (the pipeline from 2025-10-02): the `spec` mode, and which era a
store belongs to.

A cohort with `cohorts/<id>/spec/config.yaml` is built by compiling its spec
(lineage.loaders.spec): every planned draft, essay and evaluation is registered under the ID the
build reserves against the store (the k = 0 ID, or the next collision suffix when a folder with
another signature holds it). A planned generation whose folder exists is reused (its metadata is
seeded only when missing); one without a folder is new. At materialization a generation costs
an LLM call iff its mode is `llm` (the pipeline reads a blank or absent mode as `llm`, in any
case), raw.txt is absent and the run is not forced; an evaluation is also spared by parsed.txt;
copy mode never calls.

Nothing of the earlier era is read: no `active` columns, no replicate counts (the spec's
replicate axes decide), no manifest. Modes come from `1_raw/<stage>_templates.csv`, and the
build's catalog checks apply (combos, models, replication_config.csv): a cohort the pipeline
would refuse is a one-line error, never a number.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lineage.analyses.cohorts.build import Build, StoreIndex
from lineage.core import ids
from lineage.core.model import Cohort, Generation, Store
from lineage.core.status import UsageError
from lineage.loaders.cohort_specs import SPEC_CONFIG, disagreements, existing_in, plan_cohort
from lineage.loaders.csv_chunks import read_small
from lineage.loaders.spec import Plan, against, check_catalogs, read_template_modes

SPEC_MODES: tuple[tuple[str, str], ...] = (
    ("spec", "the cohort's spec/config.yaml compiled as the pipeline's build does: the planned drafts, essays "
             "and evaluations under the IDs it reserves; existing folders reused, the rest new"),
)
TEMPLATE_CSVS = tuple(f"1_raw/{stage}_templates.csv" for stage in ids.STAGES)


@dataclass
class Era:
    """Whether a store is of the spec era, why, and its cohorts that have a spec."""

    spec: bool
    reason: str
    spec_cohorts: list[str] = field(default_factory=list)


def store_era(store: Store) -> Era:
    """Spec era when a cohort has a spec, or when the 1_raw template CSVs there are have no
    `active` column (the spec DSL retired it, and the pipeline refuses it since)."""
    with_spec = [c.cohort_id for c in store.cohorts if c.spec_path]
    if with_spec:
        return Era(True, f"cohorts/{with_spec[0]}/{SPEC_CONFIG} exists", with_spec)
    headers = [_header(store.root, rel) for rel in TEMPLATE_CSVS]
    headers = [h for h in headers if h is not None]
    if headers and not any("active" in h for h in headers):
        return Era(True, "the 1_raw template CSVs have no 'active' column")
    return Era(False, "")


def _header(root: str, rel: str) -> list[str] | None:
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        return None
    try:
        rows = read_small(path, rel, UsageError)
    except UsageError:
        return None  # unreadable: the mode that needs it says so
    return [h.strip().lower() for h in rows[0]] if rows else []


def spec_cohort(store: Store, cohort_id: str) -> Cohort:
    for cohort in store.cohorts:
        if cohort.cohort_id == cohort_id:
            if not cohort.spec_path:
                raise UsageError(f"cohort {cohort_id!r} has no {SPEC_CONFIG}: it was built before the spec DSL; "
                                 f"simulate it with --cartesian {cohort_id} (from its manifest) or a selection")
            return cohort
    raise UsageError(f"no cohort {cohort_id!r} under cohorts/")


class SpecBuild(Build):
    """A build of the spec era: the pipeline reads an existing generation's mode leniently."""

    def mode_of(self, g: Generation) -> str:
        return str((g.meta or {}).get("mode") or "llm").strip().lower() or "llm"


@dataclass
class SpecRun:
    build: SpecBuild
    document: dict  # the simulation document's "spec" entry
    parameters: dict  # its parameters["spec"]
    warnings: list[str]


def simulate_spec(store: Store, index: StoreIndex, cohort_id: str, force: bool) -> SpecRun:
    """What building `cohort_id` from its spec would reuse, mint and pay for. Reads the spec,
    the 1_raw template and model CSVs, combo_mappings.csv and the scanned store; writes nothing."""
    cohort = spec_cohort(store, cohort_id)
    plan = plan_cohort(store, cohort, templates=read_template_modes(store.root), reserve=against(existing_in(index.by_stage)))
    check_catalogs(plan, store.root)
    build = SpecBuild(index, None, force)
    for g in plan.generations:
        build.schedule(g.stage, g.gen_id, g.mode or "llm", ids.signature(g.stage, g.metadata(cohort_id)))
    new = {s: [i.gen_id for i in build.items.values() if i.stage == s and i.new] for s in ids.STAGES}
    document = {"cohort_id": cohort_id, "spec": cohort.spec_path,
                "planned": {s: len(plan.stage(s)) for s in ids.STAGES},
                "merged": len(plan.merged), "collisions": sum(ids.collision_of(i) > 0 for i in plan.ids()),
                "membership": _membership(cohort, plan), "new": new}
    return SpecRun(build, document, _parameters(cohort, plan), _warnings(cohort, plan))


def _membership(cohort: Cohort, plan: Plan) -> dict:
    """How the build would change membership.csv: planned generations it adds, rows it drops."""
    if not cohort.membership_read:
        return {"path": cohort.membership_path or None, "read": False, "added": len(plan.generations), "dropped": 0}
    found = disagreements(cohort, plan)
    dropped = sum(p.line is not None for p in found)
    return {"path": cohort.membership_path, "read": True, "added": len(found) - dropped, "dropped": dropped}


def _parameters(cohort: Cohort, plan: Plan) -> dict:
    def distinct(stage: str, attr: str) -> list:
        return list(dict.fromkeys(getattr(g, attr) for g in plan.stage(stage)))

    return {"combos": distinct("draft", "combo_id"), "draft_templates": distinct("draft", "template_id"),
            "essay_templates": distinct("essay", "template_id"),
            "evaluation_templates": distinct("evaluation", "template_id"),
            "generation_models": distinct("draft", "llm_model_id"), "essay_models": distinct("essay", "llm_model_id"),
            "evaluation_models": distinct("evaluation", "llm_model_id"),
            "replicates": {s: sorted(set(distinct(s, "replicate"))) for s in ids.STAGES},
            "sources": {"spec": cohort.spec_path, "modes": list(TEMPLATE_CSVS)}}


def _warnings(cohort: Cohort, plan: Plan) -> list[str]:
    out = []
    if plan.merged:
        out.append(f"{cohort.spec_path}: {len(plan.merged)} planned rows share an ID with an earlier one "
                   "(an essay's ID ignores essay_llm; IDs ignore case): the build keeps the first")
    unrunnable = [g for g in plan.generations if g.mode not in ("llm", "copy")]
    if unrunnable:
        g = unrunnable[0]
        out.append(f"{len(unrunnable)} planned generations get mode {g.mode!r} (e.g. {g.stage} template "
                   f"{g.template_id!r}: its generator cell in 1_raw/{g.stage}_templates.csv); the pipeline "
                   "refuses to run them, so they cost no LLM call")
    return out
