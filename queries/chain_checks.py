"""Checks of parent chains. The verdicts are the lineage graph's (LineageGraph.broken_links and
chain_problems), the same ones that keep a migration from renaming under a broken chain."""

from __future__ import annotations

from lineage.core.ids import PARENT_STAGE
from lineage.loaders.lineage_graph import LineageGraph
from lineage.queries.catalog import Row, check
from lineage.queries.rows import gen_row


def _a(stage: str) -> str:
    return ("an " if stage[:1] in "aeiou" else "a ") + stage


def _links(g: LineageGraph, problem: str) -> list[tuple[dict, dict | None]]:
    """(generation, parent node) of every link broken in this way."""
    return [(g.nodes[k], p) for k, (what, p) in g.broken_links.items() if what == problem]


@check("chain.parent_id_missing", "error", "an essay or evaluation without `parent_gen_id`",
       why="The generation hangs in the air: its signature holds the parent's ID, so it has no ID to check "
           "or migrate, and a rebuild does not know what it was made from.",
       fix="Restore parent_gen_id (a repair once removed it from copy-mode evaluations); the membership "
           "row or the prompt often names the parent.",
       describe=lambda r: ("no parent_gen_id", {}), on_metadata=True)
def parent_id_missing(g: LineageGraph) -> list[Row]:
    return [gen_row(c) for c, _ in _links(g, "parent_id_missing")]


@check("chain.parent_missing", "error", "`parent_gen_id` names no generation in any stage",
       why="The parent was deleted or the field edited: a migration would bake the missing ID into new IDs, "
           "so such renames are blocked until the chain is fixed.",
       fix="Restore the parent folder, or correct parent_gen_id to the parent that exists.",
       describe=lambda r: (f"parent {r['parent_gen_id']} does not exist", {"parent_gen_id": r["parent_gen_id"]}),
       on_metadata=True)
def parent_missing(g: LineageGraph) -> list[Row]:
    return [gen_row(c, parent_gen_id=p["gen_id"]) for c, p in _links(g, "parent_missing")]


@check("chain.parent_wrong_stage", "error", "the parent exists, but in another stage than expected",
       why="An essay's parent must be a draft and an evaluation's an essay; a parent in another stage means a "
           "wrong link (or a folder filed under the wrong stage), and it can close a loop.",
       fix="Correct parent_gen_id, or move the parent folder to its stage.",
       describe=lambda r: (f"parent {r['parent_gen_id']} is {_a(r['parent_stage'])}, expected {_a(r['expected_stage'])}",
                           {"parent_gen_id": r["parent_gen_id"], "parent_stage": r["parent_stage"],
                            "expected_stage": r["expected_stage"]}), on_metadata=True)
def parent_wrong_stage(g: LineageGraph) -> list[Row]:
    return [gen_row(c, parent_gen_id=p["gen_id"], parent_stage=p["stage"], expected_stage=PARENT_STAGE[c["stage"]])
            for c, p in _links(g, "parent_wrong_stage")]


@check("chain.parent_unreadable", "warn", "the parent folder exists but its metadata is missing or invalid",
       why="The parent's own ID and chain cannot be checked, so neither can this generation's.",
       fix="Repair the parent's metadata.json (see its store.metadata_* finding).",
       describe=lambda r: (f"parent {r['parent_gen_id']} has {r['parent_status']} metadata",
                           {"parent_gen_id": r["parent_gen_id"], "parent_metadata": r["parent_status"]}),
       on_metadata=True)
def parent_unreadable(g: LineageGraph) -> list[Row]:
    return [gen_row(c, parent_gen_id=p["gen_id"], parent_status=p["meta_status"])
            for c, p in _links(g, "parent_unreadable")]


@check("chain.ancestor_broken", "warn",
       "the parent is fine but a generation further up is missing, unreadable or misplaced",
       why="The break above cascades: a migration cannot rename this generation consistently either.",
       fix="Fix the broken link the finding names (the ancestor's own chain.* finding); this one then clears.",
       describe=lambda r: (f"ancestor {r['ancestor_stage']} {r['ancestor_gen_id']}: {r['problem'].replace('_', ' ')}",
                           {"parent_gen_id": r["parent_gen_id"], "ancestor_gen_id": r["ancestor_gen_id"],
                            "ancestor_stage": r["ancestor_stage"], "problem": r["problem"]}), on_metadata=True)
def ancestor_broken(g: LineageGraph) -> list[Row]:
    """The parent link is fine, but a link further up is not: the nearest broken one."""
    rows = []
    for key, verdict in g.chain_problems.items():
        if verdict.own:
            continue
        n, ancestor = g.nodes[key], g.nodes[verdict.at]
        rows.append(gen_row(n, parent_gen_id=n["parent_gen_id"], ancestor_gen_id=ancestor["gen_id"],
                            ancestor_stage=ancestor["stage"], problem=verdict.problem))
    return rows


@check("chain.draft_has_parent", "warn", "a draft with a non-empty `parent_gen_id`",
       why="Drafts start a chain; a parent on a draft is a copy-paste or import error that confuses tools "
           "walking the chain (it does not change the draft's ID).",
       fix="Remove parent_gen_id from the draft's metadata.",
       describe=lambda r: (f"draft has parent_gen_id {r['parent_gen_id']}", {"parent_gen_id": r["parent_gen_id"]}),
       on_metadata=True)
def draft_has_parent(g: LineageGraph) -> list[Row]:
    return [gen_row(n, parent_gen_id=n["parent_gen_id"]) for n in g.unusual
            if n["meta_status"] == "ok" and n["stage"] == "draft" and n["parent_gen_id"]]
