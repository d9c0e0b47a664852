"""Exit statuses and the errors that map to them, named in one place."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # clean, or every finding below --fail-on
    FINDINGS = 1  # findings at or above --fail-on
    USAGE = 2  # bad arguments or configuration, or nothing to audit
    ERROR = 3  # I/O or internal error; outranks findings
    INTERRUPTED = 130
    SIGPIPE = 141  # the reader of stdout went away, as a shell reports SIGPIPE
    TERMINATED = 143  # SIGTERM, as a shell reports it


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C, so half-written outputs are removed on the way."""


class LineageError(Exception):
    """An error the user can act on; the CLI prints its message on one line."""

    status = ExitStatus.ERROR


class UsageError(LineageError):
    status = ExitStatus.USAGE
