"""Cascaded renames: the ID each generation would get, parents first, and what a migration renames.

An essay's signature holds its draft's gen_id and an evaluation's its essay's (DOMAIN 3.4), so a
new ID is computed from the parent's NEW ID, drafts -> essays -> evaluations. `cascade` is the one
engine; `id_rows` (the `lineage ids` report) and `mapping` (old -> new renames) read its result.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from lineage import ids
from lineage.model import Generation, Store

ONLY = ("legacy", "mismatch", "all")
REUSE, REGENERATE = "reuse", "regenerate"

ID_COLUMNS = ["stage", "stored_id", "id_class", "recomputed_id", "cascaded_id", "signature_problem",
              "action", "reason", "descendants_regenerated", "llm_calls", "conflict"]


def _key(stage: str, gen_id: str) -> str:
    return f"{stage}/{gen_id}"


class Index:
    """Generations by (stage, id), each one's parent (as the cascade sees it) and its children.

    A parent is looked up in the stage the child expects first, then in any stage (as the graph
    does), so a parent filed in the wrong stage still passes its rename on. Only that fallback
    can make a loop (an essay whose parent_gen_id names an essay that names it back).
    """

    def __init__(self, store: Store):
        self.store = store
        self.by_key: dict[str, Generation] = {}
        self.by_id: dict[str, list[Generation]] = {}
        for gen in store.generations:
            self.by_key[gen.key] = gen
            self.by_id.setdefault(gen.gen_id, []).append(gen)
        self.parent: dict[str, Generation | None] = {g.key: self._find_parent(g) for g in store.generations}
        self.loops = _cycle_members(self)
        # The cascade cuts a loop where it closes, so descendants do too.
        self.children: dict[str, list[Generation]] = {}
        for gen in store.generations:
            parent = self.parent[gen.key]
            if parent is not None and gen.key not in self.loops:
                self.children.setdefault(parent.key, []).append(gen)

    def _find_parent(self, gen: Generation) -> Generation | None:
        stage = ids.PARENT_STAGE.get(gen.stage)
        if stage is None or not gen.parent_gen_id:
            return None
        found = self.by_key.get(_key(stage, gen.parent_gen_id))
        if found is not None:
            return found
        others = {g.stage: g for g in self.by_id.get(gen.parent_gen_id, ())}
        return next((others[s] for s in ids.STAGES if s in others), None)

    def get(self, stage: str, gen_id: str) -> Generation | None:
        return self.by_key.get(_key(stage, gen_id))

    def descendants(self, gen: Generation) -> list[Generation]:
        """Every generation below `gen`, parents before children; cycle-safe."""
        return self.below([gen], include_given=False)

    def below(self, gens: Iterable[Generation], include_given: bool = True) -> list[Generation]:
        """`gens` (unless include_given is False) and every generation below any of them, once,
        parents before children: one walk for many starting points, never one per start."""
        out: list[Generation] = []
        starts = list(gens)
        seen = {g.key for g in starts}
        queue = deque(g for s in starts for g in self.children.get(s.key, ()))
        if include_given:
            out += starts
        while queue:
            g = queue.popleft()
            if g.key in seen:
                continue
            seen.add(g.key)
            out.append(g)
            queue.extend(self.children.get(g.key, ()))
        return out

    def totals_below(self, weight: Callable[[Generation], int]) -> dict[str, tuple[int, int]]:
        """key -> (how many generations are below it, their summed weight), for every
        generation in one pass from the leaves up. (The children exclude loop members, so they
        form trees.)"""
        is_child = {c.key for kids in self.children.values() for c in kids}
        order = self.below([g for g in self.store.generations if g.key not in is_child])
        totals: dict[str, tuple[int, int]] = {}
        for gen in reversed(order):  # children before their parent
            n = w = 0
            for c in self.children.get(gen.key, ()):
                cn, cw = totals[c.key]
                n, w = n + cn + 1, w + cw + weight(c)
            totals[gen.key] = (n, w)
        return totals


@dataclass(slots=True)
class Node:
    """What the cascade decided for one generation."""

    gen: Generation
    candidate: str | None = None  # the ID from its signature, with the parent's new ID
    problem: str = ""  # why no candidate could be computed
    collision: int = 0  # the -k suffix kept from the stored ID
    new_id: str = ""  # the ID after the migration ("" when none can be computed)
    renamed: bool = False  # new_id differs from the stored ID
    cause: str = ""  # legacy | mismatch | malformed | given | mapping | cascade
    parent: Generation | None = None
    via: str = ""  # the renamed parent this rename cascades from (its old ID)
    notes: list[str] = field(default_factory=list)
    in_loop: bool = False


def meta_problem(gen: Generation) -> str:
    if gen.meta_status == "missing":
        return "metadata.json missing"
    if gen.meta is None:
        return f"metadata.json invalid: {gen.meta_error}"
    return ""


def _cycle_members(index: Index) -> dict[str, list[str]]:
    """key -> the loop it sits on, for generations whose parent chain loops back on itself."""
    loops: dict[str, list[str]] = {}
    done: set[str] = set()
    for gen in index.store.generations:
        path: list[str] = []
        on_path: dict[str, int] = {}
        g: Generation | None = gen
        while g is not None and g.key not in done and g.key not in on_path:
            on_path[g.key] = len(path)
            path.append(g.key)
            g = index.parent.get(g.key)
        if g is not None and g.key in on_path:
            loop = path[on_path[g.key]:]
            first = loop.index(min(loop))  # the same text whatever order the folders were listed in
            loop = loop[first:] + loop[:first]
            for k in loop:
                loops[k] = loop
        done.update(path)
    return loops


def cascade(store: Store, seeds: Mapping[str, str | None] | None = None,
            index: Index | None = None, seed_cause: str | None = None) -> dict[str, Node]:
    """key -> Node for every generation.

    `seeds` maps generation keys to an explicit new ID, or to None for "the ID its metadata
    implies". A generation is renamed when it is a seed or its parent is renamed; the others
    keep their stored ID. With `seeds=None` every generation is a seed: the full cascade.
    `seed_cause` labels the seeds' renames (default: legacy, mismatch or malformed).
    """
    index = index or Index(store)
    loops = index.loops
    nodes: dict[str, Node] = {}

    def visit(gen: Generation) -> Node:
        # Walk up to the first decided ancestor, then decide parents before children.
        chain: list[Generation] = []
        g: Generation | None = gen
        while g is not None and g.key not in nodes:
            chain.append(g)
            g = None if g.key in loops else index.parent.get(g.key)
        for g in reversed(chain):
            nodes[g.key] = _decide(g, index, nodes, seeds, loops, seed_cause)
        return nodes[gen.key]

    for gen in store.generations:
        visit(gen)
    return nodes


def _decide(gen: Generation, index: Index, nodes: dict[str, Node],
            seeds: Mapping[str, str | None] | None, loops: dict[str, list[str]],
            seed_cause: str | None) -> Node:
    node = Node(gen, parent=index.parent.get(gen.key), in_loop=gen.key in loops)
    # On a loop the parent is treated as kept, so the loop is cut deterministically.
    parent_node = None if node.in_loop or node.parent is None else nodes.get(node.parent.key)
    parent_renamed = bool(parent_node and parent_node.renamed)
    is_seed = seeds is None or gen.key in seeds

    if node.in_loop:
        node.notes.append("parent chain loops (" + " -> ".join(loops[gen.key]) +
                          "); cascaded from the stored parent_gen_id")
    elif gen.stage != "draft" and gen.parent_gen_id and node.parent is None:
        node.notes.append(f"parent {gen.parent_gen_id} not found; cascaded from the stored parent_gen_id")
    elif node.parent is not None and node.parent.stage != ids.PARENT_STAGE.get(gen.stage):
        node.notes.append(f"parent {gen.parent_gen_id} is filed under gens/{node.parent.stage}/")

    problem = meta_problem(gen)
    if not problem:
        meta = gen.meta
        if parent_renamed:
            meta = {**meta, "parent_gen_id": parent_node.new_id}
            node.via = node.parent.gen_id
        try:
            parts = ids.signature(gen.stage, meta)
        except ids.SignatureError as exc:
            problem = str(exc)
        else:
            # A stored ID that its own metadata reproduces with k > 0 keeps its suffix.
            if gen.id_kind == ids.DETERMINISTIC and gen.id_matches:
                node.collision = ids.collision_of(gen.gen_id)
            node.candidate = ids.deterministic_id(gen.stage, parts, node.collision)
    node.problem = problem

    explicit = seeds.get(gen.key) if seeds is not None else None
    if explicit:
        node.new_id = explicit
    elif is_seed or parent_renamed:
        node.new_id = node.candidate or ""
    else:
        node.new_id = gen.gen_id
    node.renamed = bool(node.new_id) and node.new_id != gen.gen_id
    if node.renamed:
        if explicit:
            node.cause = "mapping"
        elif seeds is None:
            node.cause = _own_cause(gen) if own_id_wrong(gen) else "cascade"
        elif is_seed:
            node.cause = seed_cause or _own_cause(gen)
        else:
            node.cause = "cascade"
    return node


def own_id_wrong(gen: Generation) -> bool:
    """The stored ID is not the one its own metadata implies (legacy, malformed or stale)."""
    return gen.id_kind != ids.DETERMINISTIC or gen.id_matches is False


def _own_cause(gen: Generation) -> str:
    if gen.id_kind == ids.LEGACY:
        return "legacy"
    if gen.id_kind == ids.MALFORMED:
        return "malformed"
    return "mismatch"


# --- the `lineage ids` report ------------------------------------------------------------------

def regenerates_with_llm(gen: Generation) -> bool:
    """DOMAIN 4: a scheduled generation calls an LLM iff its mode is llm and raw.txt is absent.

    A regenerated generation gets a new folder, so raw.txt is absent: it costs a call unless
    its metadata says `copy`. A missing or unknown mode counts as a call (an upper bound: the
    pipeline's templates are llm unless they are copy templates).
    """
    return gen.mode != "copy"


def id_rows(store: Store, stages: Iterable[str] | None = None, only_changed: bool = False) -> list[dict]:
    """One row per generation (ID_COLUMNS), ordered by stage and stored ID."""
    return id_report(store, stages, only_changed)[0]


def id_report(store: Store, stages: Iterable[str] | None = None, only_changed: bool = False,
              nodes: dict[str, Node] | None = None, index: Index | None = None) -> tuple[list[dict], dict]:
    """The rows and the totals over the selected stages (before `only_changed` drops rows).

    A row's llm_calls counts its descendants too, so the totals count each generation once.
    """
    index = index or Index(store)
    nodes = nodes if nodes is not None else cascade(store, index=index)
    conflict_text: dict[str, list[str]] = {}
    for c in conflicts_of(index, [n for n in nodes.values() if n.renamed]):
        for old in c["old_ids"]:
            conflict_text.setdefault(_key(c["stage"], old), []).append(c["message"])

    action: dict[str, str] = {}
    reasons: dict[str, list[str]] = {}
    for gen in _parents_first(store, index):
        node = nodes[gen.key]
        why: list[str] = []
        parent = node.parent
        parent_regen = (parent is not None and not node.in_loop
                        and action.get(parent.key) == REGENERATE)
        if node.problem:
            why.append(f"no ID can be computed: {node.problem}")
        if node.via:
            why.append(f"parent {node.via} becomes {nodes[parent.key].new_id}")
        elif parent_regen:
            why.append(f"parent {parent.gen_id} is regenerated")
        if node.renamed:
            own = _own_reason(gen)
            if own:
                why.append(own)
            if node.collision:
                why.append(f"collision suffix -{node.collision} kept")
        regen = bool(node.problem or node.renamed or parent_regen)
        if not regen:
            why.append("stored ID matches its metadata" +
                       (f" (collision suffix -{node.collision} kept)" if node.collision else ""))
        why += node.notes
        action[gen.key] = REGENERATE if regen else REUSE
        reasons[gen.key] = why

    wanted = set(stages) if stages else None
    below = index.totals_below(lambda g: int(regenerates_with_llm(g)))  # one pass, not a walk per row
    rows = []
    totals = {"generations": 0, "reuse": 0, "regenerate": 0, "renamed": 0, "no_id": 0, "llm_calls": 0,
              "conflicts": 0}
    for gen in _ordered(store):
        if wanted is not None and gen.stage not in wanted:
            continue
        node = nodes[gen.key]
        regen = action[gen.key] == REGENERATE
        totals["generations"] += 1
        totals[action[gen.key]] += 1
        totals["renamed"] += int(node.renamed)
        totals["no_id"] += int(bool(node.problem))
        totals["llm_calls"] += int(regen and regenerates_with_llm(gen))
        totals["conflicts"] += int(gen.key in conflict_text)
        if only_changed and not regen:
            continue
        # A regenerated generation's descendants are all regenerated with it.
        n_below, calls_below = below[gen.key] if regen else (0, 0)
        calls = int(regenerates_with_llm(gen)) + calls_below if regen else 0
        rows.append({
            "stage": gen.stage,
            "stored_id": gen.gen_id,
            "id_class": gen.id_kind,
            "recomputed_id": gen.expected_id,
            "cascaded_id": node.candidate or "",
            "signature_problem": node.problem,
            "action": action[gen.key],
            "reason": "; ".join(reasons[gen.key]),
            "descendants_regenerated": n_below,
            "llm_calls": calls,
            "conflict": "; ".join(conflict_text.get(gen.key, ())),
        })
    return rows, totals


def _own_reason(gen: Generation) -> str:
    if gen.id_kind == ids.LEGACY:
        return "legacy ID"
    if gen.id_kind == ids.MALFORMED:
        return f"malformed ID ({gen.id_problem})"
    if gen.id_matches is False:
        return f"stored ID does not match its metadata (recomputes to {gen.expected_id})"
    return ""


def _ordered(store: Store) -> list[Generation]:
    order = {s: i for i, s in enumerate(ids.STAGES)}
    return sorted(store.generations, key=lambda g: (order[g.stage], g.gen_id))


def _parents_first(store: Store, index: Index) -> list[Generation]:
    """Every generation once, each after its parent (loops are cut where they close)."""
    out: list[Generation] = []
    seen: set[str] = set()
    for gen in _ordered(store):
        chain: list[Generation] = []
        in_chain: set[str] = set()
        g: Generation | None = gen
        while g is not None and g.key not in seen and g.key not in in_chain:
            chain.append(g)
            in_chain.add(g.key)
            g = index.parent.get(g.key)
        for g in reversed(chain):
            seen.add(g.key)
            out.append(g)
    return out


# --- renames a migration would do ---------------------------------------------------------------

@dataclass(slots=True)
class Rename:
    stage: str
    old_id: str
    new_id: str
    cause: str  # legacy | mismatch | malformed | given | mapping | cascade
    via: str = ""  # for a cascade: the renamed parent's old ID
    path: str = ""
    expected_id: str = ""  # the ID the cascade computes (differs from new_id only for a mapping)

    def as_dict(self) -> dict:
        return {"stage": self.stage, "old_id": self.old_id, "new_id": self.new_id, "cause": self.cause,
                "via": self.via, "path": self.path, "expected_id": self.expected_id}


@dataclass(slots=True)
class MappingResult:
    renames: list[Rename]
    conflicts: list[dict]  # {kind, stage, new_id, old_ids, message}
    blocked: list[dict]  # descendants of a rename that get no new ID: {stage, gen_id, via, problem}


def is_seed(gen: Generation, only: str) -> bool:
    legacy = gen.id_kind == ids.LEGACY
    mismatch = gen.id_kind == ids.DETERMINISTIC and gen.id_matches is False
    if only == "legacy":
        return legacy
    if only == "mismatch":
        return mismatch
    return legacy or mismatch or gen.id_kind == ids.MALFORMED


def mapping(store: Store, only: str = "all", stages: Iterable[str] | None = None,
            index: Index | None = None) -> MappingResult:
    """The old -> new renames a migration does, parents first.

    `only="legacy"`: legacy IDs and the descendants whose IDs change with them; `"mismatch"`:
    deterministic-format IDs their metadata does not reproduce, plus their cascade; `"all"`:
    both, and malformed folder names too. Generations outside the selection keep their IDs, so
    a child of a kept parent is computed from the parent's stored ID. `stages` filters the
    list; it does not change the cascade.
    """
    if only not in ONLY:
        raise ValueError(f"only must be one of {', '.join(ONLY)}, not {only!r}")
    index = index or Index(store)
    seeds = {g.key: None for g in store.generations if is_seed(g, only)}
    return result_of(index, cascade(store, seeds, index), stages)


def result_of(index: Index, nodes: dict[str, Node], stages: Iterable[str] | None) -> MappingResult:
    wanted = set(stages) if stages else None
    renamed = [n for n in nodes.values() if n.renamed]
    renames = []
    for gen in _parents_first(index.store, index):
        n = nodes[gen.key]
        if not n.renamed or (wanted is not None and gen.stage not in wanted):
            continue
        renames.append(Rename(gen.stage, gen.gen_id, n.new_id, n.cause, n.via, gen.path,
                              n.candidate or ""))
    blocked = []
    for gen in _ordered(index.store):
        n = nodes[gen.key]
        p = n.parent
        if n.problem and p is not None and nodes[p.key].renamed and not n.in_loop:
            if wanted is None or gen.stage in wanted:
                blocked.append({"stage": gen.stage, "gen_id": gen.gen_id, "via": p.gen_id,
                                "problem": n.problem})
    conflicts = [c for c in conflicts_of(index, renamed) if wanted is None or c["stage"] in wanted]
    return MappingResult(renames, conflicts, blocked)


def conflicts_of(index: Index, renamed: list[Node]) -> list[dict]:
    """Two renames onto one new ID, or a new ID whose folder exists and is not renamed away.

    One entry per (kind, stage, new ID): {kind, stage, new_id, old_ids, message}.
    """
    by_target: dict[tuple[str, str], list[Node]] = {}
    for n in renamed:
        by_target.setdefault((n.gen.stage, n.new_id), []).append(n)
    moving = {n.gen.key for n in renamed}
    out = []
    order = {s: i for i, s in enumerate(ids.STAGES)}
    for (stage, new_id), group in sorted(by_target.items(), key=lambda t: (order[t[0][0]], t[0][1])):
        old_ids = sorted(n.gen.gen_id for n in group)
        if len(group) > 1:
            out.append({"kind": "same_new_id", "stage": stage, "new_id": new_id, "old_ids": old_ids,
                        "message": f"{' and '.join(old_ids)} would {'both' if len(old_ids) == 2 else 'all'} become {new_id}"})
        existing = index.get(stage, new_id)
        if existing is not None and existing.key not in moving:
            out.append({"kind": "exists", "stage": stage, "new_id": new_id, "old_ids": old_ids,
                        "message": f"{new_id} already exists as {existing.path}"})
    return out


def mapping_rows(result: MappingResult) -> list[dict]:
    """`stage,old_id,new_id` rows, as `lineage ids --mapping-csv` writes them."""
    return [{"stage": r.stage, "old_id": r.old_id, "new_id": r.new_id} for r in result.renames]
