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
    data = p.read_bytes()
    text, encoding = decode(data)
    if not text.strip():
        raise InputFileError("the file holds no text (only whitespace)", path=shown)
    notes = []
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"read as {encoding}")
    sample = text[:65536].splitlines()[:50]
    delim = sniff_delimiter(sample)
    csv.field_size_limit(max(limits.max_file_bytes, 1 << 20))
    rows: list[list[Any]] = []
    cells = 0
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delim):
            cells += len(row) or 1  # an empty line costs a row all the same
            if cells > limits.max_cells:
                raise FileTooLargeError(
                    f"the file has more than {limits.max_cells:,} cells; raise the bound with --max-size if it is trusted",
                    path=shown,
                )
            rows.append(row)
    except csv.Error as exc:
        raise InputFileError(f"cannot split the text into columns ({short(exc)})", path=shown) from None
    for r in rows:  # empty cells at the end of a line carry nothing (a line of a million commas is two columns)
        while len(r) > 1 and r[-1] == "":
            r.pop()
    width = max((len(r) for r in rows), default=0)
    if width * len(rows) > limits.max_cells:  # every row is padded to the widest
        raise FileTooLargeError(
            f"the text spans {len(rows):,} rows x {width:,} columns ({width * len(rows):,} cells), above the "
            f"{limits.max_cells:,}-cell bound; raise it with --max-size MB if the file is trusted",
            path=shown,
        )
    if width <= 1 and not any(_count_outside_quotes(line, d) for line in sample for d in ",;\t|"):
        notes.append("one column only: no delimiter found")
    for r in rows:
        if len(r) < width:
            r.extend([""] * (width - len(r)))
    names = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
    notes.append(f"{names[delim]}-separated")
    return RawSheet(source=shown, sheet="", rows=rows, notes=notes, is_csv=True)
