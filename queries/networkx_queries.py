"""The networkx twin of every canned query: each function returns the rows its .cypher file does.

Rows are plain dicts with the columns the Cypher text RETURNs, so the two backends can be
compared row for row. Turning rows into findings happens in queries.catalog, once for both.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Iterator

import networkx as nx

from lineage.ids import PARENT_STAGE, STAGES
from lineage.metadata import REQUIRED_FILES

from lineage.loaders.graph_model import Edges, gen_key

Row = dict[str, Any]


# --- graph helpers ---------------------------------------------------------------------------

def _cached(g: nx.DiGraph, name: str, compute: Callable[[], Any]) -> Any:
    """A value derived from the graph: computed on first use, then kept in g.graph[name]."""
    value = g.graph.get(name)
    if value is None:
        value = g.graph[name] = compute()
    return value


def generations(g: nx.DiGraph) -> list[dict]:
    """The generation nodes in store order (kept by loaders.networkx_graph)."""
    return g.graph["_generations"]


def _unusual(g: nx.DiGraph) -> list[dict]:
    """The generations a check of one generation on its own might report
    (loaders.graph_model.is_unusual); those checks read only these."""
    return g.graph["_unusual"]


def _columns(g: nx.DiGraph, rel_type: str) -> list[Edges]:
    """The graph model's relationship columns of one type (see loaders.networkx_graph)."""
    return [e for e in g.graph["edges"] if e.type == rel_type]


def places_to(g: nx.DiGraph, target: str) -> list[tuple[str, dict]]:
    """(source, properties) of every relationship into `target`: one per place, so a file
    that mentions an ID on three lines gives three. Indexed on first use."""
    def index() -> dict[str, list]:
        by_target: dict[str, list] = {}
        for e in g.graph["edges"]:
            for i, (u, v) in enumerate(zip(e.sources, e.targets)):
                by_target.setdefault(v, []).append((u, e, i))
        return by_target

    return [(u, e.place(i)) for u, e, i in _cached(g, "_places_to", index).get(target, ())]


def children_index(g: nx.DiGraph) -> dict[str, list[str]]:
    """parent key -> child keys along DERIVED_FROM."""
    def index() -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for u, v in _derived_from(g):
            children.setdefault(v, []).append(u)
        return children

    return _cached(g, "_children", index)


def parent_index(g: nx.DiGraph) -> dict[str, str]:
    """child key -> parent key along DERIVED_FROM (a generation has at most one parent)."""
    return _cached(g, "_parent", lambda: dict(_derived_from(g)))


def _derived_from(g: nx.DiGraph) -> Iterator[tuple[str, str]]:
    """(child key, parent key) of every DERIVED_FROM edge."""
    for e in _columns(g, "DERIVED_FROM"):
        yield from zip(e.sources, e.targets)


def descendants(g: nx.DiGraph, key: str) -> set[str]:
    """Every generation that derives from `key`, directly or further down (cycle-safe)."""
    children = children_index(g)
    seen: set[str] = set()
    stack = list(children.get(key, ()))
    while stack:
        k = stack.pop()
        if k not in seen and k != key:
            seen.add(k)
            stack.extend(children.get(k, ()))
    return seen


def descendant_counts(g: nx.DiGraph) -> dict[str, int]:
    """key -> len(descendants(g, key)) for every node with a child, in one pass over the graph
    (cached): a walk per node costs the square of the chain's length on a long chain.

    A generation has at most one parent, so below each node hangs a tree, except on a loop
    (parent links that come back round), where every member reaches the whole component.
    Subtree sizes are summed from the leaves up; what never completes is a loop.
    """
    def count() -> dict[str, int]:
        children, parent = children_index(g), parent_index(g)
        waiting = {k: len(v) for k, v in children.items()}  # children not summed yet
        below = dict.fromkeys(children, 0)  # sizes of the summed children's subtrees
        done: dict[str, int] = {}
        ready = [k for k in parent if k not in children]  # leaves
        while ready:
            k = ready.pop()
            done[k] = below.get(k, 0)
            up = parent.get(k)
            if up is not None:
                below[up] += done[k] + 1
                waiting[up] -= 1
                if not waiting[up]:
                    ready.append(up)
        for k in children:  # what is left sits on a loop: each member sees all of its component
            if k in done:
                continue
            loop, x = [], k
            while x not in done:
                done[x] = -1  # marks the loop while it is walked
                loop.append(x)
                x = parent[x]
            total = sum(below[x] + 1 for x in loop)
            for x in loop:
                done[x] = total - 1
        return {k: n for k, n in done.items() if n}

    return _cached(g, "_descendant_counts", count)


