"""One read-only pass over a data root: generations, cohorts, selection files and CSV references.

Every file is opened at most once. Nothing here writes, and nothing is followed out of the
data root: a symlink whose target lies outside it is reported and skipped.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from itertools import compress, repeat
from typing import Callable, Iterator, Sequence

import orjson

from lineage.core import ids
from lineage.loaders import csv_chunks
from lineage.loaders.beside import Beside
from lineage.loaders.files import open_regular
from lineage.core.metadata import derive
from lineage.core.perf import gc_paused
from lineage.core.model import Cohort, Generation, Problem, References, Selection, Store

MAX_METADATA_BYTES = 16 * 1024 * 1024  # a metadata.json is a few hundred bytes; larger is damage
# O_NONBLOCK: opening a FIFO named metadata.json must not stall the scan; fstat then finds it
# is not a regular file, before anything is read.
_OPEN_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
_OPEN_NOFOLLOW = _OPEN_READ | getattr(os, "O_NOFOLLOW", 0)
SELECTION_FILES = {"selected_essays.txt": "essay", "selected_drafts.txt": "draft"}
FILL_UP_FLAGS = {"skip-existing-evaluations", "fill-up", "fillup", "include-existing-evaluations",
                 "backfill-mode"}
MODE_ALIASES = {"regenerate": "regenerate", "reuse-drafts": "reuse-drafts",
                "reuse_drafts": "reuse-drafts", "reuse-essays": "reuse-essays",
                "reuse_essays": "reuse-essays", "evaluation-only": "reuse-essays",
                "evaluations-only": "reuse-essays"}
# `gens/<stage>/<id>` inside any path-like cell, absolute or relative, / or \ separated.
GENS_PATH = re.compile(r"gens[/\\](draft|essay|evaluation)[/\\]([^/\\\s\"',;|]+)")

Progress = Callable[[int], None]


class StoreError(Exception):
    """The data root itself cannot be read (not a folder, no permission)."""


def scan(root: str, progress: Progress | None = None) -> Store:
    """Read a data root into a Store. `progress(n)` is told every few thousand folders."""
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise StoreError(f"data root {root} is not a folder")
    store = Store(root=os.path.realpath(root))
    with gc_paused():
        _scan_all(store, progress)
    return store


# --- paths ----------------------------------------------------------------------------------

def is_inside(path: str, root: str) -> bool:
    """Whether `path`, links resolved, is `root` or lies under it."""
    return _under(os.path.realpath(path), os.path.realpath(root))


def in_store(store: Store, path: str) -> bool:
    """is_inside for the store's root, which the scan resolved once."""
    return _under(os.path.realpath(path), store.root)


def _under(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root + os.sep)


def _rel(store: Store, path: str) -> str:
    return os.path.relpath(path, store.root).replace(os.sep, "/")


def _skip(store: Store, path: str, why: str) -> None:
    # printable: a link out of the root is reported before its name is checked for UTF-8.
    store.problems.append(Problem("store.path_skipped", printable(_rel(store, path)), why))


def printable(name: str) -> str:
    """A file name that is not UTF-8 (Python keeps its odd bytes as surrogates), with those
    bytes written as \\xNN: reports and JSON take only real text."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _leads_out(store: Store, path: str) -> bool:
    """Whether `path` is a symlink whose target lies outside the data root (reported)."""
    if os.path.islink(path) and not in_store(store, path):
        _skip(store, path, "symlink leads outside the data root")
        return True
    return False


def _folder(store: Store, path: str) -> bool:
    """Whether `path` is a folder to read: not one behind a link out of the root."""
    return not _leads_out(store, path) and os.path.isdir(path)


def _file(store: Store, path: str) -> bool:
    """Whether `path` is a file to read. Absent is not, silently; a link out of the root, a
    folder or a FIFO where a file belongs is not either, and is reported."""
    if not os.path.lexists(path) or _leads_out(store, path):
        return False
    if not os.path.isfile(path):
        _skip(store, path, "not a regular file")
        return False
    return True


def _entries(store: Store, folder: str) -> Iterator[os.DirEntry]:
    """Entries of a folder, minus symlinks that lead out of the data root and names that are
    not UTF-8 (both reported: no ID, path or report can carry such a name)."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_symlink():
                    if not in_store(store, entry.path):
                        _skip(store, entry.path, "symlink leads outside the data root")
                        continue
                    try:
                        os.stat(entry.path)
                    except OSError as exc:  # a loop, or a link to nothing
                        _skip(store, entry.path, f"broken symlink: {exc.strerror or exc}")
                        continue
                if not entry.name.isascii() and printable(entry.name) != entry.name:
                    store.problems.append(Problem("store.path_skipped", printable(_rel(store, entry.path)),
                                                  "the name is not UTF-8"))
                    continue
                yield entry
    except OSError as exc:
        _skip(store, folder, f"cannot list folder: {exc.strerror or exc}")


