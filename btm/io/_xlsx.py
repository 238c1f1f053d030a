"""The worksheet parts of an .xlsx/.xlsm workbook, read as XML structure.

* :func:`workbook_sheets`: which part holds which sheet, from ``xl/workbook.xml`` and its
  relationships, whatever the parts are named;
* :func:`sheet_extent`: the grid a part's cells span, before a reader allocates it;
* :class:`SheetCensus`: cheap counts taken while the zip guard streams a part (value elements,
  constructs a fast reader may misread);
* :func:`reconcile`: when the census disagrees with what the reader returned, or shows such a
  construct, the part is parsed (expat, namespace-aware: any prefix, quoting, spacing, character
  references, CDATA) and each cell is compared with the reader's grid: error cells and formulas
  without a cached value are reported, values the reader lost or misread are put back from the
  XML, and a cell address that occurs twice is reported instead of silently keeping the last.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from array import array
from dataclasses import dataclass, field
from operator import methodcaller
from typing import Any

import numpy as np

from ._base import CellIssue, walk_xml

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


# ---------------------------------------------------------------------------------------------
# which part holds which sheet

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAX_BOOK_PART = 64 * 1024**2  # workbook.xml and its relationships: a few KB in any real file


def member_lookup(zf: zipfile.ZipFile) -> dict[str, str]:
    """Lower-cased part name (forward slashes, no leading slash) -> the zip member's name."""
    out: dict[str, str] = {}
    for name in zf.namelist():
        out.setdefault(name.replace("\\", "/").lstrip("/").lower(), name)
    return out


def workbook_sheets(zf: zipfile.ZipFile, lookup: dict[str, str]) -> list[tuple[str, str | None]]:
    """(sheet name, zip member or None) of every sheet ``xl/workbook.xml`` lists, resolved through
    ``xl/_rels/workbook.xml.rels`` by namespace (any prefix), whatever the parts are named.

    Both parts are parsed with defusedxml (a DTD or entity declaration raises) and bounded in size.
    """
    import defusedxml.ElementTree as DET

    def parse(name: str):
        member = lookup.get(name)
        if member is None:
            return None
        with zf.open(member) as fh:
            data = fh.read(_MAX_BOOK_PART + 1)
        if len(data) > _MAX_BOOK_PART:
            raise ValueError(f"part {member!r} is larger than {_MAX_BOOK_PART // 1024**2} MB")
        return DET.fromstring(data, forbid_dtd=True)

    book, rels = parse("xl/workbook.xml"), parse("xl/_rels/workbook.xml.rels")
    if book is None:
        return []
    targets = {}
    for r in rels.iter() if rels is not None else ():
        if r.tag.rpartition("}")[2] == "Relationship":
            targets[r.get("Id")] = r.get("Target", "")
    out: list[tuple[str, str | None]] = []
    for el in book.iter():
        if el.tag.rpartition("}")[2] != "sheet":
            continue
        rid = el.get(f"{{{_REL_NS}}}id") or next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
        target = targets.get(rid, "").replace("\\", "/")
        member = None
        if target:
            path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            member = lookup.get(posixpath.normpath(path).lower()) or lookup.get(("xl/" + target.lstrip("/")).lower())
        out.append((el.get("name", ""), member))
    return out


# ---------------------------------------------------------------------------------------------
# the census: counted while streaming, so a plain sheet costs no parse

# t="e" as a reader accepts it (exactly "e", any quoting and spacing around "="), prefixed or not
_ERROR_T = re.compile(rb"""t(?<![\w.-]t)\s*=\s*(?:"e"|'e')""")
# a cell whose reference is not its first attribute (looked for only once a cell is not in narrow form)
_C_NO_REF = re.compile(rb"""<c(?! r=")(?=[\s>/])""")
# cell-level elements with a namespace prefix
_PREFIXED = re.compile(rb":(?:c|v|is|f|row)[\s>/]")
_TAIL = 4096  # bytes of the previous window kept, so a construct cut by a window's end is seen whole


