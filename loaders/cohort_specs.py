"""Cohorts built from a spec (`cohorts/<id>/spec/config.yaml`, from 2025-10-02): the spec
compiled against the store, and compared with the cohort's membership.csv.

The pipeline's cohort build compiles the spec, reserves each generation's ID against the store
(the collision rule of lineage.loaders.spec.planner) and writes membership.csv from the result.
So the two should name the same generations; when they do not, the spec was edited after the
last build, or the membership by hand. A spec that cannot be compiled is a finding of its own.

The comparison takes the IDs of the build that wrote the membership (`as_listed`), not those a
build would reserve today: a generation whose metadata was edited since would make today's build
take a collision suffix for it and new IDs for its descendants, and that damage is the ID and
chain checks' to report, not a disagreement between spec and membership. The simulation asks the
other question (what a build does now) and reserves against the store (`existing_in`).

Only cohorts with a spec cost anything here: a store without specs is not looked at twice, and
the spec package (and its YAML parser) is imported only when a cohort has one.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lineage.core import ids
from lineage.core.model import Cohort, Generation, Problem, Store

if TYPE_CHECKING:
    from lineage.loaders.spec import Existing, Plan, Planned, Reserve
    from lineage.loaders.spec.planner import TemplateModes

SPEC_CONFIG = "spec/config.yaml"
SPEC_MISMATCH = "cohort.spec_mismatch"
SPEC_INVALID = "cohort.spec_invalid"


def existing_in(by_stage: dict[str, dict[str, Generation]]) -> Existing:
    """What the store holds at each (stage, ID), as the build's collision rule reads it: no
    metadata.json (free), or the k = 0 ID its metadata implies ("" when it implies none).
    `by_stage` is the caller's index of the generations (stage -> gen_id -> record).

    A folder is looked up by the stage it sits under, as the build looks up gens/<stage>/<id>."""
    def held(stage: str, gen_id: str) -> str | None:
        g = by_stage[stage].get(gen_id)
        if g is None or g.meta_status == "missing":
            return None
        return g.expected_id if g.meta_status == "ok" else ""
    return held


def as_listed(cohort: Cohort) -> Reserve:
    """The IDs of the build that wrote this membership: per signature the first k in 0..4 whose
    ID it lists (that build took a suffix if a folder held another signature then), else k = 0."""
    listed = set(zip(cohort.stages, cohort.gen_ids))

    def reserve(stage: str, parts: tuple) -> str:
        for k in range(ids.MAX_COLLISION + 1):
            if (stage, gen_id := ids.deterministic_id(stage, parts, k)) in listed:
                return gen_id
        return ids.deterministic_id(stage, parts)
    return reserve


def plan_cohort(store: Store, cohort: Cohort, *, templates: TemplateModes | None = None,
                reserve: Reserve | None = None) -> Plan:
    """The generations a build of this cohort registers, with the IDs `reserve` gives (k = 0
    without it). SpecError when the spec cannot be compiled (or, with `templates`, names a
    template the catalog lacks)."""
    from lineage.loaders.spec import SpecError, load_spec, plan_generations

    if not cohort.spec_path:
        raise SpecError(f"cohort {cohort.cohort_id!r} has no {SPEC_CONFIG}")
    folder = os.path.join(store.root, cohort.path, os.path.dirname(SPEC_CONFIG))
    spec = load_spec(folder, label=cohort.spec_path)
    return plan_generations(spec, templates=templates, reserve=reserve)


def check_specs(store: Store) -> None:
    """Record, for every cohort with a spec, a problem per disagreement with its membership,
    or one problem when the spec cannot be compiled. Needs the store's generations."""
    with_spec = [c for c in store.cohorts if c.spec_path]
    if not with_spec:
        return  # (nor is the spec reader imported)
    from lineage.loaders.spec import SpecError

    for cohort in with_spec:
        # Without a readable membership (not built yet, or reported as invalid) nothing disagrees;
        # the spec is still compiled, to report one that cannot be.
        listed = cohort.membership_read
        try:
            plan = plan_cohort(store, cohort, reserve=as_listed(cohort) if listed else None)
        except SpecError as exc:
            store.problems.append(Problem(SPEC_INVALID, cohort.spec_path, str(exc), cohort=cohort.cohort_id))
            continue
        if listed:
            store.problems += disagreements(cohort, plan)


def disagreements(cohort: Cohort, plan: Plan) -> list[Problem]:
    """Members the spec does not plan (at their line), then planned generations the membership
    does not list (in the plan's order)."""
    planned = {(g.stage, g.gen_id): g for g in plan.generations}
    listed: set[tuple[str, str]] = set()
    out = []
    where, cid = cohort.membership_path, cohort.cohort_id
    for stage, gen_id, line in zip(cohort.stages, cohort.gen_ids, cohort.lines):
        listed.add((stage, gen_id))
        if (stage, gen_id) not in planned:
            out.append(Problem(SPEC_MISMATCH, where, f"member {stage} {gen_id} is not planned by the spec",
                               line, cid, stage, gen_id))
    for (stage, gen_id), g in planned.items():
        if (stage, gen_id) not in listed:
            out.append(Problem(SPEC_MISMATCH, where, f"the spec plans {stage} {gen_id} ({_signature(g)}), "
                               "which the membership does not list", None, cid, stage, gen_id))
    return out


def _signature(g: Planned) -> str:
    if g.stage == "draft":
        return f"combo {g.combo_id}, template {g.template_id}, model {g.llm_model_id}, replicate {g.replicate}"
    model = f", model {g.llm_model_id}" if g.stage == "evaluation" else ""
    return f"template {g.template_id}{model}, replicate {g.replicate}, of {ids.PARENT_STAGE[g.stage]} {g.parent_gen_id}"
