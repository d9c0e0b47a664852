"""What the lineage graph holds in Neo4j, defined once for both ways of loading it: UNWIND
batches (neo4j_graph) and the offline import's CSV files (neo4j_csv). Both read the same
GraphData through these functions, so they give the same graph, node for node and property for
property: both take the nodes grouped by labels as columns (node_columns), the CSV writer
column by column, the UNWIND load as rows made from them (node_rows), minus NOT_STORED; a test
loads a planted store both ways and compares every property.

Every node carries its data root (`root`) and a unique `uid` (root and node key), so several
roots share a database. A property whose value is None or an empty list is not stored: the
offline import cannot write an empty list (an empty cell means no property), so neither path
stores one. Queries read such a list as coalesce(x, []); UNWIND of a missing list gives no rows,
as of an empty one.

The places where one file mentions one generation fold into one REFERENCES relationship: the
places of one column, kind and implied stage differ only in their line, so the relationship
holds `line` as a list (a place without a line, a file name, keeps a relationship of its own
without one). A store mentions each generation several times in the same column (a parent on
the line of each child); folding saves about 40% of the REFERENCES relationships, which is
what loads and queries pay for. Queries read one row per place with UNWIND coalesce(r.line,
[null]).
"""

from __future__ import annotations

from collections import Counter
from hashlib import blake2b
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any, Callable, Iterable, Iterator

import orjson

from lineage.core.model import Generation
from lineage.loaders.graph_model import NODE_FIELDS, Edges, GraphData

# Labels and relationship types come from this fixed list, never from data, so they may be
# spelled into query text and import arguments (Cypher cannot take a label as a parameter).
NODE_LABELS = {
    ("Generation", "Draft"), ("Generation", "Essay"), ("Generation", "Evaluation"),
    ("Generation", "Draft", "Unusual"), ("Generation", "Essay", "Unusual"), ("Generation", "Evaluation", "Unusual"),
    ("Missing",), ("Cohort",), ("Artifact",), ("Problem",),
}
REL_TYPES = ("DERIVED_FROM", "INCLUDES", "REFERENCES")
# What a complete load records on its LoadRun node, and an import's manifest on its files.
# 2: the generations of the partial index carry the label Unusual, which the checks of one
# generation match (a graph of version 1 has none: they would find nothing there).
# 3: the children whose link to their parent is broken are in it too, and the chain checks
# start from it (in a graph of version 2 they would miss those children).
GRAPH_VERSION = 3
# The properties each relationship type may have, so a CREATE can name them (a SET from a map
# after the CREATE makes the planner buffer every row first: an Eager operator).
REL_PROPS = {"DERIVED_FROM": ("expected_stage",), "INCLUDES": ("line", "path", "stage"),
             "REFERENCES": ("column", "kind", "line", "stage")}


def uid(root: str, key: str) -> str:
    return f"{root}|{key}"


def stored(value: Any) -> bool:
    """Whether Neo4j keeps this value: not None, not an empty list."""
    return value is not None and not (type(value) in (tuple, list) and not value)


# Not stored: labels become labels, and the node key is in the uid (root|key).
NOT_STORED = frozenset({"labels", "key"})


def node_columns(data: GraphData) -> Iterator[tuple[tuple[str, ...], dict[str, list]]]:
    """The nodes grouped by labels as columns (property name -> values, `key` and all, in the
    group's order), the generations' groups first. A generation's properties are read from the
    records a column at a time (attrgetter, in C), not into a dict each (the CSV files of a
    million generations: 23 s -> 17 s).

    The generations of the graph's partial index (`unusual`) get the label Unusual: the checks
    of one generation, and of its link to its parent, match (:Unusual {root}) and read a few
    percent of the nodes.

    Each group has a `fingerprint` column too (fingerprints): what a reload compares to find
    the nodes that changed since the last load."""
    owned = _owned(data)
    for labels, properties in _node_columns(data):
        properties[FINGERPRINT] = fingerprints(owned, labels, properties)
        yield labels, properties


