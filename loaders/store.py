"""One read-only pass over a data root: `scan` reads the generations (each metadata.json once)
and the cohorts; the files outside gens/ that name generations are lineage.loaders.references'.

Every file is opened at most once. Nothing here writes, and nothing is followed out of the
data root: a symlink whose target lies outside it is reported and skipped (lineage.loaders.walk).
"""

from __future__ import annotations

import errno
import os
import stat
from array import array
from itertools import compress, groupby
from operator import itemgetter
from typing import Callable

import orjson

from lineage.core import ids
from lineage.core.metadata import derive
from lineage.core.model import Cohort, Generation, Problem, References, Store
from lineage.core.perf import gc_paused
from lineage.loaders.beside import Beside, in_helper
from lineage.loaders.cohort_specs import SPEC_CONFIG, check_specs
from lineage.loaders.references import add_cells, scan_csvs, scan_results, scan_selections
from lineage.loaders.walk import (entries, in_store, is_file_to_read, is_folder_to_read, printable, read_csv,
                                  rel_path, skip)

MAX_METADATA_BYTES = 16 * 1024 * 1024  # a metadata.json is a few hundred bytes; larger is damage
# O_NONBLOCK: opening a FIFO named metadata.json must not stall the scan; fstat then finds it
# is not a regular file, before anything is read.
_OPEN_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_NOFOLLOW = _OPEN_READ | _NOFOLLOW
_OPEN_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)

Progress = Callable[[int], None]


class StoreError(Exception):
    """The data root itself cannot be read (not a folder, no permission)."""


def scan(root: str, progress: Progress | None = None, metadata: bool = True) -> Store:
    """Read a data root into a Store. `progress(n)` is told every few thousand folders.

    `metadata=False` keeps only the facts derived from each metadata.json, not its parsed
    object: what the audit and the graph need, at half the memory (a million parsed objects
    take about 500 MB). Commands that rewrite or rebuild from the metadata keep it."""
    root = os.path.abspath(root)
    if not os.path.lexists(root):
        raise StoreError(f"data root {root} does not exist")
    if not os.path.isdir(root):
        raise StoreError(f"data root {root} is not a folder")
    store = Store(root=os.path.realpath(root))
    with gc_paused():
        _scan_all(store, progress, metadata)
    return store


# --- generations ----------------------------------------------------------------------------

# Listing every generation folder costs about as much as reading every metadata.json (one
# getdents per folder), and neither it nor the files outside gens/ depend on the metadata. On
# big stores a helper process does those while this process reads, parses and derives the
# metadata: the work runs on two cores.
PARALLEL_FROM = 5000


def _scan_all(store: Store, progress: Progress | None, metadata: bool) -> None:
    gens_dir = os.path.join(store.root, "gens")
    folders: list[tuple[str, str]] = []  # (stage, folder name)
    stage_dirs: dict[str, str] = {}
    linked: list[str] = []  # stage folders that are links (within the root: checked when listed)
    if is_folder_to_read(store, gens_dir):
        for entry in entries(store, gens_dir):  # a stage folder linked out of the root is not among them
            if entry.name in ids.STAGES and entry.is_dir():
                stage_dirs[entry.name] = entry.path
                if entry.is_symlink():
                    linked.append(entry.name)
            elif entry.is_dir():
                skip(store, entry.path, f"unknown stage folder {entry.name!r}")
        for stage in ids.STAGES:
            if stage in stage_dirs:
                # Stray files (*.tmp, .DS_Store) next to generation folders are not generations.
                folders += [(stage, e.name) for e in entries(store, stage_dirs[stage]) if e.is_dir()]

    helper = Beside(__name__, "helper_share", store.root, folders, linked, parallel=len(folders) >= PARALLEL_FROM,
                    then="helper_positions")
    gens = []
    stage_fds = {stage: _open_folder(path, stage in linked) for stage, path in stage_dirs.items()}
    try:
        for i, (stage, name) in enumerate(folders, 1):
            gen = _read_generation(store, stage_fds[stage], stage_dirs[stage], stage, name)
            derive(gen)
            if not metadata:
                gen.meta = None
            gens.append(gen)
            if progress and not i % 2000:
                progress(2000)
        _scan_cohorts(store)
    except BaseException:  # Ctrl-C, or a bug: leave no helper running behind
        helper.cancel()
        raise
    finally:
        for fd in stage_fds.values():
            if fd >= 0:
                os.close(fd)

    (listings, file_sets), outside = helper.result()
    store.selections += outside.selections
    store.reference_columns += outside.reference_columns
    store.problems += outside.problems
    store.artifacts += outside.artifacts
    for i, n in enumerate(listings):
        if n < 0:
            gen = gens[i]
            gens[i] = gen = Generation(gen.stage, gen.gen_id, meta_status="invalid",
                                       meta_error="cannot list the folder")
            derive(gen)
        else:
            gens[i].files = file_sets[n]
    store.generations = gens
    store.ahead = _Ahead(helper, outside.reference_columns, gens)
    check_specs(store)  # the spec's plan depends on what the store holds at each ID
    # One finding per place: a link out of the root is met by the walk over CSVs and by the
    # reader of the file it stands for.
    store.problems = list({(p.check, p.path, p.line, p.message): p for p in store.problems}.values())
    if progress:
        progress(len(gens) % 2000)


