"""Text files (.csv, .tsv, .txt): encoding and delimiter detection, then the standard csv module."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any

from ..errors import FileTooLargeError, InputFileError
from ._base import Limits, RawSheet, short


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): BOMs first, then UTF-16 without BOM, UTF-8, cp1252, latin-1."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc
    sample = data[:4096]
    if len(sample) >= 4:
        even_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
        odd_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
        if even_nul > 0.4 and odd_nul < 0.1:
            return data.decode("utf-16-le", errors="replace"), "utf-16-le"
        if odd_nul > 0.4 and even_nul < 0.1:
            return data.decode("utf-16-be", errors="replace"), "utf-16-be"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter (comma, semicolon, tab or pipe) that splits the sample most consistently."""
    best, best_score = ",", -1.0
    for d in (",", ";", "\t", "|"):
        counts = [_count_outside_quotes(line, d) for line in lines if line.strip()]
        if not counts or max(counts) == 0:
            continue
        common = max(set(counts), key=counts.count)
        if common == 0:
            continue
        share = counts.count(common) / len(counts)
        score = share * 100 + min(common, 50)
        if score > best_score:
            best, best_score = d, score
    return best


def _count_outside_quotes(line: str, d: str) -> int:
    n, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == d and not quoted:
            n += 1
    return n


def read_csv(p: Path, shown: str, limits: Limits) -> RawSheet:
    """A text file as one sheet.

    Memory stays proportional to the cells that hold something: every blank line (empty, or only
    delimiters) is one shared row object, blank lines at the end are dropped (they carry nothing),
    and empty cells at the end of a line are dropped (a line of a million commas is one cell).
    """
    data = p.read_bytes()
    text, encoding = decode(data)
    del data
    if not text.strip():
        raise InputFileError("the file holds no text (only whitespace)", path=shown)
    notes = []
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"read as {encoding}")
    sample = text[:65536].splitlines()[:50]
    delim = sniff_delimiter(sample)
    csv.field_size_limit(max(limits.max_file_bytes, 1 << 20))
    _refuse_unclosed_quote(text, delim, shown)
    rows = _rows(text, delim, shown, limits)
    del text
    width = max(map(len, rows), default=0)
    if width * len(rows) > limits.max_cells:  # every row is padded to the widest
        raise FileTooLargeError(
            f"the text spans {len(rows):,} rows x {width:,} columns ({width * len(rows):,} cells), above the "
            f"{limits.max_cells:,}-cell bound; raise it with --max-size MB if the file is trusted",
            path=shown,
        )
    if width <= 1 and not any(_count_outside_quotes(line, d) for line in sample for d in ",;\t|"):
        notes.append("one column only: no delimiter found")
    blank = [""] * width  # one object for every blank row (nothing mutates the rows of a text file)
    for i, r in enumerate(rows):
        if r is _BLANK:
            rows[i] = blank
        elif len(r) < width:
            r.extend([""] * (width - len(r)))
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    notes.append(f"{names[delim]}-separated")
    return RawSheet(source=shown, sheet="", rows=rows, notes=notes, is_csv=True)


def _refuse_unclosed_quote(text: str, delim: str, shown: str) -> None:
    """A quote that opens a cell and is never closed would make the rest of the file one cell
    (every value after it swallowed): the file is refused, naming the line."""
    import collections

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    try:
        collections.deque(reader, maxlen=0)
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            start = text.count("\n", 0, _last_open_quote(text, delim)) + 1
            raise InputFileError(
                f"a quote (\") opened in line {start} is never closed, so everything after it would be one cell; "
                "fix the quote and read it again", path=shown,
            ) from None
        # other quoting slips (a quote inside a cell) are read leniently, as spreadsheet programs do


def _last_open_quote(text: str, delim: str) -> int:
    """Position of the quote that opens the cell left open at the end of the text (best effort)."""
    pos, inside, opened = 0, False, 0
    n = len(text)
    while pos < n:
        q = text.find('"', pos)
        if q < 0:
            break
        if not inside and (q == 0 or text[q - 1] in (delim, "\n", "\r")):
            inside, opened = True, q
        elif inside:
            if text[q + 1 : q + 2] == '"':
                q += 1  # an escaped quote
            else:
                inside = False
        pos = q + 1
    return opened


_BLANK: list[Any] = []  # stands for every blank row while reading
MAX_COLUMNS = 16_384  # Excel's, and what a row of a text file may fill (empty cells at its end do not count)


def _rows(text: str, delim: str, shown: str, limits: Limits) -> list[list[Any]]:
    """The rows of the text, blank ones as :data:`_BLANK`, trailing empty cells and blank rows dropped."""
    rows: list[list[Any]] = []
    cells = 0
    last = -1  # the last row that holds something
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delim):
            n = len(row)
            while n and row[n - 1] == "":
                n -= 1
            if n == 0:
                rows.append(_BLANK)
                cells += 1  # a blank line costs a row all the same
            else:
                if n > MAX_COLUMNS:
                    raise FileTooLargeError(
                        f"line {len(rows) + 1} holds {n:,} cells, more than the {MAX_COLUMNS:,} columns a spreadsheet has; "
                        "is it a spreadsheet?", path=shown,
                    )
                if n < len(row):
                    del row[n:]
                rows.append(row)
                cells += n
                last = len(rows) - 1
            if cells > limits.max_cells:
                raise FileTooLargeError(
                    f"the file has more than {limits.max_cells:,} cells; raise the bound with --max-size if it is trusted",
                    path=shown,
                )
    except csv.Error as exc:
        raise InputFileError(f"cannot split the text into columns ({short(exc)})", path=shown) from None
    del rows[last + 1 :]
    return rows
