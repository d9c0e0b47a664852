"""The lineage graph both backends load: node keys, labels, properties and resolved edges.

Resolving a referenced ID to a node happens once, here, so networkx and Neo4j hold the same
graph. A referenced ID without a folder becomes a `Missing` node, so orphans stay visible.

Nodes: Generation (+ Draft|Essay|Evaluation), Missing, Cohort, Artifact, Problem (a file the
loader could not use). Edges: (child)-[:DERIVED_FROM]->(parent), (cohort)-[:INCLUDES]->(gen),
(artifact)-[:REFERENCES {line, column}]->(gen or missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lineage.ids import PARENT_STAGE, STAGES
from lineage.model import Generation, Store

STAGE_LABEL = {"draft": "Draft", "essay": "Essay", "evaluation": "Evaluation"}


def gen_key(stage: str, gen_id: str) -> str:
    return f"gen:{stage}/{gen_id}"


def missing_key(gen_id: str) -> str:
    return f"missing:{gen_id}"


def generation_props(gen: Generation) -> dict[str, Any]:
    """Flat properties (text, numbers, booleans, lists of text) so Neo4j can store them too."""
    return {
        "key": gen_key(gen.stage, gen.gen_id),
        "stage": gen.stage,
        "gen_id": gen.gen_id,
        "path": gen.path,
        "files": list(gen.files),
        "meta_status": gen.meta_status,
        "meta_error": gen.meta_error,
        "id_kind": gen.id_kind,
        "id_problem": gen.id_problem,
        "prefix_stage": gen.prefix_stage,
        "meta_gen_id": gen.meta_gen_id,
        "meta_stage": gen.meta_stage,
        "parent_gen_id": gen.parent_gen_id,
        "mode": gen.mode,
        "expected_id": gen.expected_id,
        "signature_error": gen.signature_error,
        "id_matches": gen.id_matches,
        "required_missing": gen.required_missing,
        "extraneous": gen.extraneous,
        "invalid_values": gen.invalid_values,
    }


@dataclass(slots=True)
class GraphData:
    """Nodes as (key, labels, props); edges as (source key, target key, type, props)."""

    nodes: list[tuple[str, tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    edges: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)


def build(store: Store) -> GraphData:
    data = GraphData()
    nodes, edges = data.nodes, data.edges
    by_id: dict[str, dict[str, str]] = {}  # gen_id -> stage -> key
    for gen in store.generations:
        props = generation_props(gen)
        nodes.append((props["key"], ("Generation", STAGE_LABEL[gen.stage]), props))
        by_id.setdefault(gen.gen_id, {})[gen.stage] = props["key"]

    missing: set[str] = set()

    def resolve(gen_id: str, stage: str, exact: bool) -> str:
        stages = by_id.get(gen_id)
        if stages:
            key = stages.get(stage)
            if key is not None:
                return key
            if not exact:
                if len(stages) == 1:  # the usual case: an ID lives in one stage
                    for key in stages.values():
                        return key
                return next(stages[s] for s in STAGES if s in stages)
        missing.add(gen_id)
        return missing_key(gen_id)

    for gen in store.generations:
        parent_stage = PARENT_STAGE.get(gen.stage)
        if parent_stage and gen.parent_gen_id:
            edges.append((gen_key(gen.stage, gen.gen_id), resolve(gen.parent_gen_id, parent_stage, False),
                          "DERIVED_FROM", {"expected_stage": parent_stage}))

    for cohort in store.cohorts:
        key = f"cohort:{cohort.cohort_id}"
        nodes.append((key, ("Cohort",), {"key": key, "cohort_id": cohort.cohort_id, "path": cohort.path,
                                         "membership_path": cohort.membership_path}))
        for m in cohort.members:
            edges.append((key, resolve(m.gen_id, m.stage, True), "INCLUDES",
                          {"stage": m.stage, "line": m.line, "path": cohort.membership_path}))

    for path in store.artifacts:
        key = f"artifact:{path}"
        nodes.append((key, ("Artifact",), {"key": key, "path": path}))
    for ref in store.references:
        edges.append((f"artifact:{ref.path}", resolve(ref.gen_id, ref.stage, False), "REFERENCES",
                      {"line": ref.line, "column": ref.column, "kind": ref.kind, "stage": ref.stage}))

    for gen_id in sorted(missing):
        key = missing_key(gen_id)
        nodes.append((key, ("Missing",), {"key": key, "gen_id": gen_id}))

    for i, p in enumerate(store.problems):
        key = f"problem:{i}"
        nodes.append((key, ("Problem",), {"key": key, "check": p.check, "path": p.path,
                                          "line": p.line, "message": p.message, "cohort": p.cohort}))
    return data
