"""Building the synthetic store in memory: the healthy cohorts and lineages, legacy and
mismatched IDs, and the metadata each generation gets."""

from __future__ import annotations

import random
from typing import Any

from lineage.core import ids
from lineage.synthetic.model import (COPY_TEMPLATE, COHORT_DATES, COHORT_NAMES, DIGITS, DRAFT_TEMPLATES, DROP,
                                     ESSAY_TEMPLATES, EVALUATION_MODELS, EVALUATION_TEMPLATES, GENERATION_MODELS,
                                     MEMBERSHIP_SHAPES, Expected, _Cohort, _Gen, _Lineage)


class _Ctx:
    """Everything `generate` builds before writing, plus what the planters report."""

    def __init__(self, rng: random.Random, problems: tuple[str, ...]):
        self.rng = rng
        self.problems = problems
        self.cohorts: list[_Cohort] = []
        self.regular: list[_Cohort] = []
        self.lineages: list[_Lineage] = []
        self.added: list[tuple[_Gen, _Cohort]] = []  # creation order, so the last one is a leaf
        self.draft_sigs: set[tuple] = set()
        self.expected: list[Expected] = []
        self.tainted: set[tuple[str, str]] = set()
        self.pool: list[_Lineage] = []  # lineages planters may take
        self.path_skipped = False
        self.dangling: dict[str, Any] = {}

    # -- building --

    def add(self, g: _Gen, cohort: _Cohort) -> _Gen:
        if g.parent is not None:
            g.parent.children.append(g)
        cohort.members.append(g)
        self.added.append((g, cohort))
        return g

    def take(self) -> _Lineage:
        """A lineage of its own for one planted problem: a draft, an essay, an evaluation at least."""
        lin = self.pool.pop() if self.pool else _small_lineage(self, self.rng.choice(self.regular))
        lin.reserved = True
        return lin

    # -- reporting --

    def expect(self, check: str, g: _Gen, on_meta: bool = False) -> None:
        path = g.folder + "/metadata.json" if on_meta else g.folder
        self.expected.append(Expected(check, g.where, g.gen_id, path))

    def plant(self, check: str, *gens: _Gen, on_meta: bool = False, descendants: bool = True) -> None:
        """Each of `gens` must be reported under `check`, and is (with its descendants) no
        longer healthy."""
        for g in gens:
            self.expect(check, g, on_meta)
            self.taint(g, descendants)

    def taint(self, g: _Gen, descendants: bool = True) -> None:
        self.tainted.add((g.where, g.gen_id))
        self.tainted.add((g.stage, g.gen_id))
        if descendants:
            for c in g.children:
                self.taint(c)


# --- building the healthy store --------------------------------------------------------------

