"""The worksheet parts of an .xlsx/.xlsm workbook: where each sheet is stored, the grid its cells
span, and the cells readers show as empty (formulas without a cached value, error values)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

F_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def has_formula_tag(window: bytes) -> bool:
    """``F_TAG.search(window)``, fast: a formula element (``<f>``, ``<x:f ...>``) needs ``<f`` or
    ``:f`` followed by one of `` >/``; the regular expression (slow on megabytes of tags) runs
    only to confirm such a candidate."""
    # "f" is rare in sheets of numbers: look at each one (a one-byte search is very fast)
    i, seen = window.find(b"f"), 0
    while i != -1 and seen < 256:
        if window[i - 1 : i] in (b"<", b":") and window[i + 1 : i + 2] in (b" ", b">", b"/"):
            return F_TAG.search(window) is not None
        i, seen = window.find(b"f", i + 1), seen + 1
    if i == -1:
        return False
    for lead in (b"<f", b":f"):  # many "f" (text): search for the two leads instead
        i = window.find(lead)
        while i != -1:
            if window[i + 2 : i + 3] in (b" ", b">", b"/"):
                return F_TAG.search(window) is not None
            i = window.find(lead, i + 2)
    return False


# Parts that are never parsed as XML (pictures, embedded binaries): not checked for a DTD, since an


def sheet_name_of_part(p: Path, member: str) -> str | None:
    """The name of the sheet stored in a worksheet part (None when no sheet names it)."""
    return next((name for name, part in sheet_xml_names(p).items() if part == member), None)


_REF = re.compile(rb"""(?<![\w:.-])r\s*=\s*["']([A-Za-z]*)([0-9]*)["']""")
_CELL_EL = re.compile(rb"<(?:[\w.-]+:)?c(?=[\s>/])")
_ROW_EL = re.compile(rb"<(?:[\w.-]+:)?row(?=[\s>/])")


def sheet_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
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


def scan_cells(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
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


def sheet_xml_names(p: Path) -> dict[str, str]:
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
