"""The check catalog: stable check IDs, default severities, their queries, and how a row reads.

Each check names a Cypher file in this folder and the networkx function that returns the same
rows. `describe` turns one row into a Finding; it is shared, so both backends word findings
identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lineage.core.metadata import EFFECT
from lineage.core.model import Finding
from lineage.queries import networkx_queries as nxq

QUERY_DIR = Path(__file__).parent
Row = dict[str, Any]


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    summary: str
    find: Callable  # networkx twin of the Cypher file: graph -> rows
    describe: Callable[[Row], tuple[str, dict]]  # row -> (message, details)
    on_metadata: bool = False  # the place to fix is the generation's metadata.json
    query: str = ""  # the .cypher file's stem when it is not the check ID with dots as underscores
    params: tuple[tuple[str, Any], ...] = ()  # fixed parameters for that file, besides $root

    @property
    def cypher_file(self) -> Path:
        return QUERY_DIR / f"{self.query or self.id.replace('.', '_')}.cypher"

    @property
    def cypher(self) -> str:
        return self.cypher_file.read_text(encoding="utf-8")

    def finding(self, row: Row, severity: str) -> Finding:
        message, details = self.describe(row)
        path = row.get("path")
        if self.on_metadata and path:
            path = f"{path}/metadata.json"
        return Finding(check=self.id, severity=severity, message=message, stage=row.get("stage") or None,
                       gen_id=row.get("gen_id"), path=path, line=row.get("line"),
                       column=row.get("column") or None, cohort=row.get("cohort") or None,
                       details=details)


def _a(stage: str) -> str:
    return ("an " if stage[:1] in "aeiou" else "a ") + stage


def _rebuild(row: Row) -> tuple[str, dict]:
    stage = row["stage"]
    details = {"expected_id": row["expected_id"] or None, "effect": EFFECT[stage],
               "descendants": row["descendants"]}
    what = {"draft": "the draft and", "essay": "the essay and", "evaluation": "the evaluation"}[stage]
    tail = f" {row['descendants']} descendant(s)" if stage != "evaluation" else ""
    return what + tail, details


def _legacy(row: Row) -> tuple[str, dict]:
    effect, details = _rebuild(row)
    if row["expected_id"]:
        return f"legacy ID; its metadata implies {row['expected_id']}; a rebuild regenerates {effect}", details
    return "legacy ID; its metadata implies no deterministic ID", details


def _mismatch(row: Row) -> tuple[str, dict]:
    effect, details = _rebuild(row)
    return (f"stored ID differs from {row['expected_id']}, the ID its metadata implies; "
            f"a rebuild regenerates {effect}"), details


CHECKS: list[Check] = [
    Check("store.metadata_missing", "error", "a generation folder has no metadata.json",
          nxq.metadata_missing,
          lambda r: ("no metadata.json in the generation folder", {"files": list(r["files"])})),
    Check("store.metadata_invalid", "error", "metadata.json is not UTF-8, not JSON, or not an object",
          nxq.metadata_invalid,
          lambda r: (f"metadata.json is unusable: {r['error']}", {"error": r["error"]}), on_metadata=True),
    Check("store.files_missing", "info", "a generation lacks parsed.txt, parsed_metadata.json or raw_metadata.json",
          nxq.files_missing,
          lambda r: (f"missing {', '.join(r['missing'])}" + ("" if r["has_raw"] else "; no raw.txt either"),
                     {"missing": list(r["missing"]), "has_raw": r["has_raw"]})),
    Check("store.path_skipped", "warn", "a file or folder under the data root could not be read",
          nxq.problems("store.path_skipped"),
          lambda r: (f"skipped: {r['error']}", {"error": r["error"]}), query="problems", params=(("check", "store.path_skipped"),)),
    Check("id.dir_mismatch", "error", "metadata gen_id missing or different from the folder name",
          nxq.dir_mismatch,
          lambda r: ((f"metadata gen_id {r['meta_gen_id']!r} differs from the folder name"
                      if r["meta_gen_id"] else "metadata has no gen_id"),
                     {"metadata_gen_id": r["meta_gen_id"] or None}), on_metadata=True),
    Check("id.stage_mismatch", "error", "metadata stage or ID prefix names another stage",
          nxq.stage_mismatch,
          lambda r: ((f"metadata stage is {r['other_stage']!r}" if r["source"] == "metadata"
                      else f"ID prefix belongs to the {r['other_stage']} stage")
                     + f", but the folder is under gens/{r['stage']}/",
                     {"source": r["source"], "other_stage": r["other_stage"]})),
    Check("id.malformed", "error", "the folder name is neither a deterministic nor a legacy ID",
          nxq.malformed,
          lambda r: (f"malformed ID: {r['problem']}", {"problem": r["problem"]})),
    Check("id.legacy", "info", "legacy ID (before deterministic IDs)", nxq.legacy, _legacy),
    Check("id.signature_mismatch", "warn", "deterministic-format ID that its metadata does not reproduce",
          nxq.signature_mismatch, _mismatch),
    Check("id.signature_incomplete", "warn", "signature inputs missing or invalid: no ID can be recomputed",
          nxq.signature_incomplete,
          lambda r: (f"cannot recompute the ID: {r['error']}", {"error": r["error"]}), on_metadata=True),
    Check("meta.required_missing", "error", "a required field of the stage is absent or empty",
          nxq.required_missing,
          lambda r: (f"required field {r['field']} is missing or empty", {"field": r["field"]}),
          on_metadata=True),
    Check("meta.extraneous_field", "warn", "a field that does not belong to the stage, or a legacy name",
          nxq.extraneous_field,
          lambda r: (f"extraneous field {r['field']}", {"field": r["field"].split(":")[0]}),
          on_metadata=True),
    Check("meta.invalid_value", "error", "replicate or mode has a value the pipeline does not accept",
          nxq.invalid_value,
          lambda r: (r["problem"], {"problem": r["problem"]}), on_metadata=True),
    Check("chain.parent_id_missing", "error", "an essay or evaluation without parent_gen_id",
          nxq.parent_id_missing,
          lambda r: ("no parent_gen_id", {}), on_metadata=True),
    Check("chain.parent_missing", "error", "parent_gen_id names no generation in any stage",
          nxq.parent_missing,
          lambda r: (f"parent {r['parent_gen_id']} does not exist", {"parent_gen_id": r["parent_gen_id"]}),
          on_metadata=True),
    Check("chain.parent_wrong_stage", "error", "the parent exists, but in another stage",
          nxq.parent_wrong_stage,
          lambda r: (f"parent {r['parent_gen_id']} is {_a(r['parent_stage'])}, expected {_a(r['expected_stage'])}",
                     {"parent_gen_id": r["parent_gen_id"], "parent_stage": r["parent_stage"],
                      "expected_stage": r["expected_stage"]}), on_metadata=True),
    Check("chain.parent_unreadable", "warn", "the parent's metadata is missing or invalid",
          nxq.parent_unreadable,
          lambda r: (f"parent {r['parent_gen_id']} has {r['parent_status']} metadata",
                     {"parent_gen_id": r["parent_gen_id"], "parent_metadata": r["parent_status"]}),
          on_metadata=True),
    Check("chain.ancestor_broken", "warn", "a generation further up the chain is missing, unreadable or misplaced",
          nxq.ancestor_broken,
          lambda r: (f"ancestor {r['ancestor_stage']} {r['ancestor_gen_id']}: {r['problem'].replace('_', ' ')}",
                     {"parent_gen_id": r["parent_gen_id"], "ancestor_gen_id": r["ancestor_gen_id"],
                      "ancestor_stage": r["ancestor_stage"], "problem": r["problem"]}), on_metadata=True),
    Check("chain.draft_has_parent", "warn", "a draft with a non-empty parent_gen_id",
          nxq.draft_has_parent,
          lambda r: (f"draft has parent_gen_id {r['parent_gen_id']}", {"parent_gen_id": r["parent_gen_id"]}),
          on_metadata=True),
    Check("cohort.member_missing", "error", "a membership row names a generation that does not exist in that stage",
          nxq.member_missing,
          lambda r: (f"member {r['stage']} {r['gen_id']} does not exist", {})),
    Check("cohort.membership_invalid", "error", "membership.csv is empty, lacks stage/gen_id columns or a row is short",
          nxq.problems("cohort.membership_invalid"),
          lambda r: (r["error"], {}), query="problems", params=(("check", "cohort.membership_invalid"),)),
    Check("cohort.manifest_invalid", "warn", "a cohort's manifest.json is unusable",
          nxq.problems("cohort.manifest_invalid"),
          lambda r: (r["error"], {}), query="problems", params=(("check", "cohort.manifest_invalid"),)),
    Check("cohort.unreachable", "info", "a generation listed in no cohort's membership",
          nxq.unreachable,
          lambda r: ("in no cohort's membership", {})),
    Check("ref.dangling", "warn", "an ID in a CSV cell, path, selection line or results file that matches no generation",
          nxq.dangling,
          lambda r: (f"{r['gen_id']} matches no generation", {"kind": r["kind"]})),
]

BY_ID = {c.id: c for c in CHECKS}


def select(patterns: list[str] | None) -> list[Check]:
    """Checks named exactly, or by a family prefix such as `chain` or `chain.`."""
    if not patterns:
        return list(CHECKS)
    chosen = []
    for check in CHECKS:
        if any(check.id == p or check.id.startswith(p.rstrip(".") + ".") for p in patterns):
            chosen.append(check)
    return chosen


def unknown(patterns: list[str]) -> list[str]:
    return [p for p in patterns if not select([p])]


@dataclass(frozen=True)
class Query:
    """A canned query for `lineage query`: a .cypher file and its networkx twin."""

    name: str
    summary: str
    find: Callable  # (graph, **params) -> rows
    params: tuple[str, ...] = ()  # required parameters besides $root
    fixed: tuple[tuple[str, Any], ...] = ()
    file: str = ""

    @property
    def cypher(self) -> str:
        return (QUERY_DIR / f"{self.file or self.name}.cypher").read_text(encoding="utf-8")

    @property
    def columns(self) -> list[str]:
        """The names the Cypher text's last RETURN gives its columns: the header of an empty
        result, which has no row to take them from."""
        return return_columns(self.cypher)


def return_columns(cypher: str) -> list[str]:
    """`RETURN a.x AS x, y` -> ["x", "y"], for the text's last RETURN."""
    items, depth, current = [], 0, ""
    for ch in cypher[cypher.rindex("RETURN") + len("RETURN"):]:
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += ch
    items.append(current)
    return [item.split()[-1] for item in items]


LINEAGE_QUERIES = [
    Query("ancestry", "the parents of a generation up to its draft", nxq.ancestry, ("gen_id",)),
    Query("descendants", "every generation derived from a generation, with its distance",
          nxq.descendants_of, ("gen_id",)),
    Query("rename_cascade", "what renaming a generation touches: descendants, memberships, references",
          nxq.rename_cascade, ("gen_id",)),
    Query("orphans", "essays and evaluations whose parent link is broken", nxq.orphans),
    Query("unreachable", "generations listed in no cohort's membership", nxq.unreachable,
          file="cohort_unreachable"),
    Query("counts", "generations by stage and ID class", nxq.counts),
]

# Every check is a canned query too, under its check ID.
QUERIES = {q.name: q for q in LINEAGE_QUERIES} | {
    c.id: Query(c.id, c.summary, lambda g, _c=c: _c.find(g), fixed=c.params,
                file=c.query or c.id.replace(".", "_"))
    for c in CHECKS
}
