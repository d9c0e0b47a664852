"""The check catalog: stable check IDs, default severities, what each finds and why it matters,
and the canned lineage queries.

A check is registered next to its networkx twin, in the module of its family (store_checks,
id_checks, meta_checks, chain_checks, cohort_checks, ref_checks), with `@check(...)`; its Cypher
twin is `<family>_<name>.cypher` in this folder, and its planter in lineage.synthetic.planters.
Those three places are all a new check needs; a check whose rows are problems the loader
recorded (an unreadable file, a spec that does not compile) is one `loader_check(...)` call, its
Cypher twin the shared problems.cypher. The catalog's order (the families in that order,
each in definition order) is the order of findings and of every table of checks.

`describe` turns one row of either backend into a Finding's message and details, so both
backends word findings identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

from lineage.core.model import Finding
from lineage.queries.rows import problems

QUERY_DIR = Path(__file__).parent
Row = dict[str, Any]


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    fires_when: str  # one line, as the README's table and `lineage checks` show it
    why: str  # why it matters for a migration
    fix: str  # what to do about a finding
    find: Callable  # networkx twin of the Cypher file: graph -> rows
    describe: Callable[[Row], tuple[str, dict]]  # row -> (message, details)
    on_metadata: bool = False  # the place to fix is the generation's metadata.json
    query: str = ""  # the .cypher file's stem when it is not the check ID with dots as underscores
    params: tuple[tuple[str, Any], ...] = ()  # fixed parameters for that file, besides $root

    @property
    def family(self) -> str:
        return self.id.split(".")[0]

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


CHECKS: list[Check] = []


def check(check_id: str, severity: str, fires_when: str, *, why: str, fix: str,
          describe: Callable[[Row], tuple[str, dict]], on_metadata: bool = False, query: str = "",
          params: tuple[tuple[str, Any], ...] = ()):
    """Register the decorated function as the networkx twin of check `check_id`."""
    def register(find: Callable) -> Callable:
        CHECKS.append(Check(check_id, severity, fires_when, why, fix, find, describe, on_metadata, query, params))
        return find
    return register


def loader_check(check_id: str, severity: str, fires_when: str, *, why: str, fix: str,
                 describe: Callable[[Row], tuple[str, dict]] = lambda r: (r["error"], {})) -> None:
    """Register a check whose rows are the problems the loader recorded under its ID: one
    Cypher file (problems.cypher, with the ID as a parameter) and one networkx twin for all."""
    CHECKS.append(Check(check_id, severity, fires_when, why, fix, partial(problems, check=check_id), describe,
                        query="problems", params=(("check", check_id),)))


# The families, imported in catalog order; importing registers their checks.
from lineage.queries import (store_checks, id_checks, meta_checks, chain_checks,  # noqa: E402, F401, I001
                             cohort_checks, ref_checks)
from lineage.queries.lineage_queries import LINEAGE_QUERIES, Query  # noqa: E402

BY_ID = {c.id: c for c in CHECKS}


def select(patterns: list[str] | None) -> list[Check]:
    """Checks named exactly, or by a family prefix such as `chain` or `chain.`."""
    if not patterns:
        return list(CHECKS)
    return [c for c in CHECKS if any(c.id == p or c.id.startswith(p.rstrip(".") + ".") for p in patterns)]


def unknown(patterns: list[str]) -> list[str]:
    return [p for p in patterns if not select([p])]


# Every check is a canned query too, under its check ID.
QUERIES = {q.name: q for q in LINEAGE_QUERIES} | {
    c.id: Query(c.id, c.fires_when, lambda g, _c=c: _c.find(g), fixed=c.params,
                file=c.query or c.id.replace(".", "_"))
    for c in CHECKS
}
