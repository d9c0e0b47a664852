"""Byte-precise edits of the files a rename touches: a JSON string value (by pointer), a CSV
cell (by line and column) or a text line. Every other byte of the file stays as it was.

The plan and the apply both call `apply_edits`, so the hash of a file after its edits is known
when the plan is made, and checked before the apply writes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lineage.core import ids
from lineage.analyses.impact import pointer_token
from lineage.core.status import LineageError

_UNSET: Any = type("Unset", (), {"__repr__": lambda self: "UNSET"})()  # no value recorded


class EditError(LineageError):
    """An edit does not match the file it is meant for."""


EDIT_KINDS = ("json", "csv", "line")


@dataclass(slots=True)
class Edit:
    """One mention of an old ID to replace: in a JSON string (by pointer), a CSV cell (line and
    column) or a text line. A planned edit also records the value before and after."""

    kind: str  # json | csv | line
    old_id: str
    new_id: str
    pointer: str = ""  # json
    line: int | None = None  # csv and line: 1-based, a CSV header is line 1
    column: str = ""  # csv
    old_value: Any = _UNSET
    new_value: Any = _UNSET

    def key(self) -> tuple:
        """What makes two edits the same edit."""
        return (self.kind, self.old_id, self.new_id, self.pointer, self.line, self.column)

    def described(self, old_value: Any, new_value: Any) -> "Edit":
        return Edit(self.kind, self.old_id, self.new_id, self.pointer, self.line, self.column, old_value, new_value)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "json":
            out["pointer"] = self.pointer
        else:
            out["line"] = self.line
            if self.kind == "csv":
                out["column"] = self.column
        out["old_id"], out["new_id"] = self.old_id, self.new_id
        if self.old_value is not _UNSET:
            out["old_value"], out["new_value"] = self.old_value, self.new_value
        return out

    @classmethod
    def from_json(cls, doc: Any, where: str) -> "Edit":
        if not isinstance(doc, dict) or doc.get("kind") not in EDIT_KINDS:
            raise ValueError(f"{where}: an edit must be an object with kind {', '.join(EDIT_KINDS)}")
        kind = doc["kind"]
        for name in ("old_id", "new_id") + (("pointer",) if kind == "json" else ()) + (("column",) if kind == "csv" else ()):
            if not isinstance(doc.get(name), str):
                raise ValueError(f"{where}: edit field {name} must be a string")
        if kind != "json" and (type(doc.get("line")) is not int or doc["line"] < 1):
            raise ValueError(f"{where}: edit field line must be a positive integer")
        return cls(kind, doc["old_id"], doc["new_id"], doc.get("pointer", ""), doc.get("line"),
                   doc.get("column", ""), doc.get("old_value", _UNSET), doc.get("new_value", _UNSET))


def _swap(text: str, old: str, new: str) -> str | None:
    """`text` with every whole-token `old` replaced, or None when it holds none."""
    out, n = ids.replace_token(text, old, new)
    return out if n else None


_WS = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def json_string_spans(text: str) -> dict[str, tuple[int, int]]:
    """JSON pointer -> (start, end) of every string value's token (quotes included).

    A stack of open containers, not recursion: a hostile file nested thousands deep is data.
    """
    from json.decoder import scanstring

    spans: dict[str, tuple[int, int]] = {}
    stack: list[list] = []  # [closing char, pointer of the container, next array index]

    def ws(i: int) -> int:
        return _WS.match(text, i).end()

    i, ptr = ws(0), ""
    while True:
        # A value starts at i; its pointer is ptr.
        c = text[i]
        if c == '"':
            start = i
            _, i = scanstring(text, i + 1)
            spans[ptr] = (start, i)
        elif c in "{[":
            close = "}" if c == "{" else "]"
            i = ws(i + 1)
            if text[i] == close:
                i += 1
            else:
                stack.append([close, ptr, 0])
                i, ptr = _member(text, i, stack[-1], ws, scanstring)
                continue
        elif c != '"':
            m = _SCALAR.match(text, i)
            if not m:
                raise ValueError(f"unexpected {c!r} at {i}")
            i = m.end()
        # The value ended at i: close every container that ends here, then go to the next member.
        while True:
            if not stack:
                return spans
            i = ws(i)
            top = stack[-1]
            if text[i] == ",":
                i, ptr = _member(text, ws(i + 1), top, ws, scanstring)
                break
            if text[i] == top[0]:
                stack.pop()
                i += 1
                continue
            raise ValueError(f"expected ',' or {top[0]!r} at {i}")


def _member(text: str, i: int, top: list, ws, scanstring) -> tuple[int, str]:
    """Where the next member's value starts, and its pointer (an object's key is read here)."""
    close, ptr, index = top
    if close == "}":
        if text[i] != '"':
            raise ValueError(f"expected a key at {i}")
        key, i = scanstring(text, i + 1)
        i = ws(i)
        if text[i] != ":":
            raise ValueError(f"expected ':' at {i}")
        return ws(i + 1), f"{ptr}/{pointer_token(key)}"
    top[2] = index + 1
    return i, f"{ptr}/{index}"


def _splice(text: str, replacements: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, new) span replaced; the spans do not overlap. One join,
    where replacing span by span copied the whole file once per edit."""
    pieces, pos = [], 0
    for start, end, new in sorted(replacements):
        pieces += (text[pos:start], new)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


