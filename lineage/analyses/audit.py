"""The audit: run the check catalog on a loaded graph and assemble the report (contract 1.0)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from lineage import __version__
from lineage.core import ids
from lineage.core.model import SEVERITY_RANK, Finding
from lineage.core.perf import gc_paused
from lineage.queries.catalog import CHECKS, Check

FORMAT_VERSION = "1.0"
STAGE_ORDER = {s: i for i, s in enumerate(ids.STAGES)}
CHECK_ORDER = {c.id: i for i, c in enumerate(CHECKS)}


class Backend(Protocol):
    """What the audit needs from a loaded graph, whichever database holds it."""

    name: str

    def rows(self, check: Check) -> list[dict[str, Any]]: ...

    def id_tally(self) -> dict[tuple[str, str, int], int]:
        """How many generations there are per (stage, id_kind, length of the ID)."""
        ...


@dataclass
class Report:
    data_root: str
    backend: str
    statistics: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "tool": {"name": "lineage", "version": __version__},
            "backend": self.backend,
            "data_root": self.data_root,
            "statistics": self.statistics,
            "findings": [f.as_dict() for f in self.findings],
        }

    @property
    def max_severity(self) -> str:
        return self.statistics["max_severity"]


def run_checks(backend: Backend, checks: Iterable[Check], severity: dict[str, str] | None = None,
               stages: Iterable[str] | None = None) -> list[Finding]:
    severity = severity or {}
    stages = set(stages or ())
    findings = []
    for check in checks:
        level = severity.get(check.id, check.severity)
        for row in backend.rows(check):
            f = check.finding(row, level)
            if stages and f.stage not in stages:
                continue
            findings.append(f)
    findings.sort(key=_order)
    return findings


def _order(f: Finding):
    return (CHECK_ORDER.get(f.check, 99), STAGE_ORDER.get(f.stage or "", 9), f.gen_id or "", f.path or "",
            f.line or 0, f.column or "", f.message)


def statistics(backend: Backend, findings: list[Finding], checks: Iterable[Check]) -> dict[str, Any]:
    generations = {s: 0 for s in ids.STAGES}
    classes = {ids.DETERMINISTIC: 0, ids.LEGACY: 0, ids.MALFORMED: 0}
    lengths: dict[str, Counter] = {s: Counter() for s in ids.STAGES}
    for (stage, kind, length), count in backend.id_tally().items():
        generations[stage] += count
        classes[kind] += count
        lengths[stage][length] += count
    by_check = {c.id: 0 for c in checks}
    for f in findings:
        by_check[f.check] = by_check.get(f.check, 0) + 1
    worst = max((SEVERITY_RANK[f.severity] for f in findings), default=0)
    return {
        "generations": generations,
        "id_classes": classes,
        "id_lengths": {s: {str(n): c[n] for n in sorted(c, reverse=True)} for s, c in lengths.items()},
        "findings_by_check": by_check,
        "max_severity": next(k for k, v in SEVERITY_RANK.items() if v == worst),
    }


def audit(backend: Backend, data_root: str, checks: list[Check] | None = None,
          severity: dict[str, str] | None = None, stages: Iterable[str] | None = None) -> Report:
    checks = list(CHECKS) if checks is None else checks
    with gc_paused():  # rows and findings pile up on a heap that already holds the whole graph
        findings = run_checks(backend, checks, severity, stages)
    return Report(data_root=data_root, backend=backend.name,
                  statistics=statistics(backend, findings, checks), findings=findings)


def exit_code_for(report: Report, fail_on: str) -> int:
    """1 when a finding is at or above --fail-on, else 0 (`never` never fails)."""
    if fail_on == "never":
        return 0
    return 1 if SEVERITY_RANK[report.max_severity] >= SEVERITY_RANK[fail_on] else 0