def _build_cohorts(ctx: _Ctx, budget: int) -> None:
    rng = ctx.rng
    n_regular = max(2, min(8, 2 + budget // 5000))
    drafts_per_cohort = max(3, budget // 17 // n_regular)
    for i in range(n_regular):
        cohort_id = f"{COHORT_NAMES[i % len(COHORT_NAMES)]}-{COHORT_DATES[i % len(COHORT_DATES)]}"
        if i >= len(COHORT_NAMES):
            cohort_id += f"-{i // len(COHORT_NAMES) + 1}"
        draft_templates = rng.sample(DRAFT_TEMPLATES, rng.randint(1, 2))
        essay_templates = rng.sample(ESSAY_TEMPLATES, rng.randint(1, 2))
        if any(t.startswith("links") for t in draft_templates):
            essay_templates.append(COPY_TEMPLATE)
        if i == 0:  # the top-essay shape of the real store: 11 templates x 2 models x 2 replicates
            eval_templates, eval_models, reps = list(EVALUATION_TEMPLATES), list(EVALUATION_MODELS[:2]), 2
        else:
            eval_templates = rng.sample(EVALUATION_TEMPLATES, rng.randint(4, 9))
            eval_models = rng.sample(EVALUATION_MODELS, rng.randint(1, 2))
            reps = rng.choice((1, 2, 2))
        cohort = _Cohort(
            cohort_id=cohort_id, shape=MEMBERSHIP_SHAPES[i % len(MEMBERSHIP_SHAPES)],
            combos=[f"combo_v1_{rng.getrandbits(48):012x}" for _ in range(max(2, drafts_per_cohort // 2))],
            draft_templates=draft_templates, essay_templates=essay_templates,
            evaluation_templates=eval_templates,
            generation_models=rng.sample(GENERATION_MODELS, rng.randint(1, 3)),
            evaluation_models=eval_models, replication={"draft": 1, "essay": 1, "evaluation": reps})
        ctx.cohorts.append(cohort)
        ctx.regular.append(cohort)


def _new_draft(ctx: _Ctx, cohort: _Cohort) -> _Lineage:
    rng = ctx.rng
    combo = rng.choice(cohort.combos)
    template = rng.choice(cohort.draft_templates)
    model = rng.choice(cohort.generation_models)
    replicate = 1
    # A repeated signature is what a replicate is: the next free number, as the allocator does.
    while (combo, template, model, replicate) in ctx.draft_sigs:
        replicate += 1
    ctx.draft_sigs.add((combo, template, model, replicate))
    draft = ctx.add(_Gen("draft", cohort.cohort_id, template, model, replicate, combo), cohort)
    lin = _Lineage(draft, cohort)
    ctx.lineages.append(lin)
    return lin


def _new_essay(ctx: _Ctx, cohort: _Cohort, draft: _Gen, template: str) -> _Gen:
    replicate = 1 + sum(1 for e in draft.children if e.template == template)
    copy = template == COPY_TEMPLATE
    return ctx.add(_Gen("essay", cohort.cohort_id, template, "" if copy else draft.model, replicate,
                        draft.combo, parent=draft, mode="copy" if copy else "llm"), cohort)


def _new_evaluation(ctx: _Ctx, cohort: _Cohort, essay: _Gen, template: str, model: str,
                    replicate: int) -> _Gen:
    score = round(ctx.rng.triangular(1.0, 9.5, 6.0), 1)
    return ctx.add(_Gen("evaluation", cohort.cohort_id, template, model, replicate, essay.combo,
                        parent=essay, score=score), cohort)


def _build_bulk(ctx: _Ctx, budget: int) -> None:
    rng = ctx.rng
    i = 0
    while len(ctx.added) < budget:
        cohort = ctx.regular[i % len(ctx.regular)] if i < len(ctx.regular) else rng.choice(ctx.regular)
        i += 1
        lin = _new_draft(ctx, cohort)
        draft = lin.draft
        # Real ratio: 289 drafts, 258 essays: some drafts never got an essay, a few got two.
        n_essays = rng.choices((0, 1, 2), weights=(15, 78, 7))[0]
        for _ in range(n_essays):
            llm_templates = [t for t in cohort.essay_templates if t != COPY_TEMPLATE]
            template = (COPY_TEMPLATE if draft.template.startswith("links") and not draft.children
                        and COPY_TEMPLATE in cohort.essay_templates else rng.choice(llm_templates))
            essay = _new_essay(ctx, cohort, draft, template)
            for tpl in cohort.evaluation_templates:
                for model in cohort.evaluation_models:
                    for rep in range(1, cohort.replication["evaluation"] + 1):
                        if rng.random() < 0.95:  # a few evaluations failed and were never retried
                            _new_evaluation(ctx, cohort, essay, tpl, model, rep)
    # Trim the last lineage back to the budget; the newest generation is always a leaf.
    while len(ctx.added) > budget:
        g, cohort = ctx.added.pop()
        cohort.members.pop()
        if g.parent is not None:
            g.parent.children.pop()
        else:
            ctx.lineages.pop()


def _small_lineage(ctx: _Ctx, cohort: _Cohort) -> _Lineage:
    """A draft with one LLM essay and two evaluations, for planting when the bulk runs out."""
    lin = _new_draft(ctx, cohort)
    template = ctx.rng.choice([t for t in cohort.essay_templates if t != COPY_TEMPLATE])
    essay = _new_essay(ctx, cohort, lin.draft, template)
    for tpl in cohort.evaluation_templates[:2]:
        _new_evaluation(ctx, cohort, essay, tpl, cohort.evaluation_models[0], 1)
    return lin


def _build_curated(ctx: _Ctx, budget: int) -> None:
    """A cohort from 2_tasks/selected_essays.txt: reuse-essays with fill-up, as after 2025-10-04.

    The selected essays, their drafts and their matching evaluations are reused (their
    origin_cohort_id stays the first cohort); only the shortfall of replicates is new.
    """
    rng = ctx.rng
    candidates = [(lin, e) for lin in ctx.lineages for e in lin.draft.children if e.children]
    if not candidates:
        return
    selected = rng.sample(candidates, min(3, max(1, len(candidates) // 4)))
    n_v = 3
    templates = rng.sample(EVALUATION_TEMPLATES[:4], 2)
    models = list(EVALUATION_MODELS[:2])
    cohort = _Cohort(cohort_id="curated-top-essays-2025-10-05", shape="slim", combos=[],
                     draft_templates=[], essay_templates=[], evaluation_templates=templates,
                     generation_models=[], evaluation_models=models,
                     replication={"draft": 1, "essay": 1, "evaluation": n_v})
    ctx.cohorts.append(cohort)
    new = 0
    for lin, essay in selected:
        lin.curated = True
        cohort.members.extend((lin.draft, essay))
        cohort.combos.append(lin.draft.combo)
        for tpl in templates:
            for model in models:
                existing = sorted((c for c in essay.children if c.template == tpl and c.model == model),
                                  key=lambda c: c.replicate)
                cohort.members.extend(existing[:n_v])
                # The allocator starts at the first free replicate and counts up from there.
                start = max((c.replicate for c in existing), default=0) + 1
                for rep in range(start, start + max(0, n_v - len(existing))):
                    if new >= budget:
                        break
                    _new_evaluation(ctx, cohort, essay, tpl, model, rep)
                    new += 1
    cohort.combos = sorted(set(cohort.combos))


def _choose_legacy(ctx: _Ctx, fraction: float) -> None:
    if fraction <= 0:
        return
    candidates = [lin for lin in ctx.lineages if not (lin.reserved or lin.curated or lin.legacy)]
    k = min(len(candidates), round(fraction * len(ctx.lineages)))
    for lin in ctx.rng.sample(candidates, k):
        _make_legacy(ctx, lin)


def _make_legacy(ctx: _Ctx, lin: _Lineage) -> None:
    # The legacy importer drew 16 random base36 characters, for every stage (DOMAIN 3.2).
    lin.legacy = True
    for g in lin.gens():
        g.legacy_id = "".join(ctx.rng.choices(DIGITS, k=16))


def _choose_mismatches(ctx: _Ctx, fraction: float) -> None:
    if fraction <= 0:
        return
    candidates = [g for lin in ctx.lineages if not (lin.reserved or lin.legacy) for g in lin.gens()]
    k = min(len(candidates), round(fraction * len(ctx.added)))
    for g in ctx.rng.sample(candidates, k):
        g.mint_template = _old_spelling(g.template)


def _old_spelling(template: str) -> str:
    return template.replace("-", "_")


# --- IDs and metadata ------------------------------------------------------------------------

def _base_meta(g: _Gen) -> dict:
    """The metadata as the pipeline writes it: its key order, empty keys left out."""
    meta = {"stage": g.stage, "gen_id": g.gen_id, "origin_cohort_id": g.cohort, "mode": g.mode,
            "template_id": g.template}
    if g.stage == "draft":
        meta["combo_id"] = g.combo
    else:
        meta["parent_gen_id"] = g.parent.gen_id
    if g.model:
        meta["llm_model_id"] = g.model
    meta["replicate"] = g.replicate
    return meta


def _edit(meta: dict, edits: dict | None) -> dict:
    if edits:
        for key, value in edits.items():
            if value is DROP:
                meta.pop(key, None)
            else:
                meta[key] = value
    return meta


def _mint(g: _Gen) -> None:
    if g.legacy_id:
        g.gen_id = g.legacy_id
        return
    meta = _edit(_base_meta(g), g.pre)
    if g.mint_template:
        meta["template_id"] = g.mint_template
    g.gen_id = ids.id_for(g.stage, meta)


def _mint_tree(g: _Gen) -> None:
    """IDs top-down: a child's signature holds its parent's stored ID (DOMAIN 3.4)."""
    _mint(g)
    for c in g.children:
        _mint_tree(c)


def _finalize_metadata(ctx: _Ctx) -> None:
    for lin in ctx.lineages:
        for g in lin.gens():
            g.meta = _edit(_edit(_base_meta(g), g.pre), g.post)


def _expect_id_kinds(ctx: _Ctx) -> None:
    """Findings that follow from IDs alone: signature mismatches, and legacy IDs when asked for."""
    want_legacy = "id.legacy" in ctx.problems
    for lin in ctx.lineages:
        for g in lin.gens():
            if not g.written:
                continue
            if g.mint_template:
                ctx.plant("id.signature_mismatch", g, descendants=False)
            elif g.legacy_id and want_legacy:
                ctx.expect("id.legacy", g)


