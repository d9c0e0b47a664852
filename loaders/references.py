"""The files outside gens/ that name generations: curated selection files (with their
curated-mode directives), results/<id>.txt, and every CSV (columns whose name holds `gen_id`,
and `gens/<stage>/<id>` inside any cell). Read in the scan's helper process on big stores."""

from __future__ import annotations

import os
import re
from itertools import compress, repeat
from typing import Iterator, Sequence

from lineage.core import ids
from lineage.core.model import References, Selection, Store
from lineage.core.files import open_regular
from lineage.loaders.walk import entries, is_file_to_read, is_folder_to_read, read_csv, rel_path, skip

SELECTION_FILES = {"selected_essays.txt": "essay", "selected_drafts.txt": "draft"}
FILL_UP_FLAGS = {"skip-existing-evaluations", "fill-up", "fillup", "include-existing-evaluations",
                 "backfill-mode"}
MODE_ALIASES = {"regenerate": "regenerate", "reuse-drafts": "reuse-drafts",
                "reuse_drafts": "reuse-drafts", "reuse-essays": "reuse-essays",
                "reuse_essays": "reuse-essays", "evaluation-only": "reuse-essays",
                "evaluations-only": "reuse-essays"}
# `gens/<stage>/<id>` inside any path-like cell, absolute or relative, / or \ separated.
GENS_PATH = re.compile(r"gens[/\\](draft|essay|evaluation)[/\\]([^/\\\s\"',;|]+)")


def scan_selections(store: Store) -> None:
    tasks = os.path.join(store.root, "2_tasks")
    for name, stage in SELECTION_FILES.items():
        path = os.path.join(tasks, name)
        if not is_file_to_read(store, path):
            continue
        text = _read_text(store, path)
        if text is None:
            continue
        selection = parse_selection(text, rel_path(store, path), stage)
        refs = References(selection.path, "", "selection", [gen_id for _, gen_id in selection.ids],
                          [line for line, _ in selection.ids], [stage] * len(selection.ids))
        store.selections.append(selection)
        store.reference_columns.append(refs)
        store.artifacts.append(selection.path)


def parse_directive(line: str) -> tuple[str, str]:
    """(mode, fill-up flag) of a `#` line, either may be "": `# mode: reuse-essays` and the
    fill-up flags, as curated selection files had them in Sept 2025 (aliases resolved)."""
    body = line.lstrip("#").strip().lower()
    if body.startswith("mode:"):
        value = body[5:].strip()
        return MODE_ALIASES.get(value, value), ""
    return "", body if body in FILL_UP_FLAGS else ""


def parse_selection(text: str, path: str, stage: str) -> Selection:
    """The selection-file rules: one ID per line, stripped; blanks skipped; `#` lines are
    comments or directives; no inline comments (`e_x # note` is the ID `e_x # note`)."""
    selection = Selection(path=path, stage=stage)
    for line_no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            mode, flag = parse_directive(line)
            if mode:
                selection.mode = mode
            if flag:
                selection.flags.append(flag)
            continue
        selection.ids.append((line_no, line))
    return selection


def scan_results(store: Store) -> None:
    """`results/<essay_gen_id>.txt`: hand-curated copies of top essays, named by ID."""
    results = os.path.join(store.root, "results")
    if not is_folder_to_read(store, results):
        return
    for entry in entries(store, results):
        if entry.is_file() and entry.name.endswith(".txt"):
            rel = rel_path(store, entry.path)
            store.reference_columns.append(References(rel, "", "file_name", [entry.name[:-4]], [None], ["essay"]))
            store.artifacts.append(rel)


def _read_text(store: Store, path: str) -> str | None:
    try:
        fd, _ = open_regular(path)
        with os.fdopen(fd, "rb") as fh:
            return fh.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        skip(store, path, f"not UTF-8 (byte {exc.start})")
    except OSError as exc:
        skip(store, path, f"cannot read: {exc.strerror or exc}")
    return None


def add_cells(refs: References, cells: Sequence[str], lines: Sequence[int], stage: str | list[str]) -> None:
    """Append the non-empty cells (stripped) with their lines and stages."""
    values = list(map(str.strip, cells))
    stages = [stage] * len(values) if isinstance(stage, str) else stage
    refs.gen_ids += compress(values, values)
    refs.lines += compress(lines, values)
    refs.stages += compress(stages, values)


def _add_paths(refs: References, cells: Sequence[str], lines: Sequence[int], text: str) -> None:
    """`gens/<stage>/<id>` inside the cells of a path-valued column; `text` is the cells
    joined by newlines (no path runs across one)."""
    found = GENS_PATH.findall(text)
    # The usual case, one path per cell, takes one regex pass over the whole column: each
    # cell names "gens" once, so none holds two paths, and there are as many as cells.
    if len(found) == len(cells) and set(map(str.count, cells, repeat("gens"))) == {1}:
        refs.stages += [stage for stage, _ in found]
        refs.gen_ids += [gen_id for _, gen_id in found]
        refs.lines += lines
        return
    for cell, line in zip(cells, lines):
        for stage, gen_id in GENS_PATH.findall(cell):
            refs.gen_ids.append(gen_id)
            refs.lines.append(line)
            refs.stages.append(stage)


def _walk_csvs(store: Store) -> Iterator[str]:
    """Every *.csv under the root outside gens/, without following links out of the root."""
    stack = [store.root]
    while stack:
        folder = stack.pop()
        for entry in entries(store, folder):
            if entry.is_dir():
                if folder == store.root and entry.name == "gens":
                    continue
                if entry.is_symlink():
                    continue  # inside the root: its target is walked on its own
                stack.append(entry.path)
            elif entry.name.lower().endswith(".csv") and entry.name != "membership.csv":
                if entry.is_file():
                    yield entry.path
                else:  # a FIFO named *.csv would block the read
                    skip(store, entry.path, "not a regular file")


def scan_csvs(store: Store) -> None:
    for path in sorted(_walk_csvs(store)):
        rel = rel_path(store, path)
        chunks = read_csv(store, path)
        names = next(chunks, None)
        if names is None:
            continue
        id_cols = {i: References(rel, n, "cell") for i, n in enumerate(names) if "gen_id" in n.lower()}
        path_cols: dict[int, References] = {}
        i_stage = names.index("stage") if "stage" in names else None
        for chunk in chunks:
            columns, lines = chunk.columns, chunk.lines
            for i, refs in id_cols.items():
                stage: str | list[str] = _stage_of_column(refs.column)
                if not stage and refs.column == "gen_id" and i_stage is not None:
                    stage = list(map(str.lower, map(str.strip, columns[i_stage])))
                add_cells(refs, columns[i], lines, stage)
            for i, cells in enumerate(columns):
                if i in id_cols:
                    continue
                text = "\n".join(cells)
                if "gens" in text:  # one scan in C per column: most never mention a path
                    if i not in path_cols:
                        path_cols[i] = References(rel, names[i] if i < len(names) else "", "path")
                    _add_paths(path_cols[i], cells, lines, text)
        store.reference_columns += [r for r in (*id_cols.values(), *path_cols.values()) if r.gen_ids]
        store.artifacts.append(rel)


def _stage_of_column(name: str) -> str:
    lowered = name.lower()
    for stage in ids.STAGES:
        if lowered.startswith(stage + "_"):
            return stage
    return ""
