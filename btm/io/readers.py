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

import codecs
import copy
import csv
import io
import math
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FileTooLargeError, InputFileError

__all__ = [
    "CSV_SUFFIXES",
    "Limits",
    "RawSheet",
    "SPREADSHEET_SUFFIXES",
    "WORKBOOK_SUFFIXES",
    "read_file",
]

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")
SPREADSHEET_SUFFIXES = WORKBOOK_SUFFIXES + CSV_SUFFIXES

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CONTROL = (KeyboardInterrupt, SystemExit, GeneratorExit)  # never turned into a file error
_ZIP_MAGIC = b"PK\x03\x04"


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


def _mb(n: float) -> str:
    return f"{n / 1024**2:,.1f}" if n < 10 * 1024**2 else f"{n / 1024**2:,.0f}"


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
            f"the file is {_mb(size)} MB, above the {_mb(limits.max_file_bytes)} MB bound; "
            "raise it with --max-size MB if the file is trusted",
            path=shown,
        )
    suffix = p.suffix.lower()
    with open(p, "rb") as fh:
        head = fh.read(8)
    if suffix in CSV_SUFFIXES:
        if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC):
            raise InputFileError("looks like an Excel workbook, not a text file; rename it to .xlsx or .xls", path=shown)
        return [_read_csv(p, shown, limits)]
    if suffix in WORKBOOK_SUFFIXES:
        return _read_workbook(p, shown, head, limits)
    raise InputFileError(
        f"unsupported file type {suffix or '(no extension)'!r}; btm reads {', '.join(SPREADSHEET_SUFFIXES)}", path=shown
    )


# ---------------------------------------------------------------------------------------------
# workbooks


def _read_workbook(p: Path, shown: str, head: bytes, limits: Limits) -> list[RawSheet]:
    suffix = p.suffix.lower()
    scan = _ZipScan()
    if head.startswith(_OLE_MAGIC):
        if suffix != ".xls" and _is_encrypted_ooxml(p):
            raise InputFileError("the workbook is password-protected (encrypted); save an unprotected copy", path=shown)
        if suffix in (".xlsx", ".xlsm", ".ods"):
            raise InputFileError(f"not a valid {suffix} file: it is an old-style .xls workbook; rename it to .xls", path=shown)
        scan.sheet_errors = _xls_error_cells(p)
    elif head.startswith(_ZIP_MAGIC) or head[:2] == b"PK":
        if suffix == ".xls":
            raise InputFileError("not a valid .xls file: it is a zip-based workbook; rename it to .xlsx", path=shown)
        scan = _check_zip(p, shown, limits)
    else:
        kind = "an .xls" if suffix == ".xls" else f"a {suffix}"
        raise InputFileError(f"not {kind} workbook (the file's bytes are not a spreadsheet); is it damaged or misnamed?", path=shown)

    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_path(str(p))
    except pc.PasswordError:
        raise InputFileError("the workbook is password-protected; save an unprotected copy", path=shown) from None
    except _CONTROL:
        raise
    except BaseException as exc:  # calamine's own error types, plain ones, and a Rust panic (not an Exception)
        raise InputFileError(f"cannot read the workbook ({_short(exc)}); is it damaged or truncated?", path=shown) from None
    sheets: list[RawSheet] = []
    names = list(wb.sheet_names)
    meta = {m.name: m for m in getattr(wb, "sheets_metadata", [])}
    cells_total = 0
    sheet_files = _sheet_xml_names(p) if scan.uncached or scan.errors else {}
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
        except (FileTooLargeError, *_CONTROL):
            raise
        except BaseException as exc:  # as above: a panic in the reader is an unreadable sheet, not a crash
            raise InputFileError(f"cannot read the sheet ({_short(exc)})", path=shown, sheet=name) from None
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


@dataclass
class _ZipScan:
    """What the checks found: cells readers show as empty, as (row0, col0, text) by sheet part
    (xlsx) or by sheet name (ods, xls)."""

    uncached: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)  # formulas with no cached value
    errors: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)  # error values (#DIV/0!, #N/A)
    sheet_errors: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)  # the same, by sheet name
    date1904: bool = False  # workbook.xml says date1904: serial numbers count from 1904-01-01


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


_XLS_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
# a FORMULA record whose cached result is an error, or a BOOLERR record holding an error
_XLS_ERROR_RECORD = re.compile(rb"\x06\x00..[\x00-\xff]{6}\x02\x00[\x00-\xff]\x00\x00\x00\xff\xff|\x05\x02\x08\x00[\x00-\xff]{7}\x01", re.S)