# --- generations ----------------------------------------------------------------------------

# Listing every generation folder costs about as much as reading every metadata.json (one
# getdents per folder), and neither it nor the files outside gens/ depend on the metadata. On
# big stores a helper process does those while this process reads, parses and derives the
# metadata: the work runs on two cores.
PARALLEL_FROM = 5000


def _scan_all(store: Store, progress: Progress | None) -> None:
    gens_dir = os.path.join(store.root, "gens")
    folders: list[tuple[str, str, str]] = []  # (stage, folder path, name)
    if _folder(store, gens_dir):
        stage_dirs = {}
        for entry in _entries(store, gens_dir):  # a stage folder linked out of the root is not among them
            if entry.name in ids.STAGES and entry.is_dir():
                stage_dirs[entry.name] = entry.path
            elif entry.is_dir():
                _skip(store, entry.path, f"unknown stage folder {entry.name!r}")
        for stage in ids.STAGES:
            if stage in stage_dirs:
                # Stray files (*.tmp, .DS_Store) next to generation folders are not generations.
                folders += [(stage, e.path, e.name) for e in _entries(store, stage_dirs[stage]) if e.is_dir()]

    helper = Beside(__name__, "helper_share", store.root, [(f[0], f[2]) for f in folders],
                    parallel=len(folders) >= PARALLEL_FROM)
    gens = []
    try:
        for i, (stage, path, name) in enumerate(folders, 1):
            gen = _read_generation(store, stage, path, name)
            derive(gen)
            gens.append(gen)
            if progress and not i % 2000:
                progress(2000)
        _scan_cohorts(store)
    except BaseException:  # Ctrl-C, or a bug: leave no helper running behind
        helper.cancel()
        raise

    (listings, file_sets), outside = helper.result()
    store.selections += outside.selections
    store.reference_columns += outside.reference_columns
    store.problems += outside.problems
    store.artifacts += outside.artifacts
    for i, n in enumerate(listings):
        if n < 0:
            gen = gens[i]
            gens[i] = gen = Generation(gen.stage, gen.gen_id, gen.path, meta_status="invalid",
                                       meta_error="cannot list the folder")
            derive(gen)
        else:
            gens[i].files = file_sets[n]
    store.generations = gens
    # One finding per place: a link out of the root is met by the walk over CSVs and by the
    # reader of the file it stands for.
    store.problems = list({(p.check, p.path, p.line, p.message): p for p in store.problems}.values())
    if progress:
        progress(len(gens) % 2000)


def helper_share(root: str, folders: list[tuple[str, str]]) -> tuple[tuple[list[int], list[tuple[str, ...]]], Store]:
    """The part of a scan that needs no metadata: the file names of each (stage, folder name),
    and the selection files, results/ and CSVs outside gens/ (cohorts stay with the caller,
    which keeps the two processes' shares about even)."""
    with gc_paused():
        outside = Store(root=root)
        _scan_selections(outside)
        _scan_results(outside)
        _scan_csvs(outside)
        gens = os.path.join(root, "gens")
        return list_folders([f"{gens}/{stage}/{name}" for stage, name in folders]), outside


def list_folders(paths: list[str]) -> tuple[list[int], list[tuple[str, ...]]]:
    """The sorted file names of each folder, as an index into a list of distinct name sets
    (-1 where a folder cannot be listed). Nearly every generation holds the same few files,
    so a store of any size has a handful of sets: cheap to send and to keep."""
    sets: dict[tuple[str, ...], int] = {}
    distinct: list[tuple[str, ...]] = []
    out: list[int] = []
    for path in paths:
        try:
            names = os.listdir(path)
        except OSError:
            out.append(-1)
            continue
        names.sort()
        key = tuple(names)
        n = sets.get(key)
        if n is None:
            n = sets[key] = len(sets)
            distinct.append(tuple(map(printable, key)))  # once per distinct set: no cost per folder
        out.append(n)
    return out, distinct


