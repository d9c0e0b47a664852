"""One simulated build: the store indexed for it, the allocator, and what each mode schedules for
a selected essay or a Cartesian cohort (every ID the real deterministic one)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from lineage.analyses.cohorts.config import Config
from lineage.core import ids
from lineage.core.model import Generation, Store

STAGES = ids.STAGES


class StoreIndex:
    def __init__(self, store: Store):
        self.by_stage: dict[str, dict[str, Generation]] = {s: {} for s in STAGES}
        for g in store.generations:
            self.by_stage[g.stage][g.gen_id] = g
        # Evaluations by their parent_gen_id as the exact string in metadata (fill-up matching).
        self.evaluations_of: dict[str, list[Generation]] = defaultdict(list)
        for g in self.by_stage["evaluation"].values():
            parent = (g.meta or {}).get("parent_gen_id")
            if isinstance(parent, str) and parent:
                self.evaluations_of[parent].append(g)
        # The same by (parent, template, model) as exact strings: fill-up asks for these per
        # template, model and selected essay, so they are grouped once.
        self.evaluations_for: dict[tuple[str, str, str], list[Generation]] = defaultdict(list)
        for parent, evaluations in self.evaluations_of.items():
            for g in evaluations:
                key = (parent, _meta_text(g.meta, "template_id", "evaluation_template"),
                       _meta_text(g.meta, "llm_model_id"))
                self.evaluations_for[key].append(g)
        # Generations stored under another ID than their signature implies (legacy, mismatched):
        # a new deterministic ID with that signature duplicates them.
        # The scan derived each expected_id (k = 0; "" when the metadata implies none), so only
        # those generations need their signature again, as the key a new ID is looked up by.
        self.shadowed: dict[str, dict[tuple[str, ...], list[Generation]]] = {s: defaultdict(list) for s in STAGES}
        for stage in STAGES:
            for g in self.by_stage[stage].values():
                if g.meta is not None and g.expected_id and g.expected_id != g.gen_id:
                    self.shadowed[stage][ids.signature(stage, g.meta)].append(g)

    def legacy_essays(self) -> list[str]:
        return sorted(gid for gid, g in self.by_stage["essay"].items() if g.id_kind == ids.LEGACY)


def _meta_text(meta: dict, *names: str) -> str:
    """The first non-empty of `names`, as the raw string (exact-string matching)."""
    for n in names:
        v = meta.get(n)
        if v not in (None, "") and not (isinstance(v, str) and not v.strip()):
            return v if isinstance(v, str) else str(v)
    return ""


@dataclass
class EssayCase:
    """A selected essay E with its parent draft D and the signature inputs the modes need."""

    essay: Generation
    draft: Generation
    essay_template: str  # raw string
    combo: str
    draft_template: str
    model: str  # E.llm_model_id or D.llm_model_id


def resolve_essay(index: StoreIndex, gen_id: str) -> tuple[EssayCase | None, str]:
    """The case for one selected ID, or why it cannot be simulated."""
    e = index.by_stage["essay"].get(gen_id)
    if e is None:
        elsewhere = [s for s in STAGES if gen_id in index.by_stage[s]]
        return None, (f"is a {elsewhere[0]}, not an essay" if elsewhere else "no such essay under gens/essay/")
    if e.meta is None:
        return None, f"essay metadata is {e.meta_status}"
    parent = e.parent_gen_id  # as the scan derived it: stripped text
    if not parent:
        return None, "essay has no parent_gen_id"
    d = index.by_stage["draft"].get(parent)
    if d is None:
        return None, f"parent draft {parent} not found under gens/draft/"
    if d.meta is None:
        return None, f"parent draft {parent} metadata is {d.meta_status}"
    case = EssayCase(e, d, _meta_text(e.meta, "template_id", "essay_template"), _meta_text(d.meta, "combo_id"),
                     _meta_text(d.meta, "template_id"),
                     _meta_text(e.meta, "llm_model_id") or _meta_text(d.meta, "llm_model_id"))
    for value, what in ((case.essay_template, "essay template"), (case.combo, "draft combo_id"),
                        (case.draft_template, "draft template_id"), (case.model, "llm_model_id")):
        if not value.strip():
            return None, f"{what} is missing"
    return case, ""


@dataclass
class Item:
    """One scheduled (stage, gen_id) of a build."""

    stage: str
    gen_id: str
    new: bool
    llm: bool
    legacy: bool = False  # an existing legacy generation, reused
    clash: bool = False  # the allocator handed out a number whose folder already exists
    duplicates: list[str] = field(default_factory=list)  # existing generations with the same signature

    def as_dict(self) -> dict:
        return {"stage": self.stage, "gen_id": self.gen_id, "new": self.new, "llm_call": self.llm,
                "legacy": self.legacy, "clash": self.clash, "duplicates": self.duplicates}


def llm_call(stage: str, mode: str, files: Iterable[str], force: bool) -> bool:
    """DOMAIN 4: iff mode == llm, raw.txt absent and not forced; evaluations also skip on parsed.txt."""
    if mode != "llm":
        return False
    if force:
        return True
    files = set(files)
    if "raw.txt" in files:
        return False
    return not (stage == "evaluation" and "parsed.txt" in files)


class Build:
    """The generations one build schedules, on top of the store (and, for a rebuild, of the
    generations an earlier build materialized)."""

    def __init__(self, index: StoreIndex, config: Config | None, force: bool, earlier: "Build | None" = None):
        self.index, self.config, self.force = index, config, force
        self.items: dict[tuple[str, str], Item] = {}
        # What an earlier build left on disk: its new folders exist now, and every generation it
        # scheduled has its raw.txt (we assume it materialized successfully).
        self.made: dict[tuple[str, str], str] = {}  # (stage, id) -> mode it was written with
        self.done: set[tuple[str, str]] = set()
        if earlier is not None:
            self.made = {**earlier.made, **earlier.new_modes}
            self.done = set(earlier.done) | set(earlier.items)
        self.new_modes: dict[tuple[str, str], str] = {}

    def mode_of(self, g: Generation) -> str:
        """The mode an existing generation runs in: its metadata's, as written."""
        return g.mode

    def taken(self, stage: str, gen_id: str) -> bool:
        return gen_id in self.index.by_stage[stage] or (stage, gen_id) in self.made

    def allocate(self, stage: str, base: tuple[str, ...], n: int) -> list[tuple[str, str]]:
        """The allocator: the first replicate whose folder is free, then n-1 more consecutive
        numbers without rechecking. Returns (replicate, gen_id) pairs."""
        if n <= 0:
            return []
        r = 1
        while self.taken(stage, first := ids.deterministic_id(stage, base + (str(r),))):
            r += 1
        return [(str(r), first)] + [(str(k), ids.deterministic_id(stage, base + (str(k),))) for k in range(r + 1, r + n)]

    def schedule(self, stage: str, gen_id: str, new_mode: str, parts: tuple[str, ...] | None = None,
                 allocated: bool = False) -> Item:
        key = (stage, gen_id)
        g = self.index.by_stage[stage].get(gen_id)
        if key in self.done:  # materialized by the earlier build: raw.txt exists now
            mode = self.mode_of(g) if g is not None and g.meta is not None else self.made.get(key, new_mode)
            item = Item(stage, gen_id, new=False, llm=self.force and mode == "llm",
                        legacy=g is not None and g.id_kind == ids.LEGACY, clash=allocated)
        elif g is not None:
            # Metadata is written only when missing: an unreadable one gets the mode of this build.
            mode = self.mode_of(g) if g.meta is not None else new_mode
            item = Item(stage, gen_id, new=False, llm=llm_call(stage, mode, g.files, self.force),
                        legacy=g.id_kind == ids.LEGACY, clash=allocated)
        else:
            dups = [d.gen_id for d in self.index.shadowed[stage].get(parts, ())] if parts else []
            item = Item(stage, gen_id, new=True, llm=new_mode == "llm", duplicates=sorted(dups))
            self.new_modes[key] = new_mode
        earlier = self.items.get(key)
        if earlier is not None:  # scheduled twice in one build (the same ID counts once)
            earlier.clash = earlier.clash or item.clash
            return earlier
        self.items[key] = item
        return item

    def counts(self) -> dict[str, dict[str, int]]:
        out = {s: {"scheduled": 0, "reused": 0, "new": 0, "llm_calls": 0, "duplicates": 0, "clashes": 0,
                   "legacy_reused": 0} for s in STAGES}
        for item in self.items.values():
            c = out[item.stage]
            c["scheduled"] += 1
            c["new" if item.new else "reused"] += 1
            c["llm_calls"] += item.llm
            c["duplicates"] += bool(item.duplicates)
            c["clashes"] += item.clash
            c["legacy_reused"] += item.legacy and not item.new
        return out


