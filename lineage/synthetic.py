"""Synthetic DayDreaming data roots: realistic healthy stores, with problems planted on request.

This module owns `generate`, used by the tests, `lineage demo` and benchmarks. It writes a data
root as the pipeline would (gens/, cohorts/, 1_raw/, 2_tasks/, score CSVs, results/) and says,
for every problem it planted, the exact finding the audit must report (`Expected`).
"""

from __future__ import annotations

import csv
import os
import random
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import orjson

from lineage.core import ids

__all__ = ["ALL_PROBLEMS", "Expected", "SyntheticStore", "generate"]

# Every check of the catalog (lineage.queries.catalog.CHECKS) that `generate` can plant.
ALL_PROBLEMS: tuple[str, ...] = (
    "store.metadata_missing", "store.metadata_invalid", "store.files_missing", "store.path_skipped",
    "id.dir_mismatch", "id.stage_mismatch", "id.malformed", "id.legacy",
    "id.signature_mismatch", "id.signature_incomplete",
    "meta.required_missing", "meta.extraneous_field", "meta.invalid_value",
    "chain.parent_id_missing", "chain.parent_missing", "chain.parent_wrong_stage",
    "chain.parent_unreadable", "chain.ancestor_broken", "chain.draft_has_parent",
    "cohort.member_missing", "cohort.membership_invalid", "cohort.manifest_invalid",
    "cohort.unreachable", "ref.dangling",
)


@dataclass(frozen=True)
class Expected:
    """One finding the audit must report (the fields the report's finding carries)."""

    check: str
    stage: str | None
    gen_id: str | None
    path: str | None
    line: int | None = None
    column: str | None = None
    cohort: str | None = None


@dataclass
class SyntheticStore:
    root: str
    expected: list[Expected]  # every planted problem, as the finding it must produce
    # (stage, gen_id) of generations a planted problem touches, directly or through their parent
    # chain: they may carry findings beyond `expected` (e.g. the children of a deleted draft).
    tainted: set[tuple[str, str]]
    counts: dict[str, int]  # generation folders written per stage


# --- the pipeline's vocabulary ---------------------------------------------------------------

# Every template name has a dash: a mismatched ID is minted from the snake_case spelling
# (templates were renamed to kebab-case after minting), which no real template uses.
DRAFT_TEMPLATES = ("creative-synthesis-v10", "creative-synthesis-v7", "links-v4",
                   "deliberate-rolling-thread-v2", "rolling-summary-v1")
ESSAY_TEMPLATES = ("creative-synthesis-v10", "creative-synthesis-v7", "essay-theme-v6",
                   "essay-inventive-synthesis-v3")
COPY_TEMPLATE = "parsed-from-links-v1"  # copy-mode essays: the draft's parsed text, no LLM
EVALUATION_TEMPLATES = ("novelty-v2", "novelty-v1", "daydreaming-verification-v3", "scientific-rigor-v1",
                        "creativity-metrics-v2", "iterative-loops-v1", "fluency-v1",
                        "gemini-prior-art-eval", "o3-prior-art-eval", "style-coherence-v3", "depth-v2")
INACTIVE_EVALUATION_TEMPLATES = ("novelty-v0", "coherence-legacy-v1")
GENERATION_MODELS = ("gemini_25_pro", "deepseek_r1_p", "qwen3_235b_a22b", "sonnet-4")
EVALUATION_MODELS = ("sonnet-4", "gemini_25_pro", "gpt_5", "deepseek_r1_p")
LLM_MODELS = (  # id, model, provider, display name
    ("gemini_25_pro", "google/gemini-2.5-pro", "openrouter", "Gemini 2.5 Pro"),
    ("deepseek_r1_p", "deepseek/deepseek-r1", "openrouter", "DeepSeek R1"),
    ("qwen3_235b_a22b", "qwen/qwen3-235b-a22b", "openrouter", "Qwen3 235B A22B"),
    ("sonnet-4", "anthropic/claude-sonnet-4", "openrouter", "Claude Sonnet 4"),
    ("gpt_5", "openai/gpt-5", "openrouter", "GPT-5"),
)
COHORT_NAMES = ("creative-synthesis-gap-v1", "novelty-baseline", "deepseek-vs-gemini",
                "links-v4-sweep", "rolling-thread-pilot", "theme-essays-v6", "replicate-check",
                "inventive-synthesis-v3")
COHORT_DATES = ("2025-09-29", "2025-09-30", "2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04")
# Oldest first: wide with cohort_id (earlier), wide with origin_cohort_id (later), slim.
MEMBERSHIP_SHAPES = ("wide_cohort", "wide_origin", "slim")
MEMBERSHIP_HEADERS = {
    "slim": ["stage", "gen_id"],
    "wide_cohort": ["stage", "gen_id", "cohort_id", "parent_gen_id", "combo_id", "template_id", "llm_model_id"],
    "wide_origin": ["stage", "gen_id", "origin_cohort_id", "parent_gen_id", "combo_id", "template_id",
                    "llm_model_id", "replicate"],
}

