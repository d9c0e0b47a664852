"""The lineage of one generation: its ancestry up to the draft and its descendants as a tree."""

from __future__ import annotations

from typing import Any

import networkx as nx
from rich.text import Text
from rich.tree import Tree

from lineage.loaders.graph_model import gen_key, missing_key
from lineage.ids import STAGES
from lineage.model import Finding
from lineage.output import terminal_text
from lineage.queries.networkx_queries import ancestors, children_index, places_to


def lineage_of(g: nx.DiGraph, gen_id: str, findings: list[Finding]) -> list[dict[str, Any]]:
    """One view per node carrying this ID (a generation in some stage, or a Missing reference)."""
    problems: dict[tuple[str | None, str | None], list[str]] = {}
    for f in findings:
        problems.setdefault((f.stage, f.gen_id), []).append(f"{f.severity}: {f.check}: {f.message}")
    keys = [gen_key(s, gen_id) for s in STAGES if gen_key(s, gen_id) in g]
    if missing_key(gen_id) in g:
        keys.append(missing_key(gen_id))
    return [_view(g, k, problems) for k in keys]


def _node(g: nx.DiGraph, key: str, problems) -> dict[str, Any]:
    n = g.nodes[key]
    if "Missing" in n["labels"]:
        return {"stage": None, "gen_id": n["gen_id"], "missing": True, "problems": ["no such generation"]}
    return {"stage": n["stage"], "gen_id": n["gen_id"], "missing": False,
            "problems": problems.get((n["stage"], n["gen_id"]), [])}


def _view(g: nx.DiGraph, key: str, problems) -> dict[str, Any]:
    view = _node(g, key, problems)
    view["ancestors"] = [_node(g, up, problems) for up in ancestors(g, key)]
    view["descendants"] = _descend(g, key, problems, {key})
    view["referenced_by"] = [{"path": g.nodes[u]["path"], "line": p["line"], "column": p["column"] or None}
                             for u, p in places_to(g, key) if "Artifact" in g.nodes[u]["labels"]]
    view["cohorts"] = sorted(g.nodes[u]["cohort_id"] for u in g._pred[key] if "Cohort" in g.nodes[u]["labels"])
    return view


def _descend(g: nx.DiGraph, key: str, problems, seen: set[str]) -> list[dict[str, Any]]:
    out = []
    for child in sorted(children_index(g).get(key, ())):
        if child in seen:
            continue
        seen.add(child)
        node = _node(g, child, problems)
        node["children"] = _descend(g, child, problems, seen)
        out.append(node)
    return out


def _label(node: dict[str, Any], bold: bool = False) -> Text:
    # Text, not markup: IDs and messages come from the data and may contain [brackets], and
    # control characters, escaped so the terminal shows them instead of acting on them.
    label = Text(f"{node['stage'] or 'missing'} {terminal_text(node['gen_id'])}", style="bold" if bold else "")
    for p in node["problems"]:
        label.append(f"\n  ! {terminal_text(p)}",
                     style="red" if p.startswith("error") else "yellow" if p.startswith("warn") else "")
    return label


def render_tree(view: dict[str, Any]) -> Tree:
    """Ancestors from the draft down to the generation, then its descendants below it."""
    chain = list(reversed(view["ancestors"])) + [view]
    root = Tree(_label(chain[0], bold=len(chain) == 1))
    branch = root
    for i, node in enumerate(chain[1:], 2):
        branch = branch.add(_label(node, bold=i == len(chain)))

    def add(parent: Tree, nodes: list[dict[str, Any]]) -> None:
        for n in nodes:
            add(parent.add(_label(n)), n["children"])

    add(branch, view["descendants"])
    if view["referenced_by"] or view["cohorts"]:
        refs = root.add(Text("referenced by"))
        for c in view["cohorts"]:
            refs.add(Text(f"cohort {terminal_text(c)}"))
        for r in view["referenced_by"]:
            refs.add(Text(terminal_text(_place(r))))
    return root


def _place(ref: dict[str, Any]) -> str:
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

        def walk(nodes, depth):
            for n in nodes:
                rows.append({"depth": depth, "relation": "descendant", **_flat(n)})
                walk(n["children"], depth + 1)

        walk(view["descendants"], 1)
        this = {"depth": None, "stage": view["stage"], "gen_id": view["gen_id"], "problems": ""}
        rows += [{**this, "relation": "cohort_member", "place": f"cohort {c}"} for c in view["cohorts"]]
        rows += [{**this, "relation": "referenced_by", "place": _place(r)} for r in view["referenced_by"]]
    return rows


def _flat(node: dict[str, Any]) -> dict[str, Any]:
    return {"stage": node["stage"], "gen_id": node["gen_id"], "place": "", "problems": "; ".join(node["problems"])}