@dataclass
class SheetCensus:
    """What the streamed bytes of one worksheet part show (see :func:`reconcile`)."""

    values: int = 0  # <v> and <is> elements: cells that hold something
    formulas: bool = False
    errors: bool = False  # a t="e" attribute, in any spelling
    unusual: list[str] = field(default_factory=list)  # constructs a fast reader may misread
    extent: tuple[int, int] | None = None  # (rows, columns) its cells span, when not in narrow form
    plain: bool = True  # cells written <c r="..." (reference first), values <v>/<is>: formula and error cells can be found by search
    _tail: bytes = b""

    def feed(self, chunk: bytes, *, narrow: bool = False) -> None:
        """Count the next bytes of the part (``narrow``: every cell so far is ``<c r="A1"``-shaped)."""
        tail, window = self._tail, self._tail + chunk
        v, is_, v_open, is_open = _tag_counts(window, len(tail))
        self.values += v + is_
        if not self.formulas and has_formula_tag(window):
            self.formulas = True
        if not self.errors and _has_e_value(window) and _ERROR_T.search(window):
            self.errors = True
        if "references, CDATA or comments inside values" not in self.unusual and _unusual_inside_value(window):
            self.unusual.append("references, CDATA or comments inside values")
        if "prefixed or unusually spelled cell elements" not in self.unusual and b":" in window and _PREFIXED.search(window):
            self.unusual.append("prefixed or unusually spelled cell elements")
        if self.plain and (v_open != v or is_open != is_ or (not narrow and _C_NO_REF.search(window))):
            self.plain = False  # <v xml:space=…>, <is/>, or a cell not written <c r="…"
        self._tail = window[-_TAIL:]

    def needs_parse(self, reader_values: int) -> bool:
        return self.formulas or self.errors or bool(self.unusual) or reader_values != self.values


def _tag_counts(window: bytes, start: int) -> tuple[int, int, int, int]:
    """Occurrences of ``<v>``, ``<is>``, ``<v`` and ``<is`` in ``window`` that end after its first
    ``start`` bytes (those were counted with the window before): ``window.count(token) -
    window[:start].count(token)`` for each, from one search for ``<`` instead of eight byte scans."""
    a = np.frombuffer(window + b"\0\0\0", dtype=np.uint8)  # (padding: a token never matches it)
    p = np.flatnonzero(a == 60)  # "<"
    after1, after2 = a[p + 1], a[p + 2]
    is_v, is_is = after1 == 118, (after1 == 105) & (after2 == 115)  # "v", "is"
    v_open = int(np.count_nonzero(is_v & (p + 2 > start)))
    v = int(np.count_nonzero(is_v & (after2 == 62) & (p + 3 > start)))  # ">"
    is_open = int(np.count_nonzero(is_is & (p + 3 > start)))
    is_ = int(np.count_nonzero(is_is & (a[p + 3] == 62) & (p + 4 > start)))
    return v, is_, v_open, is_open


def _has_e_value(window: bytes) -> bool:
    """``b'"e"' in window or b"'e'" in window``, fast: quotes are everywhere in a sheet, so the
    three-byte search is slow; single quotes are rare, and ``"e"`` is found with whole-array tests."""
    if b"'" in window and b"'e'" in window:
        return True
    a = np.frombuffer(window, dtype=np.uint8)
    q = a == 34  # '"'
    return bool((q[:-2] & q[2:] & (a[1:-1] == 101)).any())  # "e"


def _unusual_inside_value(window: bytes) -> bool:
    """A reference (``&…;``), CDATA, comment or processing instruction inside a ``<v>`` element: a
    fast reader may read the number only up to it (``<v>4&#53;</v>`` read as 4)."""
    for token, rare in ((b"&", b"&"), (b"<!", b"!"), (b"<?", b"?")):  # (byte searches beat one regular expression here)
        if rare not in window:  # "<" is everywhere, "!" and "?" are rare: the one-byte test is fast
            continue
        pos, seen = window.find(token), 0
        while pos != -1:
            start, close = window.rfind(b"<v", 0, pos), window.rfind(b"</v>", 0, pos)
            if start > close and window[start + 2 : start + 3] in (b">", b" ", b"\t", b"\n", b"\r"):
                return True
            seen += 1
            if seen > 10_000:  # (text full of ampersands: look no further, parse)
                return True
            pos = window.find(token, pos + 1)
    return False