def _node_columns(data: GraphData) -> Iterator[tuple[tuple[str, ...], dict[str, list]]]:
    unusual = set(map(id, data.unusual))
    generations: dict[tuple[tuple[str, ...], bool], list[Generation]] = {}
    others: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for node in data.nodes:
        if type(node) is Generation:
            generations.setdefault((node.labels, id(node) in unusual), []).append(node)
        else:
            others.setdefault(node["labels"], []).append(node)
    for (labels, flagged), gens in generations.items():
        labels = labels + ("Unusual",) if flagged else labels
        assert labels in NODE_LABELS, labels
        yield labels, {name: list(map(attrgetter(name), gens)) for name in NODE_FIELDS}
    for labels, group in others.items():
        assert labels in NODE_LABELS, labels
        names = sorted({k for p in group for k in p} - {"labels"})  # sorted: the fingerprint's order
        yield labels, {name: [p.get(name) for p in group] for name in names}


# The node property that holds a node's fingerprint: a 64-bit hash of its labels, its
# properties and the relationships it owns (_owned), as this version of the graph model makes
# them. Two loads of an unchanged node give the same number, and a reload rewrites only the
# nodes whose number changed (lineage.loaders.neo4j_delta).
FINGERPRINT = "fingerprint"


def fingerprint_sum(fingerprints: Iterable[int]) -> int:
    """Fingerprints added up, as a signed 64-bit number: what the LoadRun node keeps of all its
    root's nodes, so a reload of an unchanged store can tell so without reading a fingerprint
    per node."""
    return (sum(fingerprints) + 2 ** 63) % 2 ** 64 - 2 ** 63


def _owned(data: GraphData) -> tuple[dict[str, str], dict[str, list]]:
    """The relationships in each node's fingerprint, each in exactly one: (child key -> parent
    key) for DERIVED_FROM, which its child owns, and (target key -> its places) for INCLUDES and
    REFERENCES, which their target owns. A cohort or a CSV file may name every generation;
    owned by the generations, a row added to it changes the fingerprint of the generation it
    names, not the file's, and a reload writes that row, not the file's every relationship.

    The places are listed per target in the graph model's order, as fold_references meets them:
    (the column's hash, then the place's own properties by name); the column's hash stands for
    its type, source and the properties all its places share, which would be most of each
    place's text (and most of the time to write it)."""
    parents: dict[str, str] = {}
    places: dict[str, list] = {}
    get = places.get
    for e in data.edges:
        if e.type == "DERIVED_FROM":
            parents.update(zip(e.sources, e.targets))
            continue
        n = len(e)
        if not n:
            continue
        assert e.sources.count(e.sources[0]) == n, e.type  # one source per column
        names = sorted(e.props)
        varying = [name for name in names if type(e.props[name]) is list]
        same = [[name, e.props[name]] for name in names if name not in varying]
        head = repeat(_hash(orjson.dumps([e.type, e.sources[0], varying, same])), n)
        for target, place in zip(e.targets, zip(head, *map(e.props.__getitem__, varying))):
            mine = get(target)
            if mine is None:
                places[target] = [place]
            else:
                mine.append(place)
    return parents, places


def fingerprints(owned: tuple[dict[str, str], dict[str, list]], labels: tuple[str, ...],
                 properties: dict[str, list]) -> list[int]:
    """The fingerprint of each node of one group of _node_columns: a signed 64-bit BLAKE2b of
    the graph version, the labels, the property names and the node's values and relationships
    (_owned) as JSON."""
    head = orjson.dumps([GRAPH_VERSION, labels, list(properties)])
    parents, places = owned
    keys = properties["key"]
    rows = zip(*properties.values(), map(parents.get, keys), map(places.get, keys))
    return [_hash(head + row) for row in map(orjson.dumps, rows)]


def _hash(data: bytes) -> int:
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big", signed=True)


def node_rows(root: str, properties: dict[str, list]) -> list[dict[str, Any]]:
    """One group of node_columns as UNWIND rows: each node's stored properties, its root and uid."""
    names = [name for name in properties if name not in NOT_STORED]
    prefix = uid(root, "")
    return [{**{name: v for name, v in zip(names, values) if stored(v)}, "root": root, "uid": prefix + key}
            for key, *values in zip(properties["key"], *map(properties.__getitem__, names))]


