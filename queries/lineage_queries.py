"""The canned lineage queries users run by hand (`lineage query NAME`): ancestry, descendants,
rename cascade, orphans, unreachable and counts. Each is a .cypher file in this folder and the
networkx function below, which returns the same rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lineage.loaders.lineage_graph import LineageGraph
from lineage.queries.cohort_checks import unreachable
from lineage.queries.rows import Row, gen_row

QUERY_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Query:
    """A canned query for `lineage query`: a .cypher file and its networkx twin."""

    name: str
    summary: str
    find: Callable  # (graph, **params) -> rows
    params: tuple[str, ...] = ()  # required parameters besides $root
    fixed: tuple[tuple[str, Any], ...] = ()
    file: str = ""

    @property
    def cypher(self) -> str:
        return (QUERY_DIR / f"{self.file or self.name}.cypher").read_text(encoding="utf-8")

    @property
    def columns(self) -> list[str]:
        """The names the Cypher text's last RETURN gives its columns: the header of an empty
        result, which has no row to take them from."""
        return return_columns(self.cypher)

    def rows(self, g: LineageGraph, **params: Any) -> list[Row]:
        """The networkx rows in the order the Cypher text's ORDER BY gives Neo4j's."""
        return sorted(self.find(g, **params), key=row_order(order_columns(self.cypher)))


def _clause(cypher: str, keyword: str, stop: str = "") -> str:
    text = cypher[cypher.rindex(keyword) + len(keyword):]
    return text[:text.index(stop)] if stop and stop in text else text


def _items(text: str) -> list[str]:
    """Comma-separated items at the top level of parentheses and brackets."""
    items, depth, current = [], 0, ""
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    return [item.split()[-1] for item in items]


def return_columns(cypher: str) -> list[str]:
    """`RETURN a.x AS x, y` -> ["x", "y"], for the text's last RETURN."""
    return _items(_clause(cypher, "RETURN", "ORDER BY"))


def order_columns(cypher: str) -> list[str]:
    """The columns of the text's ORDER BY (every .cypher file orders its rows)."""
    return _items(_clause(cypher, "ORDER BY")) if "ORDER BY" in cypher else []


def _value_key(value: Any) -> tuple:
    """How Neo4j orders a value ascending: nulls last; strings by code point, as Python does
    (not by Java's UTF-16 units: a test holds both backends to it beyond U+FFFF)."""
    return (1,) if value is None else (0, value)


def row_order(columns: list[str]) -> Callable[[Row], tuple]:
    return lambda row: tuple(_value_key(row.get(c)) for c in columns)


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
            rows.append(gen_row(n, parent_gen_id=n["parent_gen_id"], problem=problem))
    return rows


def counts(g: LineageGraph) -> list[Row]:
    tally = Counter((n["stage"], n["id_kind"]) for n in g.generations)
    return [{"stage": s, "id_class": k, "generations": c} for (s, k), c in sorted(tally.items())]


LINEAGE_QUERIES = [
    Query("ancestry", "the parents of a generation up to its draft", ancestry, ("gen_id",)),
    Query("descendants", "every generation derived from a generation, with its distance",
          descendants_of, ("gen_id",)),
    Query("rename_cascade", "what renaming a generation touches: descendants, memberships, references",
          rename_cascade, ("gen_id",)),
    Query("orphans", "essays and evaluations whose parent link is broken", orphans),
    Query("unreachable", "generations listed in no cohort's membership", unreachable,
          file="cohort_unreachable"),
    Query("counts", "generations by stage and ID class", counts),
]