def count_values(rows: list[list[Any]]) -> int:
    """Cells of a reader's grid that hold something (not the empty string)."""
    return sum(map(len, rows)) - sum(map(methodcaller("count", ""), rows))


# ---------------------------------------------------------------------------------------------
# the structural parse

_CELL_REF = re.compile(r"^\s*([A-Za-z]{1,3})([0-9]{1,7})\s*$")
_UNCACHED_REASON = "formula {} has no cached value (the file was saved without calculating); open and save it in Excel or LibreOffice"


@dataclass
class SheetFindings:
    """What :func:`reconcile` found in one sheet (positions 0-based)."""

    errors: list[tuple[int, int, str]] = field(default_factory=list)  # error cells, put into the grid
    uncached: list[tuple[int, int, str]] = field(default_factory=list)  # formulas with no cached value
    restored: list[int] = field(default_factory=list)  # cells (keys) whose value the reader lost or misread, put back from the XML
    notes: list[str] = field(default_factory=list)


class _Cells:
    """Expat handlers that walk the cells of a worksheet part with their positions and contents.

    Each cell is handed to ``on_cell`` as (row0, col0, t, formula, value, inline text), the last
    three None when absent. Elements are matched by local name (any namespace or prefix)."""

    _CODES = {"row": 1, "c": 2, "f": 3, "v": 4, "is": 5, "t": 6, "rPh": 7}

    def __init__(self, on_cell) -> None:
        self.on_cell = on_cell
        self.names: dict[str, int] = {}  # full element name -> code (0: not ours)
        self.row = 0  # Excel row number of the current <row>
        self.col = 0  # column number of the cell before, in this row
        self.in_cell = self.in_is = self.in_rph = False
        self.pos = (0, 0)
        self.t = "n"
        self.f: list[str] | None = None
        self.v: list[str] | None = None
        self.is_: list[str] | None = None
        self.text: list[str] | None = None  # where character data goes now

    def code(self, name: str) -> int:
        code = self.names.get(name)
        if code is None:
            code = self.names[name] = self._CODES.get(name.rpartition("}")[2], 0)
        return code

    def start(self, name: str, attrs: dict[str, str]) -> None:
        code = self.names.get(name)
        if code is None:
            code = self.code(name)
        if code == 2 and not self.in_cell:
            m = _CELL_REF.match(attrs.get("r", ""))
            if m:
                row, col = int(m.group(2)), _letters_to_number(m.group(1).upper().encode())
            else:  # no reference: after the cell before it, in the current row
                row, col = max(self.row, 1), self.col + 1
            self.col = col
            self.pos = (row - 1, col - 1)
            self.t = attrs.get("t", "n").strip() or "n"
            self.in_cell, self.f, self.v, self.is_ = True, None, None, None
        elif not self.in_cell:
            if code == 1:
                r = attrs.get("r", "").strip()
                self.row = int(r) if r.isdigit() else self.row + 1
                self.col = 0
        elif code == 4 and not self.in_is:
            self.text = self.v = []
        elif code == 3:
            self.text = self.f = []
        elif code == 5:
            self.in_is, self.is_ = True, []
        elif code == 6 and self.in_is and not self.in_rph:
            self.text = self.is_
        elif code == 7:
            self.in_rph = True

    def end(self, name: str) -> None:
        code = self.names.get(name, 0)
        if not self.in_cell:
            return
        if code == 2:
            self.in_cell = False
            self.on_cell(
                self.pos[0], self.pos[1], self.t,
                None if self.f is None else "".join(self.f),
                None if self.v is None else "".join(self.v),
                None if self.is_ is None else "".join(self.is_),
            )
        elif code in (3, 4, 6):
            self.text = None
        elif code == 5:
            self.in_is = False
        elif code == 7:
            self.in_rph = False

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def _parse(zf: zipfile.ZipFile, member: str, on_cell) -> None:
    walk_xml(zf, member, _Cells(on_cell))


