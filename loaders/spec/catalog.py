"""The catalogs a cohort build checks a plan against before it writes anything.

The pipeline refuses a cohort (and materializes nothing) when:
- a combo of the plan is not a `combo_id` of `combo_mappings.csv` (a missing or unreadable file
  lists none);
- a draft, essay or evaluation model is not an `id` of `1_raw/llm_models.csv` (an essay's model
  may also be the text `None`);
- `1_raw/replication_config.csv` lacks a whole number of 1 or more for a stage. The spec, not
  this file, decides the replicates; the build only insists that the file is there.
Templates are checked where their modes are read (planner.read_template_modes).

A simulation that went on regardless would report numbers for a build that never happens, so
each refusal is a SpecError naming the file and the first values it lacks.
"""

from __future__ import annotations

import os
from typing import Iterable

from lineage.loaders.csv_chunks import read_small
from lineage.loaders.spec.loader import MAX_FILE_BYTES
from lineage.loaders.spec.model import STAGE_ORDER, Plan, SpecError

COMBOS = "combo_mappings.csv"
MODELS = "1_raw/llm_models.csv"
REPLICATION = "1_raw/replication_config.csv"
SHOWN = 3  # values named in one message


def check_catalogs(plan: Plan, data_root: str | os.PathLike) -> None:
    """SpecError when the pipeline would refuse this plan for its combos, models or replication."""
    root = os.fspath(data_root)
    drafts = plan.stage("draft")
    _require(COMBOS, _column(root, COMBOS, "combo_id"), (g.combo_id for g in drafts), "combo")
    models = _column(root, MODELS, "id")
    _require(MODELS, models, (g.llm_model_id for g in drafts), "draft model")
    _require(MODELS, models | {"None"}, (g.llm_model_id for g in plan.stage("essay")), "essay model")
    _require(MODELS, models, (g.llm_model_id for g in plan.stage("evaluation")), "evaluation model")
    _replication(root)


def _rows(root: str, rel: str) -> list[list[str]] | None:
    """The rows of a catalog CSV, or None when there is none to read."""
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        return None
    rows = read_small(path, rel, SpecError, limit=MAX_FILE_BYTES)
    return rows or None


def _column(root: str, rel: str, name: str) -> set[str]:
    """The stripped, non-empty values of one column (none when the file or column is absent)."""
    rows = _rows(root, rel)
    if rows is None or name not in rows[0]:
        return set()
    i = rows[0].index(name)
    return {row[i].strip() for row in rows[1:] if i < len(row) and row[i].strip()}


def _require(rel: str, known: set[str], used: Iterable[str], what: str) -> None:
    missing = sorted({str(v).strip() for v in used} - known)
    if not missing:
        return
    if not known or known == {"None"}:
        why = "is missing or lists none"
    else:
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        why = f"does not list the {what}(s) {', '.join(map(repr, missing[:SHOWN]))}{more}"
    raise SpecError(f"{rel} {why}; the pipeline refuses the cohort")


def _replication(root: str) -> None:
    rows = _rows(root, REPLICATION)
    header = [h.strip() for h in rows[0]] if rows else []
    counts: dict[str, int] = {}
    if "stage" in header and "replicates" in header:
        i, j = header.index("stage"), header.index("replicates")
        for row in rows[1:]:
            if max(i, j) < len(row):
                n = _number(row[j])
                if n is not None and n >= 1:
                    counts[row[i].strip()] = n
    lacking = [s for s in STAGE_ORDER if s not in counts]
    if lacking:
        raise SpecError(f"{REPLICATION} has no replicate count of 1 or more for {', '.join(lacking)}; "
                        "the pipeline refuses every cohort without it")


def _number(text: str) -> int | None:
    """A cell as the pipeline's numeric reading takes it: a number, its fraction dropped."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return int(value) if value == value and abs(value) != float("inf") else None
