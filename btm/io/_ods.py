"""OpenDocument spreadsheets (.ods): content.xml read as XML structure (expat, namespace-aware).

One pass before the reader runs gives, per table, the grid its cells span (repeated rows and
cells count as often as they repeat, except the trailing empty ones LibreOffice pads every sheet
with) and the cells a reader shows as empty: error cells and formulas without a value. A second
pass (:func:`restore`) runs only when the reader's grid holds fewer values than the XML: it puts
back the values the reader missed (for example under namespace prefixes it does not expect).
Elements are matched by namespace, never by prefix or quoting.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._base import walk_xml

__all__ = ["OdsTable", "ods_tables", "restore"]

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
_MAX_REPEAT = 1 << 40  # a repeat count beyond any grid (the extent check refuses it)


@dataclass
class OdsTable:
    """One table of content.xml: its extent, its cells with content, and those a reader shows empty."""

    name: str
    rows: int = 0  # up to the last row with content
    cols: int = 0  # up to the last column with content
    values: int = 0  # cells with content, repeats counted (up to the extent)
    errors: list[tuple[int, int, str]] = field(default_factory=list)  # (row0, col0, "#DIV/0!")
    uncached: list[tuple[int, int, str]] = field(default_factory=list)  # (row0, col0, "=formula")


def _repeat(attrs: dict[str, str], name: str) -> int:
    text = attrs.get(f"{_TABLE}}}{name}", "1").strip()
    return min(int(text[:13]), _MAX_REPEAT) if text.isdigit() else 1


class _Walker:
    """Expat handlers: each cell of each table with its position, repeats and content."""

    def __init__(self, on_cell: Callable[[OdsTable, int, int, int, int, dict[str, Any]], None]) -> None:
        self.on_cell = on_cell
        self.tables: list[OdsTable] = []
        self.table: OdsTable | None = None
        self.row = 0  # 0-based row of the current <table-row>
        self.row_rep = 1
        self.col = 0
        self.cell: dict[str, Any] | None = None
        self.depth = 0  # nesting inside the current cell (text:p, spans)
        self.text: list[str] | None = None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if self.cell is not None:
            self.depth += 1
            if name == f"{_TEXT}}}p":
                if self.cell["text"]:
                    self.cell["text"].append("\n")
                self.text = self.cell["text"]
            elif name == f"{_TEXT}}}s" and self.text is not None:  # <text:s text:c="3"/>: spaces
                c = attrs.get(f"{_TEXT}}}c", "1").strip()
                self.text.append(" " * min(int(c[:6]) if c.isdigit() else 1, 1000))
            return
        if name == f"{_TABLE}}}table":
            self.table = OdsTable(attrs.get(f"{_TABLE}}}name", ""))
            self.tables.append(self.table)
            self.row = 0
        elif self.table is not None and name == f"{_TABLE}}}table-row":
            self.row_rep, self.col = _repeat(attrs, "number-rows-repeated"), 0
        elif self.table is not None and name in (f"{_TABLE}}}table-cell", f"{_TABLE}}}covered-table-cell"):
            vtype = attrs.get(f"{_OFFICE}}}value-type") or attrs.get(f"{_CALCEXT}}}value-type") or ""
            self.cell = {
                "rep": _repeat(attrs, "number-columns-repeated"),
                "type": vtype.strip(),
                "calc_type": (attrs.get(f"{_CALCEXT}}}value-type") or "").strip(),
                "value": attrs.get(f"{_OFFICE}}}value"),
                "formula": attrs.get(f"{_TABLE}}}formula"),
                "text": [],
            }
            self.depth = 0

    def end(self, name: str) -> None:
        if self.cell is not None:
            if self.depth:
                self.depth -= 1
                if name == f"{_TEXT}}}p":
                    self.text = None
                return
            cell, self.cell = self.cell, None
            cell["text"] = "".join(cell["text"])
            if self.table is not None:
                self.on_cell(self.table, self.row, self.row_rep, self.col, cell["rep"], cell)
            self.col += cell["rep"]
            return
        if name == f"{_TABLE}}}table-row":
            self.row += self.row_rep
        elif name == f"{_TABLE}}}table":
            self.table = None

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def _walk(zf: zipfile.ZipFile, member: str, on_cell) -> list[OdsTable]:
    walker = _Walker(on_cell)
    walk_xml(zf, member, walker)
    return walker.tables


def _has_content(cell: dict[str, Any]) -> bool:
    return bool(cell["type"] or cell["formula"] or cell["text"].strip())


def ods_tables(zf: zipfile.ZipFile, member: str) -> list[OdsTable]:
    """Every table of ``member`` (content.xml) with its extent, error cells and formulas without a value."""

    def on_cell(table: OdsTable, row: int, row_rep: int, col: int, rep: int, cell: dict[str, Any]) -> None:
        if not _has_content(cell):
            return
        table.rows = max(table.rows, row + row_rep)
        table.cols = max(table.cols, col + rep)
        table.values += row_rep * rep
        if row_rep * rep > 1000:  # a block repeated this often: its first cells stand for it
            row_rep, rep = min(row_rep, 1000), min(rep, max(1, 1000 // min(row_rep, 1000)))
        if cell["type"] == "error" or cell["calc_type"] == "error":
            text = cell["text"].strip()
            for r in range(row, row + row_rep):
                table.errors.extend((r, c, text if text.startswith("#") else "#VALUE!") for c in range(col, col + rep))
        elif cell["formula"] and not cell["type"]:
            formula = cell["formula"].strip()
            formula = "=" + formula.split(":", 1)[1].lstrip("=") if formula[:3] in ("of:", "oo") else formula
            for r in range(row, row + row_rep):
                table.uncached.extend((r, c, formula) for c in range(col, col + rep))

    return _walk(zf, member, on_cell)


def restore(zf: zipfile.ZipFile, member: str, sheet: str, rows: list[list[Any]], max_cells: int) -> int:
    """Put the values of table ``sheet`` that the reader's grid ``rows`` shows empty back from the
    XML (numbers from ``office:value``, else the cell's text); return how many were put back."""
    restored = 0

    def on_cell(table: OdsTable, row: int, row_rep: int, col: int, rep: int, cell: dict[str, Any]) -> None:
        nonlocal restored
        if table.name != sheet or not _has_content(cell) or cell["type"] == "error" or cell["calc_type"] == "error":
            return
        if cell["formula"] and not cell["type"]:
            return  # listed as a formula without a value
        value: Any = cell["text"]
        if cell["type"] in ("float", "percentage", "currency") and cell["value"] is not None:
            try:
                value = float(cell["value"])
            except ValueError:
                value = cell["value"]
        for r in range(row, min(row + row_rep, row + max_cells)):
            for c in range(col, min(col + rep, 16384)):
                while len(rows) <= r:
                    rows.append([])
                if len(rows[r]) <= c:
                    rows[r].extend([""] * (c + 1 - len(rows[r])))
                if rows[r][c] == "":
                    rows[r][c] = value
                    restored += 1

    _walk(zf, member, on_cell)
    return restored
