"""The findings report: every section, with the numbers of the run, written outside the root."""

import json

from typer.testing import CliRunner

from lineage.cli import app
from lineage import synthetic

runner = CliRunner()


def test_report_has_every_section_with_the_runs_numbers(tmp_path):
    root = tmp_path / "data"
    synthetic.generate(str(root), 400, seed=4, legacy_fraction=0.3, mismatch_fraction=0.05)
    out = tmp_path / "reports"
    result = runner.invoke(app, ["report", str(root), "--output", f"{out}/", "--no-progress"])
    assert result.exit_code == 0, result.output
    [written] = list(out.glob("findings_*.md"))
    text = written.read_text()
    for heading in ("## 1. Inventory", "## 2. Metadata validation", "## 3. Parent chains",
                    "## 4. ID recomputation", "## 5. Cohort-mode behaviour", "## 6. Rename impact",
                    "## 7. Recommendation"):
        assert heading in text
    inv = json.loads(runner.invoke(app, ["inventory", str(root), "-f", "json", "--no-progress"]).stdout)
    legacy = inv["length_heuristic"]["shape_legacy"]
    assert legacy > 0 and f"({legacy:,} legacy and" in text
    assert "legacy essays sampled" in text and "Mixed-ID operation" in text


def test_report_refuses_to_write_inside_the_data_root(make_store):
    root = make_store({"gens/draft/43ftibqi56628az1/": None})
    result = runner.invoke(app, ["report", str(root), "--output", f"{root}/docs/"])
    assert result.exit_code == 2
    assert not (root / "docs").exists()
