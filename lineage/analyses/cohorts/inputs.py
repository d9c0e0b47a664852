"""What a simulation selects: essays from a selection file (its curated-mode directive with
them), from flags, or sampled; and the data root's own selection file."""

from __future__ import annotations

from dataclasses import dataclass, field

from lineage.analyses.cohorts.modes import MODE_DESCRIPTIONS
from lineage.core.model import Selection, Store
from lineage.core.status import UsageError
from lineage.loaders.references import parse_selection as store_parse_selection


@dataclass
class SelectionInput:
    """Selected essay IDs and where they came from, with the file's curated-mode directive."""

    source: str  # a file path, "--essay", "--sample N --seed S"
    essays: list[str]
    directive_mode: str = ""  # "# mode: ..." of a selection file (canonical name), "" when none
    directive_flags: list[str] = field(default_factory=list)
    from_file: bool = False


def parse_selection(text: str, source: str) -> SelectionInput:
    """A selected-essays file's text, read by the scan's rules (loaders.store.parse_selection)."""
    return _from_file(store_parse_selection(text, source, "essay"))


def _from_file(selection: Selection) -> SelectionInput:
    return SelectionInput(source=selection.path, essays=[gen_id for _, gen_id in selection.ids],
                          directive_mode=selection.mode, directive_flags=list(selection.flags), from_file=True)


def read_selection_file(path: str) -> SelectionInput:
    """--selection FILE: a regular file of at most MAX_INPUT_BYTES (a FIFO or a device is refused
    before anything is read from it)."""
    from lineage.core.files import read_input

    raw = read_input(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 (byte {exc.start})") from None
    return parse_selection(text, path)


def default_selection(store: Store) -> SelectionInput:
    """The data root's own 2_tasks selection file (selected essays only)."""
    by_stage = {s.stage: s for s in store.selections}
    if "essay" in by_stage and "draft" in by_stage:
        raise UsageError("2_tasks holds both selected_essays.txt and selected_drafts.txt; the pipeline "
                         "accepts at most one")
    if "essay" not in by_stage:
        if "draft" in by_stage:
            raise UsageError("2_tasks/selected_drafts.txt selects drafts; simulate takes selected essays "
                             "(use --essay, --selection or --sample)")
        raise UsageError("no 2_tasks/selected_essays.txt; pass --selection FILE, --essay ID, --sample N "
                         "or --cartesian COHORT_ID")
    return _from_file(by_stage["essay"])


def directive_choice(sel: SelectionInput) -> str:
    """The curated mode a selection file picked in 2025-09-29 23:37 .. 09-30 19:49 ("" when unknown)."""
    if not sel.from_file:
        return ""
    mode = sel.directive_mode or "regenerate"  # regenerate is the default for selected essays
    if mode == "reuse-essays" and sel.directive_flags:
        return "reuse-essays+fill-up"
    return mode if mode in MODE_DESCRIPTIONS else ""


