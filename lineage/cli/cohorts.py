"""`lineage cohorts`: what each cohort rebuild mode would reuse, mint and pay for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from lineage.core.status import UsageError
from lineage.cli.help import LineageTyper
from lineage.cli.app import (DataRoot, Format, FormatOpt, NoProgressOpt, OutputOpt, app, check_output_place,
                             command, load_store, say, warn)


cohorts_app = LineageTyper(help="Cohort rebuilds: what each mode would reuse and pay for.\n\n"
                               "Example: lineage cohorts simulate data/ --sample 5 --seed 1",
                          no_args_is_help=True)
app.add_typer(cohorts_app, name="cohorts")


@cohorts_app.command("simulate")
@command
def cohorts_simulate(
    data_root: DataRoot,
    selection: Annotated[Optional[Path], typer.Option("--selection", metavar="FILE", help="Selected essays from this file (selected_essays.txt rules).", show_default=False)] = None,
    essay: Annotated[Optional[list[str]], typer.Option("--essay", metavar="GEN_ID", help="A selected essay ID (repeatable).", show_default=False)] = None,
    sample: Annotated[Optional[int], typer.Option("--sample", min=1, help="Select N legacy essays, chosen deterministically with --seed.", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --sample.")] = 0,
    cartesian: Annotated[Optional[str], typer.Option("--cartesian", metavar="COHORT", help="Also simulate a Cartesian build and rebuild of this cohort from its manifest.json (a cohort before the spec DSL).", show_default=False)] = None,
    cohort: Annotated[Optional[str], typer.Option("--cohort", metavar="COHORT", help="Simulate building this cohort from its spec/config.yaml, as the pipeline does since 2025-10-02 (mode spec).", show_default=False)] = None,
    evaluation_template: Annotated[Optional[list[str]], typer.Option("--evaluation-template", metavar="TEMPLATE", help="Evaluation template instead of the active ones (repeatable).", show_default=False)] = None,
    evaluation_model: Annotated[Optional[list[str]], typer.Option("--evaluation-model", metavar="MODEL", help="Evaluation model instead of the for_evaluation ones (repeatable).", show_default=False)] = None,
    replicates: Annotated[Optional[list[str]], typer.Option("--replicates", metavar="STAGE=N", help="Override a replicate count: STAGE=N (repeatable).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Simulate forced materialization (raw.txt/parsed.txt do not spare llm calls).")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="Add one row per selected essay and mode (CSV: only those rows).")] = False,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    no_progress: NoProgressOpt = False,
):
    """Simulate a cohort rebuild in every mode, without writing.

    Spec era (a cohort has spec/config.yaml): --cohort ID compiles that cohort's spec as the
    pipeline's build does (mode spec): the planned generations under the IDs the build reserves,
    which of them exist, and the LLM calls materializing them costs.

    Before it: for selected essays the modes regenerate, reuse-drafts, reuse-essays,
    reuse-essays+fill-up and current, and with --cartesian the Cartesian build and rebuild
    (fixed replicates, and the 2025-09-30..10-04 allocator). Input: --selection FILE, --essay ID,
    --sample N, or the data root's 2_tasks/selected_essays.txt (not on a spec-era store).

    Per mode and stage: reused and new generations (real deterministic IDs) and LLM calls.

    Example: lineage cohorts simulate data/ --cohort spec-tie-pair-tuple --format json
    """
    from lineage.analyses import cohorts
    from lineage.render.cohorts import simulation_summary, write_simulation

    if sum(x is not None for x in (selection, essay or None, sample)) > 1:
        raise UsageError("use one of --selection, --essay and --sample")
    overrides = cohorts.parse_replicate_overrides(replicates or [])
    check_output_place(data_root, output)
    chosen = None
    if selection is not None:
        chosen = cohorts.read_selection_file(str(selection))
    elif essay:
        chosen = cohorts.SelectionInput(source="--essay", essays=[e.strip() for e in essay if e.strip()])
    store, _ = load_store(data_root, no_progress)
    sim = cohorts.simulate(store, selection=chosen, sample=(sample, seed) if sample else None, cartesian=cartesian,
                           cohort=cohort, evaluation_templates=evaluation_template,
                           evaluation_models=evaluation_model, replicates=overrides, force=force)
    for warning in sim.warnings:
        warn(warning)
    if not detail:
        sim.document.pop("detail", None)
    write_simulation(sim, format.value, output, detail)
    say(simulation_summary(sim))