def _read_generation(store: Store, stage: str, folder: str, name: str) -> Generation:
    """Read one folder's metadata.json once, as a bare read-and-parse loop would."""
    gen = Generation(stage, name, f"gens/{stage}/{name}")
    path = folder + "/metadata.json"
    try:
        try:
            # O_NOFOLLOW: a symlinked metadata.json fails here and takes the checked path below.
            fd = os.open(path, _OPEN_NOFOLLOW)
        except FileNotFoundError:
            gen.meta_status = "missing"
            return gen
        except OSError:
            if not os.path.islink(path):
                raise
            if not in_store(store, path):
                _skip(store, path, "symlink leads outside the data root")
                gen.meta_status, gen.meta_error = "invalid", "metadata.json is a symlink that leads outside the data root"
                return gen
            fd = os.open(path, _OPEN_READ)  # a link within the root: read its target
        raw = _read_fd(fd)
    except OSError as exc:
        gen.meta_status, gen.meta_error = "invalid", f"cannot read: {exc.strerror or exc}"
        return gen
    meta, error = parse_metadata(raw)
    if error:
        gen.meta_status, gen.meta_error = "invalid", error
    else:
        gen.meta = meta
    return gen


def _read_fd(fd: int) -> bytes:
    """At most MAX_METADATA_BYTES + 1 bytes of a regular file (so 'too large' is still
    detectable), then close. fstat comes first: a character device or a FIFO is refused before
    any read (/dev/zero would give 16 MiB of zeros, then 'too large').

    The first read asks for the file's size plus one byte: one read for a file that does not
    change meanwhile, without a 16 MiB buffer per file.
    """
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        cap = MAX_METADATA_BYTES + 1
        want = min(st.st_size + 1, cap)
        raw = os.read(fd, want)
        if len(raw) == want < cap:  # it grew since fstat: read on, up to the cap
            chunks = [raw]
            size = len(raw)
            while size < cap:
                chunk = os.read(fd, min(1 << 20, cap - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            raw = b"".join(chunks)
        return raw
    finally:
        os.close(fd)


def read_capped(path: str) -> bytes:
    """A small file whole, or MAX_METADATA_BYTES + 1 of a file that is too large to be one."""
    return _read_fd(os.open(path, _OPEN_READ))


def parse_metadata(raw: bytes) -> tuple[dict | None, str]:
    """A metadata.json's object, or the reason it is not one. Never raises."""
    if len(raw) > MAX_METADATA_BYTES:
        return None, f"larger than {MAX_METADATA_BYTES // (1024 * 1024)} MiB"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            return None, "empty file"
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return None, f"not UTF-8 (byte {err.start})"
        return None, f"not JSON: {exc}"
    if not isinstance(value, dict):
        return None, f"a JSON {_JSON_TYPE.get(type(value), 'value')}, not an object"
    return value, ""


_JSON_TYPE = {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
              type(None): "null"}


# --- cohorts and selection files -------------------------------------------------------------

def _scan_cohorts(store: Store) -> None:
    cohorts_dir = os.path.join(store.root, "cohorts")
    if not _folder(store, cohorts_dir):
        return
    for entry in sorted(_entries(store, cohorts_dir), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        cohort = Cohort(cohort_id=entry.name, path=_rel(store, entry.path))
        manifest = os.path.join(entry.path, "manifest.json")
        if _file(store, manifest):
            cohort.manifest = _read_manifest(store, cohort, manifest)
        membership = os.path.join(entry.path, "membership.csv")
        if _file(store, membership):
            cohort.membership_path = _rel(store, membership)
            _read_membership(store, cohort, membership)
        store.cohorts.append(cohort)


# The manifest fields a Cartesian rebuild reads, and the JSON type each must have.
MANIFEST_FIELDS = {"combos": list, "templates": dict, "llms": dict, "replication": dict}


def _read_manifest(store: Store, cohort: Cohort, path: str) -> dict | None:
    try:
        value, error = parse_metadata(read_capped(path))
    except OSError as exc:
        value, error = None, f"cannot read: {exc.strerror or exc}"
    if not error:
        wrong = [f"{k} is not {'a list' if t is list else 'an object'}" for k, t in MANIFEST_FIELDS.items()
                 if k in value and not isinstance(value[k], t)]
        error = "; ".join(wrong)
    if error:
        store.problems.append(Problem("cohort.manifest_invalid", _rel(store, path),
                                      f"manifest.json is unusable: {error}", cohort=cohort.cohort_id))
    return value


def _read_membership(store: Store, cohort: Cohort, path: str) -> None:
    rel = _rel(store, path)
    reported = len(store.problems)
    chunks = _csv_chunks(store, path)
    names = next(chunks, None)
    if names is None:
        if len(store.problems) == reported:  # (a file that could not be read is reported already)
            store.problems.append(Problem("cohort.membership_invalid", rel, "membership.csv is empty",
                                          cohort=cohort.cohort_id))
        return
    lowered = [n.lower() for n in names]
    if "stage" not in lowered or "gen_id" not in lowered:
        missing = [c for c in ("stage", "gen_id") if c not in lowered]
        store.problems.append(Problem("cohort.membership_invalid", rel,
                                      f"membership.csv lacks column(s) {', '.join(missing)}",
                                      line=1, cohort=cohort.cohort_id))
        return
    i_stage, i_id = lowered.index("stage"), lowered.index("gen_id")
    # Wide shapes also carry parent_gen_id: a reference like any other.
    other = {i: References(rel, names[i], "cell") for i, n in enumerate(lowered) if "gen_id" in n and i != i_id}
    need = max(i_stage, i_id) + 1
    for chunk in chunks:
        columns, lines = chunk.columns, chunk.lines
        stages = list(map(str.lower, map(str.strip, columns[i_stage])))
        gen_ids = list(map(str.strip, columns[i_id]))
        for n, row in chunk.short:  # too short for an ID: no member, and reported
            if len(row) < need:
                gen_ids[n] = ""
                if any(c.strip() for c in row):
                    store.problems.append(Problem("cohort.membership_invalid", rel,
                                                  "row has fewer columns than the header",
                                                  line=lines[n], cohort=cohort.cohort_id))
        cohort.stages += compress(stages, gen_ids)  # rows without an ID are no members
        cohort.gen_ids += compress(gen_ids, gen_ids)
        cohort.lines += compress(lines, gen_ids)
        for i, refs in other.items():
            _add_cells(refs, columns[i], lines, "")
    store.reference_columns += [r for r in other.values() if r.gen_ids]
    store.artifacts.append(rel)


def _scan_selections(store: Store) -> None:
    tasks = os.path.join(store.root, "2_tasks")
    for name, stage in SELECTION_FILES.items():
        path = os.path.join(tasks, name)
        if not _file(store, path):
            continue
        text = _read_text(store, path)
        if text is None:
            continue
        selection = parse_selection(text, _rel(store, path), stage)
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


def _scan_results(store: Store) -> None:
    """`results/<essay_gen_id>.txt`: hand-curated copies of top essays, named by ID."""
    results = os.path.join(store.root, "results")
    if not _folder(store, results):
        return
    for entry in _entries(store, results):
        if entry.is_file() and entry.name.endswith(".txt"):
            rel = _rel(store, entry.path)
            store.reference_columns.append(References(rel, "", "file_name", [entry.name[:-4]], [None], ["essay"]))
            store.artifacts.append(rel)


# --- CSV references --------------------------------------------------------------------------

def _read_text(store: Store, path: str) -> str | None:
    try:
        fd, _ = open_regular(path)
        with os.fdopen(fd, "rb") as fh:
            return fh.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _skip(store, path, f"not UTF-8 (byte {exc.start})")
    except OSError as exc:
        _skip(store, path, f"cannot read: {exc.strerror or exc}")
    return None


def _csv_chunks(store: Store, path: str) -> Iterator:
    """The header's stripped names first, then csv_chunks.Chunk after Chunk. A file that
    cannot be read to its end (not UTF-8, broken quoting) becomes a finding; what was read
    of it until then stands."""
    try:
        yield from csv_chunks.read(path)
    except csv_chunks.CsvProblem as exc:
        _skip(store, path, str(exc))


def _add_cells(refs: References, cells: Sequence[str], lines: Sequence[int], stage: str | list[str]) -> None:
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
        for entry in _entries(store, folder):
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
                    _skip(store, entry.path, "not a regular file")


def _scan_csvs(store: Store) -> None:
    for path in sorted(_walk_csvs(store)):
        rel = _rel(store, path)
        chunks = _csv_chunks(store, path)
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
                _add_cells(refs, columns[i], lines, stage)
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
