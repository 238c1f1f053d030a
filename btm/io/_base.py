"""What every reader shares: the bounds on an input (:class:`Limits`) and a sheet as a grid (:class:`RawSheet`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")
SPREADSHEET_SUFFIXES = WORKBOOK_SUFFIXES + CSV_SUFFIXES

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
CONTROL = (KeyboardInterrupt, SystemExit, GeneratorExit)  # never turned into a file error
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Limits:
    """Bounds on what one input file may cost. Raise them with ``btm import --max-size``.

    Every read is bounded: the file's size; the bytes a zip container unzips to (counted while
    streaming, so a directory that lies about sizes gains nothing); the parts of a zip; the cells
    of a workbook, and the grid one sheet's cells span (checked from the sheet's XML before a
    reader allocates it); the cells of a text file. Header cells longer than 255 characters are
    not read as column names, and text values are parsed in linear time, so a cell of a million
    characters costs about what its bytes do.
    """

    max_file_bytes: int = 512 * 1024**2
    max_uncompressed_bytes: int = 2 * 1024**3
    max_cells: int = 50_000_000  # of one workbook, and of the grid one sheet's cells span
    max_cell_chars: int = 32_767  # Excel's own limit; longer text is cut in reports, never parsed as data
    max_zip_members: int = 100_000  # parts of a zip container (workbooks have a few dozen)

    @classmethod
    def scaled(cls, megabytes: float) -> Limits:
        """Limits with the file bound set to ``megabytes`` and the others scaled with it."""
        b = int(megabytes * 1024**2)
        return cls(
            max_file_bytes=b, max_uncompressed_bytes=4 * b, max_cells=max(1_000_000, b // 10),
            max_zip_members=max(100_000, b // 4096),
        )


@dataclass
class RawSheet:
    """One sheet (or a CSV file) as a grid: ``rows[i][j]`` is Excel row ``i + 1``, column ``j + 1``."""

    source: str  # the path as the user gave it
    sheet: str  # sheet name; "" for CSV
    rows: list[list[Any]]
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    uncached_formulas: list[tuple[int, int, str]] = field(default_factory=list)  # (row0, col0, formula)
    error_cells: list[tuple[int, int, str]] = field(default_factory=list)  # (row0, col0, "#DIV/0!"): put into rows as text
    notes: list[str] = field(default_factory=list)
    decimal_hint: str | None = None
    is_csv: bool = False
    date1904: bool = False  # the workbook counts date serial numbers from 1904 (old Excel for Mac)


def mb(n: float) -> str:
    return f"{n / 1024**2:,.1f}" if n < 10 * 1024**2 else f"{n / 1024**2:,.0f}"


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
