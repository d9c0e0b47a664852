"""Reading a CSV of any size a block of rows at a time, as columns.

The scan wants columns (a column of IDs is resolved at once) and the line each row starts on
(a finding names it). Most CSVs a pipeline writes are plain: no quotes, every row as wide as
its header. Those are split with str methods, a block of whole lines at a time, and their
columns sliced out of one flat list of cells: three times faster than the csv module plus a
transpose on a 100,000-row file. The first block that is not plain hands itself and the rest
of the file to the csv module, which numbers the rows one by one (a quoted cell may span
lines).

Blocks are decoded here, not by a text wrapper, so "not UTF-8" names the file's byte offset.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice, repeat
from typing import Iterable, Iterator, Sequence

from lineage.core.files import open_regular

MAX_FIELD = 16 * 1024 * 1024
BLOCK = 4 << 20  # bytes of whole lines split at a time
ROWS = 50_000  # rows per chunk where the csv module reads


class CsvProblem(Exception):
    """The file cannot be read to its end; the message says why, in a few words."""


@dataclass(slots=True)
class Chunk:
    """Rows as columns: columns[i][n] is cell i of row n, "" where that row is short.

    There is a column for every header name at least (more if a row is wider).
    """

    columns: list[Sequence[str]]
    lines: Sequence[int]  # the line row n starts on; the header is line 1
    short: list[tuple[int, list[str]]]  # (n, cells) of each row narrower than the header


def read(path: str) -> Iterator[list[str] | Chunk]:
    """The header's cells (stripped) first, then Chunks; nothing for an empty file.

    Raises CsvProblem, possibly after some chunks: what was read until then stands.
    """
    csv.field_size_limit(MAX_FIELD)
    with _as_problem(), _open(path) as fh:
        yield from _chunks(_blocks(fh))


def read_small(path: str, name: str, error: type[Exception], limit: int | None = None) -> list[list[str]]:
    """All rows of a small CSV the user hands us (a mapping, a config file), header included;
    one that cannot be read (not a regular file, over `limit` bytes) raises `error` with one
    line that starts with `name`."""
    try:
        with _as_problem(), _open(path) as fh:
            if limit is not None and os.fstat(fh.fileno()).st_size > limit:
                raise CsvProblem(f"larger than {limit // (1024 * 1024)} MiB")
            raw = fh.read(-1 if limit is None else limit + 1)
            if limit is not None and len(raw) > limit:
                raise CsvProblem(f"larger than {limit // (1024 * 1024)} MiB")
            text = raw.decode("utf-8-sig")  # whole: so the byte offset in errors is the file's
            return list(csv.reader(io.StringIO(text, newline="")))
    except CsvProblem as exc:
        raise error(f"{name}: {exc}") from None


def _open(path: str):
    """The file for reading, once fstat on it says it is a regular file (a FIFO would block
    the read, a device never end); OSError otherwise."""
    fd, _ = open_regular(path)
    return os.fdopen(fd, "rb")


@contextmanager
def _as_problem() -> Iterator[None]:
    """What goes wrong reading a CSV, as a CsvProblem of a few words."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise CsvProblem(f"not UTF-8 (byte {exc.start})") from None
    except csv.Error as exc:
        raise CsvProblem(f"not a readable CSV: {exc}") from None
    except OSError as exc:
        raise CsvProblem(f"cannot read: {exc.strerror or exc}") from None


def _blocks(fh) -> Iterator[str]:
    """The file as text, about BLOCK bytes of whole lines at a time. A decode error's start
    is the byte offset in the file."""
    offset = 0
    while raw := fh.read(BLOCK):
        if not raw.endswith(b"\n"):
            rest = fh.readline(MAX_FIELD)
            if len(rest) == MAX_FIELD and not rest.endswith(b"\n"):
                raise CsvProblem(f"a line longer than {MAX_FIELD // (1024 * 1024)} MiB")
            raw += rest
        if offset == 0 and raw.startswith(codecs.BOM_UTF8):
            raw, offset = raw[3:], 3
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            exc.start += offset
            raise
        offset += len(raw)
        yield text


def _chunks(blocks: Iterator[str]) -> Iterator[list[str] | Chunk]:
    width = 0  # the header's, once read
    line = 1  # the line the next row starts on
    for text in blocks:
        if '"' not in text and "\r" in text and text.count("\r") == text.count("\r\n"):
            text = text.replace("\r\n", "\n")  # Windows line ends, and no other \r
        if '"' in text or "\r" in text:
            lines: Iterable[str] = io.StringIO(text, newline="")  # quoting or a lone \r
            break
        rows = text.split("\n")
        if rows[-1] == "":
            rows.pop()  # the end of the last line, not a row
        if not rows:
            continue  # a block that was only a BOM
        if not width:
            header = rows.pop(0).split(",")
            width = len(header)
            yield [n.strip() for n in header]
            line = 2
        if set(map(str.count, rows, repeat(","))) - {width - 1} or max(map(len, rows), default=0) > MAX_FIELD:
            # A row of another width (or a blank line), or one long enough to hold a cell over
            # the csv module's field limit: plain lines all the same, read by its rules.
            lines = rows
            break
        if rows:
            flat = ",".join(rows).split(",") if width > 1 else rows
            yield Chunk([flat[i::width] for i in range(width)], range(line, line + len(rows)), [])
            line += len(rows)
    else:
        return
    rest = (io.StringIO(text, newline="") for text in blocks)  # lines split as the csv module would
    yield from _csv_module_chunks(chain(lines, chain.from_iterable(rest)), width, line)


def _csv_module_chunks(lines: Iterable[str], width: int, line: int) -> Iterator[list[str] | Chunk]:
    reader = csv.reader(lines)
    before = line - 1  # lines read before the reader's first
    if not width:
        header = next(reader, None)
        if header is None:
            return
        width = len(header)
        yield [n.strip() for n in header]
        line = before + reader.line_num + 1
    while True:
        rows, starts = [], []
        for row in islice(reader, ROWS):
            starts.append(line)
            rows.append(row)
            line = before + reader.line_num + 1
        if not rows:
            return
        yield Chunk(_columns(rows, width), starts, [(n, r) for n, r in enumerate(rows) if len(r) < width])


def _columns(rows: list[list[str]], width: int) -> list[Sequence[str]]:
    """The rows as columns (at least `width` of them); "" where a short row lacks a cell."""
    widest = max(map(len, rows))
    if min(map(len, rows)) == widest >= width:  # a rectangle: transposed in C
        return list(zip(*rows))
    return [[r[i] if len(r) > i else "" for r in rows] for i in range(max(widest, width))]