def ancestors(g: nx.DiGraph, key: str) -> list[str]:
    """The keys above `key` along DERIVED_FROM, nearest first (cycle-safe)."""
    parent, seen, out = parent_index(g), {key}, []
    while (up := parent.get(key)) is not None and up not in seen:
        seen.add(up)
        out.append(up)
        key = up
    return out


def _gen_row(n: dict, **extra: Any) -> Row:
    return {"stage": n["stage"], "gen_id": n["gen_id"], "path": n["path"], **extra}


def _readable(g: nx.DiGraph) -> list[dict]:
    """Generations whose metadata.json could be read; most checks look only at these."""
    def readable() -> list[dict]:
        if any(n["meta_status"] != "ok" for n in _unusual(g)):
            return [n for n in generations(g) if n["meta_status"] == "ok"]
        return generations(g)  # no unreadable generation: no filtered copy

    return _cached(g, "_readable", readable)


def _readable_keys_by_stage(g: nx.DiGraph) -> dict[str, set[str]]:
    """stage -> the keys of its readable generations."""
    def index() -> dict[str, set[str]]:
        keys: dict[str, set[str]] = {stage: set() for stage in STAGES}
        for n in _readable(g):
            keys[n["stage"]].add(n["key"])
        return keys

    return _cached(g, "_readable_keys", index)


# --- store -----------------------------------------------------------------------------------

def metadata_missing(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, files=list(n["files"])) for n in _unusual(g) if n["meta_status"] == "missing"]


def metadata_invalid(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, error=n["meta_error"]) for n in _unusual(g) if n["meta_status"] == "invalid"]


def files_missing(g: nx.DiGraph) -> list[Row]:
    rows = []
    for n in _unusual(g):
        missing = [f for f in REQUIRED_FILES if f not in n["files"]]
        if missing and n["meta_status"] != "missing":
            rows.append(_gen_row(n, missing=missing, has_raw="raw.txt" in n["files"]))
    return rows


def problems(check: str):
    """Files the loader could not use, recorded as Problem nodes under the given check."""
    def find(g: nx.DiGraph) -> list[Row]:
        problem_nodes = _cached(g, "_problems", lambda: [d for d in g._node.values() if "Problem" in d["labels"]])
        return [{"path": d["path"], "line": d["line"], "cohort": d["cohort"], "error": d["message"]}
                for d in problem_nodes if d["check"] == check]
    find.__name__ = f"problems_{check.replace('.', '_')}"
    return find


# --- IDs -------------------------------------------------------------------------------------

def dir_mismatch(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, meta_gen_id=n["meta_gen_id"]) for n in _unusual(g)
            if n["meta_status"] == "ok" and n["meta_gen_id"] != n["gen_id"]]


def stage_mismatch(g: nx.DiGraph) -> list[Row]:
    rows = []
    for n in _unusual(g):
        if n["meta_status"] == "ok" and n["meta_stage"] and n["meta_stage"] != n["stage"]:
            rows.append(_gen_row(n, source="metadata", other_stage=n["meta_stage"]))
        if n["prefix_stage"] and n["prefix_stage"] != n["stage"]:
            rows.append(_gen_row(n, source="prefix", other_stage=n["prefix_stage"]))
    return rows


def malformed(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, problem=n["id_problem"]) for n in _unusual(g) if n["id_kind"] == "malformed"]


def legacy(g: nx.DiGraph) -> list[Row]:
    counts = descendant_counts(g)
    return [_gen_row(n, expected_id=n["expected_id"], descendants=counts.get(n["key"], 0))
            for n in _unusual(g) if n["id_kind"] == "legacy"]


def signature_mismatch(g: nx.DiGraph) -> list[Row]:
    counts = descendant_counts(g)
    return [_gen_row(n, expected_id=n["expected_id"], descendants=counts.get(n["key"], 0))
            for n in _unusual(g) if n["id_matches"] is False]


