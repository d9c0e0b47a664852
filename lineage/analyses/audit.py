"""The audit: run the check catalog on a loaded graph and assemble the report (contract 1.0;
1.1 when a baseline was applied, lineage.analyses.baseline)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Protocol

from lineage import __version__
from lineage.core import ids
from lineage.core.model import SEVERITY_RANK, Finding
from lineage.core.perf import gc_paused
from lineage.queries.catalog import CHECKS, Check

FORMAT_VERSION = "1.0"
BASELINE_FORMAT_VERSION = "1.1"  # 1.0 plus `baselined` on each finding and the `baseline` summary
STAGE_ORDER = {s: i for i, s in enumerate(ids.STAGES)}
CHECK_ORDER = {c.id: i for i, c in enumerate(CHECKS)}


class Backend(Protocol):
    """What the audit needs from a loaded graph, whichever database holds it."""

    name: str
    # How many questions it answers at once. A database server works on several queries in
    # parallel, on its own cores, while this process turns answers into findings; the
    # in-memory graph answers one at a time, in this process.
    concurrency: int

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
    # Set when a baseline was applied: baselined[i] says findings[i] was already in it, and
    # baseline sums it up (path, findings in the file, baselined now, fixed since).
    baselined: list[bool] | None = None
    baseline: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        head = {"tool": {"name": "lineage", "version": __version__}, "backend": self.backend,
                "data_root": self.data_root}
        if self.baselined is None:  # contract 1.0 exactly, as before baselines existed
            return {"format_version": FORMAT_VERSION, **head, "statistics": self.statistics,
                    "findings": [f.as_dict() for f in self.findings]}
        return {"format_version": BASELINE_FORMAT_VERSION, **head, "baseline": self.baseline,
                "statistics": self.statistics,
                "findings": [f.as_dict() | {"baselined": b} for f, b in zip(self.findings, self.baselined)]}

    @property
    def new_findings(self) -> list[Finding]:
        """The findings a baseline does not cover (all of them without a baseline)."""
        if self.baselined is None:
            return self.findings
        return [f for f, b in zip(self.findings, self.baselined) if not b]

    @property
    def max_severity(self) -> str:
        return self.statistics["max_severity"]


def _findings(checks: list[Check], answers: Iterable[list[dict[str, Any]]], severity: dict[str, str] | None,
              stages: Iterable[str] | None) -> list[Finding]:
    """Each check's rows as findings, in catalog order, then sorted as the report lists them."""
    severity = severity or {}
    stages = set(stages or ())
    findings = []
    for check, rows in zip(checks, answers):
        level = severity.get(check.id, check.severity)
        for row in rows:
            f = check.finding(row, level)
            if stages and f.stage not in stages:
                continue
            findings.append(f)
    findings.sort(key=_order)
    return findings


@contextmanager
def _asking(backend: Backend) -> Iterator[Callable[..., Callable[[], Any]]]:
    """ask(fn, *args) puts one question to the backend and returns what waits for its answer.
    A backend that answers one at a time is asked when the answer is awaited, so each check's
    rows become findings before the next check runs. To one that answers several at once, the
    questions all go out first, on that many threads; a failure cancels those not yet sent."""
    if backend.concurrency <= 1:
        yield partial
        return
    pool = ThreadPoolExecutor(backend.concurrency, thread_name_prefix=f"lineage-{backend.name}")
    try:
        yield lambda fn, *args: pool.submit(fn, *args).result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _order(f: Finding):
    return (CHECK_ORDER.get(f.check, 99), STAGE_ORDER.get(f.stage or "", 9), f.gen_id or "", f.path or "",
            f.line or 0, f.column or "", f.message)


def statistics(tally: dict[tuple[str, str, int], int], findings: list[Finding],
               checks: Iterable[Check]) -> dict[str, Any]:
    generations = {s: 0 for s in ids.STAGES}
    classes = {ids.DETERMINISTIC: 0, ids.LEGACY: 0, ids.MALFORMED: 0}
    lengths: dict[str, Counter] = {s: Counter() for s in ids.STAGES}
    for (stage, kind, length), count in tally.items():
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
    # gc paused: rows and findings pile up on a heap that already holds the whole graph.
    with gc_paused(), _asking(backend) as ask:
        tally = ask(backend.id_tally)
        answers = [ask(backend.rows, c) for c in checks]
        findings = _findings(checks, (answer() for answer in answers), severity, stages)
        counted = tally()
    return Report(data_root=data_root, backend=backend.name,
                  statistics=statistics(counted, findings, checks), findings=findings)


def fails(finding: Finding, fail_on: str) -> bool:
    """Whether this finding, unless a baseline covers it, fails a run with --fail-on."""
    return fail_on != "never" and SEVERITY_RANK[finding.severity] >= SEVERITY_RANK[fail_on]


def exit_code_for(report: Report, fail_on: str) -> int:
    """1 when a finding the baseline does not cover is at or above --fail-on, else 0 (`never`
    never fails)."""
    return 1 if any(fails(f, fail_on) for f in report.new_findings) else 0
