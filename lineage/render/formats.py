"""Writing rows and documents as table, JSON, Markdown or CSV: data to stdout or a file, never logs.

CSV cells that a spreadsheet would run as a formula are neutralised with a leading quote.
Text meant for a terminal (tables, Markdown, trees, messages) shows control characters
escaped (`terminal_text`); JSON and CSV keep the exact text.
"""

from __future__ import annotations

import csv
import errno
import os
import re
import sys
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Iterable, Iterator, TextIO

import orjson

from lineage.core.text import safe_cell, terminal_text

# rich is imported when a table is printed: JSON, CSV and Markdown (what scripts and CI read)
# start 17 ms sooner without it.
if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions

# Where data goes: a file, "-" or None for stdout.
Output = str | os.PathLike | None

def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                        default=str).decode() + "\n"


def rows_to_csv(rows: Iterable[dict], columns: list[str], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])


def _plain(value: Any) -> str:
    """One cell as text: lists joined, dicts as key=value pairs, None empty."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"  # as every count in a message: 12,345
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        # key=value pairs, spaced so a terminal wraps between them, not inside an ID.
        return ", ".join(f"{k}={_plain(v) if not isinstance(v, dict) else orjson.dumps(v).decode()}"
                         for k, v in value.items() if v is not None)
    return str(value)


def _md_cell(value: Any) -> str:
    return terminal_text(_plain(value).replace("|", "\\|").replace("\n", " "))


def rows_to_markdown(rows: Iterable[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# A terminal cell shows this much; rich lays out a cell in time that grows with the square of
# its length, and a megabyte from a damaged CSV would stall the table. The other formats
# keep every character.
MAX_CELL = 500

_NUMBER = re.compile(r"[-+]?[\d,]+(\.\d+)?")

# Prose gets at least this many characters; narrower, a message becomes a column of words.
PROSE_MIN = 24


class FittedTable:
    """Rows as a terminal table that fits the width it is printed at.

    IDs, check names, paths and numbers never break: a column whose cells have no space is
    shown whole or not at all. Prose (cells with spaces: messages, reasons) wraps at spaces.
    When the columns do not fit, the least important ones go (the `priority` order, then the
    display order) and the caption names them. Columns empty in every row are left out.
    """

    def __init__(self, rows: Iterable[dict], columns: list[str], title: str | None = None,
                 priority: list[str] | None = None):
        from rich.cells import cell_len

        self.title = title
        # Text, not str: values come from the data, and rich would read "[...]" in them as markup.
        cells = [[_cell(terminal_text(_plain(r.get(c)))) for c in columns] for r in rows]
        keep = [i for i in range(len(columns)) if not cells or any(row[i] for row in cells)]
        self.columns = [columns[i] for i in keep]
        self.cells = [[row[i] for i in keep] for row in cells]
        self.prose = [any(" " in row[j] for row in self.cells) for j in range(len(keep))]
        self.numeric = [all(_NUMBER.fullmatch(row[j]) for row in self.cells if row[j]) for j in range(len(keep))]
        natural = [max([cell_len(self.columns[j])] + [cell_len(row[j]) for row in self.cells])
                   for j in range(len(keep))]
        # Several prose columns share the minimum; none is narrower than its longest word
        # (up to PROSE_MIN: a longer "word", such as compact JSON, folds anyway).
        share = PROSE_MIN // max(1, sum(self.prose))
        self.min_width = [min(natural[j], max(share, min(self._longest_word(j), PROSE_MIN)))
                          if self.prose[j] else natural[j] for j in range(len(keep))]
        order = [c for c in priority or [] if c in self.columns]
        self.priority = order + [c for c in self.columns if c not in order]

    def _longest_word(self, j: int) -> int:
        from rich.cells import cell_len

        return max([cell_len(self.columns[j])] + [cell_len(w) for row in self.cells for w in row[j].split()])

    def shown(self, width: int) -> list[int]:
        """The indexes of the columns that fit in `width`, most important first to go last."""
        shown = set(range(len(self.columns)))
        index = {c: j for j, c in enumerate(self.columns)}

        def needed() -> int:  # rich's default box: a border and one space each side per column
            return sum(self.min_width[j] for j in shown) + 3 * len(shown) + 1

        for name in reversed(self.priority):
            if needed() <= width or len(shown) == 1:
                break
            shown.discard(index[name])
        return sorted(shown)

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        from rich.table import Table
        from rich.text import Text

        if not self.cells:
            yield Text(f"{self.title or 'rows'}: none")
            return
        shown = self.shown(options.max_width)
        hidden = [c for j, c in enumerate(self.columns) if j not in shown]
        caption = (f"not shown at {options.max_width} columns: {', '.join(hidden)} "
                   f"(--format json or csv has every field)") if hidden else None
        table = Table(title=self.title, show_lines=False)
        for j in shown:
            table.add_column(self.columns[j], overflow="fold", no_wrap=not self.prose[j],
                             min_width=self.min_width[j] if self.prose[j] else None,
                             justify="right" if self.numeric[j] else "left")
        for row in self.cells:
            table.add_row(*(Text(row[j]) for j in shown))
        yield table
        if caption:  # below the table as a line of its own, not padded to the table's width
            yield Text(caption, style="dim")


def rows_to_table(rows: Iterable[dict], columns: list[str], title: str | None = None,
                  priority: list[str] | None = None) -> FittedTable:
    return FittedTable(rows, columns, title, priority)


def _cell(text: str) -> str:
    if len(text) <= MAX_CELL:
        return text
    return f"{text[:MAX_CELL]}… ({len(text):,} characters)"


@contextmanager
def destination(output: str | os.PathLike | None) -> Iterator[TextIO]:
    """stdout (no output, or "-"), or a file written whole through a temp file so a failed run
    leaves no half file."""
    if not output or str(output) == "-":
        out = _Stdout(sys.stdout)
        yield out
        # Flushed here, inside the command: a reader that left (`| head -c 100`) is then a
        # BrokenPipeError the command turns into a quiet 141, before any verdict is printed.
        out.flush()
        return
    try:
        if os.path.exists(output) and not os.path.isfile(output):
            # A device or a FIFO (/dev/null, a named pipe): written into as the shell would;
            # renaming a file over it would destroy it.
            with open(output, "w", encoding="utf-8", newline="") as fh:
                yield fh
            return
        target = os.path.realpath(output)  # through a symlink to the file it names, link kept
        tmp = f"{target}.tmp{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                yield fh
            os.replace(tmp, target)
        finally:  # also on SIGTERM (the CLI turns it into an exception): no temp file left
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise  # a FIFO's reader left: the quiet 141, as for stdout
        if exc.filename is None or str(exc.filename).startswith(str(output)):
            # Name the file asked for (not the temp file, and not nothing: /dev/full says ENOSPC).
            raise OSError(exc.errno, exc.strerror, str(output)) from None
        raise


class _Stdout:
    """sys.stdout for data, whose writes are never cut short in silence.

    A large write (a JSON or Markdown document is one) goes from the text layer straight to
    the pipe; when the reader leaves during it, the binary layer returns the part it wrote and
    the text layer drops the rest without a word, so the command went on to report success.
    Here every write goes to the binary layer in a loop until all of it is taken: the next try
    after a short write meets the broken pipe as a BrokenPipeError.
    """

    def __init__(self, stream: TextIO):
        self._text = stream
        self._bytes = getattr(stream, "buffer", None)
        stream.flush()  # anything written through sys.stdout itself goes first

    def write(self, text: str) -> int:
        if self._bytes is None:
            return self._text.write(text)
        data = memoryview(text.encode(self._text.encoding or "utf-8", self._text.errors or "strict"))
        while data:
            n = self._bytes.write(data)
            if not n:
                raise BrokenPipeError(errno.EPIPE, "stdout took no more data")
            data = data[n:]
        return len(text)

    def flush(self) -> None:
        self._text.flush()
        if self._bytes is not None:
            self._bytes.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ... of sys.stdout
        return getattr(self._text, name)


@cache
def _table_console() -> type:
    from rich.console import Console

    class TableConsole(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit 1 here; the CLI answers a reader that left with a quiet 141.
            self.quiet = True
            raise BrokenPipeError

    return TableConsole


def console_for(out: TextIO) -> Console:
    """A rich console that writes the table to `out` (no colour codes when it is a file).

    The width is the terminal's, or $COLUMNS, or 80: a table read later from a file or a pipe
    reads as it would have on the screen.
    """
    return _table_console()(file=out, soft_wrap=False, emoji=False)


def emit_rows(rows: list[dict], columns: list[str], fmt: str, output: str | None,
              title: str | None = None, document: Any = None, priority: list[str] | None = None) -> None:
    """Write rows in the chosen format; `document` replaces the row list in JSON when given."""
    with destination(output) as out:
        if fmt == "json":
            out.write(to_json(rows if document is None else document))
        elif fmt == "csv":
            rows_to_csv(rows, columns, out)
        elif fmt == "md":
            if title:
                out.write(f"## {title}\n\n")
            out.write(rows_to_markdown(rows, columns))
        else:
            console_for(out).print(rows_to_table(rows, columns, title, priority))

