"""OpenDocument spreadsheets (.ods): the grid each table spans and its error cells, from content.xml."""

from __future__ import annotations

import re
import zipfile

_ODS_TABLE = re.compile(rb"<table:table(?=[\s>])([^>]*)>")
_ODS_NAME = re.compile(rb"""table:name\s*=\s*["']([^"']*)""")
_ODS_ROW_START = re.compile(rb"<table:table-row(?=[\s>/])")
_ODS_REPEAT = re.compile(rb"""number-(?:rows|columns)-repeated\s*=\s*["']\s*([0-9]+)""")


def ods_extents(zf: zipfile.ZipFile, member: str) -> list[tuple[str, int, int, list[tuple[int, int, str]]]]:
    """(sheet, rows, columns, error cells) of each table of an OpenDocument spreadsheet.

    Rows and columns: what the table spans, at most.

    Repeated rows and cells (``number-rows-repeated``, ``number-columns-repeated``) count as
    often as they repeat, except the trailing empty ones (LibreOffice fills every row to the last
    column and the sheet to the last row with them; readers drop them). Error cells (#DIV/0!,
    which readers give as empty) as (row0, col0, text).
    """
    text = zf.read(member)  # its size was checked against the budget above
    out: list[tuple[str, int, int, list[tuple[int, int, str]]]] = []
    has_errors = b'value-type="error"' in text
    starts = []
    for m in _ODS_TABLE.finditer(text):
        nm = _ODS_NAME.search(m.group(1))
        starts.append((m.start(), nm.group(1).decode("utf-8", "replace") if nm else ""))
    for k, (pos, name) in enumerate(starts):
        stop = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        height = last = width = 0
        errors: list[tuple[int, int, str]] = []
        for attrs, body in _ods_rows(text, pos, stop):
            reps = _ods_repeat(attrs)
            if has_errors and b'value-type="error"' in body:
                found = _ods_row_errors(body)
                for r in range(height, height + min(reps, 1000)):  # (a row repeated more often: its first 1,000)
                    errors.extend((r, c, t) for c, t in found)
            height += reps
            w = _ods_row_width(body)
            if w:
                last, width = height, max(width, w)
        out.append((name, last, width, errors))
    return out


_ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell(?=[\s>/])([^>]*?)(/?)>")
_ODS_TEXT = re.compile(rb"<text:p[^>]*>([^<]*)")


def _ods_row_errors(body: bytes) -> list[tuple[int, str]]:
    """(col0, text) of the error cells of one table row."""
    out: list[tuple[int, str]] = []
    col = 0
    for m in _ODS_CELL.finditer(body):
        attrs = m.group(1)
        if b'value-type="error"' in attrs and not m.group(2):
            t = _ODS_TEXT.search(body, m.end())
            text = t.group(1).decode("utf-8", "replace").strip() if t else ""
            out.append((col, text if text.startswith("#") else "#VALUE!"))
        col += _ods_repeat(attrs)
    return out


def _ods_rows(text: bytes, pos: int, stop: int):
    """(attributes, body) of each table row between ``pos`` and ``stop``; a row ends where the next
    begins at the latest (linear even when closing tags are missing)."""
    starts = [m.start() for m in _ODS_ROW_START.finditer(text, pos, stop)] + [stop]
    for a, b in zip(starts, starts[1:], strict=False):
        close = text.find(b">", a, b)
        if close < 0:
            continue
        attrs = text[a + len(b"<table:table-row") : close]
        if attrs.endswith(b"/"):
            yield attrs, b""
            continue
        end = text.rfind(b"</table:table-row>", close, b)
        yield attrs, text[close + 1 : end if end >= 0 else b]


def _ods_repeat(attrs: bytes) -> int:
    m = _ODS_REPEAT.search(attrs) if b"repeated" in attrs else None
    return int(m.group(1)[:12]) if m else 1


def _ods_row_width(body: bytes) -> int:
    """Columns of a row up to its last cell that is not empty (empty: self-closing, no value)."""
    end = len(body.rstrip())
    while end:
        i = body.rfind(b"<table:", 0, end)
        last = body[i:end] if i >= 0 else b""
        if i >= 0 and last.endswith(b"/>") and b"value-type" not in last and last.count(b"<") == 1:
            end = i
            while end and body[end - 1] in b" \t\r\n":
                end -= 1
            continue
        break
    if not end:
        return 0
    body = body[:end]
    width = body.count(b"<table:table-cell") + body.count(b"<table:covered-table-cell")
    if b"repeated" in body:
        width += sum(int(x[:12]) - 1 for x in _ODS_REPEAT.findall(body))
    return width
