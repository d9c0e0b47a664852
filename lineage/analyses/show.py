"""The lineage of one generation: its ancestry up to the draft and its descendants as a tree.

Nothing here recurses and nothing nests with the data: a chain of thousands of generations
(parents filed in the wrong stage link essay to essay) is walked with a list, kept as a flat
list of nodes with their depth and parent, and drawn (lineage.render.tree) with a bounded
indentation.
"""

from __future__ import annotations

from typing import Any

from lineage.loaders.lineage_graph import LineageGraph
from lineage.core.model import Finding


def lineage_of(g: LineageGraph, gen_id: str, findings: list[Finding]) -> list[dict[str, Any]]:
    """One view per node carrying this ID (a generation in some stage, or a Missing reference)."""
    problems: dict[tuple[str | None, str | None], list[str]] = {}
    for f in findings:
        problems.setdefault((f.stage, f.gen_id), []).append(f"{f.severity}: {f.check}: {f.message}")
    keys = g.find(gen_id)
    if g.missing(gen_id):
        keys.append(g.missing(gen_id))
    return [_view(g, k, problems) for k in keys]


def _node(g: LineageGraph, key: str, problems) -> dict[str, Any]:
    n = g.nodes[key]
    if g.is_missing(key):
        return {"stage": None, "gen_id": n["gen_id"], "missing": True, "problems": ["no such generation"]}
    return {"stage": n["stage"], "gen_id": n["gen_id"], "missing": False,
            "problems": problems.get((n["stage"], n["gen_id"]), [])}


def _view(g: LineageGraph, key: str, problems) -> dict[str, Any]:
    view = _node(g, key, problems)
    view["ancestors"] = [_node(g, up, problems) for up in g.ancestors(key)]
    view["descendants"] = _descendants(g, key, problems)
    view["referenced_by"] = [{"path": g.nodes[u]["path"], "line": p["line"], "column": p["column"] or None}
                             for u, p in g.places_to(key) if g.has_label(u, "Artifact")]
    view["cohorts"] = sorted(g.nodes[u]["cohort_id"] for u in g.sources_into(key) if g.has_label(u, "Cohort"))
    return view


def _descendants(g: LineageGraph, key: str, problems) -> list[dict[str, Any]]:
    """Everything below `key` once, depth first with children in key order: each node with its
    `depth` (1 for a child) and its parent's `parent_stage` and `parent_gen_id`."""
    children = g.children_index
    out: list[dict[str, Any]] = []
    seen = {key}
    stack = [(child, 1, key) for child in sorted(children.get(key, ()), reverse=True)]
    while stack:
        child, depth, parent = stack.pop()
        if child in seen:  # a loop of parent links comes back round
            continue
        seen.add(child)
        up = _node(g, parent, problems)
        out.append({**_node(g, child, problems), "depth": depth, "parent_stage": up["stage"],
                    "parent_gen_id": up["gen_id"]})
        stack += [(c, depth + 1, child) for c in sorted(children.get(child, ()), reverse=True)]
    return out


def place(ref: dict[str, Any]) -> str:
    return ref["path"] + (f":{ref['line']}" if ref["line"] else "") + (f" ({ref['column']})" if ref["column"] else "")


TREE_COLUMNS = ["depth", "relation", "stage", "gen_id", "place", "problems"]


def tree_rows(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tree flattened for CSV and Markdown: depth < 0 are ancestors, 0 the node itself;
    then the cohorts that list the node and the places that mention it, without a depth."""
    rows = []
    for view in views:
        for depth, a in zip(range(-len(view["ancestors"]), 0), reversed(view["ancestors"])):
            rows.append({"depth": depth, "relation": "ancestor", **_flat(a)})
        rows.append({"depth": 0, "relation": "self", **_flat(view)})

        rows += [{"depth": n["depth"], "relation": "descendant", **_flat(n)} for n in view["descendants"]]
        this = {"depth": None, "stage": view["stage"], "gen_id": view["gen_id"], "problems": ""}
        rows += [{**this, "relation": "cohort_member", "place": f"cohort {c}"} for c in view["cohorts"]]
        rows += [{**this, "relation": "referenced_by", "place": place(r)} for r in view["referenced_by"]]
    return rows


def _flat(node: dict[str, Any]) -> dict[str, Any]:
    return {"stage": node["stage"], "gen_id": node["gen_id"], "place": "", "problems": "; ".join(node["problems"])}
