"""`lineage audit --format junit`: valid against the Jenkins xUnit JUnit schema (vendored in
tests/fixtures/junit-10.xsd), one testcase per check, a failure per finding that fails the run."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from typer.testing import CliRunner

from lineage.cli import app
from lineage.queries.catalog import CHECKS

runner = CliRunner()

SCHEMA = xmlschema.XMLSchema(Path(__file__).resolve().parent / "fixtures" / "junit-10.xsd")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"
NO_ENV = {"LINEAGE_FAIL_ON": None}


def junit(root, *args):
    result = runner.invoke(app, ["audit", str(root), "--format", "junit", "--no-progress", "--no-config", *args],
                           env=NO_ENV)
    assert "Traceback" not in result.output, result.output
    SCHEMA.validate(result.stdout)  # raises with the reason when the document is not valid
    return result, ET.fromstring(result.stdout.encode())


def audit_json(root, *args):
    result = runner.invoke(app, ["audit", str(root), "--format", "json", "--no-progress", "--no-config", *args],
                           env=NO_ENV)
    return json.loads(result.stdout)


def cases(doc):
    return {c.get("name"): c for c in doc.iter("testcase")}


def test_the_example_store_is_valid_junit_with_the_right_counts():
    result, doc = junit(EXAMPLES, "--fail-on", "warn")
    report = audit_json(EXAMPLES)
    assert result.exit_code == 1
    [suite] = doc.findall("testsuite")
    failing = {f["check"] for f in report["findings"] if f["severity"] in ("warn", "error")}
    assert suite.get("name") == "lineage audit"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        str(len(CHECKS)), str(len(failing)), "0", "0")
    assert (doc.get("tests"), doc.get("failures"), doc.get("errors")) == (str(len(CHECKS)), str(len(failing)), "0")
    by_name = cases(doc)
    assert list(by_name) == [c.id for c in CHECKS]
    assert by_name["chain.parent_missing"].get("classname") == "chain"
    for check in CHECKS:
        found = [f for f in report["findings"] if f["check"] == check.id]
        failures = by_name[check.id].findall("failure")
        assert len(failures) == (len(found) if found and found[0]["severity"] != "info" else 0), check.id
        for element, f in zip(failures, found):
            assert element.get("message") == f["message"]
            assert element.get("type") == f["severity"]
            subject = "/".join(p for p in (f["stage"], f["gen_id"]) if p)
            assert element.text.splitlines()[0].startswith(f"{subject} {f['path']}".strip())
    # id.legacy is info: below --fail-on warn, its findings are listed, not failed.
    out = by_name["id.legacy"].find("system-out").text.splitlines()
    assert len(out) == sum(f["check"] == "id.legacy" for f in report["findings"])
    assert out[0].startswith("[info, below fail-on warn] ")


def test_place_line_and_column_in_the_failure_text(make_store):
    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/": None,
                       "6_summary/scores.csv": "gen_id,score\nd_doesnotexist00,3\n"})
    _, doc = junit(root, "--fail-on", "warn")
    [failure] = cases(doc)["ref.dangling"].findall("failure")
    assert failure.text.splitlines()[0] == "d_doesnotexist00 6_summary/scores.csv:2:gen_id"
    assert failure.get("type") == "warn"


def test_baselined_findings_are_not_failures(make_store, tmp_path):
    root = make_store({"gens/draft/d_1/": None})
    base = tmp_path / "base.json"
    runner.invoke(app, ["audit", str(root), "--write-baseline", str(base), "--no-config"], env=NO_ENV)
    (root / "gens" / "draft" / "d_2").mkdir()
    result, doc = junit(root, "--baseline", str(base))
    assert result.exit_code == 1
    case = cases(doc)["store.metadata_missing"]
    [failure] = case.findall("failure")
    assert failure.text.startswith("draft/d_2 ")
    assert case.find("system-out").text.startswith("[baselined] draft/d_1 ")
    assert doc.find("testsuite").get("failures") == "1"
    props = {p.get("name"): p.get("value") for p in doc.iter("property")}
    assert props["baseline"] == str(base) and props["fail_on"] == "error"


def test_checks_that_did_not_run_are_skipped_testcases(make_store):
    root = make_store({"gens/draft/d_1/": None})
    _, doc = junit(root, "--check", "chain")
    suite = doc.find("testsuite")
    chain = [c.id for c in CHECKS if c.family == "chain"]
    assert suite.get("skipped") == str(len(CHECKS) - len(chain))
    for name, case in cases(doc).items():
        assert (case.find("skipped") is not None) == (name not in chain)


def test_data_that_xml_cannot_carry_is_escaped_or_dropped(make_store):
    """Names and cells from the store with markup, control characters and a BOM-less odd
    character: the document stays well-formed and valid, and shows them as a terminal would."""
    weird = "d_<a&b>\x1b[31m\x01"
    root = make_store({f"gens/draft/{weird}/": None,
                       "6_summary/scores.csv": "gen_id\nd_\x0bq\"'<]]>\n"})
    _, doc = junit(root, "--fail-on", "info")
    text = ET.tostring(doc, encoding="unicode")
    assert "\x1b" not in text and "\x01" not in text and "\x0b" not in text
    failures = [f for c in doc.iter("testcase") for f in c.findall("failure")]
    assert any(f.text.startswith("draft/d_<a&b>\\x1b[31m\\x01 ") for f in failures)
    assert any("d_\\x0bq\"'<]]>" in f.get("message") for f in failures)


def test_the_junit_text_rule():
    from lineage.render.junit import xml_text

    assert xml_text("a\x00b\x1bc\ud800d\ufffee\U0001f600") == "a\\x00b\\x1bcde\U0001f600"
    assert xml_text("tab\tand\nline") == "tab\\x09and\\x0aline"


@pytest.mark.parametrize("command", [["inventory", "{root}"], ["orphans", "{root}"], ["ids", "{root}"],
                                     ["show", "{root}", "d_1"], ["duplicates", "{root}"], ["checks"]])
def test_only_audit_speaks_junit(make_store, command):
    root = make_store({"gens/draft/d_1/": None})
    result = runner.invoke(app, [a.format(root=root) for a in command] + ["--format", "junit"])
    assert result.exit_code == 2
    assert "'junit' is not one of" in result.output
