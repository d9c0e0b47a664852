"""`lineage … | head -c 100`: whatever the format, a reader that leaves early means exit 141
and nothing printed, never the verdict line of a run that reported success.

The reader here is real: it reads 100 bytes from a pipe and closes it. Every output is larger
than a pipe holds (64 KiB), so the command is still writing when the reader goes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lineage import synthetic


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipes") / "data"
    made = synthetic.generate(str(root), 600, seed=3, problems="all", legacy_fraction=0.2, text_files=False)
    legacy_draft = next(e.gen_id for e in made.expected if e.stage == "draft" and e.check == "id.legacy")
    return root, legacy_draft


COMMANDS = [
    ["audit", "{root}", "-f", "json"],
    ["audit", "{root}", "-f", "md"],
    ["audit", "{root}", "-f", "csv"],
    ["audit", "{root}", "-f", "table"],
    ["audit", "{root}", "-f", "junit"],
    ["ids", "{root}", "-f", "json"],
    ["impact", "{root}", "{draft}", "-f", "md"],
    ["duplicates", "{root}", "-f", "json"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c[:1] + c[2:]) for c in COMMANDS])
def test_a_reader_that_quits_early_gets_a_quiet_141(store, args):
    root, draft = store
    proc = subprocess.Popen([sys.executable, "-m", "lineage", *(a.format(root=root, draft=draft) for a in args),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.read(100)
    proc.stdout.close()
    assert proc.wait(timeout=300) == 141
    assert len(first) == 100
    assert proc.stderr.read() == b""


@pytest.mark.parametrize("closed", ["stdout", "stderr"])
def test_an_audit_started_with_a_standard_stream_closed_ends_as_usual(store, tmp_path, closed):
    """The audit ends the process itself once its report is written (perf.hold_until_exit);
    a stream the process was started without must not turn that into a traceback."""
    root, _ = store
    fd = 1 if closed == "stdout" else 2
    out = tmp_path / "report.json"
    cmd = (f"exec {sys.executable} -m lineage audit {root} --format json --output {out} --fail-on never "
           f"--no-progress {fd}>&-")
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert out.read_bytes().startswith(b"{")