def _xls_error_cells(p: Path) -> dict[str, list[tuple[int, int, str]]]:
    """Error cells (#DIV/0!, #N/A …) of an .xls workbook by sheet name, as (row0, col0, text).

    Readers give them as empty cells; this walks the BIFF records of the workbook stream
    (BOUNDSHEET for the sheet names, FORMULA results and BOOLERR for the errors). Best effort:
    anything unexpected in the file gives no errors (the reader reports a damaged file itself).
    """
    try:
        stream = _ole_stream(p.read_bytes(), ("Workbook", "Book"))
    except Exception:
        return {}
    if not stream or not _XLS_ERROR_RECORD.search(stream):
        return {}
    out: dict[str, list[tuple[int, int, str]]] = {}
    names: dict[int, str] = {}
    current: str | None = None
    pos, n = 0, len(stream)
    try:
        while pos + 4 <= n:
            rtype, length = struct.unpack_from("<HH", stream, pos)
            data = stream[pos + 4 : pos + 4 + length]
            if rtype == 0x0809 and len(data) >= 4:  # BOF: a sheet starts here
                current = names.get(pos) if struct.unpack_from("<H", data, 2)[0] == 0x0010 else None
            elif rtype == 0x002F:  # FILEPASS: the rest is encrypted
                break
            elif rtype == 0x0085 and len(data) >= 8:  # BOUNDSHEET: where each sheet's records start
                offset, cch, high = struct.unpack_from("<IxxBB", data, 0)
                raw = data[8 : 8 + cch * (2 if high & 1 else 1)]
                names[offset] = raw.decode("utf-16-le" if high & 1 else "latin-1", "replace")
            elif current is not None and rtype == 0x0006 and len(data) >= 14 and data[12:14] == b"\xff\xff" and data[6] == 2:
                row, col = struct.unpack_from("<HH", data, 0)
                out.setdefault(current, []).append((row, col, _XLS_ERRORS.get(data[8], "#VALUE!")))
            elif current is not None and rtype == 0x0205 and len(data) >= 8 and data[7] == 1:
                row, col = struct.unpack_from("<HH", data, 0)
                out.setdefault(current, []).append((row, col, _XLS_ERRORS.get(data[6], "#VALUE!")))
            pos += 4 + length
    except struct.error:
        pass
    return out


