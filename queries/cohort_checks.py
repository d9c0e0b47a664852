"""Checks of cohorts: membership rows without a generation, unusable membership, manifest and
spec files, memberships that disagree with their spec, and generations in no cohort."""

from __future__ import annotations

from operator import attrgetter
from typing import Iterator

from lineage.loaders.lineage_graph import LineageGraph
from lineage.queries.catalog import Row, check, loader_check
from lineage.queries.rows import gen_row


def to_missing(g: LineageGraph, rel_type: str) -> Iterator[tuple[str, dict, dict]]:
    """(source, missing node, properties) of every relationship of a type into a Missing node."""
    missing = g.missing_keys
    for e in g.columns_of(rel_type):
        if missing.isdisjoint(e.targets):  # the usual column: checked in C
            continue
        for i, v in enumerate(e.targets):
            if v in missing:
                yield e.sources[i], g.nodes[v], e.place(i)


@check("cohort.member_missing", "error", "a membership row names a generation that does not exist in that stage",
       why="A cohort build or report that reads this membership finds nothing there (or, with a rebuild, "
           "regenerates it and pays for the calls).",
       fix="Remove the row, or restore the generation (a cascade delete leaves memberships stale).",
       describe=lambda r: (f"member {r['stage']} {r['gen_id']} does not exist", {}))
def member_missing(g: LineageGraph) -> list[Row]:
    return [{"stage": pl["stage"], "gen_id": m["gen_id"], "path": pl["path"], "line": pl["line"],
             "column": "gen_id", "cohort": g.nodes[u]["cohort_id"]} for u, m, pl in to_missing(g, "INCLUDES")]


loader_check("cohort.membership_invalid", "error",
             "a `membership.csv` is empty or lacks the `stage`/`gen_id` columns, or a row is short",
             why="The cohort's members cannot be read: every generation in it looks unreachable, and a migration "
                 "cannot update it.",
             fix="Export it again as CSV with a stage,gen_id header (a ';' separator from a spreadsheet is the usual "
                 "cause), or complete the short row.")


loader_check("cohort.manifest_invalid", "warn",
             "a cohort's `manifest.json` is unusable: not UTF-8, not a JSON object, or `combos` not a list / "
             "`templates`, `llms`, `replication` not objects",
             why="A Cartesian rebuild reads its parameters from the manifest: without them it cannot be simulated "
                 "or repeated.",
             fix="Repair the JSON (the message says which field is wrong), or write it again from the cohort's "
                 "configuration.")


# Both spec checks warn: the generations themselves are sound, and neither blocks a migration.
# A disagreement is the normal state between editing a spec and building the cohort again (the
# build rewrites membership.csv), and an unusable spec stops the next build, not the data.
loader_check("cohort.spec_invalid", "warn",
             "a cohort's `spec/config.yaml` cannot be compiled: invalid YAML or DSL, a helper file missing or outside "
             "the spec folder, a construct lineage does not support, or a plan the pipeline refuses",
             why="The next build of the cohort fails, and its membership cannot be checked against the spec.",
             fix="Correct the spec where the message points (it names the file, the rule and the value).")


loader_check("cohort.spec_mismatch", "warn",
             "a cohort's `membership.csv` disagrees with its compiled `spec/config.yaml`: a member the spec does not "
             "plan, or a planned generation the membership does not list (one finding each)",
             why="Reports and partitions follow the membership, the next build follows the spec: the cohort is not "
                 "what either says, and a rebuild adds or drops generations (and pays for the new ones).",
             fix="If the spec was edited on purpose, build the cohort again (`lineage cohorts simulate DATA_ROOT "
                 "--cohort ID` says what that costs); if the membership was edited by hand, build it again from the "
                 "spec or restore the spec it was built from.",
             describe=lambda r: (r["error"], {"in_membership": r["line"] is not None}))


@check("cohort.unreachable", "info", "a generation listed in no cohort's membership",
       why="No cohort build, report or partition set reaches it: it is either an orphan of a deleted cohort or "
           "work nobody will see.",
       fix="Add it to the cohort it belongs to (its origin_cohort_id says which), or delete it if it is waste.",
       describe=lambda r: ("in no cohort's membership", {}))
def unreachable(g: LineageGraph) -> list[Row]:
    included: set[str] = set()
    for e in g.columns_of("INCLUDES"):
        included.update(e.targets)
    if included.issuperset(map(attrgetter("key"), g.generations)):
        return []  # every generation in some cohort, found in C: the usual case
    return [gen_row(n) for n in g.generations if n["key"] not in included]
