"""The helper process of the scan: it computes beside the caller, and when it cannot, the
caller computes the same thing itself."""

import os
import shutil
import sys

from lineage.loaders.beside import Beside


def test_computes_in_another_process():
    assert Beside("os", "getpid").result() != os.getpid()


def test_computes_here_when_not_parallel():
    assert Beside("os", "getpid", parallel=False).result() == os.getpid()


def test_computes_here_when_the_helper_cannot_start(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert Beside("os", "getpid").result() == os.getpid()


def test_computes_here_when_the_helper_fails(monkeypatch):
    monkeypatch.setattr(sys, "executable", shutil.which("false"))
    assert Beside("os", "getpid").result() == os.getpid()


def test_arguments_and_results_travel_both_ways():
    assert Beside("os.path", "join", "a", "b", "c").result() == os.path.join("a", "b", "c")


def test_a_second_answer_comes_from_the_helper_only():
    helper = Beside("os.path", "join", "a", "b", then="join")
    assert helper.result() == os.path.join("a", "b")
    assert helper.then_result() == os.path.join("a", "b", os.path.join("a", "b"))
    assert helper._proc.returncode is not None  # it ended after its last answer
    here = Beside("os.path", "join", "a", "b", parallel=False, then="join")
    assert here.result() == os.path.join("a", "b") and here.then_result() is None


def test_a_second_answer_that_fails_is_none():
    helper = Beside("os.path", "join", "a", "b", then="no_such_function")
    assert helper.result() == os.path.join("a", "b")
    assert helper.then_result() is None


def test_a_second_answer_nobody_asks_for_does_not_keep_the_helper():
    big = "x" * (1 << 20)
    helper = Beside("os.path", "join", big, then="join")  # its second answer: more than a pipe holds
    assert helper.result() == big
    proc = helper._proc
    del helper
    assert proc.wait(timeout=10) is not None


def test_cancel_stops_the_helper():
    helper = Beside("time", "sleep", 30)
    helper.cancel()
    assert helper._proc.returncode is not None


PLANTED = "import pathlib; pathlib.Path({marker!r}).write_text('ran')\n"


def _plant(folder, marker):
    """A `lineage/` package and a `pickle.py` that leave `marker` behind if they are ever run."""
    (folder / "lineage").mkdir()
    (folder / "lineage" / "__init__.py").write_text(PLANTED.format(marker=str(marker)))
    (folder / "pickle.py").write_text(PLANTED.format(marker=str(marker)))


def test_the_helper_runs_nothing_from_the_working_folder(tmp_path, monkeypatch):
    """`lineage audit .` in a folder holding a lineage/ package or a pickle.py: the helper
    (python -c would put the working folder first on sys.path) must import neither, and still
    find the installed lineage."""
    work, marker = tmp_path / "work", tmp_path / "ran"
    work.mkdir()
    _plant(work, marker)
    monkeypatch.chdir(work)
    assert Beside("os", "getpid").result() != os.getpid()  # computed in the helper, not here
    assert not marker.exists()


def test_a_big_scan_runs_nothing_from_the_working_folder(make_store, tmp_path, monkeypatch):
    """The same through the command: the scan starts its helper from PARALLEL_FROM folders
    (lowered here rather than writing 5,000), and the helper's answer is the one used."""
    from typer.testing import CliRunner

    from lineage.cli import app
    from lineage.loaders import beside, store

    root = make_store({"gens/draft/d_5ezrffv9uf3lr37d/metadata.json": {"stage": "draft"},
                       "gens/draft/d_1z2eobtuv71xs5az/metadata.json": {"stage": "draft"}})
    work, marker = tmp_path / "work", tmp_path / "ran"
    work.mkdir()
    _plant(work, marker)
    monkeypatch.chdir(work)
    monkeypatch.setattr(store, "PARALLEL_FROM", 1)
    answered = []
    original, then = beside.Beside.result, beside.Beside.then_result

    def result(self):
        value = original(self)
        answered.append(self._proc is not None)  # (None: it failed, and the caller computed it)
        return value

    def then_result(self):
        value = then(self)
        answered.append(value is not None and self._proc.returncode is not None)
        return value

    monkeypatch.setattr(beside.Beside, "result", result)
    monkeypatch.setattr(beside.Beside, "then_result", then_result)
    outcome = CliRunner().invoke(app, ["audit", str(root), "--format", "json", "--no-progress", "--fail-on", "never"])
    assert outcome.exit_code == 0, outcome.output
    assert answered == [True, True]  # both answers came from the helper, which has ended
    assert not marker.exists()
