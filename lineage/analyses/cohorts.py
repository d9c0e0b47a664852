"""`lineage cohorts simulate`: what a cohort rebuild would reuse, mint and pay for (DOMAIN 4).

For selected essays (or a Cartesian cohort's manifest) this replays the pipeline's rebuild rules
on the store as it is, without writing anything:

- the curated modes `regenerate`, `reuse-drafts`, `reuse-essays`, `reuse-essays` + fill-up, and
  `current` (today: reuse-essays + fill-up with existing evaluations sorted by replicate);
- Cartesian builds from a manifest, with fixed replicates and with the 2025-09-30..10-04 allocator
  (every rebuild adds N_e essays per draft x template), each as a first build and a rebuild.

IDs are the real deterministic IDs (lineage.core.ids). New replicate numbers come from the allocator:
probe 1, 2, ... and start at the first whose deterministic folder does not exist (a folder without
metadata is taken), then hand out consecutive numbers without rechecking. Legacy generations are
invisible to it, so a new ID with the signature of a legacy generation is a duplicate of it.
A scheduled generation costs an LLM call iff its mode is `llm`, raw.txt is absent and force is off;
an evaluation is also skipped when parsed.txt exists; copy mode never calls an LLM.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from lineage.core import ids
from lineage.loaders.csv_chunks import read_small
from lineage.loaders.store import parse_selection as store_parse_selection
from lineage.core.model import Generation, Selection, Store
from lineage.core.status import UsageError

STAGES = ids.STAGES

# (name, what it does). The first five are the curated modes for selected essays.
ESSAY_MODES: tuple[tuple[str, str], ...] = (
    ("regenerate", "new drafts (D's combo and template, E's or D's model), new essays with E's template, "
                   "new evaluations; D and E not reused"),
    ("reuse-drafts", "D kept; N_e new essays with E's template; all their evaluations new"),
    ("reuse-essays", "D and E kept; N_v new evaluations per evaluation template x model"),
    ("reuse-essays+fill-up", "D and E kept; existing evaluations of E reused (exact template/model strings, "
                             "first N_v in gen_id order); only the shortfall new"),
    ("current", "today's behaviour: reuse-essays + fill-up, existing evaluations sorted by replicate; "
                "# lines ignored"),
)
CARTESIAN_MODES: tuple[tuple[str, str], ...] = (
    ("cartesian", "combos x draft templates x generation models x N_d; x essay templates x N_e; "
                  "x evaluation templates x evaluation models x N_v; fixed replicates 1..N"),
    ("cartesian-rebuild", "the same Cartesian build run again after the first one"),
    ("cartesian-allocator", "as 2025-09-30 21:55 .. 10-04: essays through the allocator"),
    ("cartesian-allocator-rebuild", "the allocator build run again: N_e more essays per draft x template"),
)
MODE_DESCRIPTIONS = dict(ESSAY_MODES + CARTESIAN_MODES)

SUMMARY_COLUMNS = ["mode", "directive", "stage", "scheduled", "reused", "new", "llm_calls",
                   "duplicates", "clashes"]
LEGACY_COLUMNS = ["mode", "draft", "essay", "evaluation", "llm_calls"]
DETAIL_COLUMNS = ["essay", "id_class", "mode", "draft_reused", "draft_new", "essay_reused", "essay_new",
                  "evaluation_reused", "evaluation_new", "llm_calls", "duplicates", "reused_evaluations"]

TRUE_WORDS = {"true", "1", "yes", "y", "t"}
RAW = "1_raw"


class ConfigError(UsageError):
    """A configuration file the simulation needs is missing or unusable (exit 2)."""


# --- inputs ------------------------------------------------------------------------------------

@dataclass
class SelectionInput:
    """Selected essay IDs and where they came from, with the file's curated-mode directive."""

    source: str  # a file path, "--essay", "--sample N --seed S"
    essays: list[str]
    directive_mode: str = ""  # "# mode: ..." of a selection file (canonical name), "" when none
    directive_flags: list[str] = field(default_factory=list)
    from_file: bool = False