def signature_incomplete(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, error=n["signature_error"]) for n in _unusual(g) if n["signature_error"]]


# --- metadata --------------------------------------------------------------------------------

def required_missing(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, field=f) for n in _unusual(g) for f in n["required_missing"]]


def extraneous_field(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, field=f) for n in _unusual(g) for f in n["extraneous"]]


def invalid_value(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, problem=p) for n in _unusual(g) for p in n["invalid_values"]]


# --- parent chains ---------------------------------------------------------------------------

def _broken_links(g: nx.DiGraph) -> dict[str, tuple[str, dict | None]]:
    """Generations whose link to their parent is broken: key -> (what is wrong, the parent node
    if there is one). Judged once per graph for the four link checks, the ancestor check and
    orphans; drafts have no link to judge, and unreadable generations no parent_gen_id."""
    def judge() -> dict[str, tuple[str, dict | None]]:
        nodes = g._node
        broken: dict[str, tuple[str, dict | None]] = {}
        for n in _unusual(g):
            if n["meta_status"] == "ok" and n["stage"] != "draft" and not n["parent_gen_id"]:
                broken[n["key"]] = ("parent_id_missing", None)
        fine = _readable_keys_by_stage(g)
        for e in _columns(g, "DERIVED_FROM"):
            if fine[e.props["expected_stage"]].issuperset(e.targets):
                continue  # every parent readable and where it belongs: checked in C
            for child, parent in zip(e.sources, e.targets):
                p = nodes[parent]
                if "Missing" in p["labels"]:
                    broken[child] = ("parent_missing", p)
                elif p["stage"] != PARENT_STAGE[nodes[child]["stage"]]:
                    broken[child] = ("parent_wrong_stage", p)
                elif p["meta_status"] != "ok":
                    broken[child] = ("parent_unreadable", p)
        return broken

    return _cached(g, "_broken", judge)


def _links(g: nx.DiGraph, problem: str) -> list[tuple[dict, dict | None]]:
    """(generation, parent node) of every link broken in this way."""
    return [(g._node[k], p) for k, (what, p) in _broken_links(g).items() if what == problem]


def parent_id_missing(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(c) for c, _ in _links(g, "parent_id_missing")]


def parent_missing(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(c, parent_gen_id=p["gen_id"]) for c, p in _links(g, "parent_missing")]


def parent_wrong_stage(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(c, parent_gen_id=p["gen_id"], parent_stage=p["stage"], expected_stage=PARENT_STAGE[c["stage"]])
            for c, p in _links(g, "parent_wrong_stage")]


def parent_unreadable(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(c, parent_gen_id=p["gen_id"], parent_status=p["meta_status"])
            for c, p in _links(g, "parent_unreadable")]


def ancestor_broken(g: nx.DiGraph) -> list[Row]:
    """The parent link is fine, but a link further up is not: report the first broken one.

    Walks down from each broken link instead of up from every generation: on a healthy store
    that is no walk at all.
    """
    broken, children, nodes = _broken_links(g), children_index(g), g._node
    rows = []
    for key, (problem, _) in broken.items():
        ancestor = nodes[key]
        seen = {key}
        stack = list(children.get(key, ()))
        while stack:
            child = stack.pop()
            if child in seen or child in broken:
                continue  # a broken link further down is the first one its descendants meet
            seen.add(child)
            n = nodes[child]
            if n["meta_status"] != "ok":
                continue  # its children's links are broken themselves
            rows.append(_gen_row(n, parent_gen_id=n["parent_gen_id"], ancestor_gen_id=ancestor["gen_id"],
                                 ancestor_stage=ancestor["stage"], problem=problem))
            stack.extend(children.get(child, ()))
    return rows


def draft_has_parent(g: nx.DiGraph) -> list[Row]:
    return [_gen_row(n, parent_gen_id=n["parent_gen_id"]) for n in _unusual(g)
            if n["meta_status"] == "ok" and n["stage"] == "draft" and n["parent_gen_id"]]


# --- cohorts and references ------------------------------------------------------------------

