"""The console examples of the README and of docs/ are run, and their output compared.

A ```console block is a script: each `$ ` line runs in bash, in a folder that holds copies of
the stores it may name at their paths in the repository, `examples/data` and the spec-era store
`tests/fixtures/upstream-2849708/data` (the blocks of one page share that folder, in order), with
80 columns and no colour. The lines after a command are its output, stdout and stderr as a
terminal shows them (blank lines aside). `...` stands for any text within a line; a line that is only `...` stands
for any number of lines. A command shown without output must exit 0 or 1 (findings); one whose
output shows `lineage: error:` must exit 2 or 3. Blocks marked ```sh are not run (they need a
server, a pipeline or a shell of their own).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
STORES = ("examples/data", "tests/fixtures/upstream-2849708/data")


def console_blocks(text: str) -> list[list[str]]:
    return [block.split("\n") for block in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M)]


def examples(page: Path) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) in page order."""
    out = []
    for block in console_blocks(page.read_text(encoding="utf-8")):
        for line in block:
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out and line.strip():
                out[-1][1].append(line)
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the output lines fit the expected ones (`...` wildcards; trailing spaces and blank
    lines are not compared: a block in Markdown reads better without them)."""
    pattern = "".join("(?:.*\n)*?" if line == "..." else
                      ".*?".join(map(re.escape, line.rstrip().split("..."))) + "\n" for line in expected)
    return re.fullmatch(pattern, "".join(line.rstrip() + "\n" for line in actual if line.strip())) is not None


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)], ids=page_id)
def test_console_examples_run_as_shown(page, tmp_path):
    for store in STORES:
        shutil.copytree(REPO / store, tmp_path / store, symlinks=True)
    bin_dir = os.path.dirname(sys.executable)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NEO4J_", "LINEAGE_", "DAYDREAMING_")) and k not in ("FORCE_COLOR",)}
    env.update(COLUMNS="80", NO_COLOR="1", TERM="dumb", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    for command, expected in examples(page):
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)
        shown = "\n".join(expected)
        failing = "lineage: error:" in shown
        assert (done.returncode in (2, 3)) if failing else (done.returncode in (0, 1)), \
            f"$ {command}\nexit {done.returncode}\n{done.stdout}"
        if expected:
            assert matches(expected, done.stdout.splitlines()), \
                f"$ {command}\n--- expected\n{shown}\n--- actual\n{done.stdout}"


def test_the_matcher():
    assert matches(["a ...s", "...", "z"], ["a 0.1s", "b", "c", "z"])
    assert matches(["a", "...", "z"], ["a", "z"])
    assert not matches(["a", "z"], ["a", "b", "z"])
    assert not matches(["x 1"], ["x 12"])
