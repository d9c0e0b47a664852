"""The lineage graph: the one model of who derives from whom, built once per run from the Store.

It owns the node keys (lineage.core.model), the parent of every generation (resolved once, by
graph_model's rule), children, ancestors and descendants, loops, Missing nodes, the index of
unusual generations, and the chain verdict of every generation. The checks, `ids`, `impact`,
`migrate`, cohort simulation, `show`, the report and the Browser helpers all ask it, so the
audit and the migration cannot disagree about a parent or a broken chain.

The graph is a networkx DiGraph (`.nx`); only the constructor touches its internals, to fill
its adjacency dicts directly (see `_fill`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any, Callable, Iterator, Mapping

import networkx as nx

from lineage.core.ids import PARENT_STAGE, STAGES
from lineage.loaders.graph_model import Edges, GraphData, build
from lineage.core.model import Generation, Store, gen_key, missing_key
from lineage.core.perf import gc_paused

Props = Generation | dict[str, Any]  # a generation node is its record, read like a dict

# How a generation's link to its parent can be broken, as the chain check that reports it.
LINK_CHECKS = {problem: f"chain.{problem}" for problem in
               ("parent_id_missing", "parent_missing", "parent_wrong_stage", "parent_unreadable")}


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Why a generation's chain to its draft is broken: its own link, or the nearest broken
    link above it (`at` is then that ancestor's key)."""

    check: str  # chain.parent_missing | ... | chain.ancestor_broken
    problem: str  # parent_missing | parent_wrong_stage | parent_unreadable | parent_id_missing
    at: str  # the key of the generation whose link is broken
    parent: Props | None  # that link's parent node, if there is one

    @property
    def own(self) -> bool:
        return self.check != "chain.ancestor_broken"

    def describe(self, g: "LineageGraph") -> str:
        """A short reason, naming the generation whose link is broken when it is an ancestor."""
        n, p = g.nodes[self.at], self.parent
        if self.problem == "parent_id_missing":
            what = "no parent_gen_id"
        elif self.problem == "parent_missing":
            what = f"parent {n['parent_gen_id']} does not exist"
        elif self.problem == "parent_wrong_stage":
            what = f"parent {p['gen_id']} is filed under gens/{p['stage']}/, not gens/{PARENT_STAGE[n['stage']]}/"
        else:
            what = f"parent {p['gen_id']} has {p['meta_status']} metadata"
        return what if self.own else f"ancestor {n['stage']} {n['gen_id']}: {what}"


class _LoopMet(Exception):
    """A walk down the children met a loop."""


