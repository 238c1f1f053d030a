"""Read spreadsheet files into grids of cells, safely and within bounds.

Formats: .xlsx/.xlsm/.xls/.ods (python-calamine, a Rust reader about 6x faster than
openpyxl), .csv/.tsv/.txt (the standard csv module after our own encoding and delimiter
detection). Spreadsheets are untrusted input:

* the file size, the uncompressed size of a zip container (zip bombs) and the number of cells
  are bounded (:class:`Limits`);
* XML parts that declare a DTD or entities (XXE, "billion laughs") are refused: they are
  parsed with defusedxml, which raises on them;
* cells holding a formula without a cached value are reported (readers would see them empty).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import FileTooLargeError, InputFileError
from ._base import (
    CONTROL,
    CSV_SUFFIXES,
    OLE_MAGIC,
    SPREADSHEET_SUFFIXES,
    WORKBOOK_SUFFIXES,
    ZIP_MAGIC,
    CellIssue,
    Limits,
    RawSheet,
    mb,
    short,
)
from ._csv import read_csv
from ._ods import restore
from ._own import btm_output_kind
from ._xls import is_encrypted_ooxml, xls_error_cells
from ._xlsx import count_values, reconcile
from ._zipguard import XLSB_MESSAGE, ZipScan, check_zip

__all__ = [
    "CSV_SUFFIXES",
    "Limits",
    "RawSheet",
    "SPREADSHEET_SUFFIXES",
    "WORKBOOK_SUFFIXES",
    "read_file",
]


def read_file(path: str | Path, *, limits: Limits | None = None) -> list[RawSheet]:
    """Every sheet of a spreadsheet file as :class:`RawSheet` grids.

    Raises
    ------
    InputFileError
        When the file cannot be read at all (missing, empty, corrupt, encrypted, not a
        spreadsheet, unsafe XML).
    FileTooLargeError
        When a size bound of ``limits`` is exceeded.
    """
    limits = limits or Limits()
    try:
        return _read_file(Path(path), str(path), limits)
    except OSError as exc:  # no permission, a file that vanished, an I/O error: this file is unreadable, not btm broken
        raise InputFileError(f"cannot read the file ({exc.strerror or exc})", path=str(path)) from None


def _read_file(p: Path, shown: str, limits: Limits) -> list[RawSheet]:
    if not p.exists():
        raise InputFileError("file not found", path=shown)
    if p.is_dir():
        raise InputFileError("is a folder, not a file", path=shown)
    size = p.stat().st_size
    if size == 0:
        raise InputFileError("the file is empty (0 bytes)", path=shown)
    if size > limits.max_file_bytes:
        raise FileTooLargeError(
            f"the file is {mb(size)} MB, above the {mb(limits.max_file_bytes)} MB bound; "
            "raise it with --max-size MB if the file is trusted",
            path=shown,
        )
    suffix = p.suffix.lower()
    with open(p, "rb") as fh:
        head = fh.read(8)
    if suffix in CSV_SUFFIXES:
        if head.startswith(ZIP_MAGIC) or head.startswith(OLE_MAGIC):
            raise InputFileError("looks like an Excel workbook, not a text file; rename it to .xlsx or .xls", path=shown)
        return [read_csv(p, shown, limits)]
    if suffix in WORKBOOK_SUFFIXES:
        return _read_workbook(p, shown, head, limits)
    raise InputFileError(
        f"unsupported file type {suffix or '(no extension)'!r}; btm reads {', '.join(SPREADSHEET_SUFFIXES)}", path=shown
    )


# ---------------------------------------------------------------------------------------------
# workbooks


def _read_workbook(p: Path, shown: str, head: bytes, limits: Limits) -> list[RawSheet]:
    suffix = p.suffix.lower()
    if suffix == ".xlsb":
        raise InputFileError(XLSB_MESSAGE, path=shown)
    scan = ZipScan()
    if head.startswith(OLE_MAGIC):
        if suffix != ".xls" and is_encrypted_ooxml(p):
            raise InputFileError("the workbook is password-protected (encrypted); save an unprotected copy", path=shown)
        if suffix in (".xlsx", ".xlsm", ".ods"):
            raise InputFileError(f"not a valid {suffix} file: it is an old-style .xls workbook; rename it to .xls", path=shown)
        scan.sheet_errors = xls_error_cells(p)
    elif head.startswith(ZIP_MAGIC) or head[:2] == b"PK":
        if suffix == ".xls":
            raise InputFileError("not a valid .xls file: it is a zip-based workbook; rename it to .xlsx", path=shown)
        scan = check_zip(p, shown, limits)
    else:
        kind = "an .xls" if suffix == ".xls" else f"a {suffix}"
        raise InputFileError(f"not {kind} workbook (the file's bytes are not a spreadsheet); is it damaged or misnamed?", path=shown)

    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_path(str(p))
    except pc.PasswordError:
        raise InputFileError("the workbook is password-protected; save an unprotected copy", path=shown) from None
    except CONTROL:
        raise
    except BaseException as exc:  # calamine's own error types, plain ones, and a Rust panic (not an Exception)
        raise InputFileError(f"cannot read the workbook ({short(exc)}); is it damaged or truncated?", path=shown) from None
    names = list(wb.sheet_names)
    _refuse_unread_tables(scan, names, shown)
    meta = {m.name: m for m in getattr(wb, "sheets_metadata", [])}
    sheets: list[RawSheet] = []
    cells_total = 0
    with _Parts(p) as parts:
        for name in names:
            m = meta.get(name)
            if m is not None and "WorkSheet" not in str(getattr(m, "typ", "WorkSheet")):
                continue  # chart sheets and macro sheets hold no cells
            try:
                sh = wb.get_sheet_by_name(name)
                h, w = sh.height, sh.width
                cells_total += h * w
                if cells_total > limits.max_cells:
                    raise FileTooLargeError(
                        f"the workbook has more than {limits.max_cells:,} cells; raise the bound with --max-size if it is trusted",
                        path=shown, sheet=name,
                    )
                rows = sh.to_python(skip_empty_area=False)
                merged = list(sh.merged_cell_ranges or []) if hasattr(sh, "merged_cell_ranges") else []
            except (FileTooLargeError, *CONTROL):
                raise
            except BaseException as exc:  # as above: a panic in the reader is an unreadable sheet, not a crash
                raise InputFileError(f"cannot read the sheet ({short(exc)})", path=shown, sheet=name) from None
            raw = RawSheet(source=shown, sheet=name, rows=rows, merged=merged, date1904=scan.date1904)
            _check_against_xml(raw, scan, parts, limits)
            sheets.append(raw)
    if not sheets:
        raise InputFileError("the workbook has no worksheets", path=shown)
    return sheets


class _Parts:
    """The workbook opened as a zip only if a sheet's XML must be read again (lazily)."""

    def __init__(self, p: Path) -> None:
        self.p, self.zf = p, None

    def __enter__(self) -> _Parts:
        return self

    def get(self) -> zipfile.ZipFile:
        if self.zf is None:
            self.zf = zipfile.ZipFile(self.p)
        return self.zf

    def __exit__(self, *exc: object) -> None:
        if self.zf is not None:
            self.zf.close()


