"""The lineage graph both backends load: node keys, labels, properties and resolved edges.

Resolving a referenced ID to a node happens once, here, so networkx and Neo4j hold the same
graph. A referenced ID without a folder becomes a `Missing` node, so orphans stay visible.

Nodes: Generation (+ Draft|Essay|Evaluation), Missing, Cohort, Artifact, Problem (a file the
loader could not use). Edges: (child)-[:DERIVED_FROM]->(parent), (cohort)-[:INCLUDES]->(gen),
(artifact)-[:REFERENCES {line, column}]->(gen or missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from lineage.core.ids import DETERMINISTIC, PARENT_STAGE, STAGES
from lineage.core.metadata import REQUIRED_FILES
from lineage.core.model import (Generation, Store, artifact_key, cohort_key, gen_key, missing_key,
                                problem_key)
from lineage.core.perf import gc_paused


# The record's fields a node shows in Neo4j, flat values it can store (text, numbers, booleans,
# lists of text; its parsed metadata stays in the record). networkx keeps the record itself.
NODE_FIELDS = ("key", "path", "stage", "gen_id", "files", "meta_status", "meta_error", "id_kind", "id_problem",
               "prefix_stage", "meta_gen_id", "meta_stage", "parent_gen_id", "mode", "expected_id", "signature_error",
               "id_matches", "required_missing", "extraneous", "invalid_values")


def is_unusual(g: Generation) -> bool:
    """Whether a check of one generation on its own might report it: unreadable, an ID that
    is not the deterministic one its metadata implies, metadata at odds with its folder,
    a field missing, extra or invalid, a parent where none belongs or none where one does,
    a required file missing. Those checks read these generations only (a partial index)."""
    a, b, c = REQUIRED_FILES
    files, stage = g.files, g.stage
    return (g.meta_status != "ok" or g.id_kind != DETERMINISTIC or g.id_matches is not True
            or g.meta_gen_id != g.gen_id or g.meta_stage != stage or g.prefix_stage != stage
            or bool(g.required_missing or g.extraneous or g.invalid_values)
            or bool(g.parent_gen_id if stage == "draft" else not g.parent_gen_id)
            or not (a in files and b in files and c in files))


@dataclass(slots=True)
class Edges:
    """Relationships of one type as columns: sources[i] -> targets[i].

    Property `name` of relationship i is props[name][i] when props[name] is a list, else
    props[name] itself (the same for every relationship of the column, like the CSV column
    name). A store mentions hundreds of thousands of IDs; columns cost a fraction of an
    object per relationship, and the graph resolves a whole column at once.
    """

    type: str
    sources: list[str]
    targets: list[str]
    props: dict[str, Any]

    def __len__(self) -> int:
        return len(self.targets)

    def place(self, i: int) -> dict[str, Any]:
        """The properties of relationship i."""
        return {k: v[i] if type(v) is list else v for k, v in self.props.items()}


@dataclass(slots=True)
class GraphData:
    """Nodes as their properties, each with its `key` and `labels` (networkx keeps both
    there; Neo4j makes the labels labels): a generation's record (read like a dict), a dict
    for every other node; the generations come first. Relationships in typed columns.

    `generations` are the generation nodes in store order, and `unusual` those of them a
    check of one generation might report (is_unusual), or a check of its link to its parent
    (`broken`): a partial index, as a database keeps, so those checks need not visit every
    node. `broken` holds the verdict on each broken link: child key -> (what is wrong, the
    parent's key, None when the link has no parent ID).
    """

    nodes: list[Generation | dict[str, Any]] = field(default_factory=list)
    edges: list[Edges] = field(default_factory=list)
    generations: list[Generation] = field(default_factory=list)
    unusual: list[Generation] = field(default_factory=list)
    broken: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def relationship_count(self) -> int:
        return sum(map(len, self.edges))


class _Resolver:
    """Turns referenced IDs into node keys; an ID without a folder becomes a Missing node.

    A place that implies a stage resolves there first. Anywhere but a cohort's membership, an
    ID found only in another stage resolves to that generation (the wrong-stage checks see it);
    with several candidates the first stage in pipeline order wins.
    """

    def __init__(self, in_stage: dict[str, dict[str, str]]):
        self.in_stage = in_stage  # stage -> gen_id -> key of the generation
        self.anywhere: dict[str, str] = {}
        for stage in reversed(STAGES):
            self.anywhere.update(self.in_stage[stage])
        self.missing: set[str] = set()

    def column(self, gen_ids: list[str], stages: list[str], exact: bool = False) -> list[str]:
        """Keys for gen_ids[i] in a place implying stages[i] (one stage for all if given one).

        The lookups run in C (map over dict.get); only the IDs not found where the place
        points (another stage, or no generation at all) are resolved one by one.
        """
        if not gen_ids:
            return []
        if len(stages) == 1 or stages.count(stages[0]) == len(stages):  # one stage for all
            here = self.in_stage.get(stages[0])
            if here is None:  # the place implies no stage
                here = {} if exact else self.anywhere
            keys = list(map(here.get, gen_ids))
        else:  # each ID in the stage of its own row (a membership file lists every stage)
            keys = list(map(dict.get, map(self.in_stage.get, stages, repeat({})), gen_ids))
        if None in keys:
            for n, key in enumerate(keys):
                if key is None:
                    gen_id = gen_ids[n]
                    key = None if exact else self.anywhere.get(gen_id)
                    if key is None:
                        self.missing.add(gen_id)
                        key = missing_key(gen_id)
                    keys[n] = key
        return keys

    def at(self, positions, keys_at: list[str | None], gen_ids: list[str], stages: list[str]) -> list[str]:
        """column() for IDs already found by the same rule (the scan's helper did): the key
        at each position (keys_at ends with None, so -1 finds it), and column() for the rest."""
        keys = list(map(keys_at.__getitem__, positions))
        if None in keys:
            rest = [n for n, key in enumerate(keys) if key is None]
            where = stages if len(stages) == 1 else [stages[n] for n in rest]
            for n, key in zip(rest, self.column([gen_ids[n] for n in rest], where)):
                keys[n] = key
        return keys


def _broken_links(data: GraphData) -> dict[str, tuple[str, str | None]]:
    """The verdict on every broken link from a generation to its parent, judged here once
    for both backends (the chain checks, orphans and every migration read it): no parent ID
    (on a readable essay or evaluation), or a parent ID that names no generation, one in
    another stage, or one whose metadata cannot be read."""
    broken: dict[str, tuple[str, str | None]] = {
        g.key: ("parent_id_missing", None) for g in data.unusual
        if g.meta_status == "ok" and g.stage != "draft" and not g.parent_gen_id}
    unreadable = {g.key for g in data.unusual if g.meta_status != "ok"}
    missing = missing_key("")
    for e in data.edges:
        if e.type != "DERIVED_FROM":
            continue
        here = gen_key(e.props["expected_stage"], "")  # the key of every parent where it belongs starts so
        if all(map(str.startswith, e.targets, repeat(here))) and unreadable.isdisjoint(e.targets):
            continue  # every parent readable and where it belongs: checked in C
        for child, parent in zip(e.sources, e.targets):
            if parent.startswith(missing):
                broken[child] = ("parent_missing", parent)
            elif not parent.startswith(here):
                broken[child] = ("parent_wrong_stage", parent)
            elif parent in unreadable:
                broken[child] = ("parent_unreadable", parent)
    return broken


@gc_paused()  # millions of objects that live on: no cyclic collection while they are made
def build(store: Store) -> GraphData:
    data = GraphData()
    nodes, edges = data.nodes, data.edges
    in_stage: dict[str, dict[str, str]] = {s: {} for s in STAGES}
    gens = data.generations
    gens += store.generations
    nodes += gens
    data.unusual += filter(is_unusual, gens)
    children: dict[str, list[Generation]] = {stage: [] for stage in PARENT_STAGE}
    for gen in gens:
        stage = gen.stage
        in_stage[stage][gen.gen_id] = gen.key
        if gen.parent_gen_id and stage in children:
            children[stage].append(gen)
    resolve = _Resolver(in_stage)

    for stage, parent_stage in PARENT_STAGE.items():
        kids = children[stage]
        edges.append(Edges("DERIVED_FROM", [g.key for g in kids],
                           resolve.column([g.parent_gen_id for g in kids], [parent_stage]),
                           {"expected_stage": parent_stage}))
    data.broken = _broken_links(data)
    if data.broken:  # children whose parent is missing, misplaced or unreadable join the index
        listed, broken = set(map(id, data.unusual)), data.broken
        data.unusual += [g for g in gens if g.key in broken and id(g) not in listed]

    for cohort in store.cohorts:
        key = cohort_key(cohort.cohort_id)
        nodes.append({"key": key, "labels": ("Cohort",), "cohort_id": cohort.cohort_id, "path": cohort.path,
                      "membership_path": cohort.membership_path})
        edges.append(Edges("INCLUDES", [key] * len(cohort.gen_ids),
                           resolve.column(cohort.gen_ids, cohort.stages, exact=True),
                           {"stage": cohort.stages, "line": cohort.lines, "path": cohort.membership_path}))

    for path in store.artifacts:
        key = artifact_key(path)
        nodes.append({"key": key, "labels": ("Artifact",), "path": path})
    # The scan's helper has resolved most references meanwhile, to positions in the generations
    # it found: usable when this store holds exactly those (equal lists compare by identity).
    scanned = store.ahead() if store.ahead is not None else None
    keys_at = [g.key for g in gens] + [None] if scanned is not None and scanned == gens else None
    for refs in store.reference_columns:
        positions = refs.positions if keys_at and len(refs.positions or ()) == len(refs.gen_ids) else None
        edges.append(Edges("REFERENCES", [artifact_key(refs.path)] * len(refs.gen_ids),
                           resolve.column(refs.gen_ids, refs.stages) if positions is None else
                           resolve.at(positions, keys_at, refs.gen_ids, refs.stages),
                           {"line": refs.lines, "column": refs.column, "kind": refs.kind, "stage": refs.stages}))

    for gen_id in sorted(resolve.missing):
        key = missing_key(gen_id)
        nodes.append({"key": key, "labels": ("Missing",), "gen_id": gen_id})

    for i, p in enumerate(store.problems):
        key = problem_key(i)
        # The generation a problem is about is `subject_*`, not `gen_id`: queries that find a
        # node by its gen_id (the Browser guide's) must not find a Problem.
        nodes.append({"key": key, "labels": ("Problem",), "check": p.check, "path": p.path,
                      "line": p.line, "message": p.message, "cohort": p.cohort,
                      "subject_stage": p.stage or None, "subject_gen_id": p.gen_id or None})
    return data
