"""`lineage migrate`: plan (read-only), simulate on a copy, apply in place, undo."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from lineage.cli.rename import RenameScope
from lineage.core.status import ExitStatus, UsageError
from lineage.cli.help import LineageTyper
from lineage.cli.app import (DataRoot, Format, FormatOpt, NoProgressOpt, OutputOpt, app, check_output_place,
                             check_stages, command, complete_stage, load_store, say, warn)
from lineage.render.formats import destination, emit_rows
from lineage.core.text import count


migrate_app = LineageTyper(help="Rename generations to their deterministic IDs.\n\n"
                               "Plan (read-only), simulate on a copy, apply in place with a write-ahead "
                               "journal, resume, undo.\n\n"
                               "Example: lineage migrate plan data/ --only legacy --output plan.json",
                          no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")

PlanArg = Annotated[Path, typer.Argument(metavar="PLAN_FILE", help="A plan written by `lineage migrate plan` (or an undo plan).",
                                         show_default=False)]


AllowBrokenOpt = Annotated[bool, typer.Option(
    "--allow-broken-chains",
    help="Also rename generations whose chain the audit calls broken (parent missing, misplaced or "
         "unreadable, or such an ancestor); each is named in a warning. Without it they are blocked.")]


@migrate_app.command("plan")
@command
def migrate_plan(
    data_root: DataRoot,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Write the plan (JSON) here, outside the data root.",
                                         show_default=False)],
    stage: Annotated[Optional[list[str]], typer.Option("--stage", autocompletion=complete_stage, help="Rename IDs of this stage (repeatable); their descendants always follow.")] = None,
    only: Annotated[RenameScope, typer.Option("--only", help="Which stored IDs to rename: legacy, mismatched, or all (with malformed).")] = RenameScope.all,
    allow_broken_chains: AllowBrokenOpt = False,
    no_progress: NoProgressOpt = False,
):
    """Write a phased rename plan; read-only.

    Drafts, then essays, then evaluations: every folder rename, every byte-precise file edit, partition key changes, and a fingerprint of every file it touches.
    A rename under a broken parent chain, or without a computable ID, is listed under
    `blocked` with the check that reports it. Read-only: nothing under DATA_ROOT is written.

    Example: lineage migrate plan data/ --only legacy --output plan.json
    """
    from lineage.migrate import build_plan
    from lineage.render.plans import plan_summary

    check_stages(stage)
    check_output_place(data_root, output)
    store, seconds = load_store(data_root, no_progress)
    plan = build_plan(store, only.value, stage, progress=None if no_progress else say,
                      allow_broken=allow_broken_chains)
    for warning in plan.warnings:
        warn(warning)
    with destination(output) as out:
        out.write(plan.dumps().decode())
    say(f"OK: plan: {plan_summary(plan)}; wrote {output} ({seconds:.1f}s scan; nothing under {data_root} written)")


@migrate_app.command("simulate")
@command
def migrate_simulate(
    plan_file: PlanArg,
    into: Annotated[Path, typer.Option("--into", metavar="DIR", help="A new or empty folder outside the data root for the copy.",
                                       show_default=False)],
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
):
    """Apply a plan to a copy of the data root and verify it.

    Copies the data root to --into, applies the plan to the copy, audits both and verifies: renamed IDs
    recompute, no new chain/cohort/ref findings, every other file byte-identical under its new
    path. The original is not touched. Exit 1 when a verification fails.

    Example: lineage migrate simulate plan.json --into /tmp/migrated --format md
    """
    from lineage.migrate import load_plan, simulate
    from lineage.render.plans import write_simulation

    plan, sha = load_plan(str(plan_file))
    check_output_place(Path(plan.data_root), output)
    doc = simulate(plan, sha, str(into), progress=say)
    write_simulation(doc, format.value, output)
    failed = [v["name"] for v in doc["verifications"] if not v["ok"]]
    legacy = doc["after"]["id_classes"]["legacy"]
    say(f"{'FAIL' if failed else 'OK'}: simulated {count(doc['renames'], 'rename')} in {count(doc['steps'], 'step')} on {into}; "
        f"legacy IDs {doc['before']['id_classes']['legacy']:,} -> {legacy:,}"
        + (f"; failed: {', '.join(failed)}" if failed else "; every verification passed"))
    raise typer.Exit(int(ExitStatus.FINDINGS if failed else ExitStatus.OK))


YesOpt = Annotated[bool, typer.Option("--yes", help="Really write; without it this is a dry run that writes nothing.")]
DagsterHomeOpt = Annotated[Optional[Path], typer.Option("--dagster-home", metavar="DIR", help="Refuse while this Dagster instance has runs in progress; move partition keys through it when dagster is importable.", show_default=False)]


StepsOpt = Annotated[bool, typer.Option("--steps", help="List every step, not the count by phase.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No rows and no progress: only warnings, errors and the exit status.")]


@dataclass(frozen=True)
class Show:
    """What a run of a plan prints: the steps one by one or counted by phase, or nothing."""

    steps: bool
    quiet: bool
    format: Format
    output: Optional[Path]

    def rows(self, plan, steps, title: str) -> None:
        from lineage.render.plans import STEP_COLUMNS, phase_rows, step_rows

        if self.quiet:
            return
        if self.steps:
            emit_rows(step_rows(plan, steps), STEP_COLUMNS, self.format.value, self.output, title=title)
        else:
            rows, columns = phase_rows(steps)
            emit_rows(rows, columns, self.format.value, self.output, title=f"{title}, by phase")

    def say(self, message: str) -> None:
        if not self.quiet:
            say(message)


def _run_plan(plan_file: Path, plan, sha: str, yes: bool, resume: bool, dagster_home: Optional[Path],
              show: Show, what: str) -> None:
    """Apply (or dry-run) a loaded plan: the shared body of `apply` and `undo`."""
    from lineage import migrate as m
    from lineage.migrate.rootfs import RootFS

    root = plan.data_root
    if not os.path.isdir(root):
        raise UsageError(f"data root {root} of the plan is not a folder")
    check_output_place(Path(root), show.output)  # only the plan's edits go into the data root
    if dagster_home is not None:
        runs, why = m.runs_in_progress(str(dagster_home))
        if runs is None:
            warn(why)
        elif runs:
            shown = ", ".join(f"{r} ({s})" for r, s in runs[:3])
            raise UsageError(f"Dagster instance {dagster_home} has {len(runs)} runs in progress ({shown}); "
                             "wait for them to finish")
        if not m.dagster_available():
            warn(f"dagster is not importable; partition key changes go to "
                 f"{m.partitions_csv(str(plan_file))} for the operator")
    executor = m.executor_for(str(plan_file), plan, sha, str(dagster_home) if dagster_home else None,
                              progress=show.say)
    if not yes:
        state = executor.state()
        todo = executor.remaining(state) if state.begin else plan.steps
        show.rows(plan, todo, f"Steps {what} would run")
        if state.committed:
            raise UsageError("dry run: this plan was already applied (see its journal); nothing written")
        if state.begin:
            show.say(f"dry run: an earlier run was interrupted; {len(todo):,} of {count(len(plan.steps), 'step')} remain. "
                     "Nothing written; --resume --yes finishes it")
            return
        with RootFS(root) as fs:
            problems = executor.preflight(fs)
        if problems:
            raise m.StaleError(f"dry run: plan is stale ({problems[0]}; {len(problems)} changes); nothing written")
        show.say(f"dry run: nothing written; {count(len(plan.steps), 'step')} would run on {root}; re-run with --yes to {what}")
        return
    result = executor.run(resume=resume)
    if result.note:
        show.say(f"OK: {result.note}")
        return
    show.rows(plan, plan.steps, "Steps applied")
    tail = (f"; undo with: lineage migrate undo {plan_file} --yes" if plan.kind == "migrate" else "")
    show.say(f"OK: {what}: {plan_file}: {count(result.applied, 'step')} done, {result.already:,} already done"
             + (" (resumed)" if result.resumed else "") + f"; partition keys: {result.partitions}{tail}")


@migrate_app.command("apply")
@command
def migrate_apply(
    plan_file: PlanArg,
    yes: YesOpt = False,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an apply that was interrupted (crash, kill, power loss); with --yes.")] = False,
    dagster_home: DagsterHomeOpt = None,
    steps: StepsOpt = False,
    quiet: QuietOpt = False,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
):
    """Apply a plan in place, with a journal; a dry run without --yes.

    The journal is kept next to the plan (PLAN.json.journal/). The undo plan
    PLAN.undo.json is written before the first write. Writing always needs --yes; without it
    this is a dry run that counts the steps by phase (--steps lists them; with --resume: the
    steps left) and writes nothing.

    Example: lineage migrate apply plan.json --yes --dagster-home ~/.dagster
    """
    from lineage import migrate as m

    plan, sha = m.load_plan(str(plan_file))  # every path and ID checked before anything is written
    _run_plan(plan_file, plan, sha, yes, resume, dagster_home, Show(steps, quiet, format, output), "apply")


@migrate_app.command("undo")
@command
def migrate_undo(
    plan_file: PlanArg,
    yes: YesOpt = False,
    dagster_home: DagsterHomeOpt = None,
    steps: StepsOpt = False,
    quiet: QuietOpt = False,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
):
    """Roll back an apply, finished or not.

    After a crash or a file it could not write: runs PLAN.undo.json, which the apply wrote
    before its first write. Every step finds out how far the apply got; an undo that is
    interrupted is finished by running this again.

    Example: lineage migrate undo plan.json --yes
    """
    from lineage import migrate as m

    plan, sha = m.load_plan(str(plan_file))
    path, undo, undo_sha = m.undo_for(str(plan_file), plan, sha)
    _run_plan(Path(path), undo, undo_sha, yes, True, dagster_home, Show(steps, quiet, format, output), "undo")
