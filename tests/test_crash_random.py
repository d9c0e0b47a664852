"""`migrate apply` and `migrate undo` killed at random moments (not only at the journal's
checkpoints), then finished: the apply always ends equal to the simulated tree, and the undo
always gives back the original, every byte, name and mtime.

CI runs a few kills of each; `make crash-test` runs many (LINEAGE_CRASH_RUNS).
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lineage import migrate
from lineage import synthetic
from lineage.loaders.store import scan
from test_migrate import files_and_hashes

REPO = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("LINEAGE_CRASH_RUNS", "4"))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A 2,000-generation store with legacy and mismatched IDs, its plan's simulated result,
    and how long a whole apply takes here (the window the kills fall into)."""
    base = tmp_path_factory.mktemp("crash")
    root = base / "data"
    synthetic.generate(str(root), 2000, seed=11, legacy_fraction=0.3, mismatch_fraction=0.05)
    plan = migrate.build_plan(scan(str(root)))
    assert len(plan.steps) > 1000
    plan_path = base / "plan.json"
    plan_path.write_bytes(plan.dumps())
    loaded, sha = migrate.load_plan(str(plan_path))
    migrate.simulate(loaded, sha, str(base / "sim"))
    timed = base / "timed"
    started = time.perf_counter()
    _lineage_plan_run(root, timed, plan)
    window = time.perf_counter() - started
    return root, plan, files_and_hashes(base / "sim"), tree_state(root), window


def _copy(root: Path, work: Path, plan) -> Path:
    """A copy of the store with a plan for it (mtimes kept, so the plan is not stale)."""
    shutil.copytree(root, work / "data", symlinks=True)
    plan_path = work / "plan.json"
    moved = migrate.Plan.from_json({**plan.to_json(), "data_root": str(work / "data")}, "plan")
    plan_path.write_bytes(moved.dumps())
    return plan_path


def _lineage_plan_run(root: Path, work: Path, plan) -> None:
    work.mkdir()
    plan_path = _copy(root, work, plan)
    subprocess.run([sys.executable, "-m", "lineage", "migrate", "apply", str(plan_path), "--yes", "-f", "csv",
                    "-o", os.devnull], cwd=REPO, check=True, capture_output=True)


def _kill_at_random(args: list[str], delay: float) -> int:
    """Start `lineage ARGS`, SIGKILL it after `delay` seconds (if it still runs)."""
    proc = subprocess.Popen([sys.executable, "-m", "lineage", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.returncode


def _finish(plan_path: Path) -> None:
    """Resume the apply in this process (any state the kill left)."""
    plan, sha = migrate.load_plan(str(plan_path))
    migrate.executor_for(str(plan_path), plan, sha, None).run(resume=True)


def _finish_undo(plan_path: Path) -> None:
    plan, sha = migrate.load_plan(str(plan_path))
    path, undo, undo_sha = migrate.undo_for(str(plan_path), plan, sha)
    migrate.executor_for(path, undo, undo_sha, None).run(resume=True)


@pytest.mark.parametrize("run", range(RUNS))
def test_apply_and_undo_killed_at_random_then_finished(pristine, tmp_path, run):
    root, plan, simulated, original, window = pristine
    rng = random.Random(1000 + run)
    plan_path = _copy(root, tmp_path, plan)
    data = tmp_path / "data"
    killed = _kill_at_random(["migrate", "apply", str(plan_path), "--yes", "-f", "csv", "-o", os.devnull],
                             rng.uniform(0.2, window))
    _finish(plan_path)
    assert files_and_hashes(data) == simulated, f"apply killed (exit {killed}), then resumed"
    # An undo restores fewer files than the apply wrote: a shorter window, or most would finish.
    killed = _kill_at_random(["migrate", "undo", str(plan_path), "--yes", "-f", "csv", "-o", os.devnull],
                             rng.uniform(0.2, 0.7 * window))
    _finish_undo(plan_path)
    assert tree_state(data) == original, f"undo killed (exit {killed}), then finished"


def tree_state(root: Path) -> str:
    """tree_digest without the sizes of folders: a folder whose entries were renamed away and
    back keeps the blocks it grew (ext4 never shrinks a directory), with the same entries."""
    import hashlib
    import stat as st_mod

    h = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            st = os.lstat(path)
            size = "" if st_mod.S_ISDIR(st.st_mode) else st.st_size
            h.update(f"{os.path.relpath(path, root)}|{st.st_mode}|{st.st_mtime_ns}|{size}\n".encode())
            if st_mod.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    h.update(hashlib.sha256(fh.read()).digest())
            elif st_mod.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
    return h.hexdigest()
