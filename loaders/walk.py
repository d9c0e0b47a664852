"""Walking a data root without leaving it: which entries to read, which to report (links out of
the root, loops, names that are not UTF-8, FIFOs where files belong), and the CSV reader that
turns a file it cannot read into a finding."""

from __future__ import annotations

import os
from typing import Iterator

from lineage.core.model import Problem, Store
from lineage.loaders import csv_chunks


def is_inside(path: str, root: str) -> bool:
    """Whether `path`, links resolved, is `root` or lies under it."""
    return under(os.path.realpath(path), os.path.realpath(root))


def in_store(store: Store, path: str) -> bool:
    """is_inside for the store's root, which the scan resolved once."""
    return under(os.path.realpath(path), store.root)


def under(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root + os.sep)


def rel_path(store: Store, path: str) -> str:
    return os.path.relpath(path, store.root).replace(os.sep, "/")


def skip(store: Store, path: str, why: str) -> None:
    # printable: a link out of the root is reported before its name is checked for UTF-8.
    store.problems.append(Problem("store.path_skipped", printable(rel_path(store, path)), why))


def printable(name: str) -> str:
    """A file name that is not UTF-8 (Python keeps its odd bytes as surrogates), with those
    bytes written as \\xNN: reports and JSON take only real text."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def leads_out(store: Store, path: str) -> bool:
    """Whether `path` is a symlink whose target lies outside the data root (reported)."""
    if os.path.islink(path) and not in_store(store, path):
        skip(store, path, "symlink leads outside the data root")
        return True
    return False


def is_folder_to_read(store: Store, path: str) -> bool:
    """Whether `path` is a folder to read: not one behind a link out of the root."""
    return not leads_out(store, path) and os.path.isdir(path)


def is_file_to_read(store: Store, path: str) -> bool:
    """Whether `path` is a file to read. Absent is not, silently; a link out of the root, a
    folder or a FIFO where a file belongs is not either, and is reported."""
    if not os.path.lexists(path) or leads_out(store, path):
        return False
    if not os.path.isfile(path):
        skip(store, path, "not a regular file")
        return False
    return True


def entries(store: Store, folder: str) -> Iterator[os.DirEntry]:
    """Entries of a folder, minus symlinks that lead out of the data root and names that are
    not UTF-8 (both reported: no ID, path or report can carry such a name)."""
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_symlink():
                    if not in_store(store, entry.path):
                        skip(store, entry.path, "symlink leads outside the data root")
                        continue
                    try:
                        os.stat(entry.path)
                    except OSError as exc:  # a loop, or a link to nothing
                        skip(store, entry.path, f"broken symlink: {exc.strerror or exc}")
                        continue
                if not entry.name.isascii() and printable(entry.name) != entry.name:
                    store.problems.append(Problem("store.path_skipped", printable(rel_path(store, entry.path)),
                                                  "the name is not UTF-8"))
                    continue
                yield entry
    except OSError as exc:
        skip(store, folder, f"cannot list folder: {exc.strerror or exc}")


def read_csv(store: Store, path: str) -> Iterator:
    """The header's stripped names first, then csv_chunks.Chunk after Chunk. A file that
    cannot be read to its end (not UTF-8, broken quoting) becomes a finding; what was read
    of it until then stands."""
    try:
        yield from csv_chunks.read(path)
    except csv_chunks.CsvProblem as exc:
        skip(store, path, str(exc))