class LineageGraph:
    """Generations, cohorts, files that mention IDs and Missing IDs, with their relationships.

    `nodes` maps a key to its property dict (read it, never change it); `generations` are the
    generation nodes in store order and `unusual` those a check of one generation, or of its
    link to its parent, might report.
    """

    def __init__(self, store: Store, data: GraphData | None = None):
        with gc_paused():
            data = build(store) if data is None else data
            self.nx = _fill(data)
        self.store = store
        self.nodes: Mapping[str, Props] = self.nx._node
        # parent key -> its children (the generations that derive from it), in store order
        self._children: Mapping[str, Mapping[str, Any]] = self.nx._pred
        self.generations: list[Props] = data.generations
        self.unusual: list[Props] = data.unusual
        self._broken = data.broken
        self.columns: list[Edges] = data.edges

    # --- nodes -----------------------------------------------------------------------------

    def __contains__(self, key: str) -> bool:
        return key in self.nodes

    def get(self, stage: str, gen_id: str) -> Props | None:
        return self.nodes.get(gen_key(stage, gen_id))

    def find(self, gen_id: str) -> list[str]:
        """The keys of the generations named `gen_id`, in pipeline order (an ID can be a
        folder in more than one stage)."""
        return [k for k in (gen_key(s, gen_id) for s in STAGES) if k in self.nodes]

    def missing(self, gen_id: str) -> str | None:
        """The Missing node of an ID that is referenced but has no folder."""
        key = missing_key(gen_id)
        return key if key in self.nodes else None

    def record(self, key: str) -> Generation:
        """The store's record of a generation (with its parsed metadata, when the scan kept it):
        the node itself. KeyError for a key that is not a generation's."""
        node = self.nodes.get(key)
        if type(node) is not Generation:
            raise KeyError(key)
        return node

    def is_missing(self, key: str) -> bool:
        return "Missing" in self.nodes[key]["labels"]

    def has_label(self, key: str, label: str) -> bool:
        return label in self.nodes[key]["labels"]

    @cached_property
    def _others(self) -> list[Props]:
        """The few nodes that are not generations (a type test per node, no labels read)."""
        return [d for d in self.nodes.values() if type(d) is not Generation]

    @cached_property
    def missing_keys(self) -> set[str]:
        return {d["key"] for d in self._others if "Missing" in d["labels"]}

    @cached_property
    def problem_nodes(self) -> list[Props]:
        return [d for d in self._others if "Problem" in d["labels"]]

    @cached_property
    def readable(self) -> list[Props]:
        """Generations whose metadata.json could be read; most checks look only at these."""
        if any(n["meta_status"] != "ok" for n in self.unusual):
            return [n for n in self.generations if n["meta_status"] == "ok"]
        return self.generations  # nothing unreadable: no filtered copy

    # --- relationships ---------------------------------------------------------------------

    def columns_of(self, rel_type: str) -> list[Edges]:
        """The relationship columns of one type (DERIVED_FROM, INCLUDES, REFERENCES)."""
        return [e for e in self.columns if e.type == rel_type]

    def sources_into(self, key: str) -> list[str]:
        """The nodes with a relationship into `key` (one per source, whatever its places)."""
        return list(dict.fromkeys(u for u, _e, _i in self._places_index.get(key, ())))

    def places_to(self, key: str) -> list[tuple[str, Props]]:
        """(source, properties) of every relationship into `key`: one per place, so a file
        that mentions an ID on three lines gives three."""
        return [(u, e.place(i)) for u, e, i in self._places_index.get(key, ())]

    @cached_property
    def _places_index(self) -> dict[str, list[tuple[str, Edges, int]]]:
        by_target: dict[str, list] = {}
        for e in self.columns:
            for i, (u, v) in enumerate(zip(e.sources, e.targets)):
                by_target.setdefault(v, []).append((u, e, i))
        return by_target

    # --- lineage: parents, children, ancestors, descendants, loops ---------------------------

    @cached_property
    def _parent(self) -> dict[str, str]:
        """child key -> parent key; built when first asked (the audit of a healthy store never
        needs it, and on a million generations it is tens of MB)."""
        parent: dict[str, str] = {}
        for e in self.columns_of("DERIVED_FROM"):
            parent.update(zip(e.sources, e.targets))
        return parent

    def parent(self, key: str) -> str | None:
        """The node `key` derives from (a generation or a Missing node), None for a draft,
        an unreadable generation or one without parent_gen_id. This is the one parent rule:
        graph_model resolved parent_gen_id in the expected stage first, then in any stage."""
        return self._parent.get(key)

    def parent_generation(self, key: str) -> str | None:
        """The parent if it is a generation folder (not a Missing ID)."""
        up = self._parent.get(key)
        return None if up is None or up in self.missing_keys else up

    def children(self, key: str) -> list[str]:
        return list(self._children.get(key, ()))

    @property
    def children_index(self) -> Mapping[str, Mapping[str, Any]]:
        """parent key -> its child keys (iterate them; read it, never change it)."""
        return self._children

    def ancestors(self, key: str) -> list[str]:
        """The keys above `key`, nearest first; a loop stops where it closes."""
        parent, seen, out = self._parent, {key}, []
        while (up := parent.get(key)) is not None and up not in seen:
            seen.add(up)
            out.append(up)
            key = up
        return out

    def descendants(self, key: str, cut_loops: bool = False) -> list[str]:
        """Every generation that derives from `key`, directly or further down, parents
        before children (breadth first). `cut_loops`: a loop member is nobody's child, as the
        rename cascade sees it (a loop is cut where it closes)."""
        return self.below([key], cut_loops)[1:]

    def below(self, keys: list[str], cut_loops: bool = False) -> list[str]:
        """`keys` and every generation below any of them, each once, parents before children:
        one walk for many starting points (a chain's renames nest; a walk each is quadratic)."""
        children, loops = self._children, self.loops if cut_loops else {}
        seen, out, frontier = set(keys), list(dict.fromkeys(keys)), list(dict.fromkeys(keys))
        while frontier:
            nxt = []
            for k in frontier:
                for c in children.get(k, ()):
                    if c not in seen and c not in loops:
                        seen.add(c)
                        out.append(c)
                        nxt.append(c)
            frontier = nxt
        return out

    def descendant_totals(self, weight: Callable[[str], int] | None = None, cut_loops: bool = False,
                          roots: list[str] | None = None) -> dict[str, int]:
        """For every node with children (or every node of `roots` and below): how many
        descendants it has (or the sum of `weight` over them), in one pass.

        Each generation has one parent, so the graph is a forest whose roots may be loops.
        Leaves are folded into their parents first (Kahn's order); what never folds is a
        loop, and every member of a loop has the whole loop and everything below it beneath
        itself. Linear, where counting per node was quadratic on long chains.
        """
        weight = weight or (lambda _k: 1)
        if roots is not None and not cut_loops:
            try:
                return self._totals_below(roots, weight)
            except _LoopMet:
                pass  # a loop below one of them: the whole-graph pass handles loops
        parent = self._parent
        if cut_loops and self.loops:
            parent = {c: p for c, p in parent.items() if c not in self.loops}
        waiting: dict[str, int] = {}
        for p in parent.values():
            waiting[p] = waiting.get(p, 0) + 1
        below: dict[str, int] = dict.fromkeys(waiting, 0)
        ready = [k for k in parent if k not in waiting]  # leaves
        while ready:
            k = ready.pop()
            p = parent.get(k)
            if p is None:
                continue
            below[p] += below.get(k, 0) + weight(k)
            waiting[p] -= 1
            if not waiting[p]:
                ready.append(p)
        for loop in {tuple(v) for k, v in self.loops.items() if waiting.get(k)}:
            total = sum(below.get(k, 0) + weight(k) for k in loop)
            for k in loop:
                below[k] = total - weight(k)
        return below

    def _totals_below(self, roots: list[str], weight: Callable[[str], int]) -> dict[str, int]:
        """descendant_totals for `roots` and the nodes below them only, children before
        parents (a depth-first walk with its own stack); raises _LoopMet on a loop."""
        children, below = self._children, {}
        for root in roots:
            if root in below:
                continue
            stack, on_stack = [(root, iter(children.get(root, ())))], {root}
            while stack:
                key, it = stack[-1]
                child = next(it, None)
                if child is None:
                    stack.pop()
                    on_stack.discard(key)
                    below[key] = sum(below[c] + weight(c) for c in children.get(key, ()))
                elif child in on_stack:
                    raise _LoopMet()
                elif child not in below:
                    stack.append((child, iter(children.get(child, ()))))
                    on_stack.add(child)
        return below

    @cached_property
    def loops(self) -> dict[str, list[str]]:
        """key -> the loop it sits on (parent after parent until it closes), for generations
        whose chain loops back on itself. Each loop starts at its smallest key, so its text
        does not depend on the order the folders were listed in."""
        parent = self._parent
        loops: dict[str, list[str]] = {}
        done: set[str] = set()
        for start in parent:
            path: list[str] = []
            on_path: dict[str, int] = {}
            k: str | None = start
            while k is not None and k not in done and k not in on_path:
                on_path[k] = len(path)
                path.append(k)
                k = parent.get(k)
            if k is not None and k in on_path:
                loop = path[on_path[k]:]
                first = loop.index(min(loop))
                loop = loop[first:] + loop[:first]
                for member in loop:
                    loops[member] = loop
            done.update(path)
        return loops

    def parents_first(self, keys: list[str]) -> Iterator[str]:
        """`keys` and the ancestors among them in an order where every parent comes before its
        children (a loop is cut where it closes); each key once."""
        seen: set[str] = set()
        for key in keys:
            chain: list[str] = []
            in_chain: set[str] = set()
            k: str | None = key
            while k is not None and k not in seen and k not in in_chain:
                chain.append(k)
                in_chain.add(k)
                k = self._parent.get(k)
            for k in reversed(chain):
                seen.add(k)
                if type(self.nodes.get(k)) is Generation:
                    yield k

    # --- chains ------------------------------------------------------------------------------

    @cached_property
    def broken_links(self) -> dict[str, tuple[str, Props | None]]:
        """Generations whose link to their parent is broken: key -> (what is wrong, the parent
        node if there is one); the graph model's verdict (graph_model.GraphData.broken)."""
        nodes = self.nodes
        return {key: (problem, None if parent is None else nodes[parent])
                for key, (problem, parent) in self._broken.items()}

    @cached_property
    def chain_problems(self) -> dict[str, ChainProblem]:
        """The chain verdict of every generation whose chain to its draft is broken: its own
        link, or else the nearest broken link above it. Walks down from each broken link and
        stops at the next one, so every generation is visited once."""
        broken = self.broken_links
        out = {key: ChainProblem(LINK_CHECKS[problem], problem, key, parent)
               for key, (problem, parent) in broken.items()}
        children = self._children
        for key, (problem, parent) in broken.items():
            below = ChainProblem("chain.ancestor_broken", problem, key, parent)
            stack = list(children.get(key, ()))
            while stack:
                child = stack.pop()
                if child in out:
                    continue  # broken itself, or reached already from a nearer broken link
                out[child] = below
                stack.extend(children.get(child, ()))
        return out

    def chain_problem(self, key: str) -> ChainProblem | None:
        return self.chain_problems.get(key)


