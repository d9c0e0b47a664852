"""Tables fit the terminal: at 80 and at 120 columns no line is wider, and no ID, check name or
path is broken across lines. Columns that do not fit are left out and named under the table.
"""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"
ESSAY = "e_5b2bvhgzw1y5lp14"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("w") / "data"
    shutil.copytree(EXAMPLES, root, symlinks=True)
    return root


def run(args: list[str], width: int) -> str:
    # No progress bar to silence: stderr is not a terminal here.
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def ids_in(args: list[str], fields: tuple[str, ...]) -> set[str]:
    out = json.loads(run([*args, "--format", "json"], 200))
    rows = out["findings"] if isinstance(out, dict) and "findings" in out else out
    if isinstance(rows, dict):
        rows = [rows]
    return {r[f] for r in rows for f in fields if r.get(f)}


# Each command, and the fields of its JSON rows whose values must appear whole in its table.
COMMANDS = [
    (["audit", "{root}", "--fail-on", "never"], ("check", "gen_id")),
    (["orphans", "{root}", "--fail-on", "never"], ("check", "gen_id")),
    (["ids", "{root}"], ("stored_id",)),
    (["duplicates", "{root}"], ("gen_id",)),
    (["checks"], ("check",)),
    (["inventory", "{root}"], ()),
    (["show", "{root}", ESSAY], ()),
    (["cohorts", "simulate", "{root}"], ()),
    (["impact", "{root}", "v_2ts9zydwsovysz61"], ()),
]


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("args,fields", COMMANDS, ids=[c[0][0] + (" " + c[0][1] if c[0][0] == "cohorts" else "")
                                                        for c in COMMANDS])
def test_tables_fit_and_never_break_an_id(store, width, args, fields):
    args = [a.format(root=store) for a in args]
    table = run(args, width)
    lines = table.splitlines()
    assert lines, "no table"
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines over {width}:\n" + "\n".join(too_wide[:3])
    for value in ids_in(args, fields):
        assert value in table, f"{value} broken or missing in the table at {width} columns"


def test_hidden_columns_are_named(store):
    narrow = run(["audit", str(store), "--fail-on", "never"], 80)
    assert "not shown at 80 columns:" in narrow and "path" in narrow.split("not shown at 80 columns:")[1]
    wide = run(["audit", str(store), "--fail-on", "never"], 250)
    assert "not shown" not in wide


def test_a_table_written_to_a_file_is_as_wide_as_the_terminal_says(store, tmp_path):
    """Not 160 columns when piped: $COLUMNS, or 80."""
    out = tmp_path / "t.txt"
    result = CliRunner().invoke(app, ["audit", str(store), "--fail-on", "never", "-o", str(out), "--no-progress"],
                                env={"COLUMNS": None})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in out.read_text().splitlines()) == 80


def test_duplicates_table_shows_short_hashes_and_json_the_whole(store):
    table = run(["duplicates", str(store)], 80)
    full = json.loads(run(["duplicates", str(store), "--format", "json"], 80))
    assert full and all(len(r["sha256"]) == 64 for r in full)
    assert full[0]["sha256"][:12] in table and full[0]["sha256"] not in table
