"""Cohort specs used by test_spec_dsl.py: {case: {path inside the spec folder: text}}.

Each case is written as the files a cohort author would write. The expected rows and IDs in
test_spec_dsl.py were produced by running the pipeline's own compiler and cohort build on
exactly these files.
"""

from __future__ import annotations

ALL_FIELDS = """\
output:
  field_order: [combo_id, draft_template, draft_llm, essay_template, essay_llm, evaluation_template, evaluation_llm]
"""

CASES: dict[str, dict[str, str]] = {
    # Plain axes: the Cartesian product, first axis slowest; a repeated level counts once.
    "axes": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f, combo_v1_99ff00ee11dd]
  draft_template: [links-v4, links-v4, recursive-v2]
  draft_llm: [gemma_3_27b]
  essay_template: [essay-theme-v3]
  essay_llm: [gemma_3_27b]
  evaluation_template: [rigor-v1]
  evaluation_llm: [qwen3-235b]
""" + ALL_FIELDS,
    },
    # Levels from @file: helpers: one-column CSVs (blank cells skipped, cells stripped) and a .txt list.
    "file_axes": {
        "config.yaml": """\
axes:
  combo_id: '@file:items/combos.csv'
  draft_template: '@file:items/draft_templates.txt'
  draft_llm: [gemma_3_27b]
  essay_template: [essay-theme-v3]
  essay_llm: [gemma_3_27b]
  evaluation_template: '@file:items/judges.csv'
  evaluation_llm: [qwen3-235b, llama_31_405b]
""" + ALL_FIELDS,
        "items/combos.csv": "combo_id\ncombo_v1_0a1b2c3d4e5f\n\n  combo_v1_99ff00ee11dd  \n",
        "items/draft_templates.txt": "links-v4\n\n  recursive-v2\n",
        "items/judges.csv": "\ufefftemplate\r\nrigor-v1\r\n\"novelty, strict\"\r\n",
    },
    # Subsets keep the axis' order, not the list's; a kept value the axis lacks is ignored.
    "subsets": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f]
  draft_template: [links-v4, recursive-v2, rolling-v1]
  draft_llm: [gemma_3_27b, qwen3-235b]
  essay_template: [essay-theme-v3]
  essay_llm: [gemma_3_27b]
  evaluation_template: [rigor-v1, novelty-v3]
  evaluation_llm: [qwen3-235b]
rules:
  subsets:
    draft_template: [rolling-v1, links-v4, not-there]
    evaluation_template: '@file:keep_judges.csv'
""" + ALL_FIELDS,
        "keep_judges.csv": "evaluation_template\nnovelty-v3\n",
    },
    # A tie keeps only the common levels; its own name stays as a column. A tie may be named after
    # one of its axes (then that axis keeps its place).
    "ties": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f]
  draft_template: [same-v1, same-v2, draft-only]
  draft_llm: [gemma_3_27b, qwen3-235b]
  essay_template: [essay-only, same-v2, same-v1]
  essay_llm: [qwen3-235b, gemma_3_27b, llama_31_405b]
  evaluation_template: [rigor-v1]
  evaluation_llm: [qwen3-235b]
rules:
  ties:
    shared_template:
      axes: [draft_template, essay_template]
    essay_llm: [essay_llm, draft_llm]
""" + ALL_FIELDS,
    },
    # Pairs replace two axes by the allowed combinations (duplicates once), balanced on both sides.
    "pairs": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f]
  draft_template: [links-v4, recursive-v2]
  draft_llm: [gemma_3_27b]
  essay_template: [essay-theme-v3, copy-links-v1]
  essay_llm: [gemma_3_27b]
  evaluation_template: [rigor-v1, novelty-v3, coherence-v2]
  evaluation_llm: [qwen3-235b, llama_31_405b]
rules:
  pairs:
    draft_essay:
      left: draft_template
      right: essay_template
      allowed:
        - [links-v4, copy-links-v1]
        - [recursive-v2, essay-theme-v3]
        - [links-v4, copy-links-v1]
      balance: both
    judge_model:
      left: evaluation_template
      right: evaluation_llm
      allowed: '@file:judges.csv'
      balance: left
""" + ALL_FIELDS,
        "judges.csv": "evaluation_template,evaluation_llm\nrigor-v1,qwen3-235b\nnovelty-v3,llama_31_405b\n"
                      "coherence-v2,qwen3-235b\n",
    },
    # Tuples bind axes that need no declaration: their levels come from the items.
    "tuples": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f, combo_v1_99ff00ee11dd]
  evaluation_llm: [qwen3-235b]
rules:
  tuples:
    generation:
      axes: [draft_template, draft_llm, essay_template, essay_llm]
      items: '@file:items/generation.csv'
    judge:
      axes: [evaluation_template]
      items:
        - [rigor-v1]
        - [novelty-v3]
output:
  field_order: [combo_id, draft_template, essay_template, evaluation_template]
