"""The check catalog: one place per check (its entry beside its networkx twin, its .cypher file,
its planter), the catalog table of docs/audit.md generated from it, and `lineage checks`."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.cli import app
from lineage.queries.catalog import CHECKS
from lineage.render.checks import catalog_markdown, generated_table
from lineage.synthetic import ALL_PROBLEMS
from lineage.synthetic.planters import PLANTERS

runner = CliRunner()
CATALOG_PAGE = Path(__file__).resolve().parent.parent / "docs" / "audit.md"


def test_the_generated_table_is_the_catalog():
    """Regenerate it with `lineage checks --format md` between the two markers in docs/audit.md."""
    assert generated_table(CATALOG_PAGE.read_text(encoding="utf-8")) == catalog_markdown()


def test_every_check_has_its_three_places_and_its_texts():
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))
    families = [c.family for c in CHECKS]
    assert families == sorted(families, key=["store", "id", "meta", "chain", "cohort", "ref"].index)
    for c in CHECKS:
        assert c.cypher_file.is_file(), c.id
        assert c.id in PLANTERS, f"{c.id} has no planter in lineage.synthetic.planters"
        assert c.fires_when and c.why and c.fix, c.id
    assert ALL_PROBLEMS == tuple(ids)


def test_checks_lists_the_catalog_in_every_format():
    result = runner.invoke(app, ["checks", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["check"] for r in rows] == [c.id for c in CHECKS]
    assert all(r["why"] and r["fix"] for r in rows)
    result = runner.invoke(app, ["checks", "--format", "md"])
    assert result.exit_code == 0 and result.stdout == catalog_markdown()
    result = runner.invoke(app, ["checks", "--format", "csv"])
    assert result.exit_code == 0 and result.stdout.count("\n") == len(CHECKS) + 1


@pytest.mark.parametrize("check", [c.id for c in CHECKS])
def test_a_check_explained_with_a_real_example(check):
    result = runner.invoke(app, ["checks", check, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["check"] == check and doc["why"] and doc["fix"]
    assert doc["example"]["check"] == check  # audited from a store where it was planted


def test_an_unknown_check_is_a_usage_error_that_suggests():
    result = runner.invoke(app, ["checks", "parent_missing"])
    assert result.exit_code == 2 and "chain.parent_missing" in result.stderr
    result = runner.invoke(app, ["audit", ".", "--check", "nosuch"])
    assert result.exit_code == 2 and "lineage checks" in result.stderr
