"""The rebuild modes the simulation replays, and the columns of its tables."""

from __future__ import annotations

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
# What a narrow terminal keeps: the mode and what it costs first.
PRIORITY = ["mode", "stage", "llm_calls", "reused", "new", "scheduled", "essay", "draft", "evaluation"]
DETAIL_COLUMNS = ["essay", "id_class", "mode", "draft_reused", "draft_new", "essay_reused", "essay_new",
                  "evaluation_reused", "evaluation_new", "llm_calls", "duplicates", "reused_evaluations"]



