"""`lineage migrate`: rename generations to their deterministic IDs as a plan (a pure function of
the store), a simulation on a copy, and a journaled, resumable, undoable apply.

- `plan`: typed steps and their JSON form (Plan, RenameStep, WriteStep, ...); `build`: `build_plan`;
- `edits`: byte-precise edits of JSON strings, CSV cells and text lines;
- `rootfs`: every file operation under the data root, relative to its folder descriptor;
- `executor`: the apply, its journal and locks; `undo`: the plan that reverts an apply;
- `simulate`: the rehearsal on a copy; `dagster`: runs in progress and partition keys.
"""

from lineage.migrate.dagster import DagsterPartitions, dagster_available, runs_in_progress
from lineage.migrate.edits import Edit, EditError, apply_edits
from lineage.migrate.executor import (ApplyResult, Executor, StepError, executor_for, journal_dir, lock_path,
                                      partitions_csv, root_lock_path, undo_for, undo_path)
from lineage.migrate.build import build_plan
from lineage.migrate.plan import ConflictError, Plan, PlanError, StaleError, dumps_plan, load_plan
from lineage.migrate.simulate import simulate

__all__ = ["ApplyResult", "ConflictError", "DagsterPartitions", "Edit", "EditError", "Executor", "Plan", "PlanError",
           "StaleError", "StepError", "apply_edits", "build_plan", "dagster_available", "dumps_plan", "executor_for",
           "journal_dir", "load_plan", "lock_path", "partitions_csv", "root_lock_path", "runs_in_progress", "simulate",
           "undo_for", "undo_path"]
