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
    Limits,
    RawSheet,
    mb,
    short,
)
from ._csv import read_csv
from ._xls import is_encrypted_ooxml, xls_error_cells
from ._xlsx import sheet_xml_names
from ._zipguard import ZipScan, check_zip

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
    sheets: list[RawSheet] = []
    names = list(wb.sheet_names)
    meta = {m.name: m for m in getattr(wb, "sheets_metadata", [])}
    cells_total = 0
    sheet_files = sheet_xml_names(p) if scan.uncached or scan.errors else {}
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
        xml_name = sheet_files.get(name)
        if xml_name and xml_name in scan.uncached:
            raw.uncached_formulas = scan.uncached[xml_name]
        errors = scan.errors.get(xml_name or "", []) + scan.sheet_errors.get(name, [])
        if errors:
            raw.error_cells = errors
            _put_error_cells(rows, errors)
        sheets.append(raw)
    if not sheets:
        raise InputFileError("the workbook has no worksheets", path=shown)
    return sheets


def _put_error_cells(rows: list[list[Any]], errors: list[tuple[int, int, str]]) -> None:
    """Readers give error cells (#DIV/0!, #N/A …) as empty: put their text back, so they are
    rejected as Excel errors instead of being counted as blank."""
    for r, c, text in errors:
        if r >= len(rows) or r < 0 or c < 0 or c > 16_384:
            continue
        row = rows[r]
        if c >= len(row):
            row.extend([""] * (c + 1 - len(row)))
        if row[c] in ("", None):
            row[c] = text


def iter_spreadsheets(paths: list[str | Path]) -> Iterator[tuple[str, Path]]:
    """(shown path, path) for files, and for every spreadsheet inside folders (sorted, recursive)."""
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = sorted(
                q for q in p.rglob("*")
                if q.is_file() and q.suffix.lower() in SPREADSHEET_SUFFIXES and not q.name.startswith(("~$", ".~lock", "."))
            )
            for q in found:
                yield str(q), q
        else:
            yield str(given), p
