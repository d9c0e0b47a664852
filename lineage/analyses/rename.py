"""Cascaded renames: the ID each generation would get, parents first, and what a migration renames.

An essay's signature holds its draft's gen_id and an evaluation's its essay's (DOMAIN 3.4), so a
new ID is computed from the parent's NEW ID, drafts -> essays -> evaluations. `cascade` is the one
engine; `id_report` (the `lineage ids` report) and `mapping` (old -> new renames) read its result.

Parents, descendants, loops and chain verdicts come from the lineage graph, so a rename is never
computed from a parent the audit calls missing or misplaced: such a rename is blocked, with the
check that reports it, unless the caller opts in (`allow_broken`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from lineage.core import ids
from lineage.loaders.lineage_graph import LineageGraph, of
from lineage.core.model import Generation, Store, gen_key

ONLY = ("legacy", "mismatch", "all")
REUSE, REGENERATE = "reuse", "regenerate"

ID_COLUMNS = ["stage", "stored_id", "id_class", "recomputed_id", "cascaded_id", "signature_problem",
              "action", "reason", "descendants_regenerated", "llm_calls", "conflict"]
# What a narrow terminal keeps: the ID, what it becomes, and what that costs.
ID_PRIORITY = ["stored_id", "cascaded_id", "action", "llm_calls", "stage", "reason", "conflict"]


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
    blocked: tuple[str, str] | None = None  # (check, reason) that keeps a wanted rename out


def meta_problem(gen: Generation) -> str:
    if gen.meta_status == "missing":
        return "metadata.json missing"
    if gen.meta is None:
        return f"metadata.json invalid: {gen.meta_error}"
    return ""


def _no_id_check(gen: Generation) -> str:
    """The check that reports why a generation has no computable ID."""
    if gen.meta_status == "missing":
        return "store.metadata_missing"
    if gen.meta is None:
        return "store.metadata_invalid"
    return "id.signature_incomplete"


def _where(gen: Generation) -> str:
    """How a message names a generation: its folder under gens/."""
    return f"{gen.stage}/{gen.gen_id}"


def cascade(source: Store | LineageGraph, seeds: Mapping[str, str | None] | None = None,
            seed_cause: str | None = None, allow_broken: bool = False) -> dict[str, Node]:
    """key -> Node for every generation.

    `seeds` maps generation keys to an explicit new ID, or to None for "the ID its metadata
    implies". A generation is renamed when it is a seed or its parent is renamed; the others
    keep their stored ID. With `seeds=None` every generation is a seed: the full cascade.
    `seed_cause` labels the seeds' renames (default: legacy, mismatch or malformed).
    A wanted rename of a generation whose chain is broken (the graph's verdict) is blocked,
    unless `allow_broken`; so is one whose ID cannot be computed.
    """
    g = of(source)
    nodes: dict[str, Node] = {}
    for key in g.parents_first([x.key for x in g.store.generations]):
        nodes[key] = _decide(g, key, nodes, seeds, seed_cause, allow_broken)
    return nodes


def _decide(g: LineageGraph, key: str, nodes: dict[str, Node], seeds: Mapping[str, str | None] | None,
            seed_cause: str | None, allow_broken: bool) -> Node:
    gen = g.record(key)
    up = g.parent_generation(key)
    loop = g.loops.get(key)
    node = Node(gen, parent=g.record(up) if up else None, in_loop=loop is not None)
    # On a loop the parent is treated as kept, so the loop is cut deterministically.
    parent_node = None if loop or up is None else nodes.get(up)
    parent_renamed = bool(parent_node and parent_node.renamed)
    is_seed = seeds is None or key in seeds
    _note_parent(g, node, loop)
    _compute_candidate(node, parent_node if parent_renamed else None)

    explicit = seeds.get(key) if seeds is not None else None
    if explicit:
        wanted = explicit
    elif is_seed or parent_renamed:
        wanted = node.candidate or ""
    else:
        wanted = gen.gen_id
    if wanted != gen.gen_id and (is_seed or parent_renamed):
        _judge_chain(g, key, node, wanted, allow_broken)
    if loop and not node.blocked:
        node.notes[0] += "; cascaded from the stored parent_gen_id"
    node.new_id = gen.gen_id if node.blocked else wanted
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


def _note_parent(g: LineageGraph, node: Node, loop: list[str] | None) -> None:
    """Say what is odd about the parent: a loop, a parent not found, or one in another stage."""
    gen = node.gen
    if loop:
        node.notes.append("parent chain loops (" + " -> ".join(_where(g.record(k)) for k in loop) + ")")
    elif gen.stage != "draft" and gen.parent_gen_id and node.parent is None:
        node.notes.append(f"parent {gen.parent_gen_id} not found; cascaded from the stored parent_gen_id")
    elif node.parent is not None and node.parent.stage != ids.PARENT_STAGE.get(gen.stage):
        node.notes.append(f"parent {gen.parent_gen_id} is filed under gens/{node.parent.stage}/")


def _compute_candidate(node: Node, renamed_parent: Node | None) -> None:
    """The ID the signature gives, with the renamed parent's new ID (or why there is none)."""
    gen = node.gen
    node.problem = meta_problem(gen)
    if node.problem:
        return
    meta = gen.meta
    if renamed_parent is not None:
        meta = {**meta, "parent_gen_id": renamed_parent.new_id}
        node.via = node.parent.gen_id
    try:
        parts = ids.signature(gen.stage, meta)
    except ids.SignatureError as exc:
        node.problem = str(exc)
        return
    # A stored ID that its own metadata reproduces with k > 0 keeps its suffix.
    if gen.id_kind == ids.DETERMINISTIC and gen.id_matches:
        node.collision = ids.collision_of(gen.gen_id)
    node.candidate = ids.deterministic_id(gen.stage, parts, node.collision)


def _judge_chain(g: LineageGraph, key: str, node: Node, wanted: str, allow_broken: bool) -> None:
    """Block a wanted rename without an ID, or under a chain the graph calls broken."""
    if not wanted:
        node.blocked = (_no_id_check(node.gen), f"no ID can be computed: {node.problem}")
    elif (verdict := g.chain_problem(key)) is not None:
        reason = verdict.describe(g)
        if allow_broken:
            node.notes.append(f"renamed despite {verdict.check}: {reason}")
        else:
            node.blocked = (verdict.check, reason)


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


def id_rows(source: Store | LineageGraph, stages: Iterable[str] | None = None,
            only_changed: bool = False) -> list[dict]:
    """One row per generation (ID_COLUMNS), ordered by stage and stored ID."""
    return id_report(source, stages, only_changed)[0]


def id_report(source: Store | LineageGraph, stages: Iterable[str] | None = None, only_changed: bool = False,
              nodes: dict[str, Node] | None = None) -> tuple[list[dict], dict]:
    """The rows and the totals over the selected stages (before `only_changed` drops rows).

    A row's llm_calls counts its descendants too. The total counts each generation once: the
    regenerated generations of the selected stages and everything below them, so for one stage
    it is the sum of the rows, and for every stage the cost of the whole rebuild.
    """
    g = of(source)
    nodes = nodes if nodes is not None else cascade(g)
    conflict_text: dict[str, list[str]] = {}
    for c in conflicts_of(g, [n for n in nodes.values() if n.renamed]):
        for old in c["old_ids"]:
            conflict_text.setdefault(gen_key(c["stage"], old), []).append(c["message"])
    action, reasons = _actions(g, nodes)
    weights = {k: int(regenerates_with_llm(n.gen)) for k, n in nodes.items()}
    below = g.descendant_totals(cut_loops=True)
    calls_below = g.descendant_totals(weights.__getitem__, cut_loops=True)
    wanted = set(stages) if stages else None
    rows, regenerated = [], []
    totals = {"generations": 0, "reuse": 0, "regenerate": 0, "renamed": 0, "no_id": 0, "llm_calls": 0,
              "conflicts": 0, "blocked": 0}
    for gen in _ordered(g.store):
        if wanted is not None and gen.stage not in wanted:
            continue
        key, node = gen.key, nodes[gen.key]
        regen = action[key] == REGENERATE
        conflict = conflict_text.get(key, ())
        totals["generations"] += 1
        totals[action[key]] += 1
        totals["renamed"] += int(node.renamed)
        totals["no_id"] += int(bool(node.problem))
        if regen:
            regenerated.append(key)
        totals["conflicts"] += int(bool(conflict))
        totals["blocked"] += int(node.blocked is not None and not node.problem)
        if only_changed and not regen:
            continue
        rows.append({
            "stage": gen.stage, "stored_id": gen.gen_id, "id_class": gen.id_kind,
            "recomputed_id": gen.expected_id,
            "cascaded_id": node.new_id if node.blocked and not node.problem else node.candidate or "",
            "signature_problem": node.problem, "action": action[key], "reason": "; ".join(reasons[key]),
            "descendants_regenerated": below.get(key, 0) if regen else 0,
            "llm_calls": weights[key] + calls_below.get(key, 0) if regen else 0,
            "conflict": "; ".join(conflict),
        })
    reach = set(regenerated).union(g.below(regenerated, cut_loops=True))
    totals["llm_calls"] = sum(weights[k] for k in reach if action[k] == REGENERATE)
    return rows, totals


def _actions(g: LineageGraph, nodes: dict[str, Node]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """reuse or regenerate for each generation, parents first (a regenerated parent regenerates
    its children), with the reasons."""
    action: dict[str, str] = {}
    reasons: dict[str, list[str]] = {}
    for key in g.parents_first([x.key for x in _ordered(g.store)]):
        node = nodes[key]
        gen, parent = node.gen, node.parent
        why: list[str] = []
        parent_regen = parent is not None and not node.in_loop and action.get(parent.key) == REGENERATE
        if node.problem:
            why.append(f"no ID can be computed: {node.problem}")
        if node.via:
            why.append(f"parent {node.via} becomes {nodes[parent.key].new_id}")
        elif parent_regen:
            why.append(f"parent {parent.gen_id} is regenerated")
        if node.renamed or (node.blocked and not node.problem):
            own = _own_reason(gen)
            if own:
                why.append(own)
            if node.collision:
                why.append(f"collision suffix -{node.collision} kept")
        regen = bool(node.problem or node.renamed or parent_regen or (node.blocked and own_id_wrong(gen)))
        if not regen:
            why.append("stored ID matches its metadata" +
                       (f" (collision suffix -{node.collision} kept)" if node.collision else ""))
        why += node.notes
        if node.blocked and not node.problem:
            check, reason = node.blocked
            why.append(f"rename to {node.candidate} blocked by {check}: {reason}")
        action[key] = REGENERATE if regen else REUSE
        reasons[key] = why
    return action, reasons


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
    # Wanted renames that are not done: {stage, gen_id, check, problem, via}. `check` reports
    # why (a chain check, or the one that says no ID can be computed); `via` names the renamed
    # parent a cascade came from, "" for a generation renamed on its own account.
    blocked: list[dict]
    warnings: list[str] = field(default_factory=list)  # renames done despite a broken chain


def is_seed(gen: Generation, only: str) -> bool:
    legacy = gen.id_kind == ids.LEGACY
    mismatch = gen.id_kind == ids.DETERMINISTIC and gen.id_matches is False
    if only == "legacy":
        return legacy
    if only == "mismatch":
        return mismatch
    return legacy or mismatch or gen.id_kind == ids.MALFORMED


def mapping(source: Store | LineageGraph, only: str = "all", stages: Iterable[str] | None = None,
            allow_broken: bool = False) -> MappingResult:
    """The old -> new renames a migration does, parents first.

    `only="legacy"`: legacy IDs and the descendants whose IDs change with them; `"mismatch"`:
    deterministic-format IDs their metadata does not reproduce, plus their cascade; `"all"`:
    both, and malformed folder names too. Generations outside the selection keep their IDs, so
    a child of a kept parent is computed from the parent's stored ID. `stages` filters the
    list; it does not change the cascade.
    """
    if only not in ONLY:
        raise ValueError(f"only must be one of {', '.join(ONLY)}, not {only!r}")
    g = of(source)
    seeds = {x.key: None for x in g.store.generations if is_seed(x, only)}
    return result_of(g, cascade(g, seeds, allow_broken=allow_broken), stages)


def result_of(g: LineageGraph, nodes: dict[str, Node], stages: Iterable[str] | None) -> MappingResult:
    wanted = set(stages) if stages else None
    renamed = [n for n in nodes.values() if n.renamed]
    renames = []
    for key in g.parents_first([x.key for x in _ordered(g.store)]):
        n = nodes[key]
        if not n.renamed or (wanted is not None and n.gen.stage not in wanted):
            continue
        renames.append(Rename(n.gen.stage, n.gen.gen_id, n.new_id, n.cause, n.via, n.gen.path,
                              n.candidate or ""))
    blocked, warnings = [], []
    for gen in _ordered(g.store):
        n = nodes[gen.key]
        if wanted is not None and gen.stage not in wanted:
            continue
        if n.blocked:
            p = n.parent
            via = p.gen_id if p is not None and nodes[p.key].renamed and not n.in_loop else ""
            blocked.append({"stage": gen.stage, "gen_id": gen.gen_id, "check": n.blocked[0],
                            "via": via, "problem": n.blocked[1].removeprefix("no ID can be computed: ")})
        warnings += [f"{gen.stage} {gen.gen_id}: {note}" for note in n.notes if note.startswith("renamed despite")]
    conflicts = [c for c in conflicts_of(g, renamed) if wanted is None or c["stage"] in wanted]
    return MappingResult(renames, conflicts, blocked, warnings)


def conflicts_of(g: LineageGraph, renamed: list[Node]) -> list[dict]:
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
        existing = g.get(stage, new_id)
        if existing is not None and existing["key"] not in moving:
            out.append({"kind": "exists", "stage": stage, "new_id": new_id, "old_ids": old_ids,
                        "message": f"{new_id} already exists as {existing['path']}"})
    return out


def mapping_rows(result: MappingResult) -> list[dict]:
    """`stage,old_id,new_id` rows, as `lineage ids --mapping-csv` writes them."""
    return [{"stage": r.stage, "old_id": r.old_id, "new_id": r.new_id} for r in result.renames]
