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
import csv
import io
import re
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
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Limits:
    """Bounds on what one input file may cost. Raise them with ``btm import --max-size``."""

    max_file_bytes: int = 512 * 1024**2
    max_uncompressed_bytes: int = 2 * 1024**3
    max_cells: int = 50_000_000
    max_cell_chars: int = 32_767  # Excel's own limit; longer text is cut in reports, never parsed as data

    @classmethod
    def scaled(cls, megabytes: float) -> Limits:
        """Limits with the file bound set to ``megabytes`` and the others scaled with it."""
        b = int(megabytes * 1024**2)
        return cls(max_file_bytes=b, max_uncompressed_bytes=4 * b, max_cells=max(1_000_000, b // 10))


@dataclass
class RawSheet:
    """One sheet (or a CSV file) as a grid: ``rows[i][j]`` is Excel row ``i + 1``, column ``j + 1``."""

    source: str  # the path as the user gave it
    sheet: str  # sheet name; "" for CSV
    rows: list[list[Any]]
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)
    uncached_formulas: list[tuple[int, int, str]] = field(default_factory=list)  # (row0, col0, formula)
    notes: list[str] = field(default_factory=list)
    decimal_hint: str | None = None
    is_csv: bool = False


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
    p = Path(path)
    shown = str(path)
    if not p.exists():
        raise InputFileError("file not found", path=shown)
    if p.is_dir():
        raise InputFileError("is a folder, not a file", path=shown)
    size = p.stat().st_size
    if size == 0:
        raise InputFileError("the file is empty (0 bytes)", path=shown)
    if size > limits.max_file_bytes:
        raise FileTooLargeError(
            f"the file is {size / 1024**2:.0f} MB, above the {limits.max_file_bytes / 1024**2:.0f} MB bound; "
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
    uncached: dict[str, list[tuple[int, int, str]]] = {}
    if head.startswith(_OLE_MAGIC):
        if suffix != ".xls" and _is_encrypted_ooxml(p):
            raise InputFileError("the workbook is password-protected (encrypted); save an unprotected copy", path=shown)
        if suffix in (".xlsx", ".xlsm", ".ods"):
            raise InputFileError(f"not a valid {suffix} file: it is an old-style .xls workbook; rename it to .xls", path=shown)
    elif head.startswith(_ZIP_MAGIC) or head[:2] == b"PK":
        if suffix == ".xls":
            raise InputFileError("not a valid .xls file: it is a zip-based workbook; rename it to .xlsx", path=shown)
        uncached = _check_zip(p, shown, limits)
    else:
        kind = "an .xls" if suffix == ".xls" else f"a {suffix}"
        raise InputFileError(f"not {kind} workbook (the file's bytes are not a spreadsheet); is it damaged or misnamed?", path=shown)

    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_path(str(p))
    except pc.PasswordError:
        raise InputFileError("the workbook is password-protected; save an unprotected copy", path=shown) from None
    except Exception as exc:  # calamine raises its own error types and plain ones
        raise InputFileError(f"cannot read the workbook ({_short(exc)}); is it damaged or truncated?", path=shown) from None
    sheets: list[RawSheet] = []
    names = list(wb.sheet_names)
    meta = {m.name: m for m in getattr(wb, "sheets_metadata", [])}
    cells_total = 0
    sheet_files = _sheet_xml_names(p) if uncached else {}
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
        except FileTooLargeError:
            raise
        except Exception as exc:
            raise InputFileError(f"cannot read the sheet ({_short(exc)})", path=shown, sheet=name) from None
        raw = RawSheet(source=shown, sheet=name, rows=rows, merged=merged)
        xml_name = sheet_files.get(name)
        if xml_name and xml_name in uncached:
            raw.uncached_formulas = uncached[xml_name]
        sheets.append(raw)
    if not sheets:
        raise InputFileError("the workbook has no worksheets", path=shown)
    return sheets


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


def _check_zip(p: Path, shown: str, limits: Limits) -> dict[str, list[tuple[int, int, str]]]:
    """Check a zip container before a reader touches it; return uncached formulas by part name.

    Reads each member once, streaming, with a budget on the total uncompressed bytes (so a zip
    bomb stops at the bound, whatever sizes its directory claims). XML parts with a DTD are parsed
    with defusedxml, which refuses entity declarations; sheets with formula tags are scanned for
    formulas that have no cached value.
    """
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile:
        raise InputFileError("the workbook is damaged or truncated (not a complete zip archive)", path=shown) from None
    except Exception as exc:
        raise InputFileError(f"cannot open the workbook ({_short(exc)})", path=shown) from None
    uncached: dict[str, list[tuple[int, int, str]]] = {}
    with zf:
        infos = zf.infolist()
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_uncompressed_bytes:
            raise FileTooLargeError(_bomb_message(declared, limits), path=shown)
        budget = limits.max_uncompressed_bytes
        for info in infos:
            if info.is_dir():
                continue
            is_xml = info.filename.endswith((".xml", ".rels", ".vml")) or info.filename == "[Content_Types].xml"
            needs_dtd_check = needs_formula_scan = False
            tail = b""
            try:
                with zf.open(info) as fh:
                    while chunk := fh.read(1 << 20):
                        budget -= len(chunk)
                        if budget < 0:
                            raise FileTooLargeError(_bomb_message(None, limits), path=shown)
                        if is_xml:
                            window = tail + chunk
                            if b"!" in window and (b"<!DOCTYPE" in window or b"<!ENTITY" in window):  # "!" is rare: a fast first test
                                needs_dtd_check = True
                            if not needs_formula_scan and "worksheets/" in info.filename and _has_formula_tag(window):
                                needs_formula_scan = True
                            tail = chunk[-16:]
            except FileTooLargeError:
                raise
            except zipfile.BadZipFile as exc:
                raise InputFileError(f"the workbook is damaged or truncated ({_short(exc)})", path=shown) from None
            except Exception as exc:  # CRC errors, truncated streams, unsupported compression
                raise InputFileError(f"the workbook is damaged or truncated ({_short(exc)})", path=shown) from None
            if needs_dtd_check:
                _refuse_unsafe_xml(zf, info.filename, shown)
            if needs_formula_scan:
                found = _uncached_formulas(zf, info.filename)
                if found:
                    uncached[info.filename] = found
    return uncached


def _bomb_message(declared: int | None, limits: Limits) -> str:
    bound = limits.max_uncompressed_bytes / 1024**2
    what = f"expands to {declared / 1024**2:.0f} MB" if declared else "expands beyond the bound"
    return (
        f"the workbook {what} when unzipped, above the {bound:.0f} MB bound (a zip bomb?); "
        "raise it with --max-size MB if the file is trusted"
    )


def _refuse_unsafe_xml(zf: zipfile.ZipFile, member: str, shown: str) -> None:
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        with zf.open(member) as fh:
            for _ in DET.iterparse(fh, forbid_dtd=False, forbid_entities=True, forbid_external=True):
                pass
    except DefusedXmlException as exc:
        raise InputFileError(
            f"refused: part {member!r} declares XML entities ({type(exc).__name__}); "
            "this is how XXE and 'billion laughs' attacks work, so the file is not read",
            path=shown,
        ) from None
    except Exception as exc:
        raise InputFileError(f"the workbook's XML is damaged ({member}: {_short(exc)})", path=shown) from None
    raise InputFileError(f"refused: part {member!r} carries a DOCTYPE declaration, which workbooks never need", path=shown)


def _uncached_formulas(zf: zipfile.ZipFile, member: str) -> list[tuple[int, int, str]]:
    """Cells of a sheet part that hold a formula but no cached value: (row0, col0, formula)."""
    import defusedxml.ElementTree as DET

    found: list[tuple[int, int, str]] = []
    with zf.open(member) as fh:
        for _, el in DET.iterparse(fh, events=("end",)):
            if el.tag.endswith("}c") or el.tag == "c":
                f = v = None
                for child in el:
                    if child.tag.endswith("}f") or child.tag == "f":
                        f = child
                    elif child.tag.endswith("}v") or child.tag == "v" or child.tag.endswith("}is"):
                        v = child
                if f is not None and (v is None or (v.text is None and len(v) == 0)):
                    ref = el.get("r", "")
                    rc = _a1_to_rc(ref)
                    if rc:
                        found.append((rc[0], rc[1], "=" + (f.text or "")))
                el.clear()
    return found


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
            cells += len(row)
            if cells > limits.max_cells:
                raise FileTooLargeError(
                    f"the file has more than {limits.max_cells:,} cells; raise the bound with --max-size if it is trusted",
                    path=shown,
                )
            rows.append(row)
    except csv.Error as exc:
        raise InputFileError(f"cannot split the text into columns ({_short(exc)})", path=shown) from None
    width = max((len(r) for r in rows), default=0)
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
