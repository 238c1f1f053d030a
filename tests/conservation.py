"""Conservation, checked with readers that are not btm's: every non-empty cell of a value column
ends loaded or rejected (or, in a long table, ignored as a test that is no bone marker), and
nothing else does.

The cells are read independently of btm: openpyxl (.xlsx/.xlsm, formulas as their text), xlrd
(.xls), odfpy (.ods) and the csv module (.csv/.tsv/.txt, encoding from the byte-order mark or
UTF-8/cp1252, delimiter: the one the header line holds most of). Where the values are comes from btm's layout record
of each table (``ImportResult.layouts[...]["tables"]``: header row, data rows, value columns), and
that record is checked too: every header cell that names a bone marker (by the catalog's synonyms)
must be one of the table's value columns, so a recognised marker column can never be dropped.

Blank means empty: no value, or text of spaces only. A cell holding NaN, an error code or a
formula is not blank.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from btm.io.layout import classify_header

__all__ = ["Census", "blank", "cells_of", "check_conservation"]


def blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def cells_of(path: Path, sheet: str) -> list[list[Any]]:
    """The cells of one sheet (rows of values), read without btm; blank rows at the end (which
    hold nothing to count) left out."""
    rows = _cells_of(path, sheet)
    while rows and all(blank(v) for v in rows[-1]):
        rows.pop()
    return rows


def _cells_of(path: Path, sheet: str) -> list[list[Any]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        with open(path, "rb") as fh:  # (openpyxl leaves a file it fails on open)
            try:
                wb = openpyxl.load_workbook(fh)  # formulas come as their text, error cells as "#DIV/0!"
            except Exception:  # XML spellings openpyxl does not take (comments inside values …): parse it here
                return _xml_cells(path, sheet)
            ws = wb[sheet]
            return [[c.value for c in row] for row in ws.iter_rows()]
    if suffix == ".xls":
        import xlrd

        sh = xlrd.open_workbook(str(path)).sheet_by_name(sheet)
        return [[None if sh.cell_type(i, j) in (0, 6) else sh.cell_value(i, j) for j in range(sh.ncols)] for i in range(sh.nrows)]
    if suffix == ".ods":
        return _ods_cells(path, sheet)
    return _text_cells(path)


def _text_cells(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            text = data.decode(enc)
            break
    else:
        if len(data) > 3 and data[1::2].count(0) > 0.4 * len(data[1::2]) and data[0::2].count(0) < 0.1 * len(data[0::2]):
            text = data.decode("utf-16-le")
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.decode("cp1252")
    header = next((line for line in text[:65536].splitlines() if line.strip()), "")
    delimiter = max(",;\t|", key=header.count)  # the header's most frequent delimiter
    csv.field_size_limit(1 << 30)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _xml_cells(path: Path, sheet: str) -> list[list[Any]]:
    """A worksheet parsed with ElementTree (namespace-aware): a cell's text is its value, inline
    string or formula ("=…"); shared strings are looked up. Only for what openpyxl refuses."""
    import posixpath
    import xml.etree.ElementTree as ET
    import zipfile

    def local(tag: str) -> str:
        return tag.rpartition("}")[2]

    with zipfile.ZipFile(path) as zf:
        names = {n.lower(): n for n in zf.namelist()}
        book = ET.fromstring(zf.read(names["xl/workbook.xml"]))
        rels = ET.fromstring(zf.read(names["xl/_rels/workbook.xml.rels"]))
        target = {r.get("Id"): r.get("Target") for r in rels.iter() if local(r.tag) == "Relationship"}
        rid = next(next(v for k, v in el.attrib.items() if k.endswith("}id")) for el in book.iter() if local(el.tag) == "sheet" and el.get("name") == sheet)
        part = posixpath.normpath(posixpath.join("xl", target[rid])).lower()
        shared = []
        if "xl/sharedstrings.xml" in names:
            shared = ["".join(t.text or "" for t in si.iter() if local(t.tag) == "t") for si in ET.fromstring(zf.read(names["xl/sharedstrings.xml"])) if local(si.tag) == "si"]
        root = ET.fromstring(zf.read(names[part]))
    grid: dict[tuple[int, int], Any] = {}
    r_no = 0
    for row in (e for e in root.iter() if local(e.tag) == "row"):
        r_no = int(row.get("r")) if (row.get("r") or "").strip().isdigit() else r_no + 1
        col = 0
        for c in (e for e in row if local(e.tag) == "c"):
            ref = (c.get("r") or "").strip().upper()
            letters = "".join(ch for ch in ref if ch.isalpha())
            digits = "".join(ch for ch in ref if ch.isdigit())
            col = _col(letters) + 1 if letters else col + 1
            r = int(digits) if digits else r_no
            kids = {local(k.tag): k for k in c}
            v = None if "v" not in kids else "".join(kids["v"].itertext())
            if "is" in kids:
                v = "".join(t.text or "" for t in kids["is"].iter() if local(t.tag) == "t")
            elif c.get("t") == "s" and v is not None and v.strip().isdigit():
                v = shared[int(v)]
            elif "f" in kids and (v is None or (v == "" and c.get("t") != "str")):  # no cached value (a cached "" is text)
                v = "=" + (kids["f"].text or "")
            grid[(r - 1, col - 1)] = v
    if not grid:
        return []
    height, width = max(r for r, _ in grid) + 1, max(c for _, c in grid) + 1
    return [[grid.get((i, j)) for j in range(width)] for i in range(height)]


def _ods_cells(path: Path, sheet: str) -> list[list[Any]]:
    from odf import teletype
    from odf.opendocument import load
    from odf.table import Table, TableRow

    (table,) = [t for t in load(str(path)).spreadsheet.getElementsByType(Table) if t.getAttribute("name") == sheet]
    rows = []
    for tr in table.getElementsByType(TableRow):
        row: list[Any] = []
        for c in tr.childNodes:
            if c.qname[1] not in ("table-cell", "covered-table-cell"):
                continue
            text = teletype.extractText(c)
            attrs = {k[1]: v for k, v in c.attributes.items()}
            value = text or ("=" + attrs["formula"] if "formula" in attrs else attrs.get("value") or ("?" if "value-type" in attrs else None))
            row += [value] * min(int(c.getAttribute("numbercolumnsrepeated") or 1), 64)
        rows += [row] * min(int(tr.getAttribute("numberrowsrepeated") or 1), 64)
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


def _letter(j: int) -> str:
    s, j = "", j + 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _col(label: str) -> int:
    n = 0
    for ch in label.split(" ")[0]:
        n = n * 26 + ord(ch) - 64
    return n - 1


@dataclass
class Census:
    cells: int  # cells of the value columns in the data rows
    values: int  # of them, not blank
    loaded: int
    rejected: int
    ignored: int


def check_conservation(path: Path, res) -> Census:
    """Assert conservation for one file's import result ``res``; return the counts."""
    (f,) = res.files.itertuples()
    assert f.status == "ok", f.status
    if any(t["layout"] == "tidy" for rec in res.layouts for t in rec.get("tables", [])):
        return _check_counts_only(path, res, f)
    loaded = {(s, int(r), _col(c)) for s, r, c in zip(res.data["source_sheet"], res.data["source_row"], res.data["source_column"], strict=True)}
    rejected = {(s, int(r), _col(c)) for s, r, c in zip(res.rejected["source_sheet"], res.rejected["source_row"], res.rejected["column"], strict=True)}
    assert len(loaded) == len(res.data), "two results from one cell"
    assert len(rejected) == len(res.rejected), "a cell rejected twice"
    assert not loaded & rejected, f"loaded and rejected: {sorted(loaded & rejected)[:5]}"
    values: set[tuple[str, int, int]] = set()
    cells = 0
    long_rows = False
    for rec in res.layouts:
        if rec.get("skip") or "tables" not in rec:
            continue
        grid = cells_of(path, rec["sheet"])
        for table in rec["tables"]:
            cols = table["value_columns"]
            long_rows |= table["layout"] != "wide"
            header = grid[table["header_row"]] if table["header_row"] < len(grid) else []
            if table["layout"] == "wide":
                for j, h in enumerate(header):
                    if isinstance(h, str) and h.strip() and classify_header(h).role == "marker":
                        assert j in cols, f"{rec['sheet']!r}: column {_letter(j)} ({h!r}) names a marker but its values were not read"
            end = len(grid) if table["end"] is None else min(table["end"], len(grid))
            for i in range(table["data_start"], end):
                row = grid[i]
                for j in cols:
                    cells += 1
                    if j < len(row) and not blank(row[j]):
                        values.add((rec["sheet"], i + 1, j))
    assert f.read == cells, f"btm read {f.read} cells, the value columns hold {cells}"
    assert f.blank == cells - len(values), f"btm counted {f.blank} blank, an independent reader {cells - len(values)}"
    got = loaded | rejected
    assert got <= values, f"loaded or rejected from a cell that is empty or outside the value columns: {sorted(got - values)[:5]}"
    missing = values - got
    if long_rows:  # results of tests that are not bone markers are counted, not listed one by one
        assert len(missing) == f.ignored, f"{len(missing)} values neither loaded nor rejected, {f.ignored} ignored"
    else:
        assert not missing and f.ignored == 0, f"values neither loaded nor rejected: {sorted(missing)[:5]}"
    assert f.loaded + f.rejected + f.ignored == len(values)
    return Census(cells, len(values), f.loaded, f.rejected, f.ignored)


def _check_counts_only(path: Path, res, f) -> Census:
    """btm's own tidy table read back: its rows keep the provenance they were first read with, so
    only the counts can be compared (every non-empty value is loaded or rejected)."""
    cells = values = 0
    for rec in res.layouts:
        grid = cells_of(path, rec["sheet"])
        for table in rec.get("tables", []):
            for row in grid[table["data_start"] : table["end"]]:
                for j in table["value_columns"]:
                    cells += 1
                    values += j < len(row) and not blank(row[j])
    assert (f.read, f.blank) == (cells, cells - values)
    assert f.loaded + f.rejected == values and (f.loaded, f.rejected) == (len(res.data), len(res.rejected))
    return Census(cells, values, f.loaded, f.rejected, f.ignored)
