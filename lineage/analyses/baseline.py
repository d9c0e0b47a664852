"""Baselines, as linters offer them: an earlier audit report (contract 1.0 or 1.1) whose
findings a run accepts, so that only new findings fail it.

A finding is matched by its check and its place: stage, gen_id, path, line and column. Not by
message or severity, which a later release or a --severity override may change for the same
problem. The baseline is a multiset: two identical findings in it cover two now, and a third
is new.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from lineage.analyses.audit import Report
from lineage.core.model import Finding
from lineage.core.status import UsageError

VERSIONS = ("1.0", "1.1")
MAX_BYTES = 1 << 30  # a report of a million findings fits; /dev/zero does not
KEY = ("check", "stage", "gen_id", "path", "line", "column")

Key = tuple[Any, ...]


class BaselineError(UsageError):
    """A baseline file that is not a report this version reads: one line, exit 2."""


@dataclass
class Baseline:
    path: str
    counts: Counter  # key of a finding -> how many findings of the baseline have it

    @property
    def size(self) -> int:
        return sum(self.counts.values())


def key_of(finding: Finding) -> Key:
    return (finding.check, finding.stage, finding.gen_id, finding.path, finding.line, finding.column)


def read(path: str | os.PathLike) -> Baseline:
    """The baseline in a report file; BaselineError when it is missing, not JSON or no report."""
    from lineage.core.files import read_input

    raw = read_input(path, f"baseline {os.fspath(path)}", MAX_BYTES)  # a regular file only
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BaselineError(f"baseline {os.fspath(path)} is not JSON: {exc}") from None
    return from_document(doc, os.fspath(path))


def from_document(doc: Any, path: str) -> Baseline:
    """The baseline in a parsed report, its shape checked: every finding must name its place."""
    name = f"baseline {path}"
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise BaselineError(f"{name} is not a lineage audit report (no format_version)")
    if doc["format_version"] not in VERSIONS:
        raise BaselineError(f"{name} has format_version {str(doc['format_version'])[:20]!r}; "
                            f"this lineage reads {' and '.join(VERSIONS)}")
    findings = doc.get("findings")
    if not isinstance(findings, list):
        raise BaselineError(f"{name} is not a lineage audit report (no findings list)")
    counts: Counter = Counter()
    for n, f in enumerate(findings, 1):
        problem = _shape_problem(f)
        if problem:
            raise BaselineError(f"{name}: finding {n} {problem}")
        counts[tuple(f[k] for k in KEY)] += 1
    return Baseline(path, counts)


def _shape_problem(f: Any) -> str:
    if not isinstance(f, dict):
        return "is not an object"
    missing = [k for k in KEY if k not in f]
    if missing:
        return f"has no {missing[0]}"
    if not isinstance(f["check"], str):
        return "has a check that is not a string"
    for k in ("stage", "gen_id", "path", "column"):
        if f[k] is not None and not isinstance(f[k], str):
            return f"has a {k} that is neither a string nor null"
    if f["line"] is not None and (not isinstance(f["line"], int) or isinstance(f["line"], bool)):
        return "has a line that is neither a whole number nor null"
    return ""


def apply(report: Report, baseline: Baseline, stages: list[str] | None = None) -> None:
    """Mark the findings of `report` the baseline covers (report.baselined, contract 1.1).

    A baseline finding counts as fixed only when this run looked for it: its check ran and its
    stage was reported (--check, --stage and the configuration's skip narrow a run)."""
    left = baseline.counts.copy()
    flags = []
    for f in report.findings:
        k = key_of(f)
        covered = left[k] > 0
        if covered:
            left[k] -= 1
        flags.append(covered)
    report.baselined = flags
    ran = report.statistics.get("findings_by_check")  # every check that ran (absent: all did)
    fixed = sum(n for k, n in left.items()
                if (ran is None or k[0] in ran) and (not stages or k[1] in stages))
    report.baseline = {"path": baseline.path, "findings": baseline.size, "baselined": sum(flags),
                       "fixed": fixed}
