"""Planters: each plants one check's problem in lineages of its own and says the exact finding
the audit must report. A planter reserves its lineages at once and returns what it does once
IDs are minted. `@planter(CHECK)` registers it next to the check it plants."""

from __future__ import annotations

import json
from typing import Any, Callable

from lineage.core import ids
from lineage.synthetic.build import _Ctx, _make_legacy, _mint, _old_spelling
from lineage.synthetic.model import DIGITS, DROP, LATIN1_CSV, SYMLINK_CSV, Expected, _Cohort, _Gen, _Lineage

Plan = Callable[[], None]
PLANTERS: dict[str, Callable[[_Ctx], Plan]] = {}


def planter(check: str):
    def register(fn: Callable[[_Ctx], Plan]) -> Callable[[_Ctx], Plan]:
        PLANTERS[check] = fn
        return fn
    return register


def _damage_array(raw: bytes) -> bytes:
    return b"[" + raw + b"]"  # a script that wrote a list of records


def _damage_latin1(raw: bytes) -> bytes:
    return raw[:-2] + ',\n  "note": "résumé"\n}'.encode("latin-1")  # valid JSON, not UTF-8


def _damage_empty(raw: bytes) -> bytes:
    return b""  # the process died between open() and write()


def _damage_truncated(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]  # disk full mid-write


@planter("store.metadata_missing")
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


@planter("store.metadata_invalid")
def _plant_metadata_invalid(ctx: _Ctx):
    lins = [ctx.take() for _ in range(4)]

    def plan():
        victims = [(lins[0].evaluation, _damage_array), (lins[1].essay, _damage_latin1),
                   (lins[2].evaluation, _damage_empty), (lins[3].draft, _damage_truncated)]
        for g, damage in victims:
            g.damage = damage
            ctx.plant("store.metadata_invalid", g, on_meta=True)
    return plan


@planter("store.files_missing")
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


@planter("store.path_skipped")
def _plant_path_skipped(ctx: _Ctx):
    def plan():
        ctx.path_skipped = True
        for path in (SYMLINK_CSV, LATIN1_CSV):
            ctx.expected.append(Expected("store.path_skipped", None, None, path))
    return plan


