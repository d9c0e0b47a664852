"""Baselines: findings of an earlier report are marked and fail nothing; new ones still fail."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.analyses import baseline
from lineage.analyses.audit import Report, exit_code_for
from lineage.cli import app
from lineage.core.model import Finding

runner = CliRunner()

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "data"
NO_ENV = {"LINEAGE_FAIL_ON": None}


def lineage(*args):
    result = runner.invoke(app, [*args, "--no-progress", "--no-config"], env=NO_ENV)
    assert "Traceback" not in result.output, result.output
    return result


def test_a_baseline_of_the_example_store_passes_until_a_new_problem_appears(tmp_path, monkeypatch):
    """`lineage audit examples/data --format json --output a.json --fail-on never`, then
    `lineage audit examples/data --baseline a.json --fail-on info` exits 0; one new problem in
    the store makes it exit 1 with only that finding new. On a copy of the example store."""
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "data", symlinks=True)
    monkeypatch.chdir(tmp_path)

    def run(*args):
        result = runner.invoke(app, ["audit", "examples/data", *args], env=NO_ENV)
        assert "Traceback" not in result.output, result.output
        return result

    assert run("--format", "json", "--output", "a.json", "--fail-on", "never").exit_code == 0
    accepted = json.loads(Path("a.json").read_text())
    assert accepted["format_version"] == "1.0" and accepted["findings"]
    n = len(accepted["findings"])

    second = run("--baseline", "a.json", "--fail-on", "info")
    assert second.exit_code == 0, second.output
    assert f"OK: 295 generations, 0 errors, 0 warnings, 0 info, {n} baselined" in second.stderr

    # One new problem: a summary CSV names a generation that does not exist.
    Path("examples/data/6_summary/planted.csv").write_text("gen_id\nd_doesnotexist00\n")
    third = run("--baseline", "a.json", "--fail-on", "info")
    assert third.exit_code == 1, third.output
    assert f"FAIL: 295 generations, 0 errors, 1 warning, 0 info, {n} baselined" in third.stderr
    doc = json.loads(run("--baseline", "a.json", "--fail-on", "info", "--format", "json").stdout)
    assert doc["format_version"] == "1.1"
    new = [f for f in doc["findings"] if not f["baselined"]]
    assert [(f["check"], f["path"], f["line"], f["column"]) for f in new] == [
        ("ref.dangling", "6_summary/planted.csv", 2, "gen_id")]
    assert doc["baseline"] == {"path": "a.json", "findings": n, "baselined": n, "fixed": 0}


def finding(check="store.metadata_missing", gen_id="d_1", severity="error", **place):
    return Finding(check=check, severity=severity, message="m", stage="draft", gen_id=gen_id,
                   path=place.get("path", f"gens/draft/{gen_id}"), line=place.get("line"),
                   column=place.get("column"))


def report_of(*findings):
    return Report(data_root="data", backend="networkx", statistics={"max_severity": "error"},
                  findings=list(findings))


def test_a_baseline_is_a_multiset_matched_by_check_and_place():
    old = report_of(finding(), finding(), finding(gen_id="d_2", line=3, column="gen_id"))
    base = baseline.from_document(old.as_dict(), "old.json")
    now = report_of(finding(), finding(), finding(),  # two covered, the third is new
                    finding(gen_id="d_2", line=4, column="gen_id"),  # another line: new
                    finding(check="id.malformed"))  # another check, same place: new
    baseline.apply(now, base)
    assert now.baselined == [True, True, False, False, False]
    assert now.baseline == {"path": "old.json", "findings": 3, "baselined": 2, "fixed": 1}
    assert exit_code_for(now, "error") == 1
    # The message and the severity are not part of the match: a reworded finding is the same one.
    again = report_of(Finding(check="store.metadata_missing", severity="warn", message="reworded",
                              stage="draft", gen_id="d_1", path="gens/draft/d_1"))
    baseline.apply(again, base)
    assert again.baselined == [True]
    assert exit_code_for(again, "info") == 0


def test_without_a_baseline_the_report_is_contract_1_0_exactly(make_store):
    root = make_store({"gens/draft/d_1/": None})
    result = lineage("audit", str(root), "--format", "json")
    doc = json.loads(result.stdout)
    assert doc["format_version"] == "1.0"
    assert "baseline" not in doc
    assert all("baselined" not in f for f in doc["findings"])
    assert list(doc) == ["format_version", "tool", "backend", "data_root", "statistics", "findings"]


def test_write_baseline_exits_0_and_the_file_is_a_baseline(make_store, tmp_path):
    root = make_store({"gens/draft/d_1/": None})
    target = tmp_path / "baseline.json"
    result = lineage("audit", str(root), "--write-baseline", str(target), "--fail-on", "info")
    assert result.exit_code == 0, result.output
    assert f"to the baseline {target}" in result.stderr
    assert lineage("audit", str(root), "--baseline", str(target), "--fail-on", "info").exit_code == 0
    # Writing over the baseline in use keeps every finding in the new file.
    assert lineage("audit", str(root), "--baseline", str(target), "--write-baseline", str(target)).exit_code == 0
    assert len(json.loads(target.read_text())["findings"]) == 2
    assert lineage("audit", str(root), "--baseline", str(target), "--fail-on", "info").exit_code == 0
    result = lineage("audit", str(root), "--write-baseline", str(root / "b.json"))
    assert result.exit_code == 2 and "inside the data root" in result.stderr


@pytest.mark.parametrize("content,message", [
    (None, "cannot read baseline {path}: No such file or directory"),
    (b"", "is not JSON"),
    (b"{oops", "is not JSON"),
    (b"[]", "is not a lineage audit report (no format_version)"),
    (b'{"findings": []}', "is not a lineage audit report (no format_version)"),
    (b'{"format_version": "2.0", "findings": []}', "has format_version '2.0'; this lineage reads 1.0 and 1.1"),
    (b'{"format_version": "1.0"}', "no findings list"),
    (b'{"format_version": "1.0", "findings": [1]}', "finding 1 is not an object"),
    (b'{"format_version": "1.0", "findings": [{"check": "x"}]}', "finding 1 has no stage"),
    (b'{"format_version": "1.0", "findings": [{"check": "x", "stage": null, "gen_id": null, "path": null,'
     b' "line": "3", "column": null}]}', "finding 1 has a line that is neither a whole number nor null"),
    (b'{"format_version": "1.0", "findings": [{"check": 5, "stage": null, "gen_id": null, "path": null,'
     b' "line": 3, "column": null}]}', "finding 1 has a check that is not a string"),
])
def test_a_bad_baseline_is_one_line_and_exit_2(make_store, tmp_path, content, message):
    root = make_store({"gens/draft/d_1/": None})
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_bytes(content)
    result = lineage("audit", str(root), "--baseline", str(path))
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("lineage: error: ")
    assert message.format(path=path) in line


def test_a_fifo_as_baseline_is_refused_without_reading(make_store, tmp_path):
    import os

    root = make_store({"gens/draft/d_1/": None})
    os.mkfifo(tmp_path / "fifo.json")
    result = lineage("audit", str(root), "--baseline", str(tmp_path / "fifo.json"))
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr


def test_human_formats_count_baselined_findings_and_list_new_ones(make_store, tmp_path):
    root = make_store({"gens/draft/d_1/": None})
    target = tmp_path / "b.json"
    lineage("audit", str(root), "--write-baseline", str(target))
    (root / "gens" / "draft" / "d_2").mkdir()
    table = lineage("audit", str(root), "--baseline", str(target))
    assert table.exit_code == 1
    assert "New findings" in table.stdout and "d_2" in table.stdout and "d_1" not in table.stdout
    assert "baselined" in table.stdout
    assert "2 baselined findings not listed" in table.stdout
    assert "1 error, 0 warnings, 1 info, 2 baselined" in table.stderr
    md = lineage("audit", str(root), "--baseline", str(target), "--format", "md").stdout
    assert "## New findings" in md and "| check | severity | findings | baselined |" in md and "d_1 |" not in md
    csv_rows = lineage("audit", str(root), "--baseline", str(target), "--format", "csv").stdout.splitlines()
    assert csv_rows[0].endswith(",details,baselined")
    assert len(csv_rows) == 5


def test_fixed_counts_only_findings_this_run_looked_for(tmp_path):
    # A narrower run (--check, --stage, the configuration's skip) does not call the findings it
    # did not look for fixed; a finding that is gone from a check that ran is.
    target = tmp_path / "b.json"
    assert lineage("audit", str(EXAMPLES), "--write-baseline", str(target)).exit_code == 0
    for args in (["--check", "chain"], ["--stage", "draft"]):
        result = lineage("audit", str(EXAMPLES), "--baseline", str(target), "--format", "json", *args)
        doc = json.loads(result.stdout)
        assert doc["baseline"]["baselined"] == len(doc["findings"]) > 0, args
        assert doc["baseline"]["fixed"] == 0, args
    doc = json.loads(target.read_text())
    doc["findings"].append({**doc["findings"][0], "gen_id": "gone"})
    target.write_text(json.dumps(doc))
    result = lineage("audit", str(EXAMPLES), "--baseline", str(target), "--format", "json",
                     "--check", doc["findings"][0]["check"])
    assert json.loads(result.stdout)["baseline"]["fixed"] == 1


def test_write_baseline_to_stdout_is_refused(make_store):
    root = make_store({"gens/draft/d_1/": None})
    result = lineage("audit", str(root), "--write-baseline", "-", "--format", "json")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--write-baseline needs a file" in result.stderr
