"""Read-only commands never write under the data root: the tree hashes the same before and after."""

import hashlib
import os

import pytest
from typer.testing import CliRunner

from lineage.cli import app
from lineage import synthetic

runner = CliRunner()


def tree_digest(root) -> str:
    """Every path (files, folders, links), its type and mode, mtime and content."""
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            st = os.lstat(path)
            h.update(f"{os.path.relpath(path, root)}|{st.st_mode}|{st.st_mtime_ns}|{st.st_size}\n".encode())
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
            elif os.path.islink(path):
                h.update(os.readlink(path).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("readonly") / "data"
    made = synthetic.generate(str(root), 300, seed=7, problems="all", legacy_fraction=0.2)
    some_essay = next(e.gen_id for e in made.expected if e.stage == "essay" and e.gen_id)
    return root, some_essay


COMMANDS = [
    ["audit", "{root}"],
    ["audit", "{root}", "--format", "json"],
    ["audit", "{root}", "--format", "csv"],
    ["audit", "{root}", "--format", "md"],
    ["inventory", "{root}", "--format", "json"],
    ["inventory", "{root}", "--output-dir", "{out}"],
    ["orphans", "{root}", "--csv", "{out}/orphans.csv"],
    ["show", "{root}", "{essay}"],
    ["show", "{root}", "{essay}", "--format", "json"],
    ["duplicates", "{root}"],
    ["report", "{root}", "--output", "{out}/"],
    ["query", "{root}", "rename_cascade", "--param", "gen_id={essay}"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c[:1] + c[2:]) for c in COMMANDS])
def test_read_only_commands_leave_the_tree_untouched(store, tmp_path, args):
    root, essay = store
    before = tree_digest(root)
    result = runner.invoke(app, [a.format(root=root, out=tmp_path, essay=essay) for a in args] + ["--no-progress"])
    assert result.exit_code in (0, 1), result.output
    assert tree_digest(root) == before
