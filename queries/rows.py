"""The shapes of the rows the networkx twins return (the columns each .cypher file RETURNs)."""

from __future__ import annotations

from typing import Any

from lineage.loaders.lineage_graph import LineageGraph

Row = dict[str, Any]


def gen_row(n: dict, **extra: Any) -> Row:
    return {"stage": n["stage"], "gen_id": n["gen_id"], "path": n["path"], **extra}


def problems(g: LineageGraph, check: str) -> list[Row]:
    """Problems the loader recorded under `check` (see problems.cypher)."""
    return [{"path": d["path"], "line": d["line"], "cohort": d["cohort"], "error": d["message"],
             "stage": d["subject_stage"], "gen_id": d["subject_gen_id"]}
            for d in g.problem_nodes if d["check"] == check]