DRAFT_LINES = (
    "Default mode network activity rises during mind-wandering.",
    "Combinatorial search over remote associations yields rare useful pairs.",
    "A critic model can rank candidate connections by novelty and plausibility.",
    "Offline consolidation replays experience in new orders.",
    "Most random pairings are noise; a filter must be cheap.",
    "Daydreaming loops could run continuously in the background of a model.",
    "Economic value accrues to whoever owns the filtered output.",
)
ESSAY_PARAGRAPHS = (
    "Large models answer questions, but they do not wonder. A daydreaming loop would sample pairs of "
    "concepts, ask a generator to connect them, and keep what a critic scores as new and useful.",
    "The cost is mostly wasted computation: nearly every pairing is unremarkable. That tax is the "
    "price of exploration, and it is paid up front, long before any insight is recognised.",
    "Such a system resembles the brain's default mode network, which is most active when attention "
    "drifts, replaying and recombining memories that a focused mind would never put side by side.",
    "If the loop works, the advantage compounds: proprietary insights feed the next round of "
    "training, and the data a competitor cannot buy becomes the moat.",
)
EVALUATION_REASONS = (
    "The essay connects the two concepts in a way prior work does not state explicitly.",
    "The core mechanism is well known; the framing adds little beyond restating it.",
    "The argument is coherent and the proposed feedback loop is concrete enough to test.",
    "Several claims are asserted rather than supported, which weakens the synthesis.",
)

_DIGITS = ids.ALPHABET
_JSON = orjson.OPT_INDENT_2  # the pipeline writes 2-space indent, UTF-8, no trailing newline
_DROP = object()  # in a metadata edit: remove the key


# --- the in-memory model of a store ---------------------------------------------------------

@dataclass(eq=False, slots=True)
class _Gen:
    stage: str
    cohort: str  # origin cohort
    template: str
    model: str  # "" when absent (copy-mode essays)
    replicate: Any
    combo: str
    parent: "_Gen | None" = None
    children: list["_Gen"] = field(default_factory=list)
    mode: str = "llm"
    score: float = 0.0
    gen_id: str = ""
    legacy_id: str = ""  # the folder carries this legacy ID instead of a deterministic one
    mint_template: str = ""  # the ID was minted from this template, before a rename (a mismatch)
    pre: dict | None = None  # metadata edits made before minting: they are part of the ID
    post: dict | None = None  # metadata edits made after minting: they are not
    damage: Callable[[bytes], bytes] | None = None  # turns the metadata.json bytes into bad ones
    folder_stage: str = ""  # set when the folder sits under another stage
    has_meta: bool = True
    skip_files: tuple[str, ...] = ()  # text files never written (a failed parse, a lost upload)
    written: bool = True
    empty: bool = False  # the folder exists, with no files at all
    member_expected: bool = False  # a membership row for it must yield cohort.member_missing
    meta: dict | None = None  # the final metadata, before `damage`

    @property
    def where(self) -> str:
        return self.folder_stage or self.stage

    @property
    def folder(self) -> str:
        return f"gens/{self.where}/{self.gen_id}"


@dataclass(eq=False, slots=True)
class _Lineage:
    draft: _Gen
    cohort: "_Cohort"
    reserved: bool = False  # a planter owns it
    curated: bool = False  # a curated cohort reuses part of it
    legacy: bool = False

    def gens(self) -> Iterator[_Gen]:
        stack = [self.draft]
        while stack:
            g = stack.pop()
            yield g
            stack.extend(reversed(g.children))

    @property
    def essay(self) -> _Gen:
        return self.draft.children[0]

    @property
    def evaluation(self) -> _Gen:
        return self.draft.children[0].children[0]


@dataclass(eq=False)
class _Cohort:
    cohort_id: str
    shape: str
    combos: list[str]
    draft_templates: list[str]
    essay_templates: list[str]
    evaluation_templates: list[str]
    generation_models: list[str]
    evaluation_models: list[str]
    replication: dict[str, int]
    members: list[_Gen] = field(default_factory=list)
    extra_rows: list[tuple[str, _Gen]] = field(default_factory=list)  # (listed stage, gen): wrong-stage rows
    short_row: bool = False  # the file ends in a truncated row
    bad_header: bool = False  # exported with ';' as separator, so no stage/gen_id columns
    manifest_damage: Callable[[bytes], bytes] | None = None


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


# --- public entry point ----------------------------------------------------------------------