def _norm(value: str) -> str:
    return ids.normalize_text(value, "component")


def _replicate_key(g: Generation) -> tuple:
    try:
        rep = ids.normalize_replicate((g.meta or {}).get("replicate"))
    except ids.SignatureError:
        return (1, 0, g.gen_id)  # an unreadable replicate sorts last
    return (0, rep, g.gen_id)


def fill_up_matches(index: StoreIndex, essay_id: str, template: str, model: str, n: int,
                    by_replicate: bool) -> list[Generation]:
    """Existing evaluations of E for (template, model): exact strings, first n in gen_id order
    (or by replicate, as the pipeline does today)."""
    found = list(index.evaluations_for.get((essay_id, template, model), ()))
    found.sort(key=_replicate_key if by_replicate else (lambda g: g.gen_id))
    return found[:n]


def simulate_essay(build: Build, case: EssayCase, mode: str) -> list[Item]:
    """Schedule what `mode` does for one selected essay; returns the essay's own items."""
    cfg, index = build.config, build.index
    n_d, n_e, n_v = (cfg.replicates[s] for s in STAGES)
    e_template = case.essay_template
    generator = cfg.generator(e_template)
    mine: list[Item] = []

    def put(stage, gen_id, new_mode, parts=None, allocated=False):
        mine.append(build.schedule(stage, gen_id, new_mode, parts, allocated))

    def allocate_put(stage, base, n, new_mode):
        out = build.allocate(stage, base, n)
        for rep, gen_id in out:
            put(stage, gen_id, new_mode, base + (rep,), allocated=True)
        return [gen_id for _, gen_id in out]

    def new_evaluations(essay_id: str):
        for t in cfg.evaluation_templates:
            for m in cfg.evaluation_models:
                allocate_put("evaluation", (_norm(essay_id), _norm(t), _norm(m)), n_v, "llm")

    if mode == "regenerate":
        base = (_norm(case.combo), _norm(case.draft_template), _norm(case.model))
        for draft_id in allocate_put("draft", base, n_d, "llm"):
            for essay_id in allocate_put("essay", (_norm(draft_id), _norm(e_template)), n_e, generator):
                new_evaluations(essay_id)
    elif mode == "reuse-drafts":
        put("draft", case.draft.gen_id, "llm")
        for essay_id in allocate_put("essay", (_norm(case.draft.gen_id), _norm(e_template)), n_e, generator):
            new_evaluations(essay_id)
    else:  # reuse-essays, reuse-essays+fill-up, current
        put("draft", case.draft.gen_id, "llm")
        put("essay", case.essay.gen_id, generator)
        fill = mode != "reuse-essays"
        for t in cfg.evaluation_templates:
            for m in cfg.evaluation_models:
                reused = fill_up_matches(index, case.essay.gen_id, t, m, n_v, mode == "current") if fill else []
                for g in reused:
                    put("evaluation", g.gen_id, "llm")
                allocate_put("evaluation", (_norm(case.essay.gen_id), _norm(t), _norm(m)),
                             n_v - len(reused), "llm")
    return mine