def _to_missing(g: nx.DiGraph, rel_type: str) -> Iterator[tuple[str, dict, dict]]:
    """(source, missing node, properties) of every relationship of a type into a Missing node."""
    nodes = g._node
    missing = _cached(g, "_missing", lambda: {k for k, d in nodes.items() if "Missing" in d["labels"]})
    for e in _columns(g, rel_type):
        if missing.isdisjoint(e.targets):  # the usual column: checked in C
            continue
        for i, v in enumerate(e.targets):
            if v in missing:
                yield e.sources[i], nodes[v], e.place(i)


def member_missing(g: nx.DiGraph) -> list[Row]:
    return [{"stage": pl["stage"], "gen_id": m["gen_id"], "path": pl["path"], "line": pl["line"],
             "column": "gen_id", "cohort": g._node[u]["cohort_id"]} for u, m, pl in _to_missing(g, "INCLUDES")]


def unreachable(g: nx.DiGraph) -> list[Row]:
    included: set[str] = set()
    for e in _columns(g, "INCLUDES"):
        included.update(e.targets)
    return [_gen_row(n) for n in generations(g) if n["key"] not in included]


def dangling(g: nx.DiGraph) -> list[Row]:
    return [{"stage": pl["stage"], "gen_id": m["gen_id"], "path": g._node[u]["path"], "line": pl["line"],
             "column": pl["column"], "kind": pl["kind"]} for u, m, pl in _to_missing(g, "REFERENCES")]


# --- lineage queries users run by hand ------------------------------------------------------

def _by_id(g: nx.DiGraph, gen_id: str) -> list[dict]:
    return [g._node[k] for k in (gen_key(s, gen_id) for s in STAGES) if k in g._node]


def ancestry(g: nx.DiGraph, gen_id: str) -> list[Row]:
    rows = []
    for n in _by_id(g, gen_id):
        for depth, up in enumerate(ancestors(g, n["key"]), 1):
            a = g._node[up]
            rows.append({"stage": n["stage"], "gen_id": n["gen_id"], "depth": depth,
                         "ancestor_stage": a.get("stage"), "ancestor_id": a["gen_id"]})
    return rows


def descendants_of(g: nx.DiGraph, gen_id: str) -> list[Row]:
    children = children_index(g)
    rows = []
    for n in _by_id(g, gen_id):
        depth_of: dict[str, int] = {}
        frontier, depth = [n["key"]], 0
        while frontier:
            depth += 1
            nxt = []
            for k in frontier:
                for c in children.get(k, ()):
                    if c not in depth_of and c != n["key"]:
                        depth_of[c] = depth
                        nxt.append(c)
            frontier = nxt
        rows += [{"stage": n["stage"], "gen_id": n["gen_id"], "depth": d,
                  "descendant_stage": g._node[k]["stage"], "descendant_id": g._node[k]["gen_id"]}
                 for k, d in depth_of.items()]
    return rows


def rename_cascade(g: nx.DiGraph, gen_id: str) -> list[Row]:
    rows = []
    for n in _by_id(g, gen_id):
        for key in [n["key"], *sorted(descendants(g, n["key"]))]:
            d = g._node[key]
            base = {"stage": d["stage"], "gen_id": d["gen_id"]}
            rows.append({**base, "kind": "folder", "path": d["path"], "line": None, "column": None, "cohort": None})
            for u, p in places_to(g, key):
                src = g._node[u]
                if "Cohort" in src["labels"]:
                    rows.append({**base, "kind": "membership", "path": p["path"], "line": p["line"],
                                 "column": "gen_id", "cohort": src["cohort_id"]})
                elif "Artifact" in src["labels"]:
                    rows.append({**base, "kind": "reference", "path": src["path"], "line": p["line"],
                                 "column": p["column"], "cohort": None})
    return rows


def orphans(g: nx.DiGraph) -> list[Row]:
    broken = _broken_links(g)
    rows = []
    for n in _readable(g):
        problem, _ = broken.get(n["key"], ("", None))
        if problem:
            rows.append(_gen_row(n, parent_gen_id=n["parent_gen_id"], problem=problem))
    return rows


def counts(g: nx.DiGraph) -> list[Row]:
    tally = Counter((n["stage"], n["id_kind"]) for n in generations(g))
    return [{"stage": s, "id_class": k, "generations": c} for (s, k), c in sorted(tally.items())]
