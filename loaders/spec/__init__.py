"""The cohort spec DSL of the DayDreaming pipeline (from 2025-10-02), as a library.

A cohort's spec is `data/cohorts/<id>/spec/config.yaml` with `@file:` CSV helpers beside it.
This package reads it, compiles it into the same design rows as the pipeline (same columns,
same order), and turns the rows into the drafts, essays and evaluations a cohort build would
register, with their deterministic gen_ids. Anything invalid or unsupported raises SpecError
with one line naming the construct.

    spec = load_spec("data/cohorts/c1/spec")
    rows = compile_rows(spec)                      # list of dicts, one per design row
    plan = plan_generations(spec, templates=read_template_modes("data"))
    plan.ids("essay")                              # ['e_...', ...]
    plan.generations[0].metadata("c1")             # the metadata.json the build seeds
    check_catalogs(plan, "data")                   # combos, models, replication: or SpecError

`reserve=against(existing)` (plan_generations) gives the IDs the build's collision rule on a store.
"""

from lineage.loaders.spec.catalog import check_catalogs
from lineage.loaders.spec.compiler import MAX_ROWS, compile_rows
from lineage.loaders.spec.loader import MAX_FILE_BYTES, load_spec
from lineage.loaders.spec.model import Pair, Plan, Planned, Spec, SpecError, Subset, Tie, TupleRule
from lineage.loaders.spec.planner import (Existing, Reserve, against, plan_generations, plan_rows,
                                          read_template_modes)

__all__ = [
    "MAX_FILE_BYTES", "MAX_ROWS", "Existing", "Pair", "Plan", "Planned", "Reserve", "Spec", "SpecError", "Subset",
    "Tie", "TupleRule", "against", "check_catalogs", "compile_rows", "load_spec", "plan_generations", "plan_rows",
    "read_template_modes",
]
