"""From design rows to the generations a cohort build registers, with their deterministic IDs.

The pipeline's rules, as its cohort build applies them to the compiled rows:
- every row must name combo_id (or combo), draft_template, draft_llm (or draft_model,
  generation_llm), essay_template, essay_llm, evaluation_template and evaluation_llm; the first
  non-blank of a field's names counts, stripped of spaces (case kept);
- replicates come from draft_replicate | draft_template_replicate | draft_rep,
  essay_replicate | essay_template_replicate | essay_rep and evaluation_replicate |
  evaluation_template_replicate | evaluation_llm_replicate | evaluation_rep; blank or absent is 1;
- a draft is one (combo, template, llm, replicate); an essay one (draft, template, essay_llm,
  replicate); an evaluation one (essay, template, llm, replicate); each kept once, in the order
  rows first name it;
- IDs go parents first: a draft's from its signature, an essay's from its draft's ID, template
  and replicate (essay_llm is not part of it), an evaluation's from its essay's ID;
- rows of one stage with the same ID are kept once, the first (Plan.merged holds the others);
- a generation's mode is its template's `generator` cell in 1_raw/<stage>_templates.csv,
  stripped and lower-cased; `llm` when the cell is spaces or the column is absent. A blank cell
  (or one pandas reads as missing, such as NA or None) becomes the text "nan", which the pipeline
  writes to metadata as is and later refuses to run. Every template of the cohort must be listed
  there, or the pipeline refuses the cohort;
- an ID is reserved against the store: the build takes the first k in 0..4 whose folder has no
  metadata.json or one with the same signature, and refuses the cohort when all five are
  taken (`against`). Without `reserve` every ID is the k = 0 one (a store holding none of them).
"""

from __future__ import annotations

import os
import stat
from typing import Any, Callable, Iterable, Mapping

from lineage.core import ids
from lineage.loaders.csv_chunks import read_small
from lineage.loaders.spec.compiler import MAX_ROWS, compile_rows
from lineage.loaders.spec.loader import MAX_FILE_BYTES
from lineage.loaders.spec.model import STAGE_ORDER, Plan, Planned, Spec, SpecError

DRAFT = (("combo_id", "combo"), ("draft_template",), ("draft_llm", "draft_model", "generation_llm"),
         ("draft_replicate", "draft_template_replicate", "draft_rep"))
ESSAY = (("essay_template",), ("essay_llm",), ("essay_replicate", "essay_template_replicate", "essay_rep"))
EVALUATION = (("evaluation_template",), ("evaluation_llm",),
              ("evaluation_replicate", "evaluation_template_replicate", "evaluation_llm_replicate",
               "evaluation_rep"))
# The cells pandas reads as missing by default: a generator cell like these is seeded as "nan".
PANDAS_MISSING = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                            "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a",
                            "nan", "null"})

TemplateModes = Mapping[str, Mapping[str, str]]  # stage -> template_id -> mode
# (stage, gen_id) -> None when that folder has no metadata.json, else the k = 0 ID its metadata
# implies ("" when it implies none: unreadable, or a field missing). Two signatures are equal
# exactly when their k = 0 IDs are (an 80-bit hash), so the ID stands for the signature.
Existing = Callable[[str, str], "str | None"]
# (stage, normalised signature) -> the ID a build registers for it; SpecError when it cannot.
Reserve = Callable[[str, tuple], str]


def plan_generations(spec: Spec, *, templates: TemplateModes | None = None, seed: int | None = None,
                     max_rows: int = MAX_ROWS, reserve: Reserve | None = None) -> Plan:
    """The drafts, essays and evaluations a cohort build would register for this spec.

    `templates` (from read_template_modes) decides each generation's mode and checks that the
    cohort's templates are listed; without it modes are None and templates are not checked.
    `reserve` picks each ID (`against(existing)`: the build's collision rule on a store).
    """
    rows = compile_rows(spec, seed=seed, max_rows=max_rows)
    return plan_rows(rows, templates=templates, source=spec.source, reserve=reserve)


