"""The embedded backend: the lineage graph as a networkx DiGraph.

A DiGraph holds one edge per (source, target). Several places in one file can mention the same
ID, and a membership file can list an ID twice, so an edge keeps every place in `places`
(one entry per relationship Neo4j would hold).
"""

from __future__ import annotations

import networkx as nx

from lineage.model import Store
from lineage.loaders.graph_model import GraphData, build
from lineage.queries.networkx_queries import generations


def load(store: Store) -> nx.DiGraph:
    return from_graph_data(build(store))


def from_graph_data(data: GraphData) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from((key, {**props, "labels": labels}) for key, labels, props in data.nodes)
    adj = g._succ  # direct access: add_edge() per relationship is the hot spot on big stores
    for src, dst, rel_type, props in data.edges:
        existing = adj[src].get(dst)
        if existing is None:
            g.add_edge(src, dst, type=rel_type, places=[props])
        else:
            existing["places"].append(props)
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
