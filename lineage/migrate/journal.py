"""Durable primitives for `lineage migrate apply`: the write-ahead journal, atomic file writes,
exclusive locks and the crash test hook.

The journal is a JSON-lines file, one record per line, each line fsynced before the action it
announces starts (`intent`) and after it ends (`done`). See `lineage.migrate` for the records.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from lineage.core.status import LineageError, UsageError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

# Test hook (documented, used by tests/test_migrate.py): when set to k >= 1, the process
# SIGKILLs itself at its k-th checkpoint. Checkpoints are: every journal record written, and
# every step's action completed (before its `done` record). Nothing in production sets it.
CRASH_ENV = "LINEAGE_MIGRATE_CRASH_AFTER"


class Checkpoints:
    """Counts checkpoints and kills the process at the one CRASH_ENV names."""

    def __init__(self) -> None:
        value = os.environ.get(CRASH_ENV, "").strip()
        self.crash_at = int(value) if value.isdigit() and int(value) > 0 else 0
        self.count = 0

    def __call__(self, what: str = "") -> None:
        self.count += 1
        if self.crash_at and self.count >= self.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)


def fsync_dir(path: str) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name(path: str) -> str:
    """The one temp name an atomic write of `path` uses, so a resumed run can find and remove
    a leftover of a killed one."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.lineage-migrate.tmp")


def atomic_write(path: str, data: bytes, mode: int | None = None, mtime_ns: int | None = None) -> None:
    """temp file -> fsync -> rename over `path` -> fsync the folder. Keeps the file's mode
    (or sets `mode`); sets the modification time when `mtime_ns` is given (before the rename,
    so the file never shows the new content with another mtime)."""
    folder = os.path.dirname(path)
    if mode is None:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    if mtime_ns is not None:
        st = os.stat(tmp)
        os.utime(tmp, ns=(st.st_atime_ns, mtime_ns))
    os.replace(tmp, path)
    fsync_dir(folder)


def remove_leftover(path: str) -> None:
    try:
        os.unlink(tmp_name(path))
    except FileNotFoundError:
        pass


class LockError(LineageError):
    """Another apply holds the lock."""


@dataclass
class Lock:
    """An exclusive, non-blocking fcntl.flock on a lock file; released when the process ends,
    so a SIGKILLed apply never leaves a stale lock behind."""

    path: str
    fd: int = -1

    def acquire(self, what: str) -> "Lock":
        # O_NOFOLLOW: a symlink put in place of the lock file must not have its target truncated.
        is_dir = os.path.isdir(self.path) and not os.path.islink(self.path)  # a folder: locked through its fd
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW) if is_dir else \
                os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UsageError(f"lock file {self.path} is a symlink; refusing to follow it") from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockError(f"another lineage migrate apply is running on {what} "
                                f"(lock {self.path} is held); wait for it to finish") from None
            raise
        if not is_dir:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self, remove: bool = False) -> None:
        """Unlock; with `remove`, delete the lock file first, while still holding it. Only for a
        lock that another lock backs up: a process that opened the old file just before the
        unlink could take its lock while a third takes a new file's (the data root's lock,
        held by both, still lets only one of them run)."""
        if self.fd >= 0:
            if remove:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass  # gone already, or not ours to remove: the lock is released all the same
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


@dataclass
class JournalState:
    begin: dict[str, Any] | None = None
    done: dict[int, str] = field(default_factory=dict)  # step -> outcome
    committed: dict[str, Any] | None = None
    undone: dict[str, Any] | None = None  # the undo plan of this plan completed


class Journal:
    """Append-only JSON lines, each fsynced. A torn last line (the process died mid-write) is
    ignored: its action had not started, because every action waits for its record's fsync."""

    def __init__(self, path: str, checkpoint: Checkpoints | None = None):
        self.path = path
        self.checkpoint = checkpoint or Checkpoints()
        self._fd = -1

    def records(self) -> Iterator[dict]:
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UsageError(f"journal {self.path} is a symlink; refusing to follow it") from None
            raise
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                return  # torn tail

    def state(self) -> JournalState:
        st = JournalState()
        for rec in self.records():
            event = rec.get("event")
            if event == "begin":
                st.begin = rec
            elif event == "done":
                st.done[rec["step"]] = rec.get("outcome", "")
            elif event == "commit":
                st.committed = rec
            elif event == "undone":
                st.undone = rec
        return st

    def append(self, record: dict) -> None:
        if self._fd < 0:
            new = not os.path.exists(self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW, 0o644)
            if new:
                fsync_dir(os.path.dirname(self.path))
            else:
                # A torn tail from a killed run: start on a fresh line.
                size = os.fstat(self._fd).st_size
                if size:
                    with open(self.path, "rb") as fh:
                        fh.seek(size - 1)
                        if fh.read(1) != b"\n":
                            os.write(self._fd, b"\n")
        os.write(self._fd, orjson.dumps(record) + b"\n")
        os.fsync(self._fd)
        self.checkpoint(record.get("event", ""))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
