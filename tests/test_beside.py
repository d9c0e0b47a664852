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


def test_cancel_stops_the_helper():
    helper = Beside("time", "sleep", 30)
    helper.cancel()
    assert helper._proc.returncode is not None
