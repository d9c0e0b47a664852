"""Opening a file to read it: regular files only, checked before the first read.

A FIFO blocks a plain open until a writer comes (forever, in a store nobody writes to), and a
character device such as /dev/zero never ends. Every file is opened non-blocking (which a
regular file ignores) and its type checked with fstat on the open descriptor, so what is read
is what was checked. Files a user names on the command line (a selection, a mapping, a plan)
also have a size limit, checked before reading and again while reading.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

from lineage.core.status import UsageError

_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

MAX_INPUT_BYTES = 64 * 1024 * 1024  # a selection or mapping file: a million IDs fit in it


def open_regular(path: str | os.PathLike, follow_links: bool = True) -> tuple[int, os.stat_result]:
    """A descriptor open for reading and its fstat; OSError (EINVAL, "not a regular file") for
    anything else, without reading from it. With follow_links=False a symlink fails too."""
    fd = os.open(path, _READ | (0 if follow_links else _NOFOLLOW))
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
    return fd, st


def read_input(path: str | os.PathLike, name: str | None = None, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file the user named, or a one-line UsageError that calls it `name`
    (default: its path): not a regular file, larger than `limit`, or not readable."""
    name = name or os.fspath(path)
    too_large = UsageError(f"{name} is larger than {_size(limit)}")
    try:
        fd, st = open_regular(path)
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if st.st_size > limit:
            raise too_large
        # In blocks, not read(limit + 1): that would allocate the whole limit (4 GiB for a plan).
        chunks, size = [], 0
        try:
            while size <= limit and (chunk := fh.read(1 << 20)):
                chunks.append(chunk)
                size += len(chunk)
        except OSError as exc:
            raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    if size > limit:  # it grew since fstat
        raise too_large
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 and not n % (1024 * 1024) else f"{n:,} bytes"


def sha256_file(path: str, follow_links: bool = True) -> str:
    """The file's SHA-256; with follow_links=False a symlink fails (O_NOFOLLOW) instead.
    Anything but a regular file (a FIFO would block the read) is an OSError."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(os.open(path, flags), "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return hashlib.file_digest(fh, "sha256").hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
