"""Run one function in a helper Python process while the caller keeps working.

The scan splits its work over two cores this way. A plain subprocess rather than
multiprocessing: spawn re-imports the caller's __main__ (a script that calls scan() without a
`__main__` guard would start the scan again in the child), and fork copies a progress bar's
thread in the middle of whatever lock it holds.

If the helper cannot start, fails or dies, the function runs in the caller instead: slower,
never wrong, and never a traceback from the child on the user's terminal.

The helper starts isolated (`python -I`): `python -c` would put the working folder first on
sys.path, and a `lineage/` package or a `pickle.py` in the folder where `lineage audit .` runs
would be imported and executed. It gets the caller's sys.path instead, without the working
folder, so it finds the same installed lineage (an editable install's finder comes back through
site-packages).
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import subprocess
import sys
import threading
from typing import Any


class Beside:
    """`module.function(*args)`, computed in a helper process when `parallel`, else on demand."""

    def __init__(self, module: str, function: str, *args: Any, parallel: bool = True):
        self._call = (module, function, args)
        self._proc: subprocess.Popen | None = None
        if not parallel:
            return
        try:
            self._proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, *_child_path()],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL)
        except OSError:
            return
        payload = _dumps(self._call)
        # A thread feeds the child so the caller need not wait for it to start up (the write
        # is one syscall that releases the GIL). The answer is read in result(): the child
        # writes it only when done, and a reader thread would fight the busy caller for the
        # GIL on every pipe-full of it.
        self._sender = threading.Thread(target=self._send, args=(payload,), daemon=True)
        self._sender.start()

    def _send(self, payload: bytes) -> None:
        try:
            self._proc.stdin.write(payload)
            self._proc.stdin.close()
        except OSError:
            pass  # the child died; result() falls back

    def cancel(self) -> None:
        """Stop the helper: the caller failed and will not ask for the result."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def result(self) -> Any:
        if self._proc is not None:
            try:
                answer = self._proc.stdout.read()
            except OSError:
                answer = b""
            self._sender.join()
            if self._proc.wait() == 0 and answer:
                try:
                    return pickle.loads(answer)
                except Exception:  # a truncated answer: compute it here instead
                    pass
        module, function, args = self._call
        return getattr(importlib.import_module(module), function)(*args)


# The child's first lines: its sys.path from its arguments, then the one call. Only builtin
# modules are imported before sys.path is set.
_BOOT = f"import sys; sys.path[:] = sys.argv[1:]; import {__name__} as b; b._serve()"


def _child_path() -> list[str]:
    """The caller's sys.path without the working folder ('' or its absolute name): the helper
    finds lineage and its dependencies where the caller did, and nothing from where it runs."""
    try:
        cwd = os.getcwd()
    except OSError:  # the working folder was deleted: nothing can be imported from it
        return [p for p in sys.path if os.path.isabs(p)]
    return [p for p in map(os.path.abspath, filter(None, sys.path)) if p != cwd]


_in_helper = False


def in_helper() -> bool:
    """Whether this is a helper process, which may change process-wide state (its working
    folder) that a caller's process belongs to its owner."""
    return _in_helper


def _serve() -> None:
    """The helper's side: one call read from stdin, its pickled result written to stdout."""
    global _in_helper
    _in_helper = True
    module, function, args = pickle.load(sys.stdin.buffer)
    result = getattr(importlib.import_module(module), function)(*args)
    sys.stdout.buffer.write(_dumps(result))
    sys.stdout.buffer.flush()


def _dumps(obj: Any) -> bytes:
    """Pickle without the memo: what travels here is plain trees (lists of strings, records)
    with no object referring back to itself, and memoising every one of a few hundred
    thousand strings made pickling four times slower."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        pickler.fast = True  # documented as deprecated, still in every CPython 3.x; harmless if gone
    except AttributeError:
        pass
    pickler.dump(obj)
    return out.getvalue()
