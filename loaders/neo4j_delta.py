"""What a reload must change in a root's graph: the nodes whose fingerprint (neo4j_shape) is not
the one the last complete load stored, and the relationships at either end of them.

Stores grow by a cohort at a time, so most of a reload's graph is the one already loaded:
writing only what differs takes the reload of an unchanged store from minutes to the time of
its scan. A changed node is deleted with its relationships and created again, as a whole load
creates it, and so are the relationships between it and the nodes kept: each relationship is
in the fingerprint of one node at its ends (neo4j_shape._owned), so a change to it changes that
node.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from operator import eq, not_, or_
from typing import Iterable

from lineage.loaders.graph_model import Edges
from lineage.loaders.neo4j_shape import FINGERPRINT

# Past this share of the stored nodes to delete, deleting the root's whole graph (one pass by
# its index, no list of uids to send) and writing it again is the cheaper way.
REWRITE_SHARE = 0.5


@dataclass
class Delta:
    """The nodes a reload deletes (`stale`: gone from the store, or changed) and creates
    (`fresh`: new, or changed), by key; `kept` counts the nodes left as they are."""

    stale: list[str]
    fresh: set[str]
    kept: int

    def worth_it(self, stored: int) -> bool:
        """Whether rewriting only the delta beats rewriting the whole root."""
        return len(self.stale) <= REWRITE_SHARE * stored


def plan(stored: dict[str, int | None], groups: Iterable[tuple[tuple[str, ...], dict[str, list]]]) -> Delta:
    """The delta between the stored fingerprints (key -> fingerprint) and the groups of
    neo4j_shape.node_columns. A node stored without a fingerprint (loaded by an older lineage)
    counts as changed."""
    kept: set[str] = set()
    fresh: set[str] = set()
    for _, properties in groups:
        keys = properties["key"]
        # In C: the fingerprint made now against the stored one (None for a new node).
        same = list(map(eq, properties[FINGERPRINT], map(stored.get, keys)))
        kept.update(compress(keys, same))
        fresh.update(compress(keys, map(not_, same)))
    return Delta([k for k in stored if k not in kept], fresh, len(kept))


def touching(columns: list[Edges], fresh: set[str]) -> list[Edges]:
    """The relationships with an end among `fresh` (those the delta deletes or never had),
    column by column; a column with none is left out."""
    has = fresh.__contains__
    out = []
    for e in columns:
        mask = list(map(or_, map(has, e.sources), map(has, e.targets)))
        if not any(mask):
            continue
        if all(mask):
            out.append(e)
            continue
        props = {k: list(compress(v, mask)) if type(v) is list else v for k, v in e.props.items()}
        out.append(Edges(e.type, list(compress(e.sources, mask)), list(compress(e.targets, mask)), props))
    return out