def helper_share(root: str, folders: list[tuple[str, str]],
                 linked: list[str]) -> tuple[tuple[list[int], list[tuple[str, ...]]], Store]:
    """The part of a scan that needs no metadata: the file names of each (stage, folder name),
    and the selection files, results/ and CSVs outside gens/ (cohorts stay with the caller,
    which keeps the two processes' shares about even)."""
    with gc_paused():
        outside = Store(root=root)
        scan_selections(outside)
        scan_results(outside)
        scan_csvs(outside)
        return list_folders(os.path.join(root, "gens"), folders, linked), outside


def helper_positions(root: str, folders: list[tuple[str, str]], linked: list[str], share) -> list[array]:
    """The helper's second answer, made while the caller builds the start of the graph: each
    column of references outside gens/ resolved by the graph model's own rule to positions in
    `folders` (the order of store.generations), -1 for an ID that is no generation's (the
    graph resolves those itself). At a million generations, half a second of the graph's
    work taken off the caller's single core."""
    from lineage.loaders.graph_model import _Resolver

    with gc_paused():
        in_stage: dict[str, dict[str, int]] = {stage: {} for stage in ids.STAGES}
        start = 0
        for stage, group in groupby(folders, key=itemgetter(0)):  # the folders come stage by stage
            names = [name for _, name in group]
            in_stage[stage].update(zip(names, range(start, start + len(names))))
            start += len(names)
        resolve, out = _Resolver(in_stage), []
        for refs in share[1].reference_columns:
            found = resolve.column(refs.gen_ids, refs.stages)
            try:
                out.append(array("i", found))
            except TypeError:  # some are Missing nodes' keys
                out.append(array("i", [p if type(p) is int else -1 for p in found]))
        return out


class _Ahead:
    """The helper's second answer, taken once: it sets `positions` on the columns it resolved
    and returns the generations those positions index (the scan's, in its order), or None when
    there is no answer. The graph uses the positions only for a store holding exactly those
    generations (a caller may have left some out since). A copy of the store (pickle, deepcopy)
    has no helper to ask: its `ahead` is None, and its graph resolves every reference itself."""

    def __init__(self, helper: Beside, columns: list[References], generations: list[Generation]):
        self._helper: Beside | None = helper
        self._columns = columns
        self._generations: list[Generation] | None = generations[:]

    def __call__(self) -> list[Generation] | None:
        if self._helper is not None:
            answer, self._helper = self._helper.then_result(), None
            if answer is None or len(answer) != len(self._columns):
                self._generations = None
            else:
                for refs, positions in zip(self._columns, answer):
                    refs.positions = positions
        return self._generations

    def __reduce__(self):
        return type(None), ()