def _apply_json(text: str, edits: list[Edit], where: str) -> tuple[str, list[Edit]]:
    try:
        spans = json_string_spans(text)
    except (ValueError, IndexError) as exc:
        raise EditError(f"{where}: not JSON the plan can edit ({exc})") from None
    by_ptr: dict[str, list[Edit]] = {}
    for e in edits:
        by_ptr.setdefault(e.pointer, []).append(e)
    out_edits: list[Edit] = []
    if any(p not in spans for p in by_ptr):
        return _apply_json_reserialized(text, by_ptr, where)
    replacements = []
    for ptr, eds in by_ptr.items():
        s, e = spans[ptr]
        raw = text[s:e]
        before = json.loads(raw)
        value, new_raw = before, raw
        for ed in eds:
            swapped = _swap(value, ed.old_id, ed.new_id)
            if swapped is not None:
                value = swapped
                new_raw = _swap(new_raw, ed.old_id, ed.new_id) or new_raw
            elif ptr == "/gen_id":  # the folder is the ID: metadata says so, whatever it said
                value = ed.new_id
                new_raw = json.dumps(value, ensure_ascii=False)
            else:
                raise EditError(f"{where}: {ptr} does not mention {ed.old_id}")
        try:
            ok = json.loads(new_raw) == value
        except ValueError:
            ok = False
        if not ok:
            new_raw = json.dumps(value, ensure_ascii=False)
        replacements.append((s, e, new_raw))
        out_edits += [ed.described(before, value) for ed in eds[:1]] + eds[1:]
    return _splice(text, replacements), out_edits


def _apply_json_reserialized(text: str, by_ptr: dict[str, list[Edit]], where: str) -> tuple[str, list[Edit]]:
    """A field to set that holds no string (absent, a number): rewrite the document in the
    pipeline's style (2-space indent, UTF-8). Only top-level fields can be set this way."""
    doc = json.loads(text)
    out_edits = []
    for ptr, eds in by_ptr.items():
        parts = ptr.split("/")[1:]
        if len(parts) != 1 or not isinstance(doc, dict):
            raise EditError(f"{where}: {ptr} is not a string field")
        key = parts[0].replace("~1", "/").replace("~0", "~")  # the inverse of pointer_token
        before = doc.get(key)
        value = before
        for ed in eds:
            swapped = _swap(value, ed.old_id, ed.new_id) if isinstance(value, str) else None
            if swapped is not None:
                value = swapped
            elif ptr == "/gen_id":
                value = ed.new_id
            else:
                raise EditError(f"{where}: {ptr} does not mention {ed.old_id}")
        if key not in doc and key == "gen_id" and "stage" in doc:
            items = list(doc.items())
            i = next(n for n, (k, _) in enumerate(items) if k == "stage") + 1
            doc = dict(items[:i] + [(key, value)] + items[i:])
        else:
            doc[key] = value
        out_edits += [eds[0].described(before, value)] + eds[1:]
    tail = "\n" if text.endswith("\n") else ""
    return json.dumps(doc, indent=2, ensure_ascii=False) + tail, out_edits