def relationship_columns(data: GraphData) -> list[Edges]:
    """The relationships Neo4j stores, as columns: DERIVED_FROM and INCLUDES as the graph model
    has them, REFERENCES folded by file, target, column, kind and stage (their lines in a list)."""
    out = [e for e in data.edges if e.type != "REFERENCES"]
    refs = [e for e in data.edges if e.type == "REFERENCES" and len(e)]
    if refs:
        out.append(fold_references(refs))
    return out


def fold_references(columns: list[Edges]) -> Edges:
    index: dict[tuple, int] = {}
    sources: list[str] = []
    targets: list[str] = []
    props: dict[str, list] = {"line": [], "column": [], "kind": [], "stage": []}
    lines, cols, kinds, stages = props["line"], props["column"], props["kind"], props["stage"]
    alone = _alone(columns)
    for e in columns:
        assert set(e.props) <= set(props), e.props
        n = len(e)
        if id(e) in alone:  # fold by target and stage only, and append
            line, stage = e.props["line"], e.props["stage"]
            groups: dict[tuple[str, str], list] = {}
            for key, at in zip(zip(e.targets, stage if type(stage) is list else repeat(stage, n)), line):
                group = groups.get(key)
                if group is None:
                    groups[key] = [at]
                else:
                    group.append(at)
            sources += repeat(e.sources[0], len(groups))
            targets += map(itemgetter(0), groups)
            stages += map(itemgetter(1), groups)
            lines += groups.values()
            cols += repeat(e.props["column"], len(groups))
            kinds += repeat(e.props["kind"], len(groups))
            continue
        column = {k: v if type(v) is list else repeat(v, n) for k, v in ((k, e.props.get(k)) for k in props)}
        for s, d, line, col, kind, stage in zip(e.sources, e.targets, column["line"], column["column"],
                                                column["kind"], column["stage"]):
            key = (s, d, col, kind, stage) if line is not None else len(sources)  # no line: its own
            i = index.get(key)
            if i is None:
                i = index[key] = len(sources)
                sources.append(s)
                targets.append(d)
                lines.append([])
                cols.append(col)
                kinds.append(kind)
                stages.append(stage)
            if line is not None:
                lines[i].append(line)
    return Edges("REFERENCES", sources, targets, props)


def _alone(columns: list[Edges]) -> set[int]:
    """The columns (by id) whose places fold among themselves only: one file, column and kind
    that no other column has, and a line for every place; each is folded by target and stage
    alone, a third of the time of the general loop. Most of a store's reference columns are
    such; file-name mentions (no line) and columns that share a name in one file are not."""
    triples = []
    for e in columns:
        col, kind = e.props.get("column"), e.props.get("kind")
        if type(col) is list or type(kind) is list or e.sources.count(e.sources[0]) != len(e):
            return set()  # a column that may meet any other (the graph model makes none): all general
        triples.append((e.sources[0], col, kind))
    seen = Counter(triples)
    return {id(e) for e, triple in zip(columns, triples)
            if seen[triple] == 1 and type(e.props.get("line")) is list and None not in e.props["line"]}


def rel_props(edges: Edges, i: int) -> dict[str, Any]:
    """The properties of relationship i of a column."""
    return {k: v for k, v in edges.place(i).items() if stored(v)}


def rel_rows(edges: Edges, end: Callable[[str], Any]) -> Iterator[dict[str, Any]]:
    """The relationships of one column as UNWIND rows: s, d (what `end` makes of the node keys
    at both ends) and p."""
    assert edges.type in REL_TYPES and set(edges.props) <= set(REL_PROPS[edges.type]), (edges.type, edges.props)
    sources, targets = map(end, edges.sources), map(end, edges.targets)
    for i, (src, dst) in enumerate(zip(sources, targets)):
        yield {"s": src, "d": dst, "p": rel_props(edges, i)}