""",
        "items/generation.csv": "draft_template,draft_llm,essay_template,essay_llm\n"
                                "links-v4,gemma_3_27b,essay-theme-v3,qwen3-235b\n"
                                "recursive-v2,qwen3-235b,copy-links-v1,None\n"
                                "links-v4,gemma_3_27b,essay-theme-v3,qwen3-235b\n",
    },
    # Replicate axes are explicit; quoted or not, under any of the names the build reads.
    "replicates": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f]
  draft_template: [links-v4]
  draft_llm: [gemma_3_27b]
  draft_replicate: [1, 2]
  essay_template: [essay-theme-v3]
  essay_llm: [gemma_3_27b]
  essay_template_replicate: ['1', '2']
  evaluation_template: [rigor-v1]
  evaluation_llm: [qwen3-235b]
  evaluation_llm_replicate: [' 1', 3]
output:
  field_order: [draft_replicate, combo_id]
""",
    },
    # essay_llm is its own axis; an essay's ID ignores it, so the build keeps the first essay.
    "essay_llm": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f]
  draft_template: [links-v4]
  draft_llm: [gemma_3_27b]
  essay_template: [essay-theme-v3]
  essay_llm: [qwen3-235b, gemma_3_27b]
  evaluation_template: [rigor-v1]
  evaluation_llm: [qwen3-235b, llama_31_405b]
""" + ALL_FIELDS,
    },
    # A pair may name a tuple declared before it (sections apply in file order).
    "pair_of_tuple": {
        "config.yaml": """\
axes:
  combo_id: [combo_v1_0a1b2c3d4e5f]
  draft_template: [links-v4, recursive-v2]
  draft_llm: [gemma_3_27b]
  evaluation_template: [rigor-v1]
  evaluation_llm: [qwen3-235b]
rules:
  tuples:
    essay_setup:
      axes: [essay_template, essay_llm]
      items:
        - [essay-theme-v3, qwen3-235b]
        - [copy-links-v1, None]
  pairs:
    draft_to_essay:
      left: draft_template
      right: essay_setup
      allowed:
        - [links-v4, [copy-links-v1, None]]
        - [recursive-v2, [essay-theme-v3, qwen3-235b]]
""" + ALL_FIELDS,
    },
    # Everything at once, for the end-to-end check of every draft, essay and evaluation ID.
    "cohort": {
        "config.yaml": """\
axes:
  combo_id: '@file:items/combos.csv'
  draft_template: [links-v4, recursive-v2, rolling-v1]
  draft_llm: [gemma_3_27b, qwen3-235b]
  draft_replicate: [1, 2]
  evaluation_template: '@file:items/judges.csv'
  evaluation_llm: [qwen3-235b, llama_31_405b]
  evaluation_replicate: ['1', '2']
rules:
  subsets:
    draft_template: [links-v4, recursive-v2]
  tuples:
    essay_setup:
      axes: [essay_template, essay_llm, essay_replicate]
      items: '@file:items/essays.csv'
  pairs:
    draft_to_essay:
      left: draft_template
      right: essay_setup
      allowed:
        - [links-v4, [copy-links-v1, None, '1']]
        - [recursive-v2, [Essay-Theme-V3, qwen3-235b, '1']]
        - [recursive-v2, [essay-theme-v3, qwen3-235b, '2']]
    judge_model:
      left: evaluation_template
      right: evaluation_llm
      allowed: '@file:items/judge_models.csv'
      balance: right
output:
  field_order: [combo_id, draft_template, draft_llm, draft_replicate, essay_template, essay_llm]
""",
        "items/combos.csv": "combo_id\ncombo_v1_0a1b2c3d4e5f\ncombo_v1_99ff00ee11dd\n",
        "items/judges.csv": "evaluation_template\nrigor-v1\nnovelty-v3\n",
        "items/essays.csv": "essay_template,essay_llm,essay_replicate\ncopy-links-v1,None,1\n"
                            "Essay-Theme-V3,qwen3-235b,1\nessay-theme-v3,qwen3-235b,2\n",
        "items/judge_models.csv": "evaluation_template,evaluation_llm\nrigor-v1,qwen3-235b\n"
                                  "novelty-v3,llama_31_405b\n",
    },
}

# The data root's template catalog for the "cohort" case (1_raw/<stage>_templates.csv).
TEMPLATES = {
    "draft": "template_id,template_name,parser,generator\nlinks-v4,Links,,llm\n"
             "recursive-v2,Recursive,,LLM\nrolling-v1,Rolling,,llm\n",
    "essay": "template_id,template_name,parser,generator\nessay-theme-v3,Theme,,llm\n"
             "Essay-Theme-V3,Theme (capitals),,\ncopy-links-v1,Copy,, copy \n",
    "evaluation": "template_id,template_name,parser\nrigor-v1,Rigor,in_last_line\n"
                  "novelty-v3,Novelty,in_last_line\n",
}
