"""The rules for text that leaves the tool: what a terminal must show instead of obey, what a
spreadsheet must read as text instead of a formula, and how a count reads. Pure functions."""

from __future__ import annotations

import re
from typing import Any

import orjson

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Characters a terminal acts on instead of showing: C0 (ESC starts colour, cursor, screen and
# window-title sequences), DEL, C1 (0x9b is a one-byte CSI on some terminals), the bidi
# embeddings, overrides and isolates (they reorder what follows on the line) and the Unicode
# line and paragraph separators. rich strips a few C0 codes (BEL, BS, CR) but not ESC.
_CONTROLS = ([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)],
             [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029])
_ESCAPES = {c: f"\\x{c:02x}" for c in _CONTROLS[0]} | {c: f"\\u{c:04x}" for c in _CONTROLS[1]}
_CONTROL = re.compile("[" + "".join(re.escape(chr(c)) for c in _ESCAPES) + "]")


def terminal_text(text: str) -> str:
    """`text` with every control character written visibly (ESC as \\x1b, U+202E as \\u202e):
    the one way data from the store reaches a terminal, in tables, trees, Markdown and messages."""
    if _CONTROL.search(text) is None:  # the usual case: one scan in C, no copy
        return text
    return text.translate(_ESCAPES)


def safe_cell(value: Any) -> Any:
    """A CSV cell that Excel, LibreOffice and Sheets read as text, never as a formula."""
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and its noun, as a person writes them: "1 essay", "2 essays", "12,345 generations"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
