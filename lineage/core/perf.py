"""Keeping bulk work fast: the one place that tunes the interpreter for it."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """Bulk loads create millions of objects that all live on; the cyclic collector would
    rescan the growing heap again and again (a third of the load time on big stores).

    On the way out the survivors are frozen (gc.freeze), so later collections skip them too:
    they are the store and the graph, which live as long as the process does.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
