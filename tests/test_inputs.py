"""Files are read only when fstat on the open file says they are regular files; files a user
names on the command line also have a size limit. Errors are one line with exit 2.

/dev/zero never ends and a FIFO blocks a plain open until a writer comes: both are refused
before the first read. The subprocess timeouts only turn a hang into a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lineage.core import files
from lineage.loaders import store

DRAFT = {"stage": "draft", "gen_id": "d_5ezrffv9uf3lr37d", "mode": "llm", "template_id": "t",
         "combo_id": "c", "llm_model_id": "m", "replicate": 1}


def lineage(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lineage", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=cwd)


@pytest.fixture
def root(make_store):
    return make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": DRAFT})


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [["cohorts", "simulate", "{root}", "--selection", "{input}", "--no-progress"],
                                     ["impact", "{root}", "--mapping", "{input}", "--no-progress"],
                                     ["migrate", "simulate", "{input}", "--into", "{tmp}/copy"]],
                         ids=["selection", "mapping", "plan"])
@pytest.mark.parametrize("kind", ["device", "fifo", "too large"])
def test_named_inputs_are_regular_files_of_bounded_size(root, fifo, tmp_path, command, kind):
    if kind == "too large":
        from lineage.migrate.plan import MAX_PLAN_BYTES

        path = tmp_path / "huge"
        with open(path, "wb") as fh:  # sparse: no disk used, and nothing is read from it
            fh.truncate((MAX_PLAN_BYTES if command[0] == "migrate" else files.MAX_INPUT_BYTES) + 1)
    else:
        path = os.devnull.replace("null", "zero") if kind == "device" else fifo
    result = lineage(*[a.format(root=root, input=path, tmp=tmp_path) for a in command])
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("lineage: error: ")
    assert ("larger than" if kind == "too large" else "not a regular file") in line


def test_a_device_is_refused_before_the_first_read(monkeypatch):
    """A metadata.json or manifest.json that is a character device: refused on fstat, not after
    16 MiB of zeros as 'larger than 16 MiB'."""
    reads = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(OSError, match="not a regular file"):
        store.read_capped("/dev/zero")
    assert reads == []


def test_a_device_named_metadata_json_is_a_finding_without_reading_it(root):
    path = root / "gens/draft/d_5ezrffv9uf3lr37d/metadata.json"
    path.unlink()
    try:
        os.mknod(path, 0o644 | 0o020000, os.makedev(1, 5))  # a character device: /dev/zero's numbers
    except (PermissionError, AttributeError):
        pytest.skip("creating a device node needs privileges this run does not have")
    [gen] = store.scan(str(root)).generations
    assert (gen.meta_status, gen.meta_error) == ("invalid", "cannot read: not a regular file")


def test_store_files_are_checked_before_they_are_opened_for_reading(fifo):
    """The CSV reader (memberships, score tables, 1_raw config) refuses a FIFO on its own,
    whatever checked the name before: a plain open would block until a writer came."""
    code = ("import sys\nfrom lineage.loaders import csv_chunks\n"
            "try:\n    list(csv_chunks.read(sys.argv[1]))\nexcept csv_chunks.CsvProblem as e:\n    print(e)\n"
            "try:\n    csv_chunks.read_small(sys.argv[1], 'x', ValueError)\nexcept ValueError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines() == ["cannot read: not a regular file", "x: cannot read: not a regular file"]
