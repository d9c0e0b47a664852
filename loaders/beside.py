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
import weakref
from typing import Any


class Beside:
    """`module.function(*args)`, computed in a helper process when `parallel`, else on demand.

    `then` names a second function of the module, which the helper runs right after sending
    the first answer, as `then(*args, first_answer)`: work the caller will want a little later,
    done while it goes on with the first. Only a helper process computes it; then_result() is
    None when there was none, or it failed, and the caller does that work itself."""

    def __init__(self, module: str, function: str, *args: Any, parallel: bool = True, then: str | None = None):
        self._call = (module, function, args, then)
        self._proc: subprocess.Popen | None = None
        if not parallel:
            return
        try:
            self._proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, *_child_path()],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL)
        except OSError:
            return
        # A second answer nobody asks for would keep the helper waiting to write it: it is
        # stopped when this object goes.
        weakref.finalize(self, _stop, self._proc)
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
        if self._proc is not None:
            _stop(self._proc)

    def result(self) -> Any:
        if self._proc is not None:
            answer = self._answer()
            self._sender.join()
            if answer is not None:
                if self._call[3] is None:
                    self._proc.wait()  # it has nothing more to say
                return answer
            self.cancel()
            self._proc = None  # (nor a second answer)
        module, function, args, _ = self._call
        return getattr(importlib.import_module(module), function)(*args)

    def then_result(self) -> Any:
        """The `then` function's answer, or None (no helper, no `then`, or it failed)."""
        if self._proc is None or self._call[3] is None:
            return None
        answer = self._answer()
        self.cancel()  # (it has exited after its last answer, or failed)
        return answer

    def _answer(self) -> Any:
        """The helper's next answer (a length, then the pickle), or None when it failed or
        died: then the caller computes it."""
        try:
            head = self._proc.stdout.read(8)
            if len(head) == 8:
                size = int.from_bytes(head, "little")
                body = self._proc.stdout.read(size)
                if len(body) == size:
                    return pickle.loads(body)
        except Exception:  # a truncated or broken answer, a pipe gone
            pass
        return None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


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
    """Whether this process is a helper: it may change process-wide state (its working folder),
    which in a caller's process belongs to the caller."""
    return _in_helper


def _serve() -> None:
    """The helper's side: one call read from stdin, its pickled result written to stdout."""
    global _in_helper
    _in_helper = True
    module, function, args, then = pickle.load(sys.stdin.buffer)
    code = importlib.import_module(module)
    result = getattr(code, function)(*args)
    _send(_dumps(result))
    if then is not None:
        _send(_dumps(getattr(code, then)(*args, result)))


def _send(answer: bytes) -> None:
    sys.stdout.buffer.write(len(answer).to_bytes(8, "little"))
    sys.stdout.buffer.write(answer)
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
