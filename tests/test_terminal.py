"""Data reaches a terminal with its control characters escaped, visibly; JSON and CSV keep them.

A folder named `d_\\e[2J\\e[31mEVIL` would clear the screen and turn it red, an OSC sequence in
parent_gen_id would retitle the window, and a bidi override would reorder the line. rich strips
BEL, BS and CR itself, but not ESC.
"""

import csv
import io
import json
import os

from typer.testing import CliRunner

from lineage.cli import app
from lineage.render.formats import terminal_text

runner = CliRunner()

EVIL = "d_\x1b[2J\x1b[31mEVIL"  # clear the screen, then red
TITLE = "d_\x1b]0;pwned\x07"  # OSC 0: set the window title
BIDI = "d_\u202eLIVE"  # right-to-left override
SHOWN = {EVIL: "d_\\x1b[2J\\x1b[31mEVIL", TITLE: "d_\\x1b]0;pwned\\x07", BIDI: "d_\\u202eLIVE"}
RAW = ("\x1b", "\x07", "\u202e")

ESSAY = {"stage": "essay", "gen_id": "e_sq5klak2lljyyom", "mode": "llm", "template_id": "t",
         "parent_gen_id": TITLE, "replicate": 1}


def _store(make_store):
    root = make_store({f"gens/draft/{EVIL}/metadata.json": {"stage": "draft", "gen_id": EVIL},
                       f"gens/draft/{BIDI}/metadata.json": {"stage": "draft", "gen_id": BIDI},
                       "gens/essay/e_sq5klak2lljyyom/metadata.json": ESSAY})
    os.mkfifo(root / "gens" / "draft" / EVIL / "raw.txt")  # a warning that names the folder
    return root


def _clean(text: str, *shown: str) -> None:
    for char in RAW:
        assert char not in text, f"raw {char!r} reached the terminal"
    for s in shown:
        assert s in text, f"{s!r} not shown"


def test_terminal_text_escapes_every_control_character():
    controls = "".join(map(chr, [*range(0x20), 0x7F, *range(0x80, 0xA0), 0x202E, 0x2066, 0x200F]))
    shown = terminal_text("a" + controls + "é\\z")
    assert shown.isprintable() and shown.startswith("a\\x00\\x01") and shown.endswith("\\u200fé\\z")
    assert "\\x1b" in shown and "\\x7f" in shown and "\\x9b" in shown and "\\u202e" in shown
    assert terminal_text("plain é ü [b]") == "plain é ü [b]"


def test_tables_and_markdown_show_escapes(make_store):
    root = _store(make_store)
    for fmt in ("table", "md"):
        result = runner.invoke(app, ["audit", str(root), "-f", fmt, "--no-progress", "--fail-on", "never"])
        assert result.exit_code == 0, result.output
        _clean(result.output, *SHOWN.values())


def test_json_and_csv_keep_the_exact_text(make_store):
    root = _store(make_store)
    result = runner.invoke(app, ["audit", str(root), "-f", "json", "--no-progress", "--fail-on", "never"])
    report = json.loads(result.stdout)
    assert {EVIL, BIDI, TITLE} <= {f["gen_id"] for f in report["findings"]} | \
        {f["details"].get("parent_gen_id") for f in report["findings"]}
    result = runner.invoke(app, ["audit", str(root), "-f", "csv", "--no-progress", "--fail-on", "never"])
    cells = {c for row in csv.reader(io.StringIO(result.stdout)) for c in row}
    assert EVIL in cells and BIDI in cells


def test_the_show_tree_shows_escapes(make_store):
    root = _store(make_store)
    for gen_id in (EVIL, "e_sq5klak2lljyyom"):
        result = runner.invoke(app, ["show", str(root), gen_id, "--no-progress"])
        assert result.exit_code == 0, result.output
        _clean(result.output, SHOWN[EVIL] if gen_id == EVIL else SHOWN[TITLE])


def test_warnings_and_errors_show_escapes(make_store):
    root = _store(make_store)
    result = runner.invoke(app, ["duplicates", str(root), "--no-progress"])
    assert result.exit_code == 0, result.output
    _clean(result.stderr, f"warning: cannot read gens/draft/{SHOWN[EVIL]}/raw.txt")
    result = runner.invoke(app, ["show", str(root), "e_\x1b]0;pwned\x07", "--no-progress"])
    assert result.exit_code == 2
    _clean(result.stderr, "error: e_\\x1b]0;pwned\\x07 is neither a generation")
    assert result.stderr.count("\n") == 1  # still one line
