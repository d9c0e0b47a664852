"""The embedded backend: the lineage graph as a networkx DiGraph.

A DiGraph holds one edge per (source, target), and its attribute dict is shared by every edge
of a type and read-only: {"type": "REFERENCES"}. Several places in one file can mention the
same ID and a membership file can list an ID twice; those places (one per relationship Neo4j
would hold) stay in the graph model's columns, kept as g.graph["edges"] and looked up with
`lineage.queries.networkx_queries.places`. Filling the adjacency then costs two dict stores
per relationship and no objects, which keeps the graph cheap on big stores.
"""

from __future__ import annotations

from collections import Counter
from itertools import repeat
from operator import itemgetter

import networkx as nx

from lineage.model import Store
from lineage.loaders.graph_model import GraphData, build
from lineage.perf import gc_paused
from lineage.queries.networkx_queries import generations


def load(store: Store) -> nx.DiGraph:
    with gc_paused():
        return from_graph_data(build(store))


def from_graph_data(data: GraphData) -> nx.DiGraph:
    """Fill networkx's own adjacency dicts directly.

    add_nodes_from/add_edge copy every attribute dict and re-check both ends of every edge;
    on a 100,000-generation store that doubled the whole audit. The layout written here is
    exactly the one DiGraph keeps (_node, _succ, _pred), so every networkx API works on it.
    """
    g = nx.DiGraph()
    node, succ, pred = g._node, g._succ, g._pred
    keys = list(map(itemgetter("key"), data.nodes))
    node.update(zip(keys, data.nodes))
    succ.update(zip(keys, map(dict, repeat((), len(keys)))))  # a fresh empty dict per node
    pred.update(zip(keys, map(dict, repeat((), len(keys)))))
    shared = {}
    for edges in data.edges:
        attrs = shared.setdefault(edges.type, {"type": edges.type})
        sources = edges.sources
        if sources and sources.count(sources[0]) == len(sources):  # a cohort's or a file's column
            src = sources[0]
            out = succ[src]
            # Only targets this source has no edge to yet: a file's path column often names
            # the IDs its gen_id column did. The set arithmetic runs in C.
            new = set(edges.targets).difference(out) if out else edges.targets
            out.update(dict.fromkeys(new, attrs))
            for dst in new:
                pred[dst][src] = attrs
        else:
            for src, dst in zip(sources, edges.targets):
                succ[src][dst] = pred[dst][src] = attrs
    g.graph["edges"] = data.edges
    g.graph["_generations"], g.graph["_unusual"] = data.generations, data.unusual
    return g


class NetworkxBackend:
    """The audit's view of an in-memory graph."""

    name = "networkx"

    def __init__(self, graph: nx.DiGraph):
        self.graph = graph

    @classmethod
    def from_store(cls, store: Store) -> "NetworkxBackend":
        return cls(load(store))

    def rows(self, check) -> list[dict]:
        return check.find(self.graph)

    def id_tally(self) -> dict[tuple[str, str, int], int]:
        return Counter([(n["stage"], n["id_kind"], len(n["gen_id"])) for n in generations(self.graph)])
