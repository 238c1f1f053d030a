"""The zip guard: checks a zip-based workbook (.xlsx, .xlsm, .ods) before any reader touches it.

Bounds the unzipped size (counted while streaming: zip bombs, directories that lie), the number
of parts and the grid each sheet spans; refuses XML with a DTD or entity declaration (XXE,
"billion laughs"); finds the cells readers would show as empty.
"""

from __future__ import annotations

import codecs
import copy
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import FileTooLargeError, InputFileError
from ._base import Limits, short
from ._ods import OdsTable, ods_tables
from ._xlsx import SheetCensus, member_lookup, sheet_extent, workbook_sheets

XLSB_MESSAGE = (
    "an .xlsb (Excel binary) workbook is not read: btm cannot check its size and its error cells before a reader "
    "allocates them; open it in Excel and save it as .xlsx (Excel Workbook)"
)


@dataclass
class ZipScan:
    """What the checks found, for the reader: where each sheet is stored and what its XML holds."""

    sheets: dict[str, str] = field(default_factory=dict)  # xlsx: sheet name -> worksheet part
    census: dict[str, SheetCensus] = field(default_factory=dict)  # xlsx: worksheet part -> census
    ods: dict[str, OdsTable] = field(default_factory=dict)  # ods: table name -> extent and findings
    sheet_errors: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)  # xls: by sheet name
    date1904: bool = False  # workbook.xml says date1904: serial numbers count from 1904-01-01


# Pictures and embedded files are never parsed as XML by a reader, so a DTD in them (an SVG may carry
# one) is not checked; a worksheet part is checked whatever its name (a sheet named .png is a sheet).
_BINARY_SUFFIXES = (".png", ".jpg", ".jpeg", ".jfif", ".gif", ".bmp", ".tif", ".tiff", ".emf", ".wmf", ".svg", ".wdp", ".ico", ".bin")
# A cell element that is not in the narrow canonical form every spreadsheet program writes
# (<c r="A1" ...>: one column letter, at most six row digits), or any prefixed cell (<x:c ...>).
# Without one, a sheet spans at most 26 x 999,999 cells; with one, its extent is measured exactly.
_CELL_NOT_NARROW = re.compile(rb'<c(?! r="[A-Z][0-9]{1,6}")(?=[\s>/])')
_PREFIXED_CELL = re.compile(rb":c[\s>/]")
_DATE1904 = re.compile(rb"""date1904\s*=\s*["'](?:1|true)["']""")
_SST_UNIQUE = re.compile(rb"""<(?:[\w.-]+:)?sst\b[^>]*?\suniqueCount\s*=\s*["']\s*([0-9]+)""")


def check_zip(p: Path, shown: str, limits: Limits) -> ZipScan:
    """Check a zip container before a reader touches it; return what the reader needs to know.

    Reads each member once, streaming, with a budget on the total uncompressed bytes: a zip bomb
    stops at the bound, and a member whose content is longer (or shorter) than its directory
    entry says is refused, so no reader is fed more than was checked. Every part that may be XML
    is searched for a DTD (then parsed with defusedxml, which refuses entity declarations), in
    UTF-16 too. The worksheet parts are found through the workbook's relationships, whatever
    their names; one whose cells span more than ``limits.max_cells`` is refused before a reader
    builds its grid (two cells at A1 and XFD1048576 would make it allocate 17 billion), and each
    gets a census (:class:`~btm.io._xlsx.SheetCensus`). An .ods is parsed for its tables' extents,
    error cells and formulas without a value. An .xlsb is refused.
    """
    _check_zip_directory(p, shown, limits)
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        raise InputFileError("the workbook is damaged or truncated (not a complete zip archive)", path=shown) from None
    except Exception as exc:
        raise InputFileError(f"cannot open the workbook ({short(exc)})", path=shown) from None
    scan = ZipScan()
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            raise FileTooLargeError(_members_message(len(infos), limits), path=shown)
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_uncompressed_bytes:
            raise FileTooLargeError(_bomb_message(declared, limits), path=shown)
        lookup = member_lookup(zf)
        if "xl/workbook.bin" in lookup:
            raise InputFileError(XLSB_MESSAGE, path=shown)
        sheets = _ooxml_sheets(zf, lookup, shown)
        scan.sheets = {name: member for name, member in sheets if member}
        worksheets = set(scan.sheets.values()) | {m for k, m in lookup.items() if k.startswith("xl/worksheets/")}
        budget = limits.max_uncompressed_bytes
        for info in infos:
            if not info.is_dir():
                budget = _check_member(zf, info, shown, limits, budget, scan, is_sheet=info.filename in worksheets)
        sheet_of = {member: name for name, member in scan.sheets.items()}
        for member, census in scan.census.items():
            if census.extent is not None and census.extent[0] * census.extent[1] > limits.max_cells:
                raise FileTooLargeError(_extent_message(*census.extent, limits), path=shown, sheet=sheet_of.get(member))
        if "content.xml" in lookup and "mimetype" in lookup and b"opendocument" in zf.read(lookup["mimetype"])[:200]:
            _check_ods(zf, lookup["content.xml"], shown, limits, scan)
    return scan


