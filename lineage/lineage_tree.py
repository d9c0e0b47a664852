"""The lineage of one generation: its ancestry up to the draft and its descendants as a tree."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from rich.tree import Tree

from lineage.loaders.lineage_graph import LineageGraph
from lineage.model import Finding


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
    view["descendants"] = _descend(g, key, problems, {key})
    view["referenced_by"] = [{"path": g.nodes[u]["path"], "line": p["line"], "column": p["column"] or None}
                             for u, p in g.places_to(key) if g.has_label(u, "Artifact")]
    view["cohorts"] = sorted(g.nodes[u]["cohort_id"] for u in g.sources_into(key) if g.has_label(u, "Cohort"))
    return view


def _descend(g: LineageGraph, key: str, problems, seen: set[str]) -> list[dict[str, Any]]:
    out = []
    for child in sorted(g.children(key)):
        if child in seen:
            continue
        seen.add(child)
        node = _node(g, child, problems)
        node["children"] = _descend(g, child, problems, seen)
        out.append(node)
    return out


def _label(node: dict[str, Any], bold: bool = False) -> Text:
    # Text, not markup: IDs and messages come from the data and may contain [brackets].
    label = Text(f"{node['stage'] or 'missing'} {node['gen_id']}", style="bold" if bold else "")
    for p in node["problems"]:
        label.append(f"\n  ! {p}", style="red" if p.startswith("error") else "yellow" if p.startswith("warn") else "")
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
            refs.add(Text(f"cohort {c}"))
        for r in view["referenced_by"]:
            refs.add(Text(_place(r)))
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
