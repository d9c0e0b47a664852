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


# Set to a list by the command line's entry point (lineage.cli.main) and only there: a library
# caller or a test runner keeps Python's normal exit.
_held: list | None = None


def hold_until_exit(*objects: object) -> None:
    """Keep these objects (the store, the graph) alive until the process ends, which then ends
    without freeing them one by one: half a second on a million generations, after the work is
    done. A no-op unless the command line armed it."""
    if _held is not None:
        _held.extend(objects)


def arm_hold() -> None:
    global _held
    _held = []


def holding() -> bool:
    return bool(_held)