_BREAK = re.compile(r"\r\n|\r|\n")
_FIELD_END = re.compile(r"[,\r\n]")


def _row_fields(text: str, i: int) -> list[tuple[int, int]]:
    """(start, end) of each raw field of the CSV row starting at offset i (excel dialect)."""
    fields = []
    n = len(text)
    while True:
        s = i
        if i < n and text[i] == '"':
            i += 1
            while True:
                j = text.find('"', i)
                if j < 0:
                    i = n
                    break
                if j + 1 < n and text[j + 1] == '"':
                    i = j + 2
                    continue
                i = j + 1
                break
        m = _FIELD_END.search(text, i)
        i = m.start() if m else n
        fields.append((s, i))
        if i < n and text[i] == ",":
            i += 1
            continue
        return fields


def _cell(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        raw = raw[1:-1].replace('""', '"')
    return raw


def _apply_csv(text: str, edits: list[Edit], where: str) -> tuple[str, list[Edit]]:
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    # R and Excel write a BOM before a quoted first header cell: drop it before unquoting.
    names = [_cell(text[s:e].lstrip("\ufeff")).strip() for s, e in _row_fields(text, 0)]
    current: dict[tuple[int, int], str] = {}  # field span -> its raw text after the edits so far
    out_edits = []
    for ed in edits:
        line = ed.line
        if not isinstance(line, int) or not 1 <= line <= len(starts):
            raise EditError(f"{where}: no line {line}")
        fields = _row_fields(text, starts[line - 1])
        cols = [i for i, n in enumerate(names) if n == ed.column] or \
               [i for i, n in enumerate(names) if n.lower() == str(ed.column).lower()]
        hit = False
        for i in cols:
            if i >= len(fields):
                continue
            span = fields[i]
            raw = current.get(span, text[span[0]:span[1]])
            swapped = _swap(raw, ed.old_id, ed.new_id)
            if swapped is not None:
                out_edits.append(ed.described(_cell(raw), _cell(swapped)))
                current[span] = swapped
                hit = True
        if not hit:
            raise EditError(f"{where}:{line}: column {ed.column} does not mention {ed.old_id}")
    return _splice(text, [(s, e, raw) for (s, e), raw in current.items()]), out_edits


def _apply_lines(text: str, edits: list[Edit], where: str) -> tuple[str, list[Edit]]:
    lines = text.splitlines(keepends=True)
    out_edits = []
    for ed in edits:
        line = ed.line
        if not isinstance(line, int) or not 1 <= line <= len(lines):
            raise EditError(f"{where}: no line {line}")
        full = lines[line - 1]
        body = full.splitlines()[0] if full.splitlines() else ""
        swapped = _swap(body, ed.old_id, ed.new_id)
        if swapped is None:
            raise EditError(f"{where}:{line}: does not mention {ed.old_id}")
        lines[line - 1] = swapped + full[len(body):]
        out_edits.append(ed.described(body, swapped))
    return "".join(lines), out_edits


def apply_edits(data: bytes, edits: list[Edit], where: str = "") -> tuple[bytes, list[Edit]]:
    """The file's bytes after `edits` (every other byte kept) and the edits with their before
    and after values. Plan and apply both call this, so the post hash is known in advance."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EditError(f"{where}: not UTF-8 (byte {exc.start})") from None
    described: list[Edit] = []
    for kind, fn in (("json", _apply_json), ("csv", _apply_csv), ("line", _apply_lines)):
        chosen = [e for e in edits if e.kind == kind]
        if chosen:
            text, out = fn(text, chosen, where)
            described += out
    return text.encode("utf-8"), described