def list_folders(gens: str, folders: list[tuple[str, str]],
                 linked: list[str] = ()) -> tuple[list[int], list[tuple[str, ...]]]:
    """The sorted file names of each (stage, folder name) under `gens`, as an index into a list
    of distinct name sets (-1 where a folder cannot be listed). Nearly every generation holds
    the same few files, so a store of any size has a handful of sets: cheap to send and keep.

    In the helper process the working folder is ours: each stage folder, opened as the caller
    opens it (_open_folder), becomes it, so the kernel walks one name per listing instead of the
    whole path (7% of the listing), and a stage folder swapped for a link after it was listed is
    not listed through. Run in the caller's process, this leaves its working folder alone."""
    sets: dict[tuple[str, ...], int] = {}
    distinct: list[tuple[str, ...]] = []
    out: list[int] = []
    base, here, listable = None, in_helper(), False
    for stage, name in folders:
        if stage != base:
            base, prefix, listable = stage, f"{gens}/{stage}/", True
            if here:
                listable, prefix = _enter(prefix[:-1], stage in linked), ""
        try:
            names = os.listdir(prefix + name) if listable else None
        except OSError:
            names = None
        if names is None:  # each folder of a stage that could not be entered is reported too
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


def _enter(path: str, linked: bool) -> bool:
    """Make the stage folder, opened as the caller opens it, this process's working folder."""
    fd = _open_folder(path, linked)
    if fd < 0:
        return False
    try:
        os.fchdir(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _open_folder(path: str, linked: bool) -> int:
    """A stage folder's descriptor, or -1 when it cannot be opened as it was listed (gone, or
    swapped for a link since): its generations' metadata is opened relative to it, so a swap
    after this cannot send those opens elsewhere, and the kernel walks one folder name per
    file instead of the whole path (a tenth faster). A stage folder that was a link when it was
    listed (within the root: checked then) is followed; -1 makes each of its generations
    unreadable (EBADF), and the helper reports its folders as not listed."""
    try:
        return os.open(path, _OPEN_DIR | (0 if linked else _NOFOLLOW))
    except OSError:
        return -1


def _read_generation(store: Store, stage_fd: int, stage_dir: str, stage: str, name: str) -> Generation:
    """Read one folder's metadata.json once, as a bare read-and-parse loop would."""
    gen = Generation(stage, name)
    try:
        try:
            # O_NOFOLLOW: a symlinked metadata.json fails here and takes the checked path below.
            fd = os.open(name + "/metadata.json", _OPEN_NOFOLLOW, dir_fd=stage_fd)
        except FileNotFoundError:
            gen.meta_status = "missing"
            return gen
        except OSError:
            path = f"{stage_dir}/{name}/metadata.json"
            if not os.path.islink(path):
                raise
            if not in_store(store, path):
                skip(store, path, "symlink leads outside the data root")
                gen.meta_status, gen.meta_error = "invalid", "metadata.json is a symlink that leads outside the data root"
                return gen
            fd = os.open(path, _OPEN_READ)  # a link within the root: read its target
        raw = _read_fd(fd)
    except OSError as exc:
        why = "its stage folder changed while it was read" if exc.errno == errno.EBADF else exc.strerror or exc
        gen.meta_status, gen.meta_error = "invalid", f"cannot read: {why}"
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
    if not is_folder_to_read(store, cohorts_dir):
        return
    for entry in sorted(entries(store, cohorts_dir), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        cohort = Cohort(cohort_id=entry.name, path=rel_path(store, entry.path))
        manifest = os.path.join(entry.path, "manifest.json")
        if is_file_to_read(store, manifest):
            cohort.manifest = _read_manifest(store, cohort, manifest)
        membership = os.path.join(entry.path, "membership.csv")
        if is_file_to_read(store, membership):
            cohort.membership_path = rel_path(store, membership)
            _read_membership(store, cohort, membership)
        # The spec folder first: a link out of the root is reported and never read through.
        spec = os.path.join(entry.path, SPEC_CONFIG)
        if is_folder_to_read(store, os.path.dirname(spec)) and is_file_to_read(store, spec):
            cohort.spec_path = rel_path(store, spec)
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
        store.problems.append(Problem("cohort.manifest_invalid", rel_path(store, path),
                                      f"manifest.json is unusable: {error}", cohort=cohort.cohort_id))
    return value


def _read_membership(store: Store, cohort: Cohort, path: str) -> None:
    rel = rel_path(store, path)
    reported = len(store.problems)
    chunks = read_csv(store, path)
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
    cohort.membership_read = True
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
            add_cells(refs, columns[i], lines, "")
    store.reference_columns += [r for r in other.values() if r.gen_ids]
    store.artifacts.append(rel)


