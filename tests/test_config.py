"""The configuration file: where it is found, what it may say, and how a bad one is said."""

import pytest

from lineage.core import config as cfgmod
from lineage.core.config import Config, ConfigError


# --- where the file is found -------------------------------------------------------------------

def test_the_nearest_file_with_lineage_config_wins(tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (tmp_path / "lineage.toml").write_text('fail-on = "info"\n')
    # A pyproject.toml without [tool.lineage] (any project's) does not stop the search...
    (tmp_path / "a" / "b" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert cfgmod.load(deep) == Config(path=tmp_path / "lineage.toml", fail_on="info")
    # ...one with it does, even an empty table.
    (tmp_path / "a" / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.lineage]\n')
    assert cfgmod.load(deep) == Config(path=tmp_path / "a" / "pyproject.toml")
    # In one folder a lineage.toml comes before the pyproject.toml.
    (tmp_path / "a" / "lineage.toml").write_text('fail-on = "warn"\n')
    assert cfgmod.load(deep).path == tmp_path / "a" / "lineage.toml"


def test_no_file_up_to_the_root_is_no_configuration(tmp_path):
    assert cfgmod.find(tmp_path) is None
    assert cfgmod.load(tmp_path) == Config()


def test_files_in_the_ignored_folder_are_passed_over_and_said(tmp_path):
    (tmp_path / "lineage.toml").write_text('fail-on = "info"\n')
    root = tmp_path / "data"
    (root / "gens").mkdir(parents=True)
    (root / "lineage.toml").write_text('fail-on = "never"\n')
    (root / "gens" / "pyproject.toml").write_text("not even TOML")  # not parsed, not said
    seen = []
    assert cfgmod.find(root / "gens", root, seen.append) == tmp_path / "lineage.toml"
    assert seen == [root / "lineage.toml"]


def test_values_are_read_and_the_baseline_is_relative_to_the_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lineage]\nfail-on = "warn"\nskip = ["cohort", "id.legacy"]\nbaseline = "ci/lineage-baseline.json"\n'
        'neo4j-uri = "bolt://db:7687"\nneo4j-user = "auditor"\nneo4j-database = "gens"\n'
        '[tool.lineage.severity]\n"ref.dangling" = "error"\nchain.ancestor_broken = "info"\n')
    got = cfgmod.load(tmp_path / "sub" / "folder")  # a folder that does not exist yet still searches up
    assert got == Config(path=tmp_path / "pyproject.toml", fail_on="warn", skip=("cohort", "id.legacy"),
                         severity={"ref.dangling": "error", "chain.ancestor_broken": "info"},
                         neo4j_uri="bolt://db:7687", neo4j_user="auditor", neo4j_database="gens",
                         baseline=tmp_path / "ci" / "lineage-baseline.json")


@pytest.mark.parametrize("text,message", [
    ('neo4j-password = "secret"\n', "neo4j-password: a password never goes in a configuration file"),
    ('fail_on = "warn"\n', "fail_on: unknown key; did you mean fail-on?"),
    ('colour = "red"\n', "colour: unknown key; known keys: fail-on, severity"),
    ('fail-on = "fatal"\n', "fail-on: expected one of error, warn, info, never, got 'fatal'"),
    ("fail-on = 3\n", "fail-on: expected one of error, warn, info, never, got 3"),
    ('skip = "chain"\n', "skip: expected a list of check IDs or families, got 'chain'"),
    ("skip = [1]\n", "skip: expected a list of check IDs or families, got a list with a non-string"),
    ('severity = "warn"\n', "severity: expected a table of CHECK = LEVEL, got 'warn'"),
    ('severity."id.legacy" = "fatal"\n', "severity: id.legacy: expected one of info, warn, error, got 'fatal'"),
    ('baseline = ""\n', "baseline: expected a non-empty string"),
    ("neo4j-uri = true\n", "neo4j-uri: expected a non-empty string, got True"),
    ("fail-on = \n", "not valid TOML"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_key(tmp_path, text, message):
    (tmp_path / "lineage.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        cfgmod.load(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'lineage.toml'}: ")
    assert message in str(err.value)


def test_a_pyproject_names_its_table_in_errors(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.lineage]\nneo4j-password = "x"\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml: \[tool.lineage\] neo4j-password: "):
        cfgmod.load(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool]\nlineage = "on"\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml: tool.lineage: expected a table"):
        cfgmod.load(tmp_path)
