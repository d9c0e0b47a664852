"""The configuration file: where it is found, what it may say, and that the command line beats
the environment, the environment the file, and the file the defaults."""

import json
import os
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from lineage.cli import app
from lineage.core import config as cfgmod
from lineage.core.config import Config, ConfigError

runner = CliRunner()

DRAFT = {"stage": "draft", "gen_id": "d_5ezrffv9uf3lr37d", "origin_cohort_id": "c1", "mode": "llm",
         "template_id": "creative-synthesis-v10", "combo_id": "combo_v1_85128e4e5ef3",
         "llm_model_id": "gemini_25_pro", "replicate": 1}
# combo_id does not belong on an essay: one meta.extraneous_field (warn), and no error.
ESSAY = {"stage": "essay", "gen_id": "e_sq5klak2lljyyom", "origin_cohort_id": "c1", "mode": "llm",
         "template_id": "creative-synthesis-v10", "parent_gen_id": "d_5ezrffv9uf3lr37d", "replicate": 1,
         "combo_id": "combo_v1_85128e4e5ef3"}
STORE = {"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT,
         "gens/essay/e_sq5klak2lljyyom/metadata.json": ESSAY,
         "cohorts/c1/membership.csv": "stage,gen_id\ndraft,d_5ezrffv9uf3lr37d\nessay,e_sq5klak2lljyyom\n"}
NO_ENV = {"LINEAGE_FAIL_ON": None, "NEO4J_URI": None, "NEO4J_USER": None, "NEO4J_DATABASE": None}


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder to run in (the current directory), with no config above it."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for name in NO_ENV:
        monkeypatch.delenv(name, raising=False)
    return folder


def audit(root, *args, env=None):
    result = runner.invoke(app, ["audit", str(root), "--format", "json", "--no-progress", *args],
                           env={**NO_ENV, **(env or {})})
    assert "Traceback" not in result.output, result.output
    return result


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


CONNECTING = ("audit", "orphans", "load")


@pytest.mark.parametrize("text,message,commands", [
    ('neo4j-password = "secret"\n', "neo4j-password: a password never goes", CONNECTING),
    ('skip = ["chian"]\n', "skip: unknown check or family 'chian'", CONNECTING),
    ('severity = {"id.legcay" = "warn"}\n', "severity: unknown check 'id.legcay'", CONNECTING),
    ("fail-on = [\n", "not valid TOML", CONNECTING),
    (b"fail-on = '\xff'\n", "not UTF-8", CONNECTING),
    ('baseline = "missing.json"\n', "baseline: cannot read baseline", ("audit",)),
    ('baseline = "."\n', "baseline: cannot read baseline", ("audit",)),
])
def test_the_cli_says_a_bad_file_in_one_line_and_exits_2(make_store, project, text, message, commands):
    root = make_store(STORE)
    name = project / "lineage.toml"
    name.write_bytes(text if isinstance(text, bytes) else text.encode())
    for command in ([c, str(root)] for c in commands):
        result = runner.invoke(app, command, env=NO_ENV)
        assert result.exit_code == 2, result.output
        [line] = result.stderr.splitlines()
        assert line.startswith(f"lineage: error: {name}: "), line
        assert message in line


def test_a_fifo_named_like_a_config_file_does_not_stall(make_store, project):
    root = make_store(STORE)
    os.mkfifo(project / "lineage.toml")
    result = audit(root)
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr


# --- how the file is applied -------------------------------------------------------------------

def test_precedence_cli_then_environment_then_file_then_default(make_store, project):
    """The store has one warning. fail-on decides the exit code at each level."""
    root = make_store(STORE)
    assert audit(root).exit_code == 0  # default: error
    (project / "pyproject.toml").write_text('[tool.lineage]\nfail-on = "warn"\n')
    assert audit(root).exit_code == 1  # the file beats the default
    assert audit(root, env={"LINEAGE_FAIL_ON": "never"}).exit_code == 0  # the environment beats the file
    assert audit(root, "--fail-on", "warn", env={"LINEAGE_FAIL_ON": "never"}).exit_code == 1  # the flag beats both
    assert audit(root, "--no-config").exit_code == 0  # and --no-config puts the default back


