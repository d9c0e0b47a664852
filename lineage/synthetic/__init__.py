"""Synthetic DayDreaming data roots: realistic healthy stores, with problems planted on request.

`generate` is used by the tests, `lineage generate` and the benchmarks. It writes a data root
as the pipeline would (gens/, cohorts/, 1_raw/, 2_tasks/, score CSVs, results/) and says, for
every problem it planted, the exact finding the audit must report (`Expected`). A check's
problem is planted by its planter (lineage.synthetic.planters), registered under its check ID.
"""

from __future__ import annotations

import os
import random
from typing import Iterable

from lineage.queries.catalog import CHECKS
from lineage.synthetic.build import (_build_cohorts, _build_bulk, _build_curated, _choose_legacy, _choose_mismatches,
                                     _Ctx, _expect_id_kinds, _finalize_metadata, _mint_tree)
from lineage.synthetic.model import Expected, SyntheticStore
from lineage.synthetic.planters import PLANTERS
from lineage.synthetic.write import _write

__all__ = ["ALL_PROBLEMS", "Expected", "SyntheticStore", "generate"]

# Every check of the catalog that `generate` can plant, in catalog order.
ALL_PROBLEMS: tuple[str, ...] = tuple(c.id for c in CHECKS if c.id in PLANTERS)


def generate(root: str, generations: int = 1000, *, seed: int = 0, problems: Iterable[str] | str = (),
             legacy_fraction: float = 0.0, mismatch_fraction: float = 0.0,
             text_files: bool = True) -> SyntheticStore:
    """Write a data root of about `generations` generations to `root` (which must be empty).

    `problems`: check IDs to plant (or "all"); each is planted a few times, in lineages of its
    own, so one planted problem never changes another's finding. Planting may add a few small
    lineages beyond `generations`. `legacy_fraction` of the draft lineages get legacy IDs;
    `mismatch_fraction` of the generations get an ID their metadata does not reproduce.
    """
    chosen = _problem_list(problems)
    os.makedirs(root, exist_ok=True)
    if os.listdir(root):
        raise FileExistsError(f"{root} is not empty")
    rng = random.Random(seed)
    ctx = _Ctx(rng, chosen)
    budget = max(1, generations)
    curated_budget = min(60, budget // 10) if budget >= 40 else 0
    _build_cohorts(ctx, budget)
    _build_bulk(ctx, budget - curated_budget)
    if curated_budget:
        _build_curated(ctx, curated_budget)
        _build_bulk(ctx, budget)  # whatever the curated cohort left of its budget
    # Planters take from at most half of the bulk lineages, so most of the store stays healthy.
    eligible = [lin for lin in ctx.lineages if not lin.curated and lin.draft.children
                and lin.draft.children[0].children]
    rng.shuffle(eligible)
    ctx.pool = eligible[: len(eligible) // 2]
    ctx.pool.reverse()  # take() pops from the end
    reserved_planters = [PLANTERS[p] for p in chosen]
    # Reserve first (a planter's extra lineage must exist before IDs are minted), plant after.
    plans = [planter(ctx) for planter in reserved_planters]
    _choose_legacy(ctx, legacy_fraction)
    _choose_mismatches(ctx, mismatch_fraction)
    for lin in ctx.lineages:
        _mint_tree(lin.draft)
    for plan in plans:
        plan()
    _expect_id_kinds(ctx)
    _finalize_metadata(ctx)
    counts = _write(ctx, os.path.abspath(root), text_files)
    return SyntheticStore(root=os.fspath(root), expected=ctx.expected, tainted=ctx.tainted, counts=counts)


def _problem_list(problems: Iterable[str] | str) -> tuple[str, ...]:
    if problems == "all":
        return ALL_PROBLEMS
    if isinstance(problems, str):
        problems = (problems,)
    out = []
    for p in problems:
        if p == "all":
            return ALL_PROBLEMS
        if p not in ALL_PROBLEMS:
            raise ValueError(f"unknown problem {p!r}; known: {', '.join(ALL_PROBLEMS)}")
        if p not in out:
            out.append(p)
    return tuple(out)




def example_finding(check_id: str) -> dict | None:
    """A real finding of `check_id`: its problem planted in a small store in a temporary folder,
    audited, and the first finding of that check returned (as the report's JSON has it, with
    the temporary paths relative to that store). None for a check no planter plants."""
    import tempfile

    from lineage.analyses.audit import audit
    from lineage.loaders.networkx_graph import NetworkxBackend
    from lineage.loaders.store import scan
    from lineage.queries.catalog import BY_ID

    if check_id not in PLANTERS:
        return None
    with tempfile.TemporaryDirectory(prefix="lineage-example-") as tmp:
        root = os.path.join(tmp, "data")
        generate(root, 60, seed=1, problems=[check_id], text_files=True)
        report = audit(NetworkxBackend.from_store(scan(root)), "data", [BY_ID[check_id]])
    return next((f.as_dict() for f in report.findings), None)
