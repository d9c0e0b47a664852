"""The embedded backend: the lineage graph as a networkx DiGraph.

A DiGraph holds one edge per (source, target). Several places in one file can mention the same
ID, and a membership file can list an ID twice, so an edge keeps every place in `places`
(one entry per relationship Neo4j would hold).
"""

from __future__ import annotations

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
    for key, labels, props in data.nodes:
        props["labels"] = labels
        node[key] = props
        succ[key] = {}
        pred[key] = {}
    # The queries walk edges of one type at a time; grouping them here, while every edge passes
    # by anyway, saves a second walk over the whole adjacency.
    by_type: dict[str, list] = {}
    for src, dst, rel_type, props in data.edges:
        existing = succ[src].get(dst)
        if existing is None:
            d = succ[src][dst] = pred[dst][src] = {"type": rel_type, "places": [props]}
            typed = by_type.get(rel_type)
            if typed is None:
                typed = by_type[rel_type] = []
            typed.append((src, dst, d))
        else:
            existing["places"].append(props)
    g.graph["_edges_by_type"] = by_type
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

    def generation_ids(self) -> list[tuple[str, str, str]]:
        return [(n["stage"], n["gen_id"], n["id_kind"]) for n in generations(self.graph)]
