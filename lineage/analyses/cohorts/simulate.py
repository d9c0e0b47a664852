"""The whole simulation: every mode for the selected essays, a Cartesian cohort and/or a cohort
built from its spec, side by side, with the legacy generations each reuses or regenerates.

Which modes apply depends on the store's era (lineage.analyses.cohorts.spec.store_era): a cohort
with a spec is built from it (`spec`), never as the Cartesian product of its manifest, and a
spec-era store has no default input (its 2_tasks selection file, if any, is no longer read)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lineage.analyses.cohorts.build import (Build, EssayCase, Item, StoreIndex, resolve_essay, simulate_cartesian,
                                            simulate_essay)
from lineage.analyses.cohorts.config import FLAG_COLUMNS, Config, ConfigError, MissingColumn, cohort_manifest, load_config
from lineage.analyses.cohorts.inputs import SelectionInput, default_selection, directive_choice
from lineage.analyses.cohorts.modes import ESSAY_MODES, MODE_DESCRIPTIONS, SUMMARY_COLUMNS
from lineage.analyses.cohorts.spec import SPEC_MODES, Era, simulate_spec, store_era
from lineage.core import ids
from lineage.core.model import Store
from lineage.core.status import UsageError
from lineage.loaders.lineage_graph import LineageGraph

STAGES = ids.STAGES
DESCRIPTIONS = {**MODE_DESCRIPTIONS, **dict(SPEC_MODES)}


@dataclass
class Simulation:
    document: dict  # the JSON document
    summary_rows: list[dict]  # per mode, per stage, plus a "total" row per mode
    legacy_rows: list[dict]  # per mode: where legacy generations are reused, where regeneration is unavoidable
    answer: list[str]  # the same, one sentence per stage
    detail_rows: list[dict]  # per selected essay and mode
    warnings: list[str]
    builds: dict[str, Build] = field(default_factory=dict)  # mode -> its scheduled items


def sample_legacy(index: StoreIndex, n: int, seed: int) -> tuple[SelectionInput, list[str]]:
    """n legacy essays that can be simulated, chosen with random.Random(seed) from the sorted list."""
    pool = [gid for gid in index.legacy_essays() if resolve_essay(index, gid)[0] is not None]
    warnings = []
    if len(pool) < n:
        warnings.append(f"--sample {n}: only {len(pool)} legacy essays can be simulated; taking all of them")
    chosen = sorted(random.Random(seed).sample(pool, min(n, len(pool))))
    return SelectionInput(source=f"--sample {n} --seed {seed}", essays=chosen), warnings


def simulate(source: Store | LineageGraph, *, selection: SelectionInput | None = None,
             sample: tuple[int, int] | None = None, cartesian: str | None = None, cohort: str | None = None,
             evaluation_templates: list[str] | None = None, evaluation_models: list[str] | None = None,
             replicates: dict[str, int] | None = None, force: bool = False) -> Simulation:
    """Simulate every mode for the selected essays, a Cartesian cohort and/or a cohort built
    from its spec. Reads only the scanned store, the 1_raw CSVs and the spec; writes nothing."""
    store = source.store if isinstance(source, LineageGraph) else source
    flags = dict(evaluation_templates=evaluation_templates, evaluation_models=evaluation_models, replicates=replicates)
    only_spec = cohort is not None and selection is None and sample is None and cartesian is None
    if only_spec and any(flags.values()):
        raise UsageError("--evaluation-template, --evaluation-model and --replicates do not apply to --cohort: "
                         "the spec decides its templates, models and replicates")
    run = _Run(StoreIndex(store), store, force, flags)
    if sample is not None:
        selection, more = sample_legacy(run.index, *sample)
        run.warnings += more
    if selection is None and cartesian is None and cohort is None:
        selection = _default_input(store, run.era)
    if selection is not None:
        run.selected(selection)
    if cartesian is not None:
        run.cartesian(cartesian)
    if cohort is not None:
        run.spec(cohort)
    return run.finish()


def _default_input(store: Store, era: Era) -> SelectionInput:
    """The input when none is given: the 2_tasks selection file, before the spec era only."""
    if not era.spec:
        return default_selection(store)
    cohorts = f"cohorts with a spec: {', '.join(era.spec_cohorts)}" if era.spec_cohorts else "no cohort has one yet"
    also = ("; --selection 2_tasks/selected_essays.txt still simulates the curated modes of the earlier era"
            if any(s.stage == "essay" for s in store.selections) else "")
    raise UsageError(f"a spec-era store ({era.reason}): cohorts are built from their spec; pass --cohort ID "
                     f"({cohorts}){also}")


class _Run:
    """One simulation as it is put together: the builds of every mode, and the document."""

    def __init__(self, index: StoreIndex, store: Store, force: bool, flags: dict):
        self.index, self.store, self.force, self.flags = index, store, force, flags
        self.warnings: list[str] = []
        self.builds: list[tuple[str, Build]] = []
        self.doc: dict[str, Any] = {"data_root": store.root, "force": force, "input": None, "cartesian": None,
                                    "spec": None, "parameters": {}}
        self.detail_rows: list[dict] = []
        self.detail_doc: list[dict] = []
        self.reach: dict[str, set[str]] = {s: set() for s in STAGES}  # legacy generations in the selected lineages
        self.chosen_mode = ""

    @cached_property
    def era(self) -> Era:
        return store_era(self.store)

    def config(self, **extra) -> Config:
        """The rebuild parameters of the earlier era's modes; on a spec-era store, a missing
        `active` or `for_*` column says what to do instead."""
        try:
            return load_config(self.store.root, **self.flags, **extra)
        except MissingColumn as exc:
            if FLAG_COLUMNS.isdisjoint(exc.columns) or not self.era.spec_cohorts:
                raise
            raise ConfigError(f"{exc} (a spec-era store: simulate a cohort built from its spec with --cohort ID, "
                              "or name --evaluation-template and --evaluation-model)") from None

    def selected(self, selection: SelectionInput) -> None:
        """The curated modes for selected essays."""
        index = self.index
        cases, skipped = [], []
        for gid in dict.fromkeys(selection.essays):  # a repeated line selects the essay once
            case, why = resolve_essay(index, gid)
            if case is None:
                skipped.append({"essay": gid, "reason": why})
                self.warnings.append(f"skipped {gid}: {why}")
            else:
                cases.append(case)
        if not cases:
            raise UsageError(f"no selected essay can be simulated ({selection.source}: "
                             f"{len(selection.essays)} IDs, {len(skipped)} skipped)")
        cfg = self.config()
        _warn_empty(cfg, self.warnings)
        self.chosen_mode = directive_choice(selection)
        if selection.from_file and selection.directive_mode and not self.chosen_mode:
            self.warnings.append(f"{selection.source}: unknown mode directive {selection.directive_mode!r}")
        self.doc["input"] = {"source": selection.source, "selected": len(selection.essays),
                             "essays": [c.essay.gen_id for c in cases], "skipped": skipped,
                             "directive": {"mode": selection.directive_mode, "flags": selection.directive_flags,
                                           "selects": self.chosen_mode}}
        self.doc["parameters"]["selected"] = _parameters(cfg)
        for case in cases:
            for stage, g in (("draft", case.draft), ("essay", case.essay)):
                if g.id_kind == ids.LEGACY:
                    self.reach[stage].add(g.gen_id)
            self.reach["evaluation"].update(g.gen_id for g in index.evaluations_of.get(case.essay.gen_id, ())
                                            if g.id_kind == ids.LEGACY)
        for mode, _ in ESSAY_MODES:
            build = Build(index, cfg, self.force)
            for case in cases:
                row, entry = _detail(case, mode, simulate_essay(build, case, mode))
                self.detail_rows.append(row)
                self.detail_doc.append(entry)
            self.builds.append((mode, build))

    def cartesian(self, cohort_id: str) -> None:
        """A Cartesian cohort from its manifest: built, and built again, with fixed replicates and
        with the allocator."""
        if cohort_id in self.era.spec_cohorts:
            raise UsageError(f"cohort {cohort_id!r} has a spec (cohorts/{cohort_id}/spec/config.yaml): its build "
                             "compiles the spec (ties, pairs, tuples, replicates), not the Cartesian product of "
                             f"its manifest; use --cohort {cohort_id}")
        manifest, rel = cohort_manifest(self.store, cohort_id)
        cfg = self.config(manifest=manifest, manifest_path=rel)
        _warn_empty(cfg, self.warnings)
        params = _parameters(cfg)
        params.update(combos=cfg.combos, draft_templates=cfg.draft_templates, essay_templates=cfg.essay_templates,
                      generation_models=cfg.generation_models)
        self.doc["cartesian"] = {"cohort_id": cohort_id, "manifest": rel}
        self.doc["parameters"]["cartesian"] = params
        for allocator, first, again in ((False, "cartesian", "cartesian-rebuild"),
                                        (True, "cartesian-allocator", "cartesian-allocator-rebuild")):
            build = Build(self.index, cfg, self.force)
            simulate_cartesian(build, allocator)
            rebuild = Build(self.index, cfg, self.force, earlier=build)
            simulate_cartesian(rebuild, allocator)
            self.builds += [(first, build), (again, rebuild)]
        if not build.items:
            self.warnings.append(f"{rel}: the Cartesian product is empty (combos, templates or models): "
                                 "nothing scheduled")

    def spec(self, cohort_id: str) -> None:
        """A cohort built from its spec, as the pipeline builds it since 2025-10-02."""
        made = simulate_spec(self.store, self.index, cohort_id, self.force)
        self.doc["spec"] = made.document
        self.doc["parameters"]["spec"] = made.parameters
        self.warnings += made.warnings
        self.builds.append(("spec", made.build))

    def finish(self) -> Simulation:
        summary_rows, modes_doc = [], []
        counts_of = {mode: build.counts() for mode, build in self.builds}
        for mode, build in self.builds:
            counts = counts_of[mode]
            total = {k: sum(c[k] for c in counts.values()) for k in counts["draft"]}
            directive = "*" if mode == self.chosen_mode else ""
            for stage in STAGES:
                summary_rows.append({"mode": mode, "directive": directive, "stage": stage,
                                     **{k: counts[stage][k] for k in SUMMARY_COLUMNS[3:]}})
            summary_rows.append({"mode": mode, "directive": directive, "stage": "total",
                                 **{k: total[k] for k in SUMMARY_COLUMNS[3:]}})
            modes_doc.append({"mode": mode, "description": DESCRIPTIONS[mode],
                              "selected_by_directive": bool(directive), "stages": counts,
                              "llm_calls": total["llm_calls"],
                              "duplicates": [{"stage": i.stage, "new_id": i.gen_id, "duplicates": i.duplicates}
                                             for i in build.items.values() if i.duplicates]})
        legacy_doc, legacy_rows, answer = _legacy_reuse(self.builds, counts_of, self.reach, self.index)
        self.doc.update(modes=modes_doc, legacy_reuse=legacy_doc, legacy_answer=answer, detail=self.detail_doc,
                        warnings=self.warnings)
        return Simulation(self.doc, summary_rows, legacy_rows, answer, self.detail_rows, self.warnings,
                          dict(self.builds))


def _warn_empty(cfg: Config, warnings: list[str]) -> None:
    for name in ("evaluation_templates", "evaluation_models"):
        if not getattr(cfg, name):
            warnings.append(f"no active {name.replace('_', ' ')} ({cfg.sources.get(name)}): no evaluations scheduled")


def _parameters(cfg: Config) -> dict:
    return {"replicates": cfg.replicates, "evaluation_templates": cfg.evaluation_templates,
            "evaluation_models": cfg.evaluation_models,
            "copy_essay_templates": sorted(t for t, g in cfg.essay_generators.items() if g == "copy"),
            "sources": cfg.sources}


def _detail(case: EssayCase, mode: str, mine: list[Item]) -> tuple[dict, dict]:
    own = {(i.stage, i.gen_id): i for i in mine}.values()
    row: dict[str, Any] = {"essay": case.essay.gen_id, "id_class": case.essay.id_kind, "mode": mode}
    for stage in STAGES:
        row[f"{stage}_reused"] = sum(1 for i in own if i.stage == stage and not i.new)
        row[f"{stage}_new"] = sum(1 for i in own if i.stage == stage and i.new)
    row["llm_calls"] = sum(i.llm for i in own)
    row["duplicates"] = sum(1 for i in own if i.duplicates)
    reused_evals = [i.gen_id for i in own if i.stage == "evaluation" and not i.new]
    row["reused_evaluations"] = reused_evals
    entry = {**row, "draft": case.draft.gen_id, "items": [i.as_dict() for i in own]}
    return row, entry


def _legacy_reuse(builds: list[tuple[str, Build]], counts_of: dict[str, dict[str, dict[str, int]]],
                  reach: dict[str, set[str]], index: StoreIndex) -> tuple[list[dict], list[dict], list[str]]:
    """Per mode and stage: legacy generations in reach, how many the build reuses, how many new
    IDs it mints instead (and how many of those duplicate a legacy generation). All numbers come
    from the builds and their counts; the words only name them."""
    doc, rows = [], []
    reused_by: dict[str, list[str]] = {s: [] for s in STAGES}
    not_reused_by: dict[str, list[str]] = {s: [] for s in STAGES}
    for mode, build in builds:
        row = {"mode": mode}
        for stage in STAGES:
            c = counts_of[mode][stage]
            legacy_of = index.by_stage[stage]
            shadowing = [i for i in build.items.values() if i.stage == stage and i.new
                         and any(legacy_of[d].id_kind == ids.LEGACY for d in i.duplicates)]
            in_reach = set(reach[stage]) | {d for i in shadowing for d in i.duplicates
                                             if legacy_of[d].id_kind == ids.LEGACY}
            entry = {"mode": mode, "stage": stage, "legacy_in_reach": len(in_reach),
                     "legacy_reused": c["legacy_reused"], "new": c["new"], "new_duplicating_legacy": len(shadowing),
                     "reused_other": c["reused"] - c["legacy_reused"]}
            entry["summary"] = _cell(entry)
            doc.append(entry)
            row[stage] = entry["summary"]
            if in_reach:
                (reused_by if c["legacy_reused"] else not_reused_by)[stage].append(mode)
        row["llm_calls"] = sum(c["llm_calls"] for c in counts_of[mode].values())
        rows.append(row)
    answer = []
    for stage in STAGES:
        if not reused_by[stage] and not not_reused_by[stage]:
            answer.append(f"legacy {stage}s: none in reach")
            continue
        parts = []
        if reused_by[stage]:
            parts.append(f"reused by {', '.join(reused_by[stage])}")
        if not_reused_by[stage]:
            parts.append(f"regenerated (never reused) by {', '.join(not_reused_by[stage])}")
        answer.append(f"legacy {stage}s: " + "; ".join(parts))
    return doc, rows, answer


def _cell(e: dict) -> str:
    parts = [f"legacy {e['legacy_reused']}/{e['legacy_in_reach']} reused" if e["legacy_in_reach"] else "no legacy"]
    if e["new"]:
        dup = e["new_duplicating_legacy"]
        parts.append(f"{e['new']} new" + (f" ({dup} duplicate legacy)" if dup else ""))
    if e["reused_other"]:
        parts.append(f"{e['reused_other']} other reused")
    return "; ".join(parts)
