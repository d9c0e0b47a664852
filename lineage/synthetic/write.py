"""Writing the synthetic store: generation folders, cohorts, 1_raw inputs, score CSVs, the
selection file and results/, as the pipeline lays them out."""

from __future__ import annotations

import csv
import os
import zlib
from typing import Iterable

import orjson

from lineage.core import ids
from lineage.synthetic.build import _Ctx
from lineage.synthetic.model import (COPY_TEMPLATE, DRAFT_LINES, DRAFT_TEMPLATES, ESSAY_PARAGRAPHS, ESSAY_TEMPLATES,
                                     EVALUATION_MODELS, EVALUATION_REASONS, EVALUATION_TEMPLATES, GENERATION_MODELS,
                                     INACTIVE_EVALUATION_TEMPLATES, JSON, LATIN1_CSV, LLM_MODELS, MEMBERSHIP_HEADERS,
                                     SYMLINK_CSV, SYMLINK_TARGET, Expected, _Cohort, _Gen, _Lineage)


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
        os.symlink(SYMLINK_TARGET, os.path.join(root, SYMLINK_CSV))
        _put(os.path.join(root, LATIN1_CSV),
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
    return orjson.dumps(raw_meta, option=JSON), orjson.dumps(parsed_meta, option=JSON)


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
            meta = dumps(g.meta, option=JSON)
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
        }, option=JSON)
        _put(os.path.join(folder, "manifest.json"),
             cohort.manifest_damage(manifest) if cohort.manifest_damage else manifest)
        for rel, text in (cohort.spec or {}).items():
            path = os.path.join(folder, "spec", rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _put(path, text.encode())
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