def test_neo4j_settings_precedence(project, monkeypatch):
    from lineage.cli.app import connection

    monkeypatch.setenv("NEO4J_PASSWORD", "pw")  # no look-up of an ephemeral server's password
    for name in ("NEO4J_URI", "NEO4J_USER", "NEO4J_DATABASE", "LINEAGE_NEO4J_BOLT_PORT"):  # set by the test command
        monkeypatch.delenv(name, raising=False)
    file = Config(path=project / "lineage.toml", neo4j_uri="bolt://file:1", neo4j_user="file-user",
                  neo4j_database="filedb", named=True)
    default = connection(None, None, None, False, Config())
    assert (default.uri, default.user, default.database) == ("bolt://localhost:7687", "neo4j", None)
    got = connection(None, None, None, False, file)
    assert (got.uri, got.user, got.database) == ("bolt://file:1", "file-user", "filedb")
    monkeypatch.setenv("NEO4J_URI", "bolt://env:2")
    monkeypatch.setenv("NEO4J_DATABASE", "envdb")
    got = connection(None, None, None, False, file)
    assert (got.uri, got.user, got.database) == ("bolt://env:2", "file-user", "envdb")
    got = connection("bolt://flag:3", "flag-user", None, False, file)
    assert (got.uri, got.user, got.database) == ("bolt://flag:3", "flag-user", "envdb")
    assert got.password == "pw"


def test_the_file_reaches_the_commands_that_connect(make_store, project):
    """load, query --backend neo4j and audit --backend neo4j all use the file's URI: a port
    nobody listens on makes each fail naming it."""
    root = make_store(STORE)
    (project / "lineage.toml").write_text('neo4j-uri = "bolt://127.0.0.1:9"\n')
    env = {**NO_ENV, "NEO4J_PASSWORD": "pw"}
    for command in (["load", str(root), "--no-progress"],
                    ["query", str(root), "chain.parent_missing", "--backend", "neo4j"],
                    ["audit", str(root), "--backend", "neo4j", "--no-progress"]):
        result = runner.invoke(app, command, env=env)
        assert result.exit_code != 0, (command, result.output)
        assert "Traceback" not in result.output
        assert "127.0.0.1:9" in result.stderr, (command, result.stderr)


def test_a_found_file_does_not_send_the_password_to_a_remote_server(make_store, project, monkeypatch):
    """The working folder may be a download: a file found there names a server, the password
    from the environment would go to it. Only on the loopback, or with --config."""
    from lineage.cli.app import connection
    from lineage.core.status import UsageError

    root = make_store(STORE)
    (project / "lineage.toml").write_text('neo4j-uri = "neo4j+s://collector.example:7687"\n')
    result = runner.invoke(app, ["load", str(root), "--no-progress"], env={**NO_ENV, "NEO4J_PASSWORD": "pw"})
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"lineage: error: {project / 'lineage.toml'}: neo4j-uri: the Neo4j password goes")
    monkeypatch.setenv("NEO4J_PASSWORD", "pw")
    found = cfgmod.load(project)
    with pytest.raises(UsageError):
        connection(None, None, None, False, found)
    named = connection(None, None, None, False, replace(found, named=True))
    assert named.uri == "neo4j+s://collector.example:7687"
    # A server named on the command line or in the environment is the user's choice.
    assert connection("bolt://db:7687", None, None, False, found).uri == "bolt://db:7687"
    monkeypatch.setenv("NEO4J_URI", "bolt://env:7687")
    assert connection(None, None, None, False, found).uri == "bolt://env:7687"


def test_a_config_file_inside_the_data_root_is_not_read(make_store, monkeypatch):
    root = make_store(STORE)
    (root / "lineage.toml").write_text('fail-on = "warn"\n')
    (root / "gens" / "pyproject.toml").write_text("[tool.lineage]\nthis is not TOML\n")
    monkeypatch.chdir(root / "gens")
    result = audit(root)
    assert result.exit_code == 0  # one warning, and the data root's fail-on = "warn" is not applied
    assert f"lineage: warning: ignoring {root / 'lineage.toml'}: a configuration file inside the data root" \
        in result.stderr
    assert audit(root, "--config", str(root / "lineage.toml")).exit_code == 1  # named: the user's choice