def reconcile(zf: zipfile.ZipFile, member: str, rows: list[list[Any]], census: SheetCensus) -> SheetFindings:
    """Compare every cell of a worksheet part with the reader's grid ``rows`` (changed in place).

    * an error cell (``t="e"``, any spelling, also with an empty or unknown code) is put into the
      grid as a :class:`CellIssue` (rejected in a marker column);
    * a formula without a cached value is listed (the reader shows it empty);
    * a value the reader shows empty or different (character references, CDATA, comments inside
      ``<v>``, prefixed elements) is put back from the XML;
    * a cell address that occurs more than once: the cell becomes a :class:`CellIssue` naming
      every content (a reader keeps only the last).
    """
    found = SheetFindings()
    if census.plain and not census.unusual and count_values(rows) == census.values:
        _reconcile_plain(zf, member, rows, found)  # only formula and error cells to look at: found by position
        return found
    keys = array("q")
    reprs = _Reprs()

    def on_cell(r0: int, c0: int, t: str, f: str | None, v: str | None, inline: str | None) -> None:
        key = r0 * 32768 + min(c0, 32767)
        keys.append(key)
        if t == "n" and f is None and v is not None and type(g := _grid_value(rows, r0, c0)) is float and v == reprs[g]:
            return  # the common case, fast: a number the reader read as written
        _compare(r0, c0, t, f, v, inline, key, rows, found)

    _parse(zf, member, on_cell)
    dup = _duplicates(zf, member, rows, keys, found) if len(keys) else set()
    restored = len(set(found.restored) - dup)
    if restored:
        why = ", ".join(census.unusual) or "cells the reader did not read"
        found.notes.append(f"{restored} cell value(s) read from the sheet's XML directly ({why})")
    return found


class _Reprs(dict):
    """float -> its shortest text (the common spelling of a number in <v>), remembered."""

    def __missing__(self, x: float) -> str:
        text = self[x] = repr(x).removesuffix(".0")
        return text


