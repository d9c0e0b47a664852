"""The embedded backend: the audit's view of the lineage graph in memory (networkx)."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

from lineage.loaders.lineage_graph import LineageGraph
from lineage.core.model import Store


def load(store: Store) -> LineageGraph:
    return LineageGraph(store)


class NetworkxBackend:
    """The audit's view of an in-memory graph."""

    name = "networkx"
    concurrency = 1  # the checks are Python: threads would only take turns

    def __init__(self, graph: LineageGraph):
        self.graph = graph

    @classmethod
    def from_store(cls, store: Store) -> "NetworkxBackend":
        return cls(LineageGraph(store))

    def rows(self, check) -> list[dict]:
        return check.find(self.graph)

    def id_tally(self) -> dict[tuple[str, str, int], int]:
        gens = self.graph.generations  # (columns zipped in C: a million generations)
        return Counter(zip(map(attrgetter("stage"), gens), map(attrgetter("id_kind"), gens),
                           map(len, map(attrgetter("gen_id"), gens))))