def plan_rows(rows: Iterable[Mapping[str, Any]], *, templates: TemplateModes | None = None,
              source: str = "spec", reserve: Reserve | None = None) -> Plan:
    """plan_generations for rows already compiled (or written by hand)."""
    drafts: dict[tuple, None] = {}
    essays: dict[tuple, None] = {}
    evaluations: dict[tuple, None] = {}
    for n, row in enumerate(rows, 1):
        d = (_text(row, DRAFT[0], n, source), _text(row, DRAFT[1], n, source),
             _text(row, DRAFT[2], n, source), _replicate(row, DRAFT[3], n, source))
        e = (d, _text(row, ESSAY[0], n, source), _text(row, ESSAY[1], n, source),
             _replicate(row, ESSAY[2], n, source))
        v = (e, _text(row, EVALUATION[0], n, source), _text(row, EVALUATION[1], n, source),
             _replicate(row, EVALUATION[2], n, source))
        drafts.setdefault(d)
        essays.setdefault(e)
        evaluations.setdefault(v)
    if not evaluations:
        raise SpecError(f"{source}: the spec compiles to no rows; the pipeline refuses a cohort "
                        "without evaluations")
    if templates is not None:
        _check_templates(templates, {"draft": [k[1] for k in drafts], "essay": [k[1] for k in essays],
                                     "evaluation": [k[1] for k in evaluations]}, source)

    def mode(stage: str, template: str) -> str | None:
        return None if templates is None else templates[stage][template]

    plan, seen = Plan(), set()

    def add(p: Planned) -> str:
        (plan.merged if p.gen_id in seen else plan.generations).append(p)
        seen.add(p.gen_id)
        return p.gen_id

    draft_ids, essay_ids = {}, {}
    for key in drafts:
        combo, template, llm, rep = key
        gen_id = _id("draft", {"combo_id": combo, "template_id": template, "llm_model_id": llm,
                               "replicate": rep}, source, reserve)
        draft_ids[key] = add(Planned("draft", gen_id, combo, template, llm, rep, None,
                                     mode("draft", template)))
    for key in essays:
        draft, template, llm, rep = key
        parent = draft_ids[draft]
        gen_id = _id("essay", {"parent_gen_id": parent, "template_id": template, "replicate": rep}, source,
                     reserve)
        essay_ids[key] = add(Planned("essay", gen_id, draft[0], template, llm, rep, parent,
                                     mode("essay", template)))
    for key in evaluations:
        essay, template, llm, rep = key
        parent = essay_ids[essay]
        gen_id = _id("evaluation", {"parent_gen_id": parent, "template_id": template,
                                    "llm_model_id": llm, "replicate": rep}, source, reserve)
        add(Planned("evaluation", gen_id, essay[0][0], template, llm, rep, parent,
                    mode("evaluation", template)))
    return plan


def _text(row: Mapping[str, Any], names: tuple[str, ...], n: int, source: str) -> str:
    for name in names:
        value = row.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    also = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
    raise SpecError(f"{source}: row {n} has no {names[0]}{also}; a cohort needs it in every row")


def _replicate(row: Mapping[str, Any], names: tuple[str, ...], n: int, source: str) -> int:
    for name in names:
        value = row.get(name)
        if value is None or not str(value).strip():
            continue
        text = str(value).strip()
        if type(value) is int or (isinstance(value, str) and text.isascii() and text.isdigit()):
            if int(text) >= 1:
                return int(text)
        raise SpecError(f"{source}: row {n}: {name} {value!r} is not a whole number of 1 or more")
    return 1


def _id(stage: str, meta: dict, source: str, reserve: Reserve | None) -> str:
    try:
        parts = ids.signature(stage, meta)
    except ids.SignatureError as exc:  # not expected: every field was checked above
        raise SpecError(f"{source}: no {stage} ID: {exc}") from None
    if reserve is None:
        return ids.deterministic_id(stage, parts)
    try:
        return reserve(stage, parts)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


def against(existing: Existing) -> Reserve:
    """The build's collision rule on a store: the first k in 0..4 whose folder is free or holds
    the same signature; SpecError when another signature holds all five."""
    def reserve(stage: str, parts: tuple) -> str:
        first = ids.deterministic_id(stage, parts)
        for k in range(ids.MAX_COLLISION + 1):
            candidate = ids.deterministic_id(stage, parts, k) if k else first
            held = existing(stage, candidate)
            if held is None or held == first:  # a free folder, or this very generation
                return candidate
        raise SpecError(f"{stage} {'|'.join(parts)}: its IDs for collision 0..{ids.MAX_COLLISION} are all held "
                        "by other generations; the pipeline refuses the cohort")
    return reserve


def _check_templates(templates: TemplateModes, used: dict[str, list[str]], source: str) -> None:
    for stage in STAGE_ORDER:
        known = templates.get(stage, {})
        for template in used[stage]:
            if template not in known:
                raise SpecError(f"{source}: {stage} template {template!r} is not listed in "
                                f"1_raw/{stage}_templates.csv; the pipeline refuses the cohort")


def read_template_modes(data_root: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Each stage's template_id -> mode, from <data_root>/1_raw/<stage>_templates.csv."""
    out: dict[str, dict[str, str]] = {}
    for stage in STAGE_ORDER:
        path = os.path.join(os.fspath(data_root), "1_raw", f"{stage}_templates.csv")
        try:
            st = os.stat(path)
        except OSError as exc:
            raise SpecError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
            raise SpecError(f"{path}: not a regular file of at most {MAX_FILE_BYTES:,} bytes")
        rows = read_small(path, path, SpecError)
        header = rows[0] if rows else []
        if "template_id" not in header:
            raise SpecError(f"{path}: no template_id column")
        if "active" in header:
            raise SpecError(f"{path}: has the retired column 'active'; the pipeline refuses it")
        tcol = header.index("template_id")
        gcol = header.index("generator") if "generator" in header else None
        modes: dict[str, str] = {}
        for n, row in enumerate(rows[1:], 1):
            if not row:
                continue
            if len(row) > len(header):
                raise SpecError(f"{path}: data row {n} has more cells than the header")
            template = row[tcol] if tcol < len(row) else ""
            if template in PANDAS_MISSING or template != template.strip():
                continue  # the pipeline cannot match such a row to a cohort's template
            if gcol is None:
                modes[template] = "llm"
                continue
            cell = row[gcol] if gcol < len(row) else ""
            modes[template] = "nan" if cell in PANDAS_MISSING else (cell.strip().lower() or "llm")
        out[stage] = modes
    return out
