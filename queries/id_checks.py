"""Checks of IDs: the folder name against its metadata, its stage and its shape, legacy IDs, and
deterministic IDs that their metadata no longer reproduces."""

from __future__ import annotations

from lineage.core.metadata import EFFECT
from lineage.loaders.lineage_graph import LineageGraph
from lineage.queries.catalog import Row, check
from lineage.queries.rows import gen_row


def _rebuild(row: Row) -> tuple[str, dict]:
    stage = row["stage"]
    details = {"expected_id": row["expected_id"] or None, "effect": EFFECT[stage],
               "descendants": row["descendants"]}
    what = {"draft": "the draft and", "essay": "the essay and", "evaluation": "the evaluation"}[stage]
    tail = f" {row['descendants']} descendant(s)" if stage != "evaluation" else ""
    return what + tail, details


def _legacy(row: Row) -> tuple[str, dict]:
    effect, details = _rebuild(row)
    if row["expected_id"]:
        return f"legacy ID; its metadata implies {row['expected_id']}; a rebuild regenerates {effect}", details
    return "legacy ID; its metadata implies no deterministic ID", details


def _mismatch(row: Row) -> tuple[str, dict]:
    effect, details = _rebuild(row)
    return (f"stored ID differs from {row['expected_id']}, the ID its metadata implies; "
            f"a rebuild regenerates {effect}"), details


def _rebuilt(g: LineageGraph, wanted) -> list[Row]:
    """Generations a rebuild regenerates with their descendants: counted in one pass."""
    chosen = [n for n in g.unusual if wanted(n)]
    below = g.descendant_totals(roots=[n["key"] for n in chosen]) if chosen else {}
    return [gen_row(n, expected_id=n["expected_id"], descendants=below.get(n["key"], 0)) for n in chosen]


@check("id.dir_mismatch", "error", "metadata `gen_id` missing or different from the folder name",
       why="The folder name is the ID; metadata that says otherwise was copied or renamed by hand, and the "
           "pipeline and a migration would disagree on which ID is meant.",
       fix="Set metadata gen_id to the folder name, or rename the folder, whichever the cohort memberships use.",
       describe=lambda r: ((f"metadata gen_id {r['meta_gen_id']!r} differs from the folder name"
                            if r["meta_gen_id"] else "metadata has no gen_id"),
                           {"metadata_gen_id": r["meta_gen_id"] or None}), on_metadata=True)
def dir_mismatch(g: LineageGraph) -> list[Row]:
    return [gen_row(n, meta_gen_id=n["meta_gen_id"]) for n in g.unusual
            if n["meta_status"] == "ok" and n["meta_gen_id"] != n["gen_id"]]


@check("id.stage_mismatch", "error",
       "metadata `stage` differs from the folder's stage, or a deterministic prefix belongs to another stage",
       why="The stage decides the signature and the parent's stage: a generation filed in the wrong stage "
           "breaks the chains below it and gets a wrong ID.",
       fix="Move the folder under the stage its metadata and prefix name, or correct the metadata stage.",
       describe=lambda r: ((f"metadata stage is {r['other_stage']!r}" if r["source"] == "metadata"
                            else f"ID prefix belongs to the {r['other_stage']} stage")
                           + f", but the folder is under gens/{r['stage']}/",
                           {"source": r["source"], "other_stage": r["other_stage"]}))
def stage_mismatch(g: LineageGraph) -> list[Row]:
    rows = []
    for n in g.unusual:
        if n["meta_status"] == "ok" and n["meta_stage"] and n["meta_stage"] != n["stage"]:
            rows.append(gen_row(n, source="metadata", other_stage=n["meta_stage"]))
        if n["prefix_stage"] and n["prefix_stage"] != n["stage"]:
            rows.append(gen_row(n, source="prefix", other_stage=n["prefix_stage"]))
    return rows


@check("id.malformed", "error", "the folder name is neither a deterministic nor a legacy ID",
       why="No rule produced this name (upper case, a leading zero, too many digits): it was typed or mangled, "
           "and references to it are unlikely to match.",
       fix="Rename it to the ID its metadata implies (`lineage migrate plan --only all` plans it).",
       describe=lambda r: (f"malformed ID: {r['problem']}", {"problem": r["problem"]}))
def malformed(g: LineageGraph) -> list[Row]:
    return [gen_row(n, problem=n["id_problem"]) for n in g.unusual if n["id_kind"] == "malformed"]


@check("id.legacy", "info",
       "legacy ID; details: the deterministic ID its metadata implies, the effect and the number of descendants "
       "a rebuild regenerates",
       why="The allocator cannot see legacy IDs: a rebuild mints the deterministic ID again as a duplicate and "
           "pays for the LLM calls of it and everything below it.",
       fix="Migrate it: `lineage migrate plan` renames it and its descendants to the IDs their metadata implies.",
       describe=_legacy)
def legacy(g: LineageGraph) -> list[Row]:
    return _rebuilt(g, lambda n: n["id_kind"] == "legacy")


@check("id.signature_mismatch", "warn",
       "a deterministic-format ID that its metadata does not reproduce for any collision suffix k = 0..4; "
       "details: expected ID, effect, descendants",
       why="The metadata changed after the ID was minted (a relinked parent, an edited replicate, a renamed "
           "template): a rebuild mints another ID and regenerates the generation and its descendants.",
       fix="If the metadata is right, migrate the ID (`--only mismatch`); if the ID is right, restore the "
           "metadata field that changed.",
       describe=_mismatch)
def signature_mismatch(g: LineageGraph) -> list[Row]:
    return _rebuilt(g, lambda n: n["id_matches"] is False)


@check("id.signature_incomplete", "warn", "signature inputs missing or invalid, so no ID can be recomputed",
       why="Without a signature the generation has no deterministic ID: a migration leaves it (and nothing "
           "below it can be renamed consistently).",
       fix="Fill in the missing signature field (the message names it) from the cohort's membership row.",
       describe=lambda r: (f"cannot recompute the ID: {r['error']}", {"error": r["error"]}), on_metadata=True)
def signature_incomplete(g: LineageGraph) -> list[Row]:
    return [gen_row(n, error=n["signature_error"]) for n in g.unusual if n["signature_error"]]