@planter("id.dir_mismatch")
def _plant_dir_mismatch(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay  # renamed during the migration; its metadata kept the old legacy ID
        essay.post = {"gen_id": "".join(ctx.rng.choices(DIGITS, k=16))}
        ctx.plant("id.dir_mismatch", essay, on_meta=True, descendants=False)
        ev = b.evaluation
        ev.post = {"gen_id": DROP}
        ctx.plant("id.dir_mismatch", ev, on_meta=True, descendants=False)
    return plan


@planter("id.stage_mismatch")
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


@planter("id.malformed")
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


@planter("id.legacy")
def _plant_legacy(ctx: _Ctx):
    lin = ctx.take()
    _make_legacy(ctx, lin)  # before minting; the expected findings come from _expect_id_kinds
    return lambda: None


@planter("id.signature_mismatch")
def _plant_signature_mismatch(ctx: _Ctx):
    lin = ctx.take()
    # An essay whose template was renamed after minting; its evaluations use its stored ID.
    lin.essay.mint_template = _old_spelling(lin.essay.template)
    return lambda: None


@planter("id.signature_incomplete")
def _plant_signature_incomplete(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        draft = a.draft
        draft.post = {"replicate": "1.0"}  # also meta.invalid_value
        ev = b.evaluation
        ev.post = {"llm_model_id": DROP}  # also meta.required_missing
        ctx.plant("id.signature_incomplete", draft, ev, on_meta=True, descendants=False)
    return plan


@planter("meta.required_missing")
def _plant_required_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay
        assert essay.replicate == 1  # the first essay of a draft: replicate 1, as the ID implies
        essay.post = {"replicate": DROP}  # absent means 1 for the ID, so only this finding
        ev = b.evaluation
        ev.post = {"llm_model_id": ""}  # also id.signature_incomplete
        ctx.plant("meta.required_missing", essay, ev, on_meta=True, descendants=False)
    return plan


@planter("meta.extraneous_field")
def _plant_extraneous_field(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        essay = a.essay  # written before 2025-09-30, with run details
        essay.post = {"combo_id": essay.combo,
                      "files": {"raw": f"/home/runner/daydreaming/data/{essay.folder}/raw.txt",
                                "parsed": f"/home/runner/daydreaming/data/{essay.folder}/parsed.txt"}}
        ev = b.evaluation  # old field names and legacy-import fields
        ev.post = {"origin_cohort_id": DROP, "cohort_id": ev.cohort, "usage": {"prompt_tokens": 2817,
                   "completion_tokens": 412}, "source_file": "4_evaluation/evaluation_responses/x.txt"}
        for g in (essay, ev):
            for key, value in g.post.items():
                if value is not DROP:
                    ctx.expect("meta.extraneous_field", g, on_meta=True)
            ctx.taint(g, descendants=False)
    return plan


@planter("meta.invalid_value")
def _plant_invalid_value(ctx: _Ctx):
    a, b, c = ctx.take(), ctx.take(), ctx.take()
    b.draft.replicate = 0  # zero-based by a script; the ID was minted with it, so it matches

    def plan():
        a.evaluation.post = {"mode": "copy"}  # copy is valid only for essays
        c.essay.post = {"mode": "chat"}
        ctx.plant("meta.invalid_value", a.evaluation, b.draft, c.essay, on_meta=True, descendants=False)
    return plan


@planter("chain.parent_id_missing")
def _plant_parent_id_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        ev = a.evaluation  # a repair removed parent_gen_id (also signature_incomplete, required_missing)
        ev.post = {"parent_gen_id": DROP}
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


@planter("chain.parent_missing")
def _plant_parent_missing(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        _delete(ctx, lin.draft)
        for essay in lin.draft.children:
            ctx.expect("chain.parent_missing", essay, on_meta=True)
        ctx.taint(lin.draft)
    return plan


@planter("chain.parent_wrong_stage")
def _plant_parent_wrong_stage(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        ev = lin.evaluation  # it names the draft, not the essay, and was minted that way
        ev.pre = {"parent_gen_id": lin.draft.gen_id}
        _mint(ev)
        ctx.plant("chain.parent_wrong_stage", ev, on_meta=True, descendants=False)
    return plan


@planter("chain.parent_unreadable")
def _plant_parent_unreadable(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        lin.draft.has_meta = False
        for essay in lin.draft.children:
            ctx.expect("chain.parent_unreadable", essay, on_meta=True)
        ctx.taint(lin.draft)
    return plan


@planter("chain.ancestor_broken")
def _plant_ancestor_broken(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        _delete(ctx, lin.draft)
        for essay in lin.draft.children:
            for ev in essay.children:
                ctx.expect("chain.ancestor_broken", ev, on_meta=True)
        ctx.taint(lin.draft)
    return plan


@planter("chain.draft_has_parent")
def _plant_draft_has_parent(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        draft = lin.draft
        other = next((o.draft for o in ctx.lineages if not o.reserved and o.draft.written), lin.essay)
        draft.post = {"parent_gen_id": other.gen_id}
        ctx.plant("chain.draft_has_parent", draft, on_meta=True, descendants=False)
    return plan


@planter("cohort.member_missing")
def _plant_member_missing(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        ev = a.evaluation  # deleted by cleanup_generation_cascade, which leaves membership stale
        ev.written = False
        ev.member_expected = True
        ctx.taint(ev)
        b.cohort.extra_rows.append(("essay", b.draft))  # a draft listed under the wrong stage
    return plan


@planter("cohort.membership_invalid")
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


@planter("cohort.manifest_invalid")
def _plant_manifest_invalid(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        cohort = lin.cohort
        cohort.manifest_damage = _damage_truncated
        ctx.expected.append(Expected("cohort.manifest_invalid", None, None,
                                     f"cohorts/{cohort.cohort_id}/manifest.json", cohort=cohort.cohort_id))
    return plan


def _spec_text(axes: dict[str, Any], rules: str = "") -> str:
    """A cohort's spec/config.yaml: each level written as a JSON scalar (valid YAML, never
    retyped: a combo of digits stays text, a replicate stays a number)."""
    lines = ["axes:"] + [f"  {name}: [{json.dumps(level)}]" for name, level in axes.items()]
    return "\n".join(lines) + "\n" + rules + f"output:\n  field_order: [{', '.join(axes)}]\n"


def _spec_cohort(lin: _Lineage, suffix: str, members: list[_Gen], spec: str) -> _Cohort:
    """A cohort of the spec era built around one lineage (its first essay and evaluation)."""
    d, e, v = lin.draft, lin.essay, lin.evaluation
    return _Cohort(cohort_id=f"{lin.cohort.cohort_id}-{suffix}", shape="slim", combos=[d.combo],
                   draft_templates=[d.template], essay_templates=[e.template], evaluation_templates=[v.template],
                   generation_models=[d.model], evaluation_models=[v.model],
                   replication={"draft": 1, "essay": 1, "evaluation": 1}, members=members, spec={"config.yaml": spec})


@planter("cohort.spec_invalid")
def _plant_spec_invalid(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        d, e, v = lin.draft, lin.essay, lin.evaluation
        # The writer model bound to its replicates by a tuple, then a subset over that tuple: a
        # construct lineage refuses rather than guess (the pipeline's compiler mishandles it).
        axes = {"combo_id": d.combo, "draft_template": d.template, "essay_template": e.template,
                "essay_llm": e.model or d.model, "evaluation_template": v.template, "evaluation_llm": v.model}
        rules = (f"rules:\n  tuples:\n    writer_runs:\n      axes: [draft_llm, draft_replicate]\n"
                 f"      items: [[{json.dumps(d.model)}, {d.replicate}]]\n"
                 f"  subsets:\n    writer_runs: [{json.dumps(d.model)}]\n")
        cohort = _spec_cohort(lin, "spec-subset-of-tuple", [d, e, v], _spec_text(axes, rules))
        ctx.cohorts.append(cohort)
        ctx.expected.append(Expected("cohort.spec_invalid", None, None,
                                     f"cohorts/{cohort.cohort_id}/spec/config.yaml", cohort=cohort.cohort_id))
    return plan


@planter("cohort.spec_mismatch")
def _plant_spec_mismatch(ctx: _Ctx):
    a, b = ctx.take(), ctx.take()

    def plan():
        d, e, v = a.draft, a.essay, a.evaluation
        axes = {"combo_id": d.combo, "draft_template": d.template, "draft_llm": d.model,
                "draft_replicate": d.replicate, "essay_template": e.template, "essay_llm": e.model or d.model,
                "essay_replicate": e.replicate, "evaluation_template": v.template, "evaluation_llm": v.model,
                "evaluation_replicate": v.replicate}
        # The spec plans d, e and v; the membership, edited by hand, lists another lineage's
        # evaluation instead of v (line 4: the header, then the rows in stage order).
        cohort = _spec_cohort(a, "spec-edited", [d, e, b.evaluation], _spec_text(axes))
        ctx.cohorts.append(cohort)
        rel = f"cohorts/{cohort.cohort_id}/membership.csv"
        ctx.expected.append(Expected("cohort.spec_mismatch", "evaluation", v.gen_id, rel, cohort=cohort.cohort_id))
        ctx.expected.append(Expected("cohort.spec_mismatch", "evaluation", b.evaluation.gen_id, rel, line=4,
                                     cohort=cohort.cohort_id))
    return plan


@planter("cohort.unreachable")
def _plant_unreachable(ctx: _Ctx):
    lin = ctx.take()

    def plan():
        ev = lin.evaluation
        _unlist(ctx, ev)
        ctx.expect("cohort.unreachable", ev)
    return plan


@planter("ref.dangling")
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
