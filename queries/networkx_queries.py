"""The networkx twin of every canned query: each function returns the rows its .cypher file does.

Rows are plain dicts with the columns the Cypher text RETURNs, so the two backends can be
compared row for row. Turning rows into findings happens in queries.catalog, once for both.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

from lineage.core.ids import PARENT_STAGE
from lineage.loaders.lineage_graph import LineageGraph
from lineage.core.metadata import REQUIRED_FILES

Row = dict[str, Any]


# --- graph helpers ---------------------------------------------------------------------------

def generations(g: LineageGraph) -> list[dict]:
    """The generation nodes in store order."""
    return g.generations


def children_index(g: LineageGraph) -> dict[str, list[str]]:
    """parent key -> child keys along DERIVED_FROM."""
    return g.children_index


def _gen_row(n: dict, **extra: Any) -> Row:
    return {"stage": n["stage"], "gen_id": n["gen_id"], "path": n["path"], **extra}


# --- store -----------------------------------------------------------------------------------

def metadata_missing(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, files=list(n["files"])) for n in g.unusual if n["meta_status"] == "missing"]


def metadata_invalid(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, error=n["meta_error"]) for n in g.unusual if n["meta_status"] == "invalid"]


def files_missing(g: LineageGraph) -> list[Row]:
    rows = []
    for n in g.unusual:
        missing = [f for f in REQUIRED_FILES if f not in n["files"]]
        if missing and n["meta_status"] != "missing":
            rows.append(_gen_row(n, missing=missing, has_raw="raw.txt" in n["files"]))
    return rows


def problems(check: str):
    """Files the loader could not use, recorded as Problem nodes under the given check."""
    def find(g: LineageGraph) -> list[Row]:
        return [{"path": d["path"], "line": d["line"], "cohort": d["cohort"], "error": d["message"]}
                for d in g.problem_nodes if d["check"] == check]
    find.__name__ = f"problems_{check.replace('.', '_')}"
    return find


# --- IDs -------------------------------------------------------------------------------------

def dir_mismatch(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, meta_gen_id=n["meta_gen_id"]) for n in g.unusual
            if n["meta_status"] == "ok" and n["meta_gen_id"] != n["gen_id"]]


def stage_mismatch(g: LineageGraph) -> list[Row]:
    rows = []
    for n in g.unusual:
        if n["meta_status"] == "ok" and n["meta_stage"] and n["meta_stage"] != n["stage"]:
            rows.append(_gen_row(n, source="metadata", other_stage=n["meta_stage"]))
        if n["prefix_stage"] and n["prefix_stage"] != n["stage"]:
            rows.append(_gen_row(n, source="prefix", other_stage=n["prefix_stage"]))
    return rows


def malformed(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, problem=n["id_problem"]) for n in g.unusual if n["id_kind"] == "malformed"]


def _rebuilt(g: LineageGraph, wanted) -> list[Row]:
    """Generations a rebuild regenerates with their descendants: counted in one pass."""
    chosen = [n for n in g.unusual if wanted(n)]
    below = g.descendant_totals() if chosen else {}
    return [_gen_row(n, expected_id=n["expected_id"], descendants=below.get(n["key"], 0)) for n in chosen]


def legacy(g: LineageGraph) -> list[Row]:
    return _rebuilt(g, lambda n: n["id_kind"] == "legacy")


def signature_mismatch(g: LineageGraph) -> list[Row]:
    return _rebuilt(g, lambda n: n["id_matches"] is False)


def signature_incomplete(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, error=n["signature_error"]) for n in g.unusual if n["signature_error"]]


# --- metadata --------------------------------------------------------------------------------

def required_missing(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, field=f) for n in g.unusual for f in n["required_missing"]]


def extraneous_field(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, field=f) for n in g.unusual for f in n["extraneous"]]


def invalid_value(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, problem=p) for n in g.unusual for p in n["invalid_values"]]


# --- parent chains: the verdicts are the lineage graph's ---------------------------------------

def _links(g: LineageGraph, problem: str) -> list[tuple[dict, dict | None]]:
    """(generation, parent node) of every link broken in this way."""
    return [(g.nodes[k], p) for k, (what, p) in g.broken_links.items() if what == problem]


def parent_id_missing(g: LineageGraph) -> list[Row]:
    return [_gen_row(c) for c, _ in _links(g, "parent_id_missing")]


def parent_missing(g: LineageGraph) -> list[Row]:
    return [_gen_row(c, parent_gen_id=p["gen_id"]) for c, p in _links(g, "parent_missing")]


def parent_wrong_stage(g: LineageGraph) -> list[Row]:
    return [_gen_row(c, parent_gen_id=p["gen_id"], parent_stage=p["stage"], expected_stage=PARENT_STAGE[c["stage"]])
            for c, p in _links(g, "parent_wrong_stage")]


def parent_unreadable(g: LineageGraph) -> list[Row]:
    return [_gen_row(c, parent_gen_id=p["gen_id"], parent_status=p["meta_status"])
            for c, p in _links(g, "parent_unreadable")]


def ancestor_broken(g: LineageGraph) -> list[Row]:
    """The parent link is fine, but a link further up is not: the nearest broken one."""
    rows = []
    for key, verdict in g.chain_problems.items():
        if verdict.own:
            continue
        n, ancestor = g.nodes[key], g.nodes[verdict.at]
        rows.append(_gen_row(n, parent_gen_id=n["parent_gen_id"], ancestor_gen_id=ancestor["gen_id"],
                             ancestor_stage=ancestor["stage"], problem=verdict.problem))
    return rows


def draft_has_parent(g: LineageGraph) -> list[Row]:
    return [_gen_row(n, parent_gen_id=n["parent_gen_id"]) for n in g.unusual
            if n["meta_status"] == "ok" and n["stage"] == "draft" and n["parent_gen_id"]]


# --- cohorts and references ------------------------------------------------------------------

def _to_missing(g: LineageGraph, rel_type: str) -> Iterator[tuple[str, dict, dict]]:
    """(source, missing node, properties) of every relationship of a type into a Missing node."""
    missing = g.missing_keys
    for e in g.columns_of(rel_type):
        if missing.isdisjoint(e.targets):  # the usual column: checked in C
            continue
        for i, v in enumerate(e.targets):
            if v in missing:
                yield e.sources[i], g.nodes[v], e.place(i)


def member_missing(g: LineageGraph) -> list[Row]:
    return [{"stage": pl["stage"], "gen_id": m["gen_id"], "path": pl["path"], "line": pl["line"],
             "column": "gen_id", "cohort": g.nodes[u]["cohort_id"]} for u, m, pl in _to_missing(g, "INCLUDES")]


def unreachable(g: LineageGraph) -> list[Row]:
    included: set[str] = set()
    for e in g.columns_of("INCLUDES"):
        included.update(e.targets)
    return [_gen_row(n) for n in g.generations if n["key"] not in included]


def dangling(g: LineageGraph) -> list[Row]:
    return [{"stage": pl["stage"], "gen_id": m["gen_id"], "path": g.nodes[u]["path"], "line": pl["line"],
             "column": pl["column"], "kind": pl["kind"]} for u, m, pl in _to_missing(g, "REFERENCES")]


# --- lineage queries users run by hand ------------------------------------------------------

def ancestry(g: LineageGraph, gen_id: str) -> list[Row]:
    rows = []
    for key in g.find(gen_id):
        n = g.nodes[key]
        for depth, up in enumerate(g.ancestors(key), 1):
            a = g.nodes[up]
            rows.append({"stage": n["stage"], "gen_id": n["gen_id"], "depth": depth,
                         "ancestor_stage": a.get("stage"), "ancestor_id": a["gen_id"]})
    return rows


def descendants_of(g: LineageGraph, gen_id: str) -> list[Row]:
    children = g.children_index
    rows = []
    for key in g.find(gen_id):
        n = g.nodes[key]
        depth_of: dict[str, int] = {}
        frontier, depth = [key], 0
        while frontier:
            depth += 1
            nxt = []
            for k in frontier:
                for c in children.get(k, ()):
                    if c not in depth_of and c != key:
                        depth_of[c] = depth
                        nxt.append(c)
            frontier = nxt
        rows += [{"stage": n["stage"], "gen_id": n["gen_id"], "depth": d,
                  "descendant_stage": g.nodes[k]["stage"], "descendant_id": g.nodes[k]["gen_id"]}
                 for k, d in depth_of.items()]
    return rows


def rename_cascade(g: LineageGraph, gen_id: str) -> list[Row]:
    rows = []
    for top in g.find(gen_id):
        for key in [top, *sorted(g.descendants(top))]:
            d = g.nodes[key]
            base = {"stage": d["stage"], "gen_id": d["gen_id"]}
            rows.append({**base, "kind": "folder", "path": d["path"], "line": None, "column": None, "cohort": None})
            for u, p in g.places_to(key):
                src = g.nodes[u]
                if "Cohort" in src["labels"]:
                    rows.append({**base, "kind": "membership", "path": p["path"], "line": p["line"],
                                 "column": "gen_id", "cohort": src["cohort_id"]})
                elif "Artifact" in src["labels"]:
                    rows.append({**base, "kind": "reference", "path": src["path"], "line": p["line"],
                                 "column": p["column"], "cohort": None})
    return rows


def orphans(g: LineageGraph) -> list[Row]:
    broken = g.broken_links
    rows = []
    for n in g.readable:
        problem, _ = broken.get(n["key"], ("", None))
        if problem:
            rows.append(_gen_row(n, parent_gen_id=n["parent_gen_id"], problem=problem))
    return rows


def counts(g: LineageGraph) -> list[Row]:
    tally = Counter((n["stage"], n["id_kind"]) for n in g.generations)
    return [{"stage": s, "id_class": k, "generations": c} for (s, k), c in sorted(tally.items())]