def generate(root: str, generations: int = 1000, *, seed: int = 0, problems: Iterable[str] | str = (),
             legacy_fraction: float = 0.0, mismatch_fraction: float = 0.0,
             text_files: bool = True) -> SyntheticStore:
    """Write a data root of about `generations` generations to `root` (which must be empty).

    `problems`: check IDs to plant (or "all"); each is planted a few times, in lineages of its
    own, so one planted problem never changes another's finding. Planting may add a few small
    lineages beyond `generations`. `legacy_fraction` of the draft lineages get legacy IDs;
    `mismatch_fraction` of the generations get an ID their metadata does not reproduce.
    """
    chosen = _problem_list(problems)
    os.makedirs(root, exist_ok=True)
    if os.listdir(root):
        raise FileExistsError(f"{root} is not empty")
    rng = random.Random(seed)
    ctx = _Ctx(rng, chosen)
    budget = max(1, generations)
    curated_budget = min(60, budget // 10) if budget >= 40 else 0
    _build_cohorts(ctx, budget)
    _build_bulk(ctx, budget - curated_budget)
    if curated_budget:
        _build_curated(ctx, curated_budget)
        _build_bulk(ctx, budget)  # whatever the curated cohort left of its budget
    # Planters take from at most half of the bulk lineages, so most of the store stays healthy.
    eligible = [lin for lin in ctx.lineages if not lin.curated and lin.draft.children
                and lin.draft.children[0].children]
    rng.shuffle(eligible)
    ctx.pool = eligible[: len(eligible) // 2]
    ctx.pool.reverse()  # take() pops from the end
    reserved_planters = [_PLANTERS[p] for p in chosen]
    # Reserve first (a planter's extra lineage must exist before IDs are minted), plant after.
    plans = [planter(ctx) for planter in reserved_planters]
    _choose_legacy(ctx, legacy_fraction)
    _choose_mismatches(ctx, mismatch_fraction)
    for lin in ctx.lineages:
        _mint_tree(lin.draft)
    for plan in plans:
        plan()
    _expect_id_kinds(ctx)
    _finalize_metadata(ctx)
    counts = _write(ctx, os.path.abspath(root), text_files)
    return SyntheticStore(root=os.fspath(root), expected=ctx.expected, tainted=ctx.tainted, counts=counts)


def _problem_list(problems: Iterable[str] | str) -> tuple[str, ...]:
    if problems == "all":
        return ALL_PROBLEMS
    if isinstance(problems, str):
        problems = (problems,)
    out = []
    for p in problems:
        if p == "all":
            return ALL_PROBLEMS
        if p not in ALL_PROBLEMS:
            raise ValueError(f"unknown problem {p!r}; known: {', '.join(ALL_PROBLEMS)}")
        if p not in out:
            out.append(p)
    return tuple(out)


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
        g.legacy_id = "".join(ctx.rng.choices(_DIGITS, k=16))


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
            if value is _DROP:
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


# --- planters: each reserves its lineages, then returns what it does once IDs are minted ------

def _damage_array(raw: bytes) -> bytes:
    return b"[" + raw + b"]"  # a script that wrote a list of records


def _damage_latin1(raw: bytes) -> bytes:
    return raw[:-2] + ',\n  "note": "résumé"\n}'.encode("latin-1")  # valid JSON, not UTF-8


def _damage_empty(raw: bytes) -> bytes:
    return b""  # the process died between open() and write()


def _damage_truncated(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]  # disk full mid-write


def _plant_metadata_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay
        essay.has_meta = False  # the folder is made before the files: only prompt.txt so far
        ctx.plant("store.metadata_missing", essay)
        ev = b.evaluation
        ev.empty = True
        ctx.plant("store.metadata_missing", ev)
    return plan


def _plant_metadata_invalid(ctx: _Ctx):
    lins = [ctx.take() for _ in range(4)]

    def plan():
        victims = [(lins[0].evaluation, _damage_array), (lins[1].essay, _damage_latin1),
                   (lins[2].evaluation, _damage_empty), (lins[3].draft, _damage_truncated)]
        for g, damage in victims:
            g.damage = damage
            ctx.plant("store.metadata_invalid", g, on_meta=True)
    return plan


def _plant_files_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        ev = a.evaluation  # the LLM answered, parsing failed: no parsed.txt or parsed_metadata.json
        ev.skip_files = ("parsed.txt", "parsed_metadata.json")
        essay = b.essay  # only metadata.json made it (an interrupted copy)
        essay.skip_files = ("prompt.txt", "raw.txt", "parsed.txt", "raw_metadata.json", "parsed_metadata.json")
        for g in (ev, essay):
            ctx.expect("store.files_missing", g)
    return plan


def _plant_path_skipped(ctx: _Ctx):
    def plan():
        ctx.path_skipped = True
        for path in (_SYMLINK_CSV, _LATIN1_CSV):
            ctx.expected.append(Expected("store.path_skipped", None, None, path))
    return plan


def _plant_dir_mismatch(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay  # renamed during the migration; its metadata kept the old legacy ID
        essay.post = {"gen_id": "".join(ctx.rng.choices(_DIGITS, k=16))}
        ctx.plant("id.dir_mismatch", essay, on_meta=True, descendants=False)
        ev = b.evaluation
        ev.post = {"gen_id": _DROP}
        ctx.plant("id.dir_mismatch", ev, on_meta=True, descendants=False)
    return plan


def _plant_stage_mismatch(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay
        essay.post = {"stage": "draft"}
        ctx.plant("id.stage_mismatch", essay, descendants=False)
        # An evaluation folder moved under gens/essay/: its metadata stage and its prefix both
        # disagree with the folder (and, read as an essay, its parent and signature do too).
        ev = b.evaluation
        ev.folder_stage = "essay"
        ctx.expected.append(Expected("id.stage_mismatch", "essay", ev.gen_id, ev.folder))
        ctx.expected.append(Expected("id.stage_mismatch", "essay", ev.gen_id, ev.folder))
        ctx.taint(ev)
    return plan


def _plant_malformed(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        # Leaves, renamed consistently (folder and metadata), so only the shape is wrong.
        upper = a.evaluation
        upper.gen_id = upper.gen_id.upper()
        zero = b.evaluation
        zero.gen_id = zero.gen_id[:2] + "0" + zero.gen_id[2:]
        ctx.plant("id.malformed", upper, zero, descendants=False)
    return plan


def _plant_legacy(ctx: _Ctx):
    lin = ctx.take()
    _make_legacy(ctx, lin)  # before minting; the expected findings come from _expect_id_kinds
    return lambda: None


def _plant_signature_mismatch(ctx: _Ctx):
    lin = ctx.take()
    # An essay whose template was renamed after minting; its evaluations use its stored ID.
    lin.essay.mint_template = _old_spelling(lin.essay.template)
    return lambda: None


def _plant_signature_incomplete(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        draft = a.draft
        draft.post = {"replicate": "1.0"}  # also meta.invalid_value
        ev = b.evaluation
        ev.post = {"llm_model_id": _DROP}  # also meta.required_missing
        ctx.plant("id.signature_incomplete", draft, ev, on_meta=True, descendants=False)
    return plan


def _plant_required_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay
        assert essay.replicate == 1  # the first essay of a draft: replicate 1, as the ID implies
        essay.post = {"replicate": _DROP}  # absent means 1 for the ID, so only this finding
        ev = b.evaluation
        ev.post = {"llm_model_id": ""}  # also id.signature_incomplete
        ctx.plant("meta.required_missing", essay, ev, on_meta=True, descendants=False)
    return plan


def _plant_extraneous_field(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay  # written before 2025-09-30, with run details
        essay.post = {"combo_id": essay.combo,
                      "files": {"raw": f"/home/runner/daydreaming/data/{essay.folder}/raw.txt",
                                "parsed": f"/home/runner/daydreaming/data/{essay.folder}/parsed.txt"}}
        ev = b.evaluation  # old field names and legacy-import fields
        ev.post = {"origin_cohort_id": _DROP, "cohort_id": ev.cohort, "usage": {"prompt_tokens": 2817,
                   "completion_tokens": 412}, "source_file": "4_evaluation/evaluation_responses/x.txt"}
        for g in (essay, ev):
            for key, value in g.post.items():
                if value is not _DROP:
                    ctx.expect("meta.extraneous_field", g, on_meta=True)
            ctx.taint(g, descendants=False)
    return plan


def _plant_invalid_value(ctx: _Ctx):
    a, b, c = ctx.take(), ctx.take(), ctx.take()
    b.draft.replicate = 0  # zero-based by a script; the ID was minted with it, so it matches

    def plan():
        a.evaluation.post = {"mode": "copy"}  # copy is valid only for essays
        c.essay.post = {"mode": "chat"}
        ctx.plant("meta.invalid_value", a.evaluation, b.draft, c.essay, on_meta=True, descendants=False)
    return plan


def _plant_parent_id_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        ev = a.evaluation  # a repair removed parent_gen_id (also signature_incomplete, required_missing)
        ev.post = {"parent_gen_id": _DROP}
        essay = b.essay  # empty strings occur; its evaluations get chain.ancestor_broken
        essay.post = {"parent_gen_id": ""}
        ctx.plant("chain.parent_id_missing", ev, essay, on_meta=True)
    return plan


def _delete(ctx: _Ctx, g: _Gen) -> None:
    """Remove a folder by hand: it leaves membership rows nowhere, children everywhere."""
    g.written = False
    _unlist(ctx, g)


def _unlist(ctx: _Ctx, g: _Gen) -> None:
    """Take a generation out of every cohort's membership."""
    for cohort in ctx.cohorts:
        if g in cohort.members:
            cohort.members.remove(g)


def _plant_parent_missing(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        _delete(ctx, lin.draft)
        for essay in lin.draft.children:
            ctx.expect("chain.parent_missing", essay, on_meta=True)
        ctx.taint(lin.draft)
    return plan


def _plant_parent_wrong_stage(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        ev = lin.evaluation  # it names the draft, not the essay, and was minted that way
        ev.pre = {"parent_gen_id": lin.draft.gen_id}
        _mint(ev)
        ctx.plant("chain.parent_wrong_stage", ev, on_meta=True, descendants=False)
    return plan


def _plant_parent_unreadable(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        lin.draft.has_meta = False
        for essay in lin.draft.children:
            ctx.expect("chain.parent_unreadable", essay, on_meta=True)
        ctx.taint(lin.draft)
    return plan


def _plant_ancestor_broken(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        _delete(ctx, lin.draft)
        for essay in lin.draft.children:
            for ev in essay.children:
                ctx.expect("chain.ancestor_broken", ev, on_meta=True)
        ctx.taint(lin.draft)
    return plan


def _plant_draft_has_parent(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        draft = lin.draft
        other = next((o.draft for o in ctx.lineages if not o.reserved and o.draft.written), lin.essay)
        draft.post = {"parent_gen_id": other.gen_id}
        ctx.plant("chain.draft_has_parent", draft, on_meta=True, descendants=False)
    return plan


def _plant_member_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        ev = a.evaluation  # deleted by cleanup_generation_cascade, which leaves membership stale
        ev.written = False
        ev.member_expected = True
        ctx.taint(ev)
        b.cohort.extra_rows.append(("essay", b.draft))  # a draft listed under the wrong stage
    return plan


def _plant_membership_invalid(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        export = _Cohort(cohort_id=f"{a.cohort.cohort_id}-excel-export", shape="slim",
                         combos=[a.draft.combo], draft_templates=[a.draft.template],
                         essay_templates=[a.essay.template],
                         evaluation_templates=sorted({e.template for e in a.essay.children}),
                         generation_models=[a.draft.model],
                         evaluation_models=sorted({e.model for e in a.essay.children}),
                         replication=dict(a.cohort.replication), members=list(a.gens()), bad_header=True)
        ctx.cohorts.append(export)
        b.cohort.short_row = True
    return plan


def _plant_manifest_invalid(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        cohort = lin.cohort
        cohort.manifest_damage = _damage_truncated
        ctx.expected.append(Expected("cohort.manifest_invalid", None, None,
                                     f"cohorts/{cohort.cohort_id}/manifest.json", cohort=cohort.cohort_id))
    return plan


def _plant_unreachable(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        ev = lin.evaluation
        _unlist(ctx, ev)
        ctx.expect("cohort.unreachable", ev)
    return plan


def _plant_dangling(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        essay, draft = lin.essay, lin.draft
        # IDs of generations deleted after the reports were written: real signatures, no folders.
        ctx.dangling = {
            "essay": essay,
            "evaluation": ids.id_for("evaluation", {"parent_gen_id": essay.gen_id, "template_id": "novelty-v2",
                                                    "llm_model_id": "sonnet-4", "replicate": 9}),
            "selection": ids.id_for("essay", {"parent_gen_id": draft.gen_id, "template_id": essay.template,
                                              "replicate": 7}),
            "result": ids.id_for("essay", {"parent_gen_id": draft.gen_id, "template_id": essay.template,
                                           "replicate": 8}),
        }
    return plan


_PLANTERS: dict[str, Callable[[_Ctx], Callable[[], None]]] = {
    "store.metadata_missing": _plant_metadata_missing,
    "store.metadata_invalid": _plant_metadata_invalid,
    "store.files_missing": _plant_files_missing,
    "store.path_skipped": _plant_path_skipped,
    "id.dir_mismatch": _plant_dir_mismatch,
    "id.stage_mismatch": _plant_stage_mismatch,
    "id.malformed": _plant_malformed,
    "id.legacy": _plant_legacy,
    "id.signature_mismatch": _plant_signature_mismatch,
    "id.signature_incomplete": _plant_signature_incomplete,
    "meta.required_missing": _plant_required_missing,
    "meta.extraneous_field": _plant_extraneous_field,
    "meta.invalid_value": _plant_invalid_value,
    "chain.parent_id_missing": _plant_parent_id_missing,
    "chain.parent_missing": _plant_parent_missing,
    "chain.parent_wrong_stage": _plant_parent_wrong_stage,
    "chain.parent_unreadable": _plant_parent_unreadable,
    "chain.ancestor_broken": _plant_ancestor_broken,
    "chain.draft_has_parent": _plant_draft_has_parent,
    "cohort.member_missing": _plant_member_missing,
    "cohort.membership_invalid": _plant_membership_invalid,
    "cohort.manifest_invalid": _plant_manifest_invalid,
    "cohort.unreachable": _plant_unreachable,
    "ref.dangling": _plant_dangling,
}
assert set(_PLANTERS) == set(ALL_PROBLEMS)

_SYMLINK_CSV = "6_summary/shared_scores.csv"
_SYMLINK_TARGET = "/mnt/shared/daydreaming/6_summary/shared_scores.csv"  # outside any data root
_LATIN1_CSV = "5_parsing/parsed_scores_excel.csv"


# --- writing ---------------------------------------------------------------------------------

def _put(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def _put_csv(path: str, header: list[str], rows: Iterable[list]) -> None:
    """Write a CSV as pandas does ('\\n' line ends)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _write(ctx: _Ctx, root: str, text_files: bool) -> dict[str, int]:
    counts = _write_generations(ctx, root, text_files)
    _write_cohorts(ctx, root)
    _write_raw_inputs(ctx, root)
    healthy = [lin for lin in ctx.lineages if not lin.reserved]
    _write_scores(ctx, root, healthy)
    _write_selection_and_results(ctx, root, healthy)
    for folder in ("3_generation/links_responses", "4_evaluation/evaluation_responses"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    _put(os.path.join(root, "3_generation/links_responses/README.txt"),
         b"Responses of the Kedro pipeline (before 2025-09). Superseded by gens/.\n")
    _put(os.path.join(root, "4_evaluation/evaluation_responses/README.txt"),
         b"Evaluation responses of the Kedro pipeline. Imported into gens/ by the legacy importer.\n")
    if ctx.path_skipped:
        os.makedirs(os.path.join(root, "5_parsing"), exist_ok=True)
        os.symlink(_SYMLINK_TARGET, os.path.join(root, _SYMLINK_CSV))
        _put(os.path.join(root, _LATIN1_CSV),
             "evaluation_template,note\nnovelty-v2,révisé à la main\n".encode("latin-1"))
    return counts


def _text(g: _Gen) -> tuple[bytes, bytes, bytes]:
    """(prompt, raw, parsed) for a generation: short, plausible, cheap to make."""
    h = zlib.crc32(g.gen_id.encode())
    if g.stage == "draft":
        prompt = f"Combine the concepts of {g.combo} into novel connections ({g.template})."
        lines = [DRAFT_LINES[(h + i) % len(DRAFT_LINES)] for i in range(3)]
        parsed = "\n".join(f"- {line}" for line in lines)
        raw = f"<thinking>Exploring pairs.</thinking>\n{parsed}"
    elif g.stage == "essay":
        prompt = f"Write an essay from the draft below ({g.template}).\n"
        parsed = "\n\n".join(ESSAY_PARAGRAPHS[(h + i) % len(ESSAY_PARAGRAPHS)] for i in range(2))
        raw = parsed
    else:
        prompt = f"Evaluate the essay below with rubric {g.template}.\n"
        reason = EVALUATION_REASONS[h % len(EVALUATION_REASONS)]
        raw = f"{reason}\n\n**SCORE: {g.score}**"
        parsed = f"{g.score}\n"
    return prompt.encode(), raw.encode(), parsed.encode()


def _side_metadata(g: _Gen) -> tuple[bytes, bytes]:
    folder = g.folder
    run_id = f"{zlib.crc32(g.gen_id.encode()) & 0xFFFFFFFF:08x}-{g.stage[:3]}"
    raw_meta = {"stage": g.stage, "gen_id": g.gen_id, "function": f"{g.stage}_raw", "mode": g.mode,
                "run_id": run_id, "llm_model_id": g.model or None, "finish_reason": "stop",
                "raw_path": f"{folder}/raw.txt", "raw_metadata_path": f"{folder}/raw_metadata.json"}
    parsed_meta = {"stage": g.stage, "gen_id": g.gen_id, "function": f"{g.stage}_parsed", "mode": g.mode,
                   "run_id": run_id, "parser": "identity" if g.stage != "evaluation" else "in_last_line",
                   "parsed_path": f"{folder}/parsed.txt", "parsed_metadata_path": f"{folder}/parsed_metadata.json"}
    if g.mode == "copy" and g.parent is not None:
        parsed_meta["copied_from"] = f"{g.parent.folder}/parsed.txt"
    return orjson.dumps(raw_meta, option=_JSON), orjson.dumps(parsed_meta, option=_JSON)


def _write_generations(ctx: _Ctx, root: str, text_files: bool) -> dict[str, int]:
    counts = {s: 0 for s in ids.STAGES}
    for stage in ids.STAGES:
        os.makedirs(os.path.join(root, "gens", stage), exist_ok=True)
    mkdir, dumps, join = os.mkdir, orjson.dumps, os.path.join
    leftover = True  # one *.tmp left by an interrupted write, inside a folder so gens/*/* stays folders
    for lin in ctx.lineages:
        for g in lin.gens():
            if not g.written:
                continue
            folder = join(root, g.folder)
            mkdir(folder)
            counts[g.where] += 1
            if g.empty:
                continue
            prompt, raw, parsed = _text(g)
            if not g.has_meta:
                _put(join(folder, "prompt.txt"), prompt)
                continue
            meta = dumps(g.meta, option=_JSON)
            _put(join(folder, "metadata.json"), g.damage(meta) if g.damage else meta)
            files = {"parsed.txt": parsed}
            if g.mode != "copy":  # copy mode copies the parsed text: no LLM, no raw response
                files["raw.txt"] = raw
            if text_files:
                files["prompt.txt"] = prompt
                files["raw_metadata.json"], files["parsed_metadata.json"] = _side_metadata(g)
            for name in g.skip_files:
                files.pop(name, None)
            for name, data in files.items():
                _put(join(folder, name), data)
            if leftover and text_files and g.stage == "evaluation" and not lin.reserved:
                _put(join(folder, "parsed.txt.tmp"), parsed[:1])
                leftover = False
    return counts


def _resolves(stage: str, g: _Gen) -> bool:
    return g.written and g.where == stage


def _write_cohorts(ctx: _Ctx, root: str) -> None:
    order = {s: i for i, s in enumerate(ids.STAGES)}
    for cohort in ctx.cohorts:
        cid = cohort.cohort_id
        folder = os.path.join(root, "cohorts", cid)
        os.makedirs(folder)
        manifest = orjson.dumps({
            "combos": cohort.combos,
            "templates": {"draft": cohort.draft_templates, "essay": cohort.essay_templates,
                          "evaluation": cohort.evaluation_templates},
            "llms": {"generation": cohort.generation_models, "evaluation": cohort.evaluation_models},
            "replication": cohort.replication,
        }, option=_JSON)
        _put(os.path.join(folder, "manifest.json"),
             cohort.manifest_damage(manifest) if cohort.manifest_damage else manifest)
        rel = f"cohorts/{cid}/membership.csv"
        members = sorted(cohort.members, key=lambda g: order[g.stage])  # stable: drafts, essays, evaluations
        rows = [(g.stage, g) for g in members] + cohort.extra_rows
        if cohort.bad_header:
            with open(os.path.join(root, rel), "w", encoding="utf-8") as fh:
                fh.write("stage;gen_id\n")
                fh.writelines(f"{stage};{g.gen_id}\n" for stage, g in rows)
            ctx.expected.append(Expected("cohort.membership_invalid", None, None, rel, line=1, cohort=cid))
            continue
        header = MEMBERSHIP_HEADERS[cohort.shape]
        line = 1
        with open(os.path.join(root, rel), "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            for stage, g in rows:
                line += 1
                w.writerow(_membership_row(cohort, stage, g))
                extra_row = (stage, g) in cohort.extra_rows
                if not _resolves(stage, g) and (g.member_expected or extra_row):
                    ctx.expected.append(Expected("cohort.member_missing", stage, g.gen_id, rel, line=line,
                                                 column="gen_id", cohort=cid))
            if cohort.short_row:
                fh.write("evaluation")  # the write was cut off mid-row
                ctx.expected.append(Expected("cohort.membership_invalid", None, None, rel, line=line + 1,
                                             cohort=cid))


def _membership_row(cohort: _Cohort, stage: str, g: _Gen) -> list:
    if cohort.shape == "slim":
        return [stage, g.gen_id]
    meta = g.meta
    row = [stage, g.gen_id, cohort.cohort_id if cohort.shape == "wide_cohort" else g.cohort,
           meta.get("parent_gen_id", ""), g.combo, g.template, g.model]
    if cohort.shape == "wide_origin":
        row.append(g.replicate)
    return row


def _write_raw_inputs(ctx: _Ctx, root: str) -> None:
    raw = os.path.join(root, "1_raw")
    os.makedirs(raw)
    used = {"draft": set(), "essay": set(), "evaluation": set()}
    for c in ctx.cohorts:
        used["draft"].update(c.draft_templates)
        used["essay"].update(c.essay_templates)
        used["evaluation"].update(c.evaluation_templates)
    head = ["template_id", "template_name", "description", "active"]

    def rows(names, stage, extra=()):
        for name in names:
            title = name.replace("-", " ").title()
            yield [name, title, f"{title} prompt for the {stage} stage", str(name in used[stage])] + list(extra)

    _put_csv(os.path.join(raw, "draft_templates.csv"), head, rows(DRAFT_TEMPLATES, "draft"))
    _put_csv(os.path.join(raw, "essay_templates.csv"), head + ["generator"],
             [*rows(ESSAY_TEMPLATES, "essay", ("llm",)), *rows((COPY_TEMPLATE,), "essay", ("copy",))])
    _put_csv(os.path.join(raw, "evaluation_templates.csv"), head,
             rows(EVALUATION_TEMPLATES + INACTIVE_EVALUATION_TEMPLATES, "evaluation"))
    _put_csv(os.path.join(raw, "llm_models.csv"),
             ["id", "model", "provider", "display_name", "for_generation", "for_evaluation"],
             ([mid, model, provider, name, str(mid in GENERATION_MODELS), str(mid in EVALUATION_MODELS)]
              for mid, model, provider, name in LLM_MODELS))
    _put_csv(os.path.join(raw, "replication_config.csv"), ["stage", "replicates"],
             [["draft", 1], ["essay", 1], ["evaluation", 2]])
    for stage, names in (("draft", DRAFT_TEMPLATES), ("essay", ESSAY_TEMPLATES + (COPY_TEMPLATE,)),
                         ("evaluation", EVALUATION_TEMPLATES)):
        folder = os.path.join(raw, "templates", stage)
        os.makedirs(folder)
        for name in names:
            _put(os.path.join(folder, f"{name}.txt"),
                 f"{{# {name} #}}\nYou are given: {{{{ concepts }}}}\n".encode())


def _write_scores(ctx: _Ctx, root: str, healthy: list[_Lineage]) -> None:
    """7_cross_experiment/aggregated_scores.csv and 6_summary/generation_scores_pivot.csv."""
    for folder in ("5_parsing", "6_summary", "7_cross_experiment"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    evaluations = [v for lin in healthy for e in lin.draft.children for v in e.children if v.written]
    rows = [[v.gen_id, v.parent.gen_id, v.template, v.model, v.score,
             f"data/gens/evaluation/{v.gen_id}/parsed.txt"] for v in evaluations]
    rel = "7_cross_experiment/aggregated_scores.csv"
    if ctx.dangling:
        # A stale row: its evaluation was deleted after aggregation.
        gone, essay = ctx.dangling["evaluation"], ctx.dangling["essay"]
        rows.append([gone, essay.gen_id, "novelty-v2", "sonnet-4", 7.5, f"data/gens/evaluation/{gone}/parsed.txt"])
        line = len(rows) + 1
        ctx.expected.append(Expected("ref.dangling", None, gone, rel, line=line, column="gen_id"))
        ctx.expected.append(Expected("ref.dangling", "evaluation", gone, rel, line=line,
                                     column="evaluation_response_path"))
    _put_csv(os.path.join(root, rel), ["gen_id", "parent_gen_id", "evaluation_template",
                                       "evaluation_llm_model", "score", "evaluation_response_path"], rows)

    pairs = sorted({(v.template, v.model) for v in evaluations})
    col = {p: i for i, p in enumerate(pairs)}
    pivot = []
    for lin in healthy:
        for e in lin.draft.children:
            cells: list[list[float]] = [[] for _ in pairs]
            for v in e.children:
                if v.written:
                    cells[col[(v.template, v.model)]].append(v.score)
            if not any(cells):
                continue
            pivot.append([lin.draft.combo, lin.draft.template, e.template, e.model or "copy", e.gen_id,
                          *[round(sum(c) / len(c), 2) if c else "" for c in cells],
                          f"data/gens/essay/{e.gen_id}/parsed.txt"])
    _put_csv(os.path.join(root, "6_summary/generation_scores_pivot.csv"),
             ["combo_id", "draft_template", "generation_template", "generation_model", "essay_gen_id",
              *[f"{t}__{m}" for t, m in pairs], "generation_response_path"], pivot)


def _write_selection_and_results(ctx: _Ctx, root: str, healthy: list[_Lineage]) -> None:
    curated = [g for c in ctx.cohorts if c.cohort_id.startswith("curated-") for g in c.members
               if g.stage == "essay"]
    lines = ["# curated top essays, reviewed 2025-10-02", "# mode: reuse-essays", "# fill-up"]
    lines += [e.gen_id for e in curated]
    lines.append("")
    rel = "2_tasks/selected_essays.txt"
    if ctx.dangling:
        lines.append(ctx.dangling["selection"])
        ctx.expected.append(Expected("ref.dangling", "essay", ctx.dangling["selection"], rel, line=len(lines)))
    os.makedirs(os.path.join(root, "2_tasks"))
    _put(os.path.join(root, rel), ("\n".join(lines) + "\n").encode())

    def mean(e: _Gen) -> float:
        scores = [v.score for v in e.children if v.written]
        return sum(scores) / len(scores) if scores else 0.0

    essays = [e for lin in healthy for e in lin.draft.children if e.children]
    top = sorted(essays, key=lambda e: (-mean(e), e.gen_id))[:2]
    results = os.path.join(root, "results")
    os.makedirs(results)
    readme = ["# Top essays", ""]
    for e in top:
        _put(os.path.join(results, f"{e.gen_id}.txt"), _text(e)[2])
        readme.append(f"- {e.gen_id} (draft {e.parent.gen_id}): mean score {mean(e):.2f}")
    if ctx.dangling:
        gone = ctx.dangling["result"]
        _put(os.path.join(results, f"{gone}.txt"), ESSAY_PARAGRAPHS[0].encode())
        ctx.expected.append(Expected("ref.dangling", "essay", gone, f"results/{gone}.txt"))
    _put(os.path.join(results, "README.md"), ("\n".join(readme) + "\n").encode())