def parse_selection(text: str, source: str) -> SelectionInput:
    """A selected-essays file's text, read by the scan's rules (loaders.store.parse_selection)."""
    return _from_file(store_parse_selection(text, source, "essay"))


def _from_file(selection: Selection) -> SelectionInput:
    return SelectionInput(source=selection.path, essays=[gen_id for _, gen_id in selection.ids],
                          directive_mode=selection.mode, directive_flags=list(selection.flags), from_file=True)


def read_selection_file(path: str) -> SelectionInput:
    """--selection FILE: a regular file of at most MAX_INPUT_BYTES (a FIFO or a device is refused
    before anything is read from it)."""
    from lineage.loaders.files import read_input

    raw = read_input(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 (byte {exc.start})") from None
    return parse_selection(text, path)


def default_selection(store: Store) -> SelectionInput:
    """The data root's own 2_tasks selection file (selected essays only)."""
    by_stage = {s.stage: s for s in store.selections}
    if "essay" in by_stage and "draft" in by_stage:
        raise UsageError("2_tasks holds both selected_essays.txt and selected_drafts.txt; the pipeline "
                         "accepts at most one")
    if "essay" not in by_stage:
        if "draft" in by_stage:
            raise UsageError("2_tasks/selected_drafts.txt selects drafts; simulate takes selected essays "
                             "(use --essay, --selection or --sample)")
        raise UsageError("no 2_tasks/selected_essays.txt; pass --selection FILE, --essay ID, --sample N "
                         "or --cartesian COHORT_ID")
    return _from_file(by_stage["essay"])


def directive_choice(sel: SelectionInput) -> str:
    """The curated mode a selection file picked in 2025-09-29 23:37 .. 09-30 19:49 ("" when unknown)."""
    if not sel.from_file:
        return ""
    mode = sel.directive_mode or "regenerate"  # regenerate is the default for selected essays
    if mode == "reuse-essays" and sel.directive_flags:
        return "reuse-essays+fill-up"
    return mode if mode in MODE_DESCRIPTIONS else ""


# --- configuration: replicates, templates, models ---------------------------------------------

@dataclass
class Config:
    replicates: dict[str, int]
    evaluation_templates: list[str]
    evaluation_models: list[str]
    essay_generators: dict[str, str]  # normalised essay template -> llm | copy
    draft_templates: list[str] = field(default_factory=list)
    essay_templates: list[str] = field(default_factory=list)
    generation_models: list[str] = field(default_factory=list)
    combos: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def generator(self, template: str) -> str:
        return self.essay_generators.get(template.strip().lower(), "llm")


def read_csv(root: str, rel: str, required: Iterable[str]) -> list[dict[str, str]]:
    """Rows of a 1_raw CSV as dicts with lower-cased, stripped column names; a missing file,
    column or an unreadable file is a ConfigError naming it."""
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        raise ConfigError(f"{rel} is missing")
    rows = read_small(path, rel, ConfigError)
    header = [h.strip().lower() for h in rows[0]] if rows else []
    missing = [c for c in required if c not in header]
    if missing:
        raise ConfigError(f"{rel} lacks column {', '.join(repr(c) for c in missing)}")
    return [dict(zip(header, (c.strip() for c in row))) for row in rows[1:] if any(c.strip() for c in row)]


def _active(root: str, rel: str, id_column: str, flag_column: str) -> list[str]:
    return [r[id_column] for r in read_csv(root, rel, (id_column, flag_column))
            if r.get(id_column) and r.get(flag_column, "").lower() in TRUE_WORDS]


# The simulation lists every generation it schedules; the pipeline runs a handful of replicates.
MAX_REPLICATES = 1000


def _positive(value: Any, where: str) -> int:
    n = ids.positive_int(value)
    if n is None:
        raise ConfigError(f"{where}: replicates {value!r} is not a positive integer")
    if n > MAX_REPLICATES:
        raise ConfigError(f"{where}: replicates {n:,} is more than {MAX_REPLICATES:,} per stage")
    return n


def replication_config(root: str) -> dict[str, int]:
    """N_d/N_e/N_v from 1_raw/replication_config.csv; 1 for a stage (or a file) that is absent."""
    rel = f"{RAW}/replication_config.csv"
    counts = {s: 1 for s in STAGES}
    if not os.path.isfile(os.path.join(root, rel)):
        return counts
    for line, row in enumerate(read_csv(root, rel, ("stage", "replicates")), 2):
        stage = row["stage"].lower()
        if stage in counts:
            counts[stage] = _positive(row["replicates"], f"{rel} line {line}")
    return counts


def essay_generators(root: str) -> dict[str, str]:
    """Essay template -> llm | copy from essay_templates.csv (`generator` column; llm without it)."""
    rows = read_csv(root, f"{RAW}/essay_templates.csv", ("template_id",))
    return {r["template_id"].lower(): ("copy" if r.get("generator", "").lower() == "copy" else "llm")
            for r in rows if r.get("template_id")}


def parse_replicate_overrides(pairs: Iterable[str]) -> dict[str, int]:
    out = {}
    for pair in pairs:
        stage, sep, value = pair.partition("=")
        stage = stage.strip().lower()
        if not sep or stage not in STAGES:
            raise UsageError(f"--replicates {pair!r}: expected STAGE=N with STAGE in {', '.join(STAGES)}")
        try:
            out[stage] = _positive(value, f"--replicates {pair!r}")
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    return out


def load_config(root: str, *, evaluation_templates: list[str] | None = None,
                evaluation_models: list[str] | None = None, replicates: dict[str, int] | None = None,
                manifest: dict | None = None, manifest_path: str = "") -> Config:
    """The rebuild parameters: flags first, then the cohort manifest (Cartesian), then 1_raw CSVs.

    Only the files that are actually needed are read: a flag that supplies a value spares its CSV.
    """
    sources: dict[str, str] = {}
    manifest = manifest or {}
    templates = manifest.get("templates") if isinstance(manifest.get("templates"), dict) else {}
    llms = manifest.get("llms") if isinstance(manifest.get("llms"), dict) else {}
    manifest_rep = manifest.get("replication") if isinstance(manifest.get("replication"), dict) else {}

    def pick(name: str, flag: list[str] | None, from_manifest: Any, csv_loader) -> list[str]:
        # A template or model ID is part of a signature, which has no empty part.
        if flag:
            if not all(v.strip() for v in flag):
                raise UsageError(f"--{name[:-1].replace('_', '-')} needs a non-empty value")
            sources[name] = "flag"
            return list(dict.fromkeys(v.strip() for v in flag))
        if manifest_path and isinstance(from_manifest, list):
            values = ["" if v is None else str(v).strip() for v in from_manifest]
            if not all(values):
                raise ConfigError(f"{manifest_path}: an empty entry in its {name.replace('_', ' ')}")
            sources[name] = manifest_path
            return values
        values, rel = csv_loader()
        sources[name] = rel
        return values

    def active_templates(stage: str):
        rel = f"{RAW}/{stage}_templates.csv"
        return _active(root, rel, "template_id", "active"), rel

    def models(column: str):
        rel = f"{RAW}/llm_models.csv"
        return _active(root, rel, "id", column), rel

    counts = replication_config(root)
    sources["replicates"] = f"{RAW}/replication_config.csv"
    if manifest_path and manifest_rep:
        for stage in STAGES:
            if stage in manifest_rep:
                counts[stage] = _positive(manifest_rep[stage], f"{manifest_path} replication.{stage}")
        sources["replicates"] = manifest_path
    if replicates:
        counts.update(replicates)
        sources["replicates"] += " + flags"

    cfg = Config(
        replicates=counts,
        evaluation_templates=pick("evaluation_templates", evaluation_templates, templates.get("evaluation"),
                                  lambda: active_templates("evaluation")),
        evaluation_models=pick("evaluation_models", evaluation_models, llms.get("evaluation"),
                               lambda: models("for_evaluation")),
        essay_generators=essay_generators(root),
        sources=sources,
    )
    sources["essay_generators"] = f"{RAW}/essay_templates.csv"
    if manifest_path:
        combos = manifest.get("combos")
        if not isinstance(combos, list):
            raise ConfigError(f"{manifest_path} lacks a combos list")
        cfg.combos = [str(c) for c in combos]
        cfg.draft_templates = pick("draft_templates", None, templates.get("draft"),
                                   lambda: active_templates("draft"))
        cfg.essay_templates = pick("essay_templates", None, templates.get("essay"),
                                   lambda: active_templates("essay"))
        cfg.generation_models = pick("generation_models", None, llms.get("generation"),
                                     lambda: models("for_generation"))
    return cfg


def cohort_manifest(store: Store, cohort_id: str) -> tuple[dict, str]:
    for cohort in store.cohorts:
        if cohort.cohort_id == cohort_id:
            rel = f"{cohort.path}/manifest.json"
            if not isinstance(cohort.manifest, dict):
                raise ConfigError(f"{rel} is missing or unusable")
            return cohort.manifest, rel
    raise UsageError(f"no cohort {cohort_id!r} under cohorts/")


# --- the store, indexed for the simulation ------------------------------------------------------

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


# --- one simulated build ------------------------------------------------------------------------

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

    def __init__(self, index: StoreIndex, config: Config, force: bool, earlier: "Build | None" = None):
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
            mode = g.mode if g is not None and g.meta is not None else self.made.get(key, new_mode)
            item = Item(stage, gen_id, new=False, llm=self.force and mode == "llm",
                        legacy=g is not None and g.id_kind == ids.LEGACY, clash=allocated)
        elif g is not None:
            # Metadata is written only when missing: an unreadable one gets the mode of this build.
            mode = g.mode if g.meta is not None else new_mode
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


# --- the whole simulation -----------------------------------------------------------------------

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


def simulate(store: Store, *, selection: SelectionInput | None = None, sample: tuple[int, int] | None = None,
             cartesian: str | None = None, evaluation_templates: list[str] | None = None,
             evaluation_models: list[str] | None = None, replicates: dict[str, int] | None = None,
             force: bool = False) -> Simulation:
    """Simulate every mode for the selected essays and/or a Cartesian cohort. Reads only `store`
    (already scanned) and the 1_raw CSVs; writes nothing."""
    index = StoreIndex(store)
    warnings: list[str] = []
    if sample is not None:
        selection, more = sample_legacy(index, *sample)
        warnings += more
    if selection is None and cartesian is None:
        selection = default_selection(store)

    builds: list[tuple[str, Build]] = []
    doc: dict[str, Any] = {"data_root": store.root, "force": force, "input": None, "cartesian": None,
                           "parameters": {}}
    detail_rows: list[dict] = []
    detail_doc: list[dict] = []
    reach: dict[str, set[str]] = {s: set() for s in STAGES}  # legacy generations in the selected lineages
    chosen_mode = ""

    if selection is not None:
        cases: list[EssayCase] = []
        skipped = []
        for gid in dict.fromkeys(selection.essays):  # a repeated line selects the essay once
            case, why = resolve_essay(index, gid)
            if case is None:
                skipped.append({"essay": gid, "reason": why})
                warnings.append(f"skipped {gid}: {why}")
            else:
                cases.append(case)
        if not cases:
            raise UsageError(f"no selected essay can be simulated ({selection.source}: "
                             f"{len(selection.essays)} IDs, {len(skipped)} skipped)")
        cfg = load_config(store.root, evaluation_templates=evaluation_templates,
                          evaluation_models=evaluation_models, replicates=replicates)
        _warn_empty(cfg, warnings)
        chosen_mode = directive_choice(selection)
        if selection.from_file and selection.directive_mode and not chosen_mode:
            warnings.append(f"{selection.source}: unknown mode directive {selection.directive_mode!r}")
        doc["input"] = {"source": selection.source, "selected": len(selection.essays),
                        "essays": [c.essay.gen_id for c in cases], "skipped": skipped,
                        "directive": {"mode": selection.directive_mode, "flags": selection.directive_flags,
                                      "selects": chosen_mode}}
        doc["parameters"]["selected"] = _parameters(cfg)
        for case in cases:
            for stage, g in (("draft", case.draft), ("essay", case.essay)):
                if g.id_kind == ids.LEGACY:
                    reach[stage].add(g.gen_id)
            reach["evaluation"].update(g.gen_id for g in index.evaluations_of.get(case.essay.gen_id, ())
                                       if g.id_kind == ids.LEGACY)
        for mode, _ in ESSAY_MODES:
            build = Build(index, cfg, force)
            for case in cases:
                mine = simulate_essay(build, case, mode)
                row, entry = _detail(case, mode, mine)
                detail_rows.append(row)
                detail_doc.append(entry)
            builds.append((mode, build))

    if cartesian is not None:
        manifest, rel = cohort_manifest(store, cartesian)
        cfg = load_config(store.root, evaluation_templates=evaluation_templates,
                          evaluation_models=evaluation_models, replicates=replicates,
                          manifest=manifest, manifest_path=rel)
        _warn_empty(cfg, warnings)
        params = _parameters(cfg)
        params.update(combos=cfg.combos, draft_templates=cfg.draft_templates, essay_templates=cfg.essay_templates,
                      generation_models=cfg.generation_models)
        doc["cartesian"] = {"cohort_id": cartesian, "manifest": rel}
        doc["parameters"]["cartesian"] = params
        for allocator, first, again in ((False, "cartesian", "cartesian-rebuild"),
                                        (True, "cartesian-allocator", "cartesian-allocator-rebuild")):
            build = Build(index, cfg, force)
            simulate_cartesian(build, allocator)
            rebuild = Build(index, cfg, force, earlier=build)
            simulate_cartesian(rebuild, allocator)
            builds += [(first, build), (again, rebuild)]
        if not build.items:
            warnings.append(f"{rel}: the Cartesian product is empty (combos, templates or models): "
                            "nothing scheduled")

    summary_rows, modes_doc = [], []
    counts_of = {mode: build.counts() for mode, build in builds}
    for mode, build in builds:
        counts = counts_of[mode]
        total = {k: sum(c[k] for c in counts.values()) for k in counts["draft"]}
        directive = "*" if mode == chosen_mode else ""
        for stage in STAGES:
            summary_rows.append({"mode": mode, "directive": directive, "stage": stage,
                                 **{k: counts[stage][k] for k in SUMMARY_COLUMNS[3:]}})
        summary_rows.append({"mode": mode, "directive": directive, "stage": "total",
                             **{k: total[k] for k in SUMMARY_COLUMNS[3:]}})
        modes_doc.append({"mode": mode, "description": MODE_DESCRIPTIONS[mode], "selected_by_directive": bool(directive),
                          "stages": counts, "llm_calls": total["llm_calls"],
                          "duplicates": [{"stage": i.stage, "new_id": i.gen_id, "duplicates": i.duplicates}
                                         for i in build.items.values() if i.duplicates]})
    legacy_doc, legacy_rows, answer = _legacy_reuse(builds, counts_of, reach, index)
    doc["modes"] = modes_doc
    doc["legacy_reuse"] = legacy_doc
    doc["legacy_answer"] = answer
    doc["detail"] = detail_doc
    doc["warnings"] = warnings
    return Simulation(doc, summary_rows, legacy_rows, answer, detail_rows, warnings, dict(builds))


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
