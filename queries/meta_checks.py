"""Checks of one generation's metadata fields: required, extraneous and invalid."""

from __future__ import annotations

from lineage.loaders.lineage_graph import LineageGraph
from lineage.queries.catalog import Row, check
from lineage.queries.rows import gen_row


@check("meta.required_missing", "error", "a required field of the stage is absent or empty",
       why="The pipeline's build and a migration both need these fields; without them the generation cannot "
           "be rebuilt, renamed or matched by fill-up.",
       fix="Fill in the field (the message names it) from the cohort's membership row or the run's records.",
       describe=lambda r: (f"required field {r['field']} is missing or empty", {"field": r["field"]}),
       on_metadata=True)
def required_missing(g: LineageGraph) -> list[Row]:
    return [gen_row(n, field=f) for n in g.unusual for f in n["required_missing"]]


@check("meta.extraneous_field", "warn",
       "a field that does not belong to the stage (e.g. `combo_id` on an essay) or a legacy field name",
       why="Old names (cohort_id, model_id, essay_template) and run details are not read by today's pipeline; "
           "a field under an old name is as good as missing.",
       fix="Rename legacy names to the current ones (the message says which); drop run details if unwanted.",
       describe=lambda r: (f"extraneous field {r['field']}", {"field": r["field"].split(":")[0]}),
       on_metadata=True)
def extraneous_field(g: LineageGraph) -> list[Row]:
    return [gen_row(n, field=f) for n in g.unusual for f in n["extraneous"]]


@check("meta.invalid_value", "error",
       "`replicate` not a positive integer (a digit string is accepted), `mode` not `llm`/`copy`, or `copy` "
       "outside essays",
       why="The pipeline rejects these values when it materializes the generation again, and the ID "
           "computation may reject them too.",
       fix="Correct the value: replicate >= 1, mode llm (copy only for essays built from a draft's parsed text).",
       describe=lambda r: (r["problem"], {"problem": r["problem"]}), on_metadata=True)
def invalid_value(g: LineageGraph) -> list[Row]:
    return [gen_row(n, problem=p) for n in g.unusual for p in n["invalid_values"]]
