"""Every read and write of a migration under the data root, opened from the root's folder down.

A path is walked one component at a time with openat(O_NOFOLLOW | O_DIRECTORY) from a
descriptor of the root, and the last component is opened, renamed or touched relative to its
folder's descriptor without following a link. A folder swapped for a symlink between a check
and a use therefore makes the operation fail; no path lookup can leave the root.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from contextlib import contextmanager
from typing import Iterator

from lineage.core.status import LineageError, UsageError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
# O_NONBLOCK: a FIFO put where a file was planned must not stall the apply.
_READ = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)


class PathError(LineageError):
    """A path under the root leads through a link or a non-folder, or names no regular file."""


def parts_of(rel: str) -> list[str]:
    """The components of a path relative to the root; a UsageError when it could name anything
    outside the root (absolute, `..`, `.`, empty components, NUL, backslash)."""
    if not isinstance(rel, str) or not rel:
        raise UsageError(f"plan path {rel!r} is empty or not a string; refusing the plan")
    bad = ""
    if "\x00" in rel:
        bad = "contains a NUL byte"
    elif "\\" in rel:
        bad = "contains a backslash"
    elif rel.startswith("/") or os.path.isabs(rel) or (len(rel) > 1 and rel[1] == ":"):
        bad = "is absolute"
    elif any(part in ("..", ".", "") for part in rel.split("/")):
        bad = "has an empty, '.' or '..' component"
    if bad:
        raise UsageError(f"plan path {rel!r} {bad}; it could escape the data root; refusing the plan")
    return rel.split("/")


def tmp_name(name: str) -> str:
    """The one temp name an atomic write of `name` uses, so a resumed run finds a leftover."""
    return f".{name}.lineage-migrate.tmp"


class RootFS:
    """The data root as a folder descriptor, and the operations a migration needs under it."""

    def __init__(self, root: str):
        self.root = os.path.realpath(root)
        try:
            self.fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise UsageError(f"data root {self.root} cannot be opened: {exc.strerror or exc}") from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "RootFS":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- walking ---------------------------------------------------------------------------

    @contextmanager
    def folder(self, rel: str) -> Iterator[int]:
        """A descriptor of folder `rel` ("" is the root), walked without following links."""
        parts = parts_of(rel) if rel else []
        fd = os.dup(self.fd)
        try:
            for n, part in enumerate(parts):
                try:
                    nxt = os.open(part, _DIR, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        where = "/".join(parts[:n + 1])
                        raise PathError(f"{where} is a symlink or not a folder; refusing to go through it "
                                        "(nothing outside the data root is touched)") from None
                    raise OSError(exc.errno, exc.strerror, "/".join(parts[:n + 1])) from None
                os.close(fd)
                fd = nxt
            yield fd
        finally:
            os.close(fd)

    @contextmanager
    def parent(self, rel: str) -> Iterator[tuple[int, str]]:
        """(descriptor of the folder holding `rel`, the last component)."""
        parts = parts_of(rel)
        with self.folder("/".join(parts[:-1])) as fd:
            yield fd, parts[-1]

    # --- reading ---------------------------------------------------------------------------

    def lstat(self, rel: str) -> os.stat_result | None:
        """The entry itself (a link is not followed); None when it does not exist."""
        try:
            with self.parent(rel) as (fd, name):
                return os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def exists(self, rel: str) -> bool:
        return self.lstat(rel) is not None

    def is_dir(self, rel: str) -> bool:
        st = self.lstat(rel)
        return st is not None and stat.S_ISDIR(st.st_mode)

    def read(self, rel: str) -> tuple[bytes, os.stat_result]:
        """A regular file's bytes and its status, from one open (no link followed)."""
        with self.parent(rel) as (dirfd, name):
            try:
                fd = os.open(name, _READ, dir_fd=dirfd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise PathError(f"{rel} is a symlink; refusing to read or write through it") from None
                raise OSError(exc.errno, exc.strerror, rel) from None
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise PathError(f"{rel} is not a regular file")
                chunks = []
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                return b"".join(chunks), st
            finally:
                os.close(fd)

    def sha256(self, rel: str) -> str:
        return hashlib.sha256(self.read(rel)[0]).hexdigest()

    # --- writing ---------------------------------------------------------------------------

    def write(self, rel: str, data: bytes, mode: int | None = None, mtime_ns: int | None = None) -> None:
        """temp file -> fsync -> rename over `rel` -> fsync the folder, all relative to the
        folder's descriptor. Keeps the file's mode (or sets `mode`); sets the modification time
        when `mtime_ns` is given (before the rename, so the new content never shows another)."""
        with self.parent(rel) as (dirfd, name):
            try:
                old = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                old = None
            if old is not None and not stat.S_ISREG(old.st_mode):
                raise PathError(f"{rel} is not a regular file (a symlink?); refusing to write through it")
            if mode is None:
                mode = stat.S_IMODE(old.st_mode) if old is not None else 0o644
            tmp = tmp_name(name)
            _unlink(tmp, dirfd)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dirfd)
            try:
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    os.fchmod(fd, mode)
                    if mtime_ns is not None:
                        st = os.fstat(fd)
                        os.utime(fd, ns=(st.st_atime_ns, mtime_ns))
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
            except OSError as exc:
                _unlink(tmp, dirfd)  # a file that cannot be replaced (immutable, no room) keeps no temp beside it
                raise OSError(exc.errno, exc.strerror, rel) from None
            os.fsync(dirfd)

    def rename(self, src: str, dst: str) -> None:
        """Rename `src` to `dst` (their folders walked without links), then make it durable."""
        with self.parent(src) as (sfd, sname), self.parent(dst) as (dfd, dname):
            os.rename(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd)
            os.fsync(dfd)
            os.fsync(sfd)

    def set_mtime(self, rel: str, mtime_ns: int) -> None:
        """Set the modification time of `rel` itself ("" is the root), never through a link."""
        if not rel:
            st = os.fstat(self.fd)
            os.utime(self.fd, ns=(st.st_atime_ns, mtime_ns))
            return
        with self.parent(rel) as (fd, name):
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            os.utime(name, ns=(st.st_atime_ns, mtime_ns), dir_fd=fd, follow_symlinks=False)

    def remove_leftover(self, rel: str) -> None:
        """Remove the temp file a killed write of `rel` may have left."""
        with self.parent(rel) as (fd, name):
            _unlink(tmp_name(name), fd)


def _unlink(name: str, dirfd: int) -> None:
    try:
        os.unlink(name, dir_fd=dirfd)
    except FileNotFoundError:
        pass