def _fill(data: GraphData) -> nx.DiGraph:
    """A frozen DiGraph of every node and of who derives from whom, with networkx's own
    adjacency dicts filled directly.

    add_nodes_from/add_edge copy every attribute dict and re-check both ends of every edge;
    on a 100,000-generation store that doubled the whole audit. The layout written here is
    the one DiGraph keeps (_node, _succ, _pred), so every networkx API that reads works on it.

    It holds the lineage only: (child)-[DERIVED_FROM]->(parent), one edge per generation, with
    one read-only attribute dict for all. A cohort's membership and the files that mention
    IDs (millions of places on a big store) stay in the graph model's columns, which
    `places_to` reads. A node without an edge out (or in) shares one empty dict: the graph is
    frozen, so nothing can add to it, and so do the children of one parent (their dicts are
    equal). Two dicts per node cost 600 MB on a million generations.
    """
    g = nx.DiGraph()
    node, succ, pred = g._node, g._succ, g._pred
    none: dict = {}
    keys = list(map(itemgetter("key"), data.nodes))  # (a record's key is a slot: read in C)
    node.update(zip(keys, data.nodes))
    succ.update(dict.fromkeys(keys, none))
    pred.update(succ)
    attrs = {"type": "DERIVED_FROM"}
    up: dict[str, dict] = {}  # parent -> {parent: attrs}, the one succ dict all its children share
    for edges in data.edges:
        if edges.type != "DERIVED_FROM":
            continue
        for child, parent in zip(edges.sources, edges.targets):
            out = up.get(parent)
            if out is None:
                out = up[parent] = {parent: attrs}
            succ[child] = out
            into = pred[parent]
            if into is none:
                pred[parent] = {child: attrs}
            else:
                into[child] = attrs
    return nx.freeze(g)


def of(source: "Store | LineageGraph") -> LineageGraph:
    """The lineage graph of a store, or the graph itself (callers that already built one pass
    it on, so a run builds it once)."""
    return source if isinstance(source, LineageGraph) else LineageGraph(source)
