"""Checks of the IDs other files mention."""

from __future__ import annotations

from lineage.loaders.lineage_graph import LineageGraph
from lineage.queries.catalog import Row, check
from lineage.queries.cohort_checks import to_missing


@check("ref.dangling", "warn",
       "an ID in a CSV `*gen_id*` column, a `gens/<stage>/<id>` path in any cell, a selection-file line or a "
       "`results/<id>.txt` name that matches no generation",
       why="A report, score table or selection names a generation that is gone (or was renamed without it): "
           "numbers built on it cannot be traced back.",
       fix="Regenerate the report, remove the stale row or line, or restore the generation.",
       describe=lambda r: (f"{r['gen_id']} matches no generation", {"kind": r["kind"]}))
def dangling(g: LineageGraph) -> list[Row]:
    return [{"stage": pl["stage"], "gen_id": m["gen_id"], "path": g.nodes[u]["path"], "line": pl["line"],
             "column": pl["column"], "kind": pl["kind"]} for u, m, pl in to_missing(g, "REFERENCES")]