def _ooxml_sheets(zf: zipfile.ZipFile, lookup: dict[str, str], shown: str) -> list[tuple[str, str | None]]:
    """(sheet, worksheet part) from the workbook and its relationships; unsafe XML there is refused."""
    from defusedxml import DefusedXmlException

    try:
        return workbook_sheets(zf, lookup)
    except DefusedXmlException:
        for name in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels"):
            if name in lookup:
                _refuse_unsafe_xml(zf, zf.getinfo(lookup[name]), shown)
        raise
    except Exception as exc:  # damaged XML, a lying directory: the reader says the same, later
        raise InputFileError(f"the workbook is damaged ({short(exc)})", path=shown) from None


def _check_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, limits: Limits, budget: int, scan: ZipScan, *, is_sheet: bool) -> int:
    """Stream one member within the budget (returned, less what it used); refuse unsafe XML; take
    the census of a worksheet part and measure its extent when its cells are not in narrow form."""
    name = info.filename
    may_be_xml = is_sheet or not name.lower().endswith(_BINARY_SUFFIXES)
    census = SheetCensus() if is_sheet else None
    needs_dtd_check = needs_extent = False
    is_book = name.lower() == "xl/workbook.xml"
    is_sst = name.lower() == "xl/sharedstrings.xml"
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
                first = actual == len(chunk)
                if first and _is_utf16(chunk):  # the first chunk tells the encoding
                    decoder = codecs.getincrementaldecoder("utf-16-be" if chunk[:2] in (b"\xfe\xff", b"\x00<") else "utf-16-le")("replace")
                if decoder is not None:
                    chunk = decoder.decode(chunk).encode("utf-8")
                window = tail + chunk
                if b"!" in window and (b"<!DOCTYPE" in window or b"<!ENTITY" in window):  # "!" is rare: a fast first test
                    needs_dtd_check = True
                if census is not None:
                    if not needs_extent:
                        # a tag cut at the end of the window is decided in the next one (it keeps the tail)
                        found = (_CELL_NOT_NARROW.search(window), _PREFIXED_CELL.search(window) if b":" in window else None)
                        needs_extent = any(m is not None and m.start() + 16 <= len(window) for m in found)
                    census.feed(chunk, narrow=not needs_extent and not any(found))
                if is_book and _DATE1904.search(window):
                    scan.date1904 = True
                if is_sst and first:
                    _check_shared_strings(window, info, shown)
                tail = chunk[-32:]
    except FileTooLargeError:
        raise
    except InputFileError:
        raise
    except Exception as exc:  # CRC errors, truncated streams, unsupported compression
        if actual > info.file_size:  # the CRC of what the directory states, checked over more
            raise InputFileError(_size_lie_message(info, actual), path=shown) from None
        raise InputFileError(f"the workbook is damaged or truncated ({short(exc)})", path=shown) from None
    if actual != info.file_size:
        raise InputFileError(_size_lie_message(info, actual), path=shown)
    if needs_dtd_check:
        _refuse_unsafe_xml(zf, info, shown, utf16=decoder is not None)
    if census is not None:
        if needs_extent and decoder is None:  # readers cannot read a UTF-16 sheet at all
            census.extent = sheet_extent(zf, info)
        scan.census[name] = census
    return budget


def _check_shared_strings(head: bytes, info: zipfile.ZipInfo, shown: str) -> None:
    """A shared-strings table that claims more strings than its bytes can hold is forged: a reader
    reserves memory for the number it claims (4 billion aborts the process)."""
    m = _SST_UNIQUE.search(head)
    if m and int(m.group(1)[:20]) > max(info.file_size, 1024):
        raise InputFileError(
            f"the workbook is damaged or forged: its shared-strings part claims {int(m.group(1)[:20]):,} strings "
            f"in {info.file_size:,} bytes; not read", path=shown,
        )


def _check_ods(zf: zipfile.ZipFile, member: str, shown: str, limits: Limits, scan: ZipScan) -> None:
    manifest = member_lookup(zf).get("meta-inf/manifest.xml")
    if manifest is not None and b"encryption-data" in zf.open(manifest).read(1 << 20):
        raise InputFileError("the workbook is password-protected (encrypted); save an unprotected copy", path=shown)
    try:
        tables = ods_tables(zf, member)
    except Exception as exc:
        raise InputFileError(f"the workbook's XML is damaged ({member}: {short(exc)})", path=shown) from None
    for t in tables:
        if t.rows * t.cols > limits.max_cells:
            raise FileTooLargeError(_extent_message(t.rows, t.cols, limits), path=shown, sheet=t.name)
        scan.ods[t.name] = t


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
        raise InputFileError(f"the workbook's XML is damaged ({member}: {short(exc)})", path=shown) from None
    raise InputFileError(f"refused: part {member!r} carries a DOCTYPE declaration, which workbooks never need", path=shown)
