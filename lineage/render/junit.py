"""The audit report as JUnit XML, the test report CI systems show beside a linter's.

One testcase per check of the catalog (classname: its family); a check that did not run (not
chosen with --check, or skipped by the configuration) is a skipped testcase. Each finding at or
above --fail-on that no baseline covers is a <failure> of its check's testcase; the others are
listed in the testcase's <system-out>. The document is built with ElementTree, which escapes;
text from the store shows control characters as a terminal does (\\x1b), and what XML 1.0
cannot carry at all (lone surrogates, U+FFFE, U+FFFF) is dropped.
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from typing import Any

import orjson

from lineage.analyses.audit import Report, fails
from lineage.core.model import Finding
from lineage.core.text import terminal_text
from lineage.queries.catalog import CHECKS
from lineage.render.formats import Output, destination

SUITE = "lineage audit"
# What XML 1.0 allows: tab, newline, carriage return, U+0020..U+D7FF, U+E000..U+FFFD and
# the supplementary planes. terminal_text has already written the C0 controls visibly.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str:
    """Data from the store made fit for an XML 1.0 document and for a person reading it."""
    return _NOT_XML.sub("", terminal_text(str(value)))


def write_junit(report: Report, fail_on: str, seconds: float, output: Output,
                timestamp: str | None = None) -> None:
    with destination(output) as out:
        out.write(junit_document(report, fail_on, seconds, timestamp))


def junit_document(report: Report, fail_on: str, seconds: float, timestamp: str | None = None) -> str:
    ran = report.statistics["findings_by_check"]  # every check that ran
    baselined = report.baselined or [False] * len(report.findings)
    by_check: dict[str, list[tuple[Finding, bool]]] = {}
    for f, old in zip(report.findings, baselined):
        by_check.setdefault(f.check, []).append((f, old))
    suite = ET.Element("testsuite", name=SUITE)
    suite.append(_properties(report, fail_on))
    failed = skipped = 0
    for check in CHECKS:
        case = ET.SubElement(suite, "testcase", classname=check.family, name=check.id)
        if check.id not in ran:
            ET.SubElement(case, "skipped", message="not run: left out by --check or the configuration's skip")
            skipped += 1
            continue
        failed += _fill_case(case, by_check.get(check.id, []), fail_on)
    counts = {"tests": str(len(CHECKS)), "failures": str(failed), "errors": "0", "time": f"{seconds:.3f}"}
    suite.attrib.update(counts, skipped=str(skipped),
                        timestamp=timestamp or time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()))
    root = ET.Element("testsuites", name="lineage", **counts)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _properties(report: Report, fail_on: str) -> ET.Element:
    props = ET.Element("properties")
    values = {"data_root": report.data_root, "backend": report.backend, "fail_on": fail_on}
    if report.baseline:
        values["baseline"] = report.baseline["path"]
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=xml_text(value))
    return props


def _fill_case(case: ET.Element, findings: list[tuple[Finding, bool]], fail_on: str) -> int:
    """Add a check's failures and quiet findings to its testcase; 1 when it failed."""
    quiet = []
    failed = 0
    for f, old in findings:
        if not old and fails(f, fail_on):
            failure = ET.SubElement(case, "failure", message=xml_text(f.message), type=f.severity)
            failure.text = _where(f)
            failed = 1
        else:
            why = "baselined" if old else f"{f.severity}, below fail-on {fail_on}"
            quiet.append(f"[{why}] {_where(f).splitlines()[0]}: {xml_text(f.message)}")
    if quiet:
        ET.SubElement(case, "system-out").text = "\n".join(quiet)
    return failed


def _where(f: Finding) -> str:
    """Where a finding is: stage/gen_id, file:line:column, (cohort), then its details."""
    subject = "/".join(p for p in (f.stage, f.gen_id) if p)
    place = ":".join(str(p) for p in (f.path, f.line, f.column) if p not in (None, ""))
    cohort = f"(cohort {f.cohort})" if f.cohort else ""
    first = " ".join(xml_text(p) for p in (subject, place, cohort) if p) or "(the data root)"
    if not f.details:
        return first
    return f"{first}\ndetails: {xml_text(orjson.dumps(f.details, default=str).decode())}"
