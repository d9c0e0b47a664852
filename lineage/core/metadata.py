"""The metadata rules of each stage, and the ID facts derived from one generation's metadata.

Everything here looks at a single generation; facts that need other generations (parents,
cohorts) are graph queries.
"""

from __future__ import annotations

from lineage.core import ids
from lineage.core.model import Generation

# Fields the pipeline writes, per stage (DOMAIN 2). Anything else is extraneous.
KNOWN_FIELDS = {
    "draft": {"stage", "gen_id", "origin_cohort_id", "mode", "template_id", "combo_id",
              "llm_model_id", "replicate"},
    "essay": {"stage", "gen_id", "origin_cohort_id", "mode", "template_id", "parent_gen_id",
              "llm_model_id", "replicate"},
    "evaluation": {"stage", "gen_id", "origin_cohort_id", "mode", "template_id", "parent_gen_id",
                   "llm_model_id", "replicate"},
}
# A draft's parent_gen_id has a check of its own (chain.draft_has_parent).
KNOWN_FIELDS["draft"].add("parent_gen_id")

# The files the old check_gens_store.py required next to metadata.json.
REQUIRED_FILES = ("parsed.txt", "parsed_metadata.json", "raw_metadata.json")

REQUIRED_FIELDS = {
    "draft": ("combo_id", "template_id", "llm_model_id", "replicate"),
    "essay": ("parent_gen_id", "template_id", "replicate"),
    "evaluation": ("parent_gen_id", "template_id", "llm_model_id", "replicate"),
}

# Old names of fields that still exist, so the message can say what to rename them to.
RENAMED_FIELDS = {
    "cohort_id": "origin_cohort_id",
    "model_id": "llm_model_id",
    "essay_template": "template_id",
    "evaluation_template": "template_id",
    "draft_template": "template_id",
    "essay_template_id": "template_id",
}
LEGACY_IMPORT_FIELDS = {"parent_task_id", "source_file", "created_from", "legacy_fields",
                        "task_id", "function", "draft_gen_id"}
RUN_DETAIL_FIELDS = {"files", "usage", "finish_reason", "duration_s", "run_id"}

MODES = ("llm", "copy")

# What a rebuild regenerates when a generation's stored ID is not the one its metadata implies.
EFFECT = {
    "draft": "regenerate_draft_and_descendants",
    "essay": "regenerate_essay_and_evaluations",
    "evaluation": "regenerate_evaluation",
}


def extraneous_reason(stage: str, name: str) -> str:
    if name in RENAMED_FIELDS:
        return f"{name}: legacy name of {RENAMED_FIELDS[name]}"
    if name == "combo_id":
        return f"{name}: belongs to drafts only"
    if name in LEGACY_IMPORT_FIELDS:
        return f"{name}: legacy import field"
    if name in RUN_DETAIL_FIELDS:
        return f"{name}: run detail"
    return f"{name}: not a {stage} field"


TEXT_FIELDS = ("gen_id", "stage", "parent_gen_id", "mode")  # kept as text on every generation
SHARED_TEXT = {t: t for t in (*ids.STAGES, *MODES)}


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def derive(gen: Generation) -> None:
    """Fill in the derived facts of one generation, in place.

    Runs once per generation on every command, so the common case (complete, known fields,
    valid values) takes the short paths: set checks in C, no list built when nothing is wrong.
    """
    shape = ids.classify(gen.gen_id)
    gen.id_kind = shape.kind
    gen.id_problem = shape.reason
    gen.prefix_stage = shape.prefix_stage or ""
    meta = gen.meta
    if meta is None:
        return
    stage = gen.stage
    meta_gen_id, meta_stage, gen.parent_gen_id, mode = [
        v.strip() if type(v) is str else _text(v) for v in map(meta.get, TEXT_FIELDS)]
    # Equal text as one string: a million generations hold a million IDs, not two million.
    gen.meta_gen_id = gen.gen_id if meta_gen_id == gen.gen_id else meta_gen_id
    gen.meta_stage = SHARED_TEXT.get(meta_stage, meta_stage)
    gen.mode = SHARED_TEXT.get(mode, mode)

    # Complete metadata has every required field in its signature (asserted in the tests).
    parts = ids.common_signature(stage, meta)
    if parts is None:
        missing = [f for f in REQUIRED_FIELDS[stage]
                   if (v := meta.get(f)) is None or type(v) is str and not v.strip()]  # absent or blank
        if missing:
            gen.required_missing = missing
    known = KNOWN_FIELDS[stage]
    if not known.issuperset(meta):
        gen.extraneous = [extraneous_reason(stage, k) for k in meta if k not in known]
    rep, mode = meta.get("replicate"), meta.get("mode")
    if not ((type(rep) is int and rep >= 1 or rep is None) and (mode == "llm" or mode is None
                                                               or mode == "copy" and stage == "essay")):
        gen.invalid_values = _invalid_values(stage, meta)

    if parts is None:
        try:
            parts = ids.signature(stage, meta)
        except ids.SignatureError as exc:
            gen.signature_error = str(exc)
            return
    value = ids.hash_value(parts)
    if shape.kind == ids.DETERMINISTIC and shape.collision == 0 and \
            shape.prefix_stage == stage and int(gen.gen_id[2:], 36) == value:
        # The common case: the stored ID is the one its metadata implies. Comparing numbers
        # spares printing the hash in base36 for every generation.
        gen.expected_id, gen.id_matches = gen.gen_id, True
        return
    gen.expected_id = ids.PREFIX[stage] + ids.base36(value)
    if shape.kind == ids.DETERMINISTIC:
        # An unsuffixed ID must equal the k = 0 candidate; a suffix names the only k to try.
        if shape.collision == 0:
            gen.id_matches = gen.expected_id == gen.gen_id
        else:
            gen.id_matches = ids.matching_collision(stage, parts, gen.gen_id) is not None


def _invalid_values(stage: str, meta: dict) -> list[str]:
    problems = []
    if "replicate" in meta and meta["replicate"] not in (None, ""):
        rep = meta["replicate"]
        if ids.positive_int(rep) is None:
            problems.append(f"replicate {rep!r} is not a positive integer")
    if "mode" in meta:
        mode = meta["mode"]
        if mode not in MODES:
            problems.append(f"mode {mode!r} is not llm or copy")
        elif mode == "copy" and stage != "essay":
            problems.append(f"mode 'copy' is only valid for essays, not for {'an' if stage[0] in 'aeiou' else 'a'} {stage}")
    return problems
