"""Dagster's side of a rename: runs in progress (which block an apply) and the dynamic
partition keys (`draft_gens`, `essay_gens`, `evaluation_gens`) that move with the IDs."""

from __future__ import annotations

import os
import sqlite3

RUNNING_STATUSES = ("STARTED", "STARTING", "QUEUED", "CANCELING")


def runs_in_progress(dagster_home: str) -> tuple[list[tuple[str, str]] | None, str]:
    """(run_id, status) of runs in progress in $DAGSTER_HOME/history/runs.db, or None and why
    they cannot be known (no SQLite run storage there)."""
    db = os.path.join(dagster_home, "history", "runs.db")
    if not os.path.isfile(db):
        return None, f"no run database at {db} (not a SQLite run storage?): cannot tell whether runs are in progress"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            marks = ",".join("?" * len(RUNNING_STATUSES))
            rows = conn.execute(f"SELECT run_id, status FROM runs WHERE status IN ({marks})",
                                RUNNING_STATUSES).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return None, f"cannot read {db}: {exc}"
    return [(str(a), str(b)) for a, b in rows], ""


def dagster_available() -> bool:
    try:
        import dagster  # noqa: F401
    except ImportError:
        return False
    return True


class DagsterPartitions:
    """Dynamic partition keys through the Dagster instance; each call is idempotent."""

    def __init__(self, dagster_home: str):
        from dagster import DagsterInstance

        self.instance = DagsterInstance.from_config(dagster_home)

    def apply(self, partition_set: str, delete: list[str], add: list[str]) -> None:
        for key in delete:
            if self.instance.has_dynamic_partition(partition_set, key):
                self.instance.delete_dynamic_partition(partition_set, key)
        missing = [k for k in add if not self.instance.has_dynamic_partition(partition_set, k)]
        if missing:
            self.instance.add_dynamic_partitions(partition_set, missing)