# a cell in canonical form: <c r="B3" ...> with the reference first (what spreadsheet programs write)
_PLAIN_CELL = re.compile(rb"""<c r="([A-Za-z]{1,3})([0-9]{1,7})"([^>]*?)(/?)>""")
_T_ATTR = re.compile(rb"""\st\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_F_EL = re.compile(rb"<f(?:\s[^>]*)?(?:/>|>(.*?)</f>)", re.S)
_V_EL = re.compile(rb"<v(?:\s[^>]*)?(?:/>|>(.*?)</v>)", re.S)
_F_OR_E = re.compile(rb"<f[\s>/]|" + _ERROR_T.pattern)


def _reconcile_plain(zf: zipfile.ZipFile, member: str, rows: list[list[Any]], found: SheetFindings) -> None:
    """:func:`reconcile` for a part whose every cell is in canonical form (``<c r="..."`` first, no
    prefixes) and whose values the reader read in full: only the cells holding a formula or an
    error type are parsed, found by searching the bytes (the rest costs nothing per cell)."""
    from html import unescape

    carry = b""
    with zf.open(member) as fh:
        while True:
            chunk = fh.read(4 << 20)
            buf = carry + chunk
            cut = buf.rfind(b"<c ") if chunk else len(buf)  # the last cell may be incomplete: it waits
            block, carry = (buf[:cut], buf[cut:]) if cut > 0 else (b"", buf)
            done = -1
            for hit in _F_OR_E.finditer(block):
                start = block.rfind(b"<c ", 0, hit.start() + 1)
                if start <= done or start < 0:
                    continue  # the same cell as the hit before
                done = start
                m = _PLAIN_CELL.match(block, start)
                if m is None:
                    continue
                end = m.end() if m.group(4) else block.find(b"</c>", m.end())
                body = block[m.end() : end if end >= 0 else len(block)]
                tm = _T_ATTR.search(m.group(3))
                t = (tm.group(1) or tm.group(2) or b"n").decode().strip() if tm else "n"
                fm, vm = _F_EL.search(body), _V_EL.search(body)
                f = None if fm is None else unescape((fm.group(1) or b"").decode("utf-8", "replace"))
                v = None if vm is None else unescape((vm.group(1) or b"").decode("utf-8", "replace"))
                r0 = int(m.group(2)) - 1
                c0 = _letters_to_number(m.group(1).upper()) - 1
                _compare(r0, c0, t, f, v, None, r0 * 32768 + min(c0, 32767), rows, found)
            if not chunk:
                break



def _grid_value(rows: list[list[Any]], r0: int, c0: int) -> Any:
    if 0 <= r0 < len(rows) and 0 <= c0 < len(rows[r0]):
        return rows[r0][c0]
    return ""


def _put(rows: list[list[Any]], r0: int, c0: int, value: Any) -> None:
    while len(rows) <= r0:
        rows.append([])
    row = rows[r0]
    if len(row) <= c0:
        row.extend([""] * (c0 + 1 - len(row)))
    row[c0] = value


def _compare(r0: int, c0: int, t: str, f: str | None, v: str | None, inline: str | None, key: int,
             rows: list[list[Any]], found: SheetFindings) -> None:
    """One cell of the XML against the reader's grid."""
    if r0 < 0 or c0 < 0:
        return
    g = _grid_value(rows, r0, c0)
    if t == "e":
        code = (v or "").strip()
        found.errors.append((r0, c0, code or "#VALUE!"))
        if g == "" or g is None:
            reason = f"Excel error {code}" if code else "Excel error cell (no error code in the file)"
            _put(rows, r0, c0, CellIssue(code or "#ERROR", reason))
        return
    if f is not None and (v is None or (v == "" and t != "str")):
        found.uncached.append((r0, c0, "=" + f))
        return
    if t == "n" and v is not None and v.strip():
        try:
            x = float(v.strip())
        except ValueError:
            x = None
        if x is None:
            if g == "":
                _put(rows, r0, c0, v)
                found.restored.append(key)
        elif g == "" or (isinstance(g, float) and g != x and not (np.isnan(g) and np.isnan(x))):
            _put(rows, r0, c0, x)
            found.restored.append(key)
    elif t == "inlineStr" and inline and g == "":
        _put(rows, r0, c0, inline)
        found.restored.append(key)
    elif t == "str" and v and g == "":
        _put(rows, r0, c0, v)
        found.restored.append(key)


def _duplicates(zf: zipfile.ZipFile, member: str, rows: list[list[Any]], keys: array, found: SheetFindings) -> set[int]:
    """Cell addresses that occur more than once (returned): a second pass collects what each occurrence holds."""
    uniq, counts = np.unique(np.frombuffer(keys, dtype=np.int64), return_counts=True)
    dup = set(uniq[counts > 1].tolist())
    if not dup:
        return dup
    contents: dict[int, list[str]] = {}

    def on_cell(r0: int, c0: int, t: str, f: str | None, v: str | None, inline: str | None) -> None:
        key = r0 * 32768 + min(c0, 32767)
        if key in dup:
            shown = inline if inline is not None else v
            what = f"shared string #{shown}" if t == "s" else repr(shown if shown is not None else "")
            if f is not None:
                what += f" (formula ={f})"
            contents.setdefault(key, []).append(what)

    _parse(zf, member, on_cell)
    same = 0
    for key, items in contents.items():
        r0, c0 = divmod(key, 32768)
        ref = f"{_letters(c0 + 1)}{r0 + 1}"
        if len(set(items)) == 1:
            same += 1
            continue
        text = " | ".join(items)
        _put(rows, r0, c0, CellIssue(text, f"cell {ref} occurs {len(items)} times in the sheet's XML with different contents "
                                            f"({', '.join(items)}); a reader keeps only the last, so which is right is unknown"))
    if same:
        found.notes.append(f"{same} cell address(es) occur more than once in the sheet's XML with the same content; read once")
    return dup


def _letters(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s
