"""The command line as a new user meets it: help that reads like a well-kept CLI's, usage errors
in one line, completion, colours that can be turned off, and errors that say what to do.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lineage.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"


def commands(cmd=None, path=("lineage",)):
    """Every command and group, with its path."""
    cmd = cmd or typer.main.get_command(app)
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from commands(sub, (*path, name))


ALL = list(commands())


@pytest.mark.parametrize("path,cmd", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_help_names_values_as_a_person_reads_them(path, cmd):
    result = runner.invoke(app, [*path[1:], "--help"], env={"COLUMNS": "80"}, prog_name="lineage")
    assert result.exit_code == 0, result.output
    text = result.stdout
    usage = text.splitlines()[0]
    # Not typer's `{data_root}` or `<list[str]>`, but DATA_ROOT, CHECK, [table|json|md|csv].
    assert "{" not in usage, usage
    assert not re.search(r"<(?:path|str|int|float|bool|(?:int|float) range|list\[\w+\]|[\w+-]+(?:\|[\w+-]+)+)>", text), text
    for line in text.splitlines():
        assert len(line) <= 80, line
    if hasattr(cmd, "commands"):  # a group: its summaries are whole sentences at 80 columns
        listed = text.split("Commands:")[1]
        assert "..." not in listed, listed


def test_usage_is_unix_style():
    text = runner.invoke(app, ["show", "--help"], prog_name="lineage").stdout
    assert text.startswith("Usage: lineage show [OPTIONS] DATA_ROOT GEN_ID\n")
    assert "--severity CHECK=LEVEL" in runner.invoke(app, ["audit", "--help"]).stdout
    assert "-f, --format [table|json|md|csv]" in runner.invoke(app, ["inventory", "--help"]).stdout
    assert "-f, --format [table|json|md|csv|junit]" in runner.invoke(app, ["audit", "--help"]).stdout


@pytest.mark.parametrize("args,message", [
    (["audit", "x", "--format", "xml"], "invalid value for '--format' / '-f': 'xml' is not one of"),
    (["audit"], "missing argument 'DATA_ROOT'"),
    (["nosuch"], "no such command 'nosuch'"),
    (["audit", "x", "--nosuch"], "no such option: --nosuch"),
    (["report", "x", "--sample", "0"], "invalid value for '--sample'"),
])
def test_a_usage_error_is_one_line_with_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lineage: error: "), result.stderr
    assert message in lines[0] and "Value error" not in lines[0]
    assert "--help'" in lines[0]  # where to read on


def test_a_group_without_a_command_shows_its_help():
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 2 and "Commands:" in result.output


def run_cli(*args, env=None):
    """The installed console script, as a shell runs it (completion needs the real process)."""
    exe = shutil.which("lineage", path=os.path.dirname(sys.executable)) or "lineage"
    return subprocess.run([exe, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=60)


@pytest.mark.parametrize("words,cword,expected", [
    ("lineage au", 1, ["audit"]),
    ("lineage audit x --format ", 4, ["table", "json", "md", "csv", "junit"]),
    ("lineage audit x --check chain.parent_m", 4, ["chain.parent_missing"]),
    ("lineage checks cohort.u", 2, ["cohort.unreachable"]),
    ("lineage ids x --stage ev", 4, ["evaluation"]),
])
def test_shell_completion(words, cword, expected):
    done = run_cli(env={"_LINEAGE_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected


def test_completion_script_is_offered():
    # From a bash, as a user runs it: typer names the shell from the process's parents, and a
    # test runner started without a shell among its ancestors has none to find.
    exe = shutil.which("lineage", path=os.path.dirname(sys.executable)) or "lineage"
    # (A second command keeps bash from replacing itself with the first.)
    done = subprocess.run(["bash", "-c", '"$0" --show-completion; exit $?', exe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "_LINEAGE_COMPLETE=complete_bash" in done.stdout, done.stderr


COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-7]m")


def test_no_color_flag_and_environment():
    args = ["show", str(EXAMPLES), "e_5b2bvhgzw1y5lp14"]
    coloured = run_cli(*args, env={"FORCE_COLOR": "1"})
    assert COLOUR.search(coloured.stdout), "the tree shows warnings in colour on a terminal"
    assert not COLOUR.search(run_cli("--no-color", *args, env={"FORCE_COLOR": "1"}).stdout)
    assert not COLOUR.search(run_cli(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout)


# --- errors that say what to do ---------------------------------------------------------------

def test_the_progress_bar_is_drawn_on_a_terminal_only(tmp_path):
    """On a terminal stderr the scan draws its bar (rich is imported for it), and it is gone
    when the verdict line comes; in a pipe there is only the verdict line."""
    import pty

    from lineage import synthetic

    root = tmp_path / "data"
    synthetic.generate(str(root), 2500, seed=4)  # the bar redraws every 2,000 folders
    args = ["audit", str(root), "--format", "json", "--output", str(tmp_path / "out.json"), "--fail-on", "never"]
    piped = run_cli(*args)
    assert piped.returncode == 0 and piped.stderr.count("\n") == 1 and "\x1b" not in piped.stderr
    controller, terminal = pty.openpty()
    exe = shutil.which("lineage", path=os.path.dirname(sys.executable)) or "lineage"
    proc = subprocess.Popen([exe, *args], stdout=subprocess.DEVNULL, stderr=terminal, stdin=subprocess.DEVNULL)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed: the command is done
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    text = seen.decode("utf-8", "replace")
    assert "scanning generations" in text and "2,000 folders" in text
    assert "lineage: OK: 2,500 generations" in text


def test_a_missing_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "neo4j", None)  # `import neo4j` now raises ImportError
    result = runner.invoke(app, ["load", str(EXAMPLES), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == ("lineage: error: the Neo4j backend needs the neo4j driver: "
                                     "pip install 'daydream-lineage[neo4j]'")


@pytest.mark.parametrize("uri", ["http://localhost:7474", "https://x.example", "localhost:7687"])
def test_a_uri_that_is_not_bolt_is_refused_before_the_scan(uri):
    result = runner.invoke(app, ["load", str(EXAMPLES), "--no-progress"], env={"NEO4J_URI": uri})
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"lineage: error: unsupported Neo4j URI '{uri}': use one of bolt://")
    assert "scanned" not in result.stderr and "aiohttp" not in result.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # free, and nobody listens once the socket is closed


def test_an_unreachable_server_says_why_and_the_default_port_follows_the_server_setting():
    port = _closed_port()
    result = runner.invoke(app, ["load", str(EXAMPLES), "--no-progress"],
                           env={"NEO4J_URI": None, "LINEAGE_NEO4J_BOLT_PORT": str(port), "NEO4J_PASSWORD": "x"})
    assert result.exit_code == 3, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"lineage: error: cannot reach Neo4j at bolt://localhost:{port} (connection refused)")
    assert not line.endswith(":")


@pytest.mark.parametrize("args,message", [
    (["audit", "{tmp}/nosuch/"], "does not exist"),
    (["audit", "{root}/gens"], "the data root is {root}, which holds gens/"),
    (["audit", "{root}/gens/essay"], "the data root is {root}, which holds gens/essay/"),
    (["generate", "{root}/README.md"], "is not a folder"),
    (["report", "{root}", "-o", "{tmp}/nosuch/dir/"], "there is no folder"),
    (["report", "{root}", "-o", "{tmp}/nosuch/findings.md"], "there is no folder"),
    (["inventory", "{root}", "--output-dir", "{tmp}/nosuch/reports"], "there is no folder"),
    (["checks", "-o", "{tmp}/nosuch/checks.csv"], "there is no folder"),
    (["query", "--list", "-o", "{tmp}/nosuch/q.csv"], "there is no folder"),
])
def test_paths_are_checked_alike(tmp_path, args, message):
    root = tmp_path / "data"
    shutil.copytree(EXAMPLES, root, symlinks=True)
    (root / "README.md").write_text("not a folder\n")
    result = runner.invoke(app, [a.format(root=root, tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert message.format(root=root) in result.stderr, result.stderr
    assert not (tmp_path / "nosuch").exists()


def test_report_into_a_new_folder_whose_parent_exists(tmp_path):
    result = runner.invoke(app, ["report", str(EXAMPLES), "-o", f"{tmp_path}/reports/", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert [p.name[:9] for p in (tmp_path / "reports").iterdir()] == ["findings_"]


# --- numbers that add up and read well ----------------------------------------------------------

@pytest.mark.parametrize("stage", ["draft", "essay", "evaluation"])
def test_ids_summary_counts_the_calls_its_rows_add_up_to(stage):
    result = runner.invoke(app, ["ids", str(EXAMPLES), "--stage", stage, "-f", "json", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    said = int(re.search(r"([\d,]+) LLM calls? to rebuild them and their descendants", result.stderr)[1]
               .replace(",", ""))
    assert said == sum(r["llm_calls"] for r in rows) > 0


def test_counts_are_singular_when_one(tmp_path):
    from lineage.core.text import count

    assert count(1, "edit") == "1 edit" and count(2, "edit") == "2 edits" and count(12345, "row") == "12,345 rows"
    out = tmp_path / "store"
    result = runner.invoke(app, ["generate", str(out), "-n", "3"])
    assert result.exit_code == 0, result.output
    # No Python dict, and words agree with their numbers.
    assert "{" not in result.stderr and "(1 draft, 1 essay, 1 evaluation)" in result.stderr
    assert "and 0 planted problems" in result.stderr
    one = runner.invoke(app, ["query", str(out), "counts", "--stage" if False else "-f", "json"])
    assert re.search(r"counts: \d+ rows?\n", one.stderr)