def simulate_cartesian(build: Build, allocator: bool) -> None:
    cfg = build.config
    n_d, n_e, n_v = (cfg.replicates[s] for s in STAGES)
    for combo in cfg.combos:
        for dt in cfg.draft_templates:
            for gm in cfg.generation_models:
                for r in range(1, n_d + 1):
                    parts = (_norm(combo), _norm(dt), _norm(gm), str(r))
                    draft_id = ids.deterministic_id("draft", parts)
                    build.schedule("draft", draft_id, "llm", parts)
                    for et in cfg.essay_templates:
                        base = (_norm(draft_id), _norm(et))
                        if allocator:
                            essays = build.allocate("essay", base, n_e)
                        else:
                            essays = [(str(k), ids.deterministic_id("essay", base + (str(k),)))
                                      for k in range(1, n_e + 1)]
                        for rep, essay_id in essays:
                            build.schedule("essay", essay_id, cfg.generator(et), base + (rep,), allocated=allocator)
                            for vt in cfg.evaluation_templates:
                                for vm in cfg.evaluation_models:
                                    for k in range(1, n_v + 1):
                                        vparts = (_norm(essay_id), _norm(vt), _norm(vm), str(k))
                                        build.schedule("evaluation", ids.deterministic_id("evaluation", vparts),
                                                       "llm", vparts)