def test_skip_and_severity_apply_to_audit_and_orphans(make_store, project):
    root = make_store({**STORE, "gens/essay/e_sq5klak2lljyyom/metadata.json": {**ESSAY, "parent_gen_id": "d_gone"}})
    (project / "lineage.toml").write_text('skip = ["store", "meta"]\nseverity = {chain.parent_missing = "warn"}\n')
    result = audit(root)
    report = json.loads(result.stdout)
    ran = report["statistics"]["findings_by_check"]
    assert not [c for c in ran if c.startswith(("store.", "meta."))]
    [missing] = [f for f in report["findings"] if f["check"] == "chain.parent_missing"]
    assert missing["severity"] == "warn"
    assert result.exit_code == 0  # its only error is now a warning
    assert "config lineage.toml" in result.stderr  # the verdict says which file set options
    # --check picks checks on the command line, so the file's skip does not apply to it.
    report = json.loads(audit(root, "--check", "meta").stdout)
    assert list(report["statistics"]["findings_by_check"]) == ["meta.required_missing", "meta.extraneous_field",
                                                               "meta.invalid_value"]
    # --severity on the command line beats the file's, check by check.
    report = json.loads(audit(root, "--severity", "chain.parent_missing=info").stdout)
    assert [f["severity"] for f in report["findings"] if f["check"] == "chain.parent_missing"] == ["info"]

    (project / "lineage.toml").write_text('skip = ["ref"]\nseverity = {chain.parent_missing = "warn"}\n')
    result = runner.invoke(app, ["orphans", str(root), "--format", "json", "--no-progress"], env=NO_ENV)
    rows = json.loads(result.stdout)
    assert {r["check"] for r in rows} == {"chain.parent_missing"}
    assert [r["severity"] for r in rows] == ["warn"]
    assert result.exit_code == 0


def test_explicit_config_and_no_config(make_store, project, tmp_path):
    root = make_store(STORE)
    elsewhere = tmp_path / "ci.toml"
    elsewhere.write_text('fail-on = "warn"\n')
    assert audit(root).exit_code == 0
    assert audit(root, "--config", str(elsewhere)).exit_code == 1
    plain = tmp_path / "pyproject.toml"
    plain.write_text('[project]\nname = "x"\n')
    result = audit(root, "--config", str(plain))
    assert result.exit_code == 2
    assert "no [tool.lineage] table" in result.stderr
    result = audit(root, "--config", str(elsewhere), "--no-config")
    assert result.exit_code == 2
    assert "exclude each other" in result.stderr
    (project / "lineage.toml").write_text("fail-on = nonsense\n")  # broken, but not read
    assert audit(root, "--no-config").exit_code == 0


def test_commands_without_config_keys_do_not_read_it(make_store, project):
    root = make_store(STORE)
    (project / "lineage.toml").write_text("this is not TOML\n")
    for command in (["inventory", str(root)], ["ids", str(root)], ["demo"]):
        assert runner.invoke(app, command, env=NO_ENV).exit_code == 0, command


def test_a_found_file_cannot_name_the_database_fresh_wipes(make_store, project, monkeypatch):
    # --fresh replaces a whole database, so its name must come from the user: a flag, the
    # environment, or a file named with --config; never one that happened to be found upward.
    root = make_store({"gens/draft/d_1/": None})
    (project / "lineage.toml").write_text('neo4j-database = "neo4j"\nneo4j-uri = "bolt://127.0.0.1:9"\n')
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    monkeypatch.setenv("NEO4J_PASSWORD", "pw")
    result = runner.invoke(app, ["load", str(root), "--fresh", "--no-progress"])
    assert result.exit_code == 2 and "name it with --database NAME" in result.stderr, result.output
    # Named with --config, the same file is the user's word: the load goes on (to an unreachable server).
    named = runner.invoke(app, ["load", str(root), "--fresh", "--no-progress", "--config", "lineage.toml"])
    assert named.exit_code != 2 and "127.0.0.1:9" in named.stderr, named.output
