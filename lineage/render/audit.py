"""The audit report (contract 1.0, or 1.1 with a baseline) as a table, Markdown, JSON or CSV,
and its orphans view. The tables list new findings only; the baselined ones are counted."""

from __future__ import annotations

from collections import Counter

from lineage.analyses.audit import Report
from lineage.core.text import count, terminal_text
from lineage.render.formats import Output, console_for, destination, emit_rows, rows_to_markdown, rows_to_table

FINDING_COLUMNS = ["check", "severity", "stage", "gen_id", "path", "line", "column", "cohort", "message", "details"]
ORPHAN_COLUMNS = ["check", "severity", "stage", "gen_id", "references", "path", "line", "column", "cohort", "message"]
SUMMARY_COLUMNS = ["check", "severity", "findings"]
# What a narrow terminal keeps of a finding, most important first: what is wrong, where, and why.
FINDING_PRIORITY = ["check", "gen_id", "references", "message", "severity", "path", "line", "column", "stage"]


def write_report(report: Report, fmt: str, output: Output) -> None:
    if fmt in ("json", "csv"):
        document = report.as_dict()
        columns = FINDING_COLUMNS + (["baselined"] if report.baselined is not None else [])
        emit_rows(document["findings"], columns, fmt, output, document=document)
    elif fmt == "md":
        with destination(output) as out:
            out.write(report_markdown(report))
    else:
        with destination(output) as out:
            console = console_for(out)
            console.print(rows_to_table(summary_rows(report), summary_columns(report), "Findings by check"))
            rows = [f.as_dict() for f in report.new_findings]
            if rows:
                console.print(rows_to_table(rows, FINDING_COLUMNS[:-1], findings_title(report), FINDING_PRIORITY))
            if report.baselined is not None:
                console.print(baselined_note(report), markup=False, highlight=False)


def summary_rows(report: Report) -> list[dict]:
    """Findings per check, with the severity they carry (after overrides), so a narrow
    findings table may leave the severity out; with a baseline, how many were baselined."""
    severity = {f.check: f.severity for f in report.findings}
    rows = [{"check": c, "severity": severity[c], "findings": n}
            for c, n in report.statistics["findings_by_check"].items() if n]
    if report.baselined is not None:
        old = Counter(f.check for f, b in zip(report.findings, report.baselined) if b)
        for row in rows:
            row["baselined"] = old[row["check"]]
    return rows


def summary_columns(report: Report) -> list[str]:
    return SUMMARY_COLUMNS + (["baselined"] if report.baselined is not None else [])


def findings_title(report: Report) -> str:
    return "Findings" if report.baselined is None else "New findings"


def baselined_note(report: Report) -> str:
    """Said under the tables: the baselined findings are counted there but not listed."""
    b = report.baseline or {"baselined": 0, "fixed": 0}
    return (f"{count(b['baselined'], 'baselined finding')} not listed (json and csv list every finding); "
            f"{count(b['fixed'], 'finding')} of the baseline no longer occur.")


def report_markdown(report: Report) -> str:
    s = report.statistics
    parts = [f"# lineage audit of `{terminal_text(report.data_root)}`\n",
             f"Backend {report.backend}; highest severity: **{s['max_severity']}**.\n",
             "## Generations\n",
             rows_to_markdown([{"stage": k, "folders": v} for k, v in s["generations"].items()], ["stage", "folders"]),
             "\n## ID classes\n",
             rows_to_markdown([{"class": k, "ids": v} for k, v in s["id_classes"].items()], ["class", "ids"]),
             "\n## Findings by check\n",
             rows_to_markdown(summary_rows(report), summary_columns(report)),
             f"\n## {findings_title(report)}\n",
             rows_to_markdown([f.as_dict() for f in report.new_findings], FINDING_COLUMNS[:-1])]
    if report.baselined is not None:
        parts.append(f"\n{baselined_note(report)}\n")
    return "".join(parts)


def orphan_row(f: dict) -> dict:
    """A finding as `lineage orphans` lists it: with the referenced ID named and, for metadata,
    the field that holds it."""
    details = f["details"]
    row = dict(f)
    row["references"] = details.get("parent_gen_id") or (f["gen_id"] if f["check"] != "chain.parent_id_missing" else "")
    if f["path"] and f["path"].endswith("metadata.json") and not f["column"]:
        row["column"] = "parent_gen_id"
    return row