def _refuse_unread_tables(scan: ZipScan, names: list[str], shown: str) -> None:
    """An .ods table with values that the reader does not list: its values would vanish."""
    missing = [t for t in scan.ods.values() if t.values and t.name not in names]
    if missing:
        raise InputFileError(
            f"sheet {missing[0].name!r} holds {missing[0].values:,} cell(s) the reader cannot see (its XML uses names or "
            "prefixes the reader does not expect); open the file in LibreOffice and save it again", path=shown,
        )


def _check_against_xml(raw: RawSheet, scan: ZipScan, parts: _Parts, limits: Limits) -> None:
    """Compare the reader's grid with what the sheet's XML holds (see :func:`~btm.io._xlsx.reconcile`):
    error cells and formulas without a cached value are marked, values the reader lost are put back."""
    rows, name = raw.rows, raw.sheet
    member = scan.sheets.get(name)
    census = scan.census.get(member) if member else None
    if census is not None and census.needs_parse(count_values(rows)):
        try:
            found = reconcile(parts.get(), member, rows, census)
        except Exception as exc:  # the reader read it, so the XML parses; anything else: say so, do not guess
            raise InputFileError(f"cannot check the sheet's XML ({short(exc)})", path=raw.source, sheet=name) from None
        raw.uncached_formulas, raw.error_cells, raw.notes = found.uncached, found.errors, raw.notes + found.notes
    table = scan.ods.get(name)
    if table is not None:
        raw.uncached_formulas, raw.error_cells = table.uncached, table.errors
        _put_error_cells(rows, table.errors)
        expected = table.values - len(table.uncached)
        if count_values(rows) < expected:
            n = restore(parts.get(), "content.xml", name, rows, limits.max_cells)
            if n:
                raw.notes.append(f"{n} cell value(s) read from the sheet's XML directly (cells the reader did not read)")
    if name in scan.sheet_errors:
        raw.error_cells = scan.sheet_errors[name]
        _put_error_cells(rows, raw.error_cells)


def _put_error_cells(rows: list[list[Any]], errors: list[tuple[int, int, str]]) -> None:
    """Readers give error cells (#DIV/0!, #N/A …) as empty: put them back as :class:`CellIssue`,
    so they are rejected as Excel errors instead of being counted as blank."""
    for r, c, text in errors:
        if r >= len(rows) or r < 0 or c < 0 or c > 16_384:
            continue
        row = rows[r]
        if c >= len(row):
            row.extend([""] * (c + 1 - len(row)))
        if row[c] in ("", None):
            row[c] = CellIssue(text, f"Excel error {text}")


def iter_spreadsheets(paths: list[str | Path], skipped: list[tuple[str, str]] | None = None) -> Iterator[tuple[str, Path]]:
    """(shown path, path) for files, and for every spreadsheet inside folders (sorted, recursive).

    In folders, hidden files, lock files and btm's own outputs (recognised by their content, see
    :func:`~btm.io._own.btm_output_kind`) are skipped; the outputs are appended to ``skipped`` as
    (path, what it is). A file given by name is always yielded.
    """
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = sorted(
                q for q in p.rglob("*")
                if q.is_file() and q.suffix.lower() in SPREADSHEET_SUFFIXES and not q.name.startswith(("~$", ".~lock", "."))
            )
            for q in found:
                kind = btm_output_kind(q)
                if kind is not None:
                    if skipped is not None:
                        skipped.append((str(q), kind))
                    continue
                yield str(q), q
        else:
            yield str(given), p