def _ole_stream(blob: bytes, names: tuple[str, ...]) -> bytes | None:
    """The first of ``names`` found as a stream of an OLE2 compound file (the container of .xls)."""
    if blob[:8] != _OLE_MAGIC or len(blob) < 512:
        return None
    shift, mini_shift = struct.unpack_from("<HH", blob, 0x1E)
    if not 7 <= shift <= 16 or not 2 <= mini_shift <= shift:
        return None
    size, mini_size = 1 << shift, 1 << mini_shift
    n_fat, dir_start = struct.unpack_from("<II", blob, 0x2C)
    cutoff, minifat_start, _n_minifat, difat_start, n_difat = struct.unpack_from("<IIIII", blob, 0x38)
    n_sectors = (len(blob) - 512) // size + 1

    def sector(k: int) -> bytes:
        return blob[(k + 1) * size : (k + 2) * size]

    difat = list(struct.unpack_from("<109I", blob, 0x4C))
    k, seen = difat_start, 0
    while k < n_sectors and seen < min(n_difat, n_sectors):  # more FAT sector numbers, in DIFAT sectors
        ints = struct.unpack(f"<{size // 4}I", sector(k))
        difat += ints[:-1]
        k, seen = ints[-1], seen + 1
    fat: list[int] = []
    for k in difat[:n_fat]:
        if len(fat) >= n_sectors:  # enough for every sector of the file (a forged DIFAT may repeat one)
            break
        if k < n_sectors:
            fat += struct.unpack(f"<{size // 4}I", sector(k))

    def chain(start: int, table: list[int], read) -> bytes:
        parts, k, steps = [], start, 0
        while 0 <= k < len(table) and steps <= len(table):  # ends at ENDOFCHAIN; loops are cut
            parts.append(read(k))
            k, steps = table[k], steps + 1
        return b"".join(parts)

    directory = chain(dir_start, fat, sector)
    entries = []
    for off in range(0, len(directory) - 127, 128):
        e = directory[off : off + 128]
        name_len = struct.unpack_from("<H", e, 0x40)[0]
        name = e[: max(0, name_len - 2)].decode("utf-16-le", "replace")
        kind = e[0x42]
        start, length = struct.unpack_from("<II", e, 0x74)
        entries.append((name, kind, start, length))
    if not entries:
        return None
    root = entries[0]
    for want in names:
        for name, kind, start, length in entries:
            if kind != 2 or name != want:
                continue
            if length >= cutoff:
                return chain(start, fat, sector)[:length]
            ministream = chain(root[2], fat, sector)
            minifat_raw = chain(minifat_start, fat, sector)
            minifat = list(struct.unpack(f"<{len(minifat_raw) // 4}I", minifat_raw[: len(minifat_raw) // 4 * 4]))

            def mini(m: int, ministream: bytes = ministream) -> bytes:
                return ministream[m * mini_size : (m + 1) * mini_size]

            return chain(start, minifat, mini)[:length]
    return None


def _is_encrypted_ooxml(p: Path) -> bool:
    with open(p, "rb") as fh:
        blob = fh.read(1 << 20)
    return "EncryptedPackage".encode("utf-16-le") in blob or b"EncryptionInfo" in blob or "EncryptionInfo".encode("utf-16-le") in blob


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


_F_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def _has_formula_tag(window: bytes) -> bool:
    """``_F_TAG.search(window)``, fast: a formula element (``<f>``, ``<x:f ...>``) needs ``<f`` or
    ``:f`` followed by one of `` >/``; the regular expression (slow on megabytes of tags) runs
    only to confirm such a candidate."""
    # "f" is rare in sheets of numbers: look at each one (a one-byte search is very fast)
    i, seen = window.find(b"f"), 0
    while i != -1 and seen < 256:
        if window[i - 1 : i] in (b"<", b":") and window[i + 1 : i + 2] in (b" ", b">", b"/"):
            return _F_TAG.search(window) is not None
        i, seen = window.find(b"f", i + 1), seen + 1
    if i == -1:
        return False
    for lead in (b"<f", b":f"):  # many "f" (text): search for the two leads instead
        i = window.find(lead)
        while i != -1:
            if window[i + 2 : i + 3] in (b" ", b">", b"/"):
                return _F_TAG.search(window) is not None
            i = window.find(lead, i + 2)
    return False


# Parts that are never parsed as XML (pictures, embedded binaries): not checked for a DTD, since an
# embedded SVG may legitimately carry one.
_BINARY_SUFFIXES = (".png", ".jpg", ".jpeg", ".jfif", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf", ".svg", ".wdp", ".ico", ".bin")
# A cell element that is not in the narrow canonical form every spreadsheet program writes
# (<c r="A1" ...>: one column letter, at most six row digits), or any prefixed cell (<x:c ...>).
# Without one, a sheet spans at most 26 x 999,999 cells; with one, its extent is measured exactly.
_CELL_NOT_NARROW = re.compile(rb'<c(?! r="[A-Z][0-9]{1,6}")(?=[\s>/])')
_PREFIXED_CELL = re.compile(rb":c[\s>/]")
_DATE1904 = re.compile(rb"""date1904\s*=\s*["'](?:1|true)["']""")


def _check_zip(p: Path, shown: str, limits: Limits) -> _ZipScan:
    """Check a zip container before a reader touches it; return the cells readers would show empty.

    Reads each member once, streaming, with a budget on the total uncompressed bytes: a zip bomb
    stops at the bound, and a member whose content is longer (or shorter) than its directory
    entry says is refused, so no reader is fed more than was checked. Every part that may be XML
    is searched for a DTD (then parsed with defusedxml, which refuses entity declarations), in
    UTF-16 too. A worksheet whose cells span more than ``limits.max_cells`` is refused before a
    reader builds its grid (two cells at A1 and XFD1048576 would make it allocate 17 billion).
    Sheets with formula tags or error values are scanned for formulas that have no cached value
    and for error cells.
    """
    _check_zip_directory(p, shown, limits)
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        raise InputFileError("the workbook is damaged or truncated (not a complete zip archive)", path=shown) from None
    except Exception as exc:
        raise InputFileError(f"cannot open the workbook ({_short(exc)})", path=shown) from None
    scan = _ZipScan()
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            raise FileTooLargeError(_members_message(len(infos), limits), path=shown)
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_uncompressed_bytes:
            raise FileTooLargeError(_bomb_message(declared, limits), path=shown)
        budget = limits.max_uncompressed_bytes
        for info in infos:
            if info.is_dir():
                continue
            may_be_xml = not info.filename.lower().endswith(_BINARY_SUFFIXES)
            needs_dtd_check = needs_formula_scan = needs_extent = False
            is_sheet = "worksheets/" in info.filename
            tail = b""
            decoder = None
            probe = copy.copy(info)  # read on past the size the directory states: the real length counts
            probe.file_size = budget + (2 << 20)  # (beyond the budget: the budget, not zipfile, stops a bomb)
            actual = 0
            try:
                with zf.open(probe) as fh:
                    while chunk := fh.read(1 << 20):
                        actual += len(chunk)
                        budget -= len(chunk)
                        if budget < 0:
                            raise FileTooLargeError(_bomb_message(None, limits), path=shown)
                        if not may_be_xml:
                            continue
                        if actual == len(chunk) and _is_utf16(chunk):  # the first chunk tells the encoding
                            decoder = codecs.getincrementaldecoder("utf-16-be" if chunk[:2] in (b"\xfe\xff", b"\x00<") else "utf-16-le")("replace")
                        if decoder is not None:
                            chunk = decoder.decode(chunk).encode("utf-8")
                        window = tail + chunk
                        if b"!" in window and (b"<!DOCTYPE" in window or b"<!ENTITY" in window):  # "!" is rare: a fast first test
                            needs_dtd_check = True
                        if not needs_extent:
                            # a tag cut at the end of the window is decided in the next one (it keeps the tail)
                            found = (_CELL_NOT_NARROW.search(window), _PREFIXED_CELL.search(window))
                            needs_extent = any(m is not None and m.start() + 16 <= len(window) for m in found)
                        if info.filename == "xl/workbook.xml" and _DATE1904.search(window):
                            scan.date1904 = True
                        if not needs_formula_scan and is_sheet and (_has_formula_tag(window) or b't="e"' in window):
                            needs_formula_scan = True
                        tail = chunk[-32:]
            except FileTooLargeError:
                raise
            except Exception as exc:  # CRC errors, truncated streams, unsupported compression
                if actual > info.file_size:  # the CRC of what the directory states, checked over more
                    raise InputFileError(_size_lie_message(info, actual), path=shown) from None
                raise InputFileError(f"the workbook is damaged or truncated ({_short(exc)})", path=shown) from None
            if actual != info.file_size:
                raise InputFileError(_size_lie_message(info, actual), path=shown)
            if needs_dtd_check:
                _refuse_unsafe_xml(zf, info, shown, utf16=decoder is not None)
            if needs_extent and decoder is None:  # readers cannot read a UTF-16 sheet at all
                rows, cols = _sheet_extent(zf, info)
                if rows * cols > limits.max_cells:
                    raise FileTooLargeError(_extent_message(rows, cols, limits), path=shown, sheet=_sheet_name(p, info.filename))
            if needs_formula_scan:
                uncached, errors = _scan_cells(zf, info)
                if uncached:
                    scan.uncached[info.filename] = uncached
                if errors:
                    scan.errors[info.filename] = errors
        names = {i.filename for i in infos}
        if "content.xml" in names and "mimetype" in names and b"opendocument" in zf.read("mimetype")[:200]:
            for name, rows, cols, errors in _ods_extents(zf, "content.xml"):
                if rows * cols > limits.max_cells:
                    raise FileTooLargeError(_extent_message(rows, cols, limits), path=shown, sheet=name)
                if errors:
                    scan.sheet_errors[name] = errors
    return scan


def _size_lie_message(info: zipfile.ZipInfo, actual: int) -> str:
    more = "at least " if actual > info.file_size else ""
    return (
        f"the workbook is damaged or forged: part {info.filename!r} unzips to {more}{actual:,} bytes "
        f"but the zip directory says {info.file_size:,}; not read"
    )


def _is_utf16(head: bytes) -> bool:
    """A part in UTF-16 (a BOM, or '<' as two bytes): a DTD in it does not show in the raw bytes."""
    return head[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")


def _check_zip_directory(p: Path, shown: str, limits: Limits) -> None:
    """Refuse a zip whose central directory lists too many members, before zipfile builds an
    object for each (millions of empty members fit in a few hundred MB)."""
    try:
        with open(p, "rb") as fh:
            end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]  # private, but stable since Python 2
        entries, size = int(end[zipfile._ECD_ENTRIES_TOTAL]), int(end[zipfile._ECD_SIZE])  # type: ignore[attr-defined,index]
    except Exception:
        return  # no end record: zipfile.ZipFile says what is wrong
    if entries > limits.max_zip_members or size > limits.max_zip_members * 1024:
        raise FileTooLargeError(_members_message(max(entries, size // 1024), limits), path=shown)


def _members_message(n: int, limits: Limits) -> str:
    return (
        f"the workbook is a zip archive of about {n:,} parts, above the {limits.max_zip_members:,}-part bound "
        "(workbooks have a few dozen); raise it with --max-size MB if the file is trusted"
    )


def _extent_message(rows: int, cols: int, limits: Limits) -> str:
    return (
        f"the sheet's cells span {rows:,} rows x {cols:,} columns ({rows * cols:,} cells), above the "
        f"{limits.max_cells:,}-cell bound; raise it with --max-size MB if the file is trusted"
    )


def _sheet_name(p: Path, member: str) -> str | None:
    """The name of the sheet stored in a worksheet part (None when no sheet names it)."""
    return next((name for name, part in _sheet_xml_names(p).items() if part == member), None)


_REF = re.compile(rb"""(?<![\w:.-])r\s*=\s*["']([A-Za-z]*)([0-9]*)["']""")
_CELL_EL = re.compile(rb"<(?:[\w.-]+:)?c(?=[\s>/])")
_ROW_EL = re.compile(rb"<(?:[\w.-]+:)?row(?=[\s>/])")


def _sheet_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(rows, columns) that a reader's grid of this part would span, at most (the exact, slower path).

    From the ``r`` references of cells and rows, in any case, quoting or spacing a reader accepts;
    a cell or row without one is placed after the one before it, so each widens the bound by one.
    """
    col_letters: set[bytes] = set()
    row_digits: set[bytes] = set()
    n_cell_refs = n_row_refs = n_cells = n_rows = 0
    carry = b""
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(1 << 20)
            buf = carry + chunk
            cut = buf.rfind(b">") + 1 if chunk else len(buf)  # whole tags only; the rest waits for the next chunk
            if cut < len(buf) - 65536:  # no tag ends in the last 64 KB (a huge text): keep the carry small
                cut = len(buf) - 64
            part, carry = buf[:cut], buf[cut:]
            for letters, digits in _REF.findall(part):
                if letters:
                    n_cell_refs += 1
                    col_letters.add(letters.upper())
                else:
                    n_row_refs += 1
                if digits:
                    row_digits.add(digits)
            n_cells += len(_CELL_EL.findall(part))
            n_rows += len(_ROW_EL.findall(part))
            if not chunk:
                break
    if not n_cells:
        return 0, 0
    cols = [_letters_to_number(x) for x in col_letters]
    rows = [int(x[:12]) for x in row_digits]
    rless_cells, rless_rows = max(0, n_cells - n_cell_refs), max(0, n_rows - n_row_refs)
    width = (max(cols) - (1 if rless_cells else min(cols)) + 1 if cols else 0) + rless_cells
    height = (max(rows) - (1 if rless_rows or rless_cells else min(rows)) + 1 if rows else 0) + rless_rows
    return max(height, 1), max(width, 1)


def _letters_to_number(letters: bytes) -> int:
    n = 0
    for ch in letters[:8]:  # eight letters already exceed any grid a reader could hold
        n = n * 26 + (ch - 64)
    return n


_ODS_TABLE = re.compile(rb"<table:table(?=[\s>])([^>]*)>")
_ODS_NAME = re.compile(rb"""table:name\s*=\s*["']([^"']*)""")
_ODS_ROW_START = re.compile(rb"<table:table-row(?=[\s>/])")
_ODS_REPEAT = re.compile(rb"""number-(?:rows|columns)-repeated\s*=\s*["']\s*([0-9]+)""")


def _ods_extents(zf: zipfile.ZipFile, member: str) -> list[tuple[str, int, int, list[tuple[int, int, str]]]]:
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


def _bomb_message(declared: int | None, limits: Limits) -> str:
    bound = limits.max_uncompressed_bytes / 1024**2
    what = f"expands to {declared / 1024**2:,.0f} MB" if declared else "expands beyond the bound"
    need = f" (--max-size {math.ceil(declared / 4 / 1024**2):,} would allow it)" if declared else ""
    return (
        f"the workbook {what} when unzipped, above the {bound:,.0f} MB bound (a zip bomb?); "
        f"raise it with --max-size MB if the file is trusted{need}"
    )


def _refuse_unsafe_xml(zf: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, *, utf16: bool = False) -> None:
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    member = info.filename
    try:
        with zf.open(info) as fh:
            for _ in DET.iterparse(fh, forbid_dtd=False, forbid_entities=True, forbid_external=True):
                pass
    except DefusedXmlException as exc:
        raise InputFileError(
            f"refused: part {member!r} declares XML entities ({type(exc).__name__}); "
            "this is how XXE and 'billion laughs' attacks work, so the file is not read",
            path=shown,
        ) from None
    except Exception as exc:
        if utf16:  # UTF-16 text with a DTD that expat could not parse: refused all the same
            raise InputFileError(f"refused: part {member!r} (UTF-16) carries a DOCTYPE or entity declaration, which workbooks never need", path=shown) from None
        raise InputFileError(f"the workbook's XML is damaged ({member}: {_short(exc)})", path=shown) from None
    raise InputFileError(f"refused: part {member!r} carries a DOCTYPE declaration, which workbooks never need", path=shown)


def _scan_cells(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """Cells of a sheet part that readers show as empty: (formulas with no cached value, error
    values), each as (row0, col0, text): ``=C2*2`` or ``#DIV/0!``."""
    import defusedxml.ElementTree as DET

    uncached: list[tuple[int, int, str]] = []
    errors: list[tuple[int, int, str]] = []
    with zf.open(info) as fh:
        for _, el in DET.iterparse(fh, events=("end",)):
            if el.tag.endswith("}c") or el.tag == "c":
                f = v = None
                for child in el:
                    if child.tag.endswith("}f") or child.tag == "f":
                        f = child
                    elif child.tag.endswith("}v") or child.tag == "v" or child.tag.endswith("}is"):
                        v = child
                if f is not None and (v is None or (v.text is None and len(v) == 0)):
                    rc = _a1_to_rc(el.get("r", ""))
                    if rc:
                        uncached.append((rc[0], rc[1], "=" + (f.text or "")))
                elif el.get("t") == "e" and v is not None and (v.text or "").strip():
                    rc = _a1_to_rc(el.get("r", ""))
                    if rc:
                        errors.append((rc[0], rc[1], (v.text or "").strip()))
                el.clear()
    return uncached, errors


def _a1_to_rc(ref: str) -> tuple[int, int] | None:
    m = re.match(r"^([A-Z]+)(\d+)$", ref)
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + (ord(ch) - 64)
    return int(m.group(2)) - 1, col - 1


def _sheet_xml_names(p: Path) -> dict[str, str]:
    """Sheet name -> zip part name, from workbook.xml and its relationships (xlsx only)."""
    import defusedxml.ElementTree as DET

    out: dict[str, str] = {}
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            if "xl/workbook.xml" not in names:
                return out
            wb = DET.fromstring(zf.read("xl/workbook.xml"))
            rels = DET.fromstring(zf.read("xl/_rels/workbook.xml.rels")) if "xl/_rels/workbook.xml.rels" in names else None
    except Exception:
        return out
    targets = {}
    if rels is not None:
        for r in rels:
            targets[r.get("Id")] = r.get("Target", "")
    for el in wb.iter():
        if el.tag.endswith("}sheet"):
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            if target:
                target = target.lstrip("/")
                out[el.get("name", "")] = target if target.startswith("xl/") else "xl/" + target
    return out


# ---------------------------------------------------------------------------------------------
# text files


def _decode(data: bytes) -> tuple[str, str]:
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


def _sniff_delimiter(lines: list[str]) -> str:
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


def _read_csv(p: Path, shown: str, limits: Limits) -> RawSheet:
    data = p.read_bytes()
    text, encoding = _decode(data)
    if not text.strip():
        raise InputFileError("the file holds no text (only whitespace)", path=shown)
    notes = []
    if encoding not in ("utf-8", "utf-8-sig"):
        notes.append(f"read as {encoding}")
    sample = text[:65536].splitlines()[:50]
    delim = _sniff_delimiter(sample)
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
        raise InputFileError(f"cannot split the text into columns ({_short(exc)})", path=shown) from None
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
