"""The synthetic store in memory: the pipeline's vocabulary, and the generations, lineages and
cohorts `generate` builds before it writes anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import orjson

from lineage.core import ids


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

DIGITS = ids.ALPHABET
JSON = orjson.OPT_INDENT_2  # the pipeline writes 2-space indent, UTF-8, no trailing newline
DROP = object()  # in a metadata edit: remove the key


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
    spec: dict[str, str] | None = None  # spec-era cohort: files of cohorts/<id>/spec/ (config.yaml, helpers)



# store.path_skipped is planted as these two files.
SYMLINK_CSV = "6_summary/shared_scores.csv"
SYMLINK_TARGET = "/mnt/shared/daydreaming/6_summary/shared_scores.csv"  # outside any data root
LATIN1_CSV = "5_parsing/parsed_scores_excel.csv"
