"""Rebuild the corpus of hostile and broken inputs in tests/data/bad/ (one small file per case).

    python tests/data/bad/make_bad.py                # every file, byte for byte (seeded, fixed dates)
    python tests/data/bad/make_bad.py --libreoffice  # also formula_cached.{xlsx,ods,xls}: LibreOffice
                                                     # computes the cached values (made once, committed)

tests/test_robustness.py states what btm must do with each file (message, exit status, counts).
Files too large to commit are written at test time by the functions marked "at test time"
(huge_cell_csv, wide_line_csv). All people are synthetic.

How the zip-level cases are built (write_zip below writes every byte of the container itself):

* zip_bomb.xlsx: one deflated sheet part of 100 MiB of spaces (about 100 KB), listed 30 times in the
  zip directory under 30 sheet names: the directory declares 3 GiB (an "overlapping" zip bomb);
* zip_bomb_small.xlsx: a real workbook whose sheet is padded with 5 MiB of spaces (5 KB on disk):
  refused with --max-size 1 (4 MB unzipped), read with --max-size 2;
* zip_bomb_lying.xlsx: the directory (and the local header) says the sheet part holds 400 bytes with
  the CRC of those 400 bytes, but its deflate stream goes on for 64 MiB.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
FIXED_CREATED = dt.datetime(2026, 1, 5, 9, 0, 0)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MICRO = "\u00b5"  # the micro sign of "µg/L"
PASSWD_PROBE = "file:///etc/passwd"


# ---------------------------------------------------------------------------------------------
# helpers


def new_workbook(target, **options) -> xlsxwriter.Workbook:
    opts = {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False, **options}
    if not isinstance(target, str | Path):
        opts["in_memory"] = True
    wb = xlsxwriter.Workbook(target if not isinstance(target, Path) else str(target), opts)
    wb.set_properties({"author": "btm test fixtures", "comments": "Synthetic data", "created": FIXED_CREATED})
    return wb


def write_cells(ws, rows: list[list], *, date_format=None) -> None:
    """Strings as text (numbers stored as text stay text), numbers as numbers, dates as dates."""
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, dt.date):
                d = v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())
                ws.write_datetime(i, j, d, date_format)
            elif isinstance(v, str):
                ws.write_string(i, j, v)
            else:
                ws.write_number(i, j, v)


def write_text(name: str, text: str, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(text.encode(encoding))


def write_zip(path: Path, members: list[tuple[str, bytes]], *, lie: dict[str, int] | None = None,
              aliases: dict[str, list[str]] | None = None) -> None:
    """A zip written byte by byte (deflate level 9, fixed dates).

    ``lie``: member -> the size its local header and directory entry state (with the CRC of that
    many leading bytes) while the deflate stream holds all of it. ``aliases``: member -> more
    directory entries (other names) that point at the same local header and data.
    """
    lie = lie or {}
    aliases = aliases or {}
    out = io.BytesIO()
    central = []
    dos_time, dos_date = 0, (0 << 9) | (1 << 5) | 1  # 1980-01-01 00:00
    for name, data in members:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = comp.compress(data) + comp.flush()
        size = lie.get(name, len(data))
        crc = zlib.crc32(data[:size]) & 0xFFFFFFFF
        offset = out.tell()
        raw = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, dos_time, dos_date, crc, len(packed), size, len(raw), 0))
        out.write(raw)
        out.write(packed)
        for entry in [name, *aliases.get(name, [])]:
            central.append((entry.encode(), crc, len(packed), size, offset))
    cd_start = out.tell()
    for raw, crc, csize, size, offset in central:
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, dos_time, dos_date, crc, csize, size,
                              len(raw), 0, 0, 0, 0, 0, offset))
        out.write(raw)
    cd_size = out.tell() - cd_start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), cd_size, cd_start, 0))
    path.write_bytes(out.getvalue())


def rezip(data: bytes) -> bytes:
    """The same zip with fixed member dates and modification time (openpyxl stamps the time of saving)."""
    import re

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            part = src.read(info)
            if info.filename == "docProps/core.xml":
                part = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-05T09:00:00Z", part)
            dst.writestr(zipfile.ZipInfo(info.filename, ZIP_TIME), part, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


# a minimal SpreadsheetML package, for the cases that need hand-written XML
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def ooxml_parts(sheets: list[tuple[str, str | bytes]], shared: str | bytes | None = None) -> list[tuple[str, bytes]]:
    """Parts of an .xlsx: ``sheets`` as (name, worksheet XML), ``shared`` the sharedStrings XML."""
    def b(x: str | bytes) -> bytes:
        return x if isinstance(x, bytes) else x.encode("utf-8")

    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for k in range(1, len(sheets) + 1)
    )
    if shared is not None:
        overrides += '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    types = (
        _DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        + overrides + "</Types>"
    )
    rels = (_DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    book = (_DECL + f'<workbook {_NS} xmlns:r="{_REL}"><sheets>'
            + "".join(f'<sheet name="{n}" sheetId="{k}" r:id="rId{k}"/>' for k, (n, _) in enumerate(sheets, start=1))
            + "</sheets></workbook>")
    book_rels = (_DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 + "".join(f'<Relationship Id="rId{k}" Type="{_REL}/worksheet" Target="worksheets/sheet{k}.xml"/>' for k in range(1, len(sheets) + 1))
                 + (f'<Relationship Id="rId{len(sheets) + 1}" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>' if shared is not None else "")
                 + "</Relationships>")
    parts = [("[Content_Types].xml", b(types)), ("_rels/.rels", b(rels)), ("xl/workbook.xml", b(book)), ("xl/_rels/workbook.xml.rels", b(book_rels))]
    parts += [(f"xl/worksheets/sheet{k}.xml", b(x)) for k, (_, x) in enumerate(sheets, start=1)]
    if shared is not None:
        parts.append(("xl/sharedStrings.xml", b(shared)))
    return parts


def sheet_xml(cells: str, *, prolog: str = "", dimension: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return _DECL + prolog + f"<worksheet {_NS}>{dim}<sheetData>{cells}</sheetData></worksheet>"


def shared_xml(strings: list[str], *, prolog: str = "") -> str:
    items = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return _DECL + prolog + f'<sst {_NS} count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>'


def s_cell(ref: str, k: int) -> str:
    return f'<c r="{ref}" t="s"><v>{k}</v></c>'


def n_cell(ref: str, v: float) -> str:
    return f'<c r="{ref}"><v>{v}</v></c>'


# header and one data row, as shared strings 0..2: Subject | PINP (µg/L) ; S1 | 45
SMALL_STRINGS = ["Subject", f"PINP ({MICRO}g/L)", "S1"]
SMALL_ROWS = f'<row r="1">{s_cell("A1", 0)}{s_cell("B1", 1)}</row><row r="2">{s_cell("A2", 2)}{n_cell("B2", 45)}</row>'


# ---------------------------------------------------------------------------------------------
# 1-5: files that are not a readable spreadsheet


def empty_files() -> None:
    """empty.csv, empty.xlsx: 0 bytes."""
    (HERE / "empty.csv").write_bytes(b"")
    (HERE / "empty.xlsx").write_bytes(b"")


def header_only() -> None:
    """header_only.csv/.xlsx: a header that names markers, and no data row."""
    write_text("header_only.csv", f"Subject,Visit,PINP ({MICRO}g/L),CTX (ng/L)\n")
    wb = new_workbook(HERE / "header_only.xlsx")
    write_cells(wb.add_worksheet("Results"), [["Subject", "Visit", f"PINP ({MICRO}g/L)", "CTX (ng/L)"]])
    wb.close()


def _base_workbook() -> bytes:
    """A small real workbook (kept in memory): the source of truncated.xlsx."""
    buf = io.BytesIO()
    wb = new_workbook(buf)
    rows: list[list] = [["Subject", "Visit", f"PINP ({MICRO}g/L)", "CTX (ng/L)"]]
    rows += [[f"T{k:02d}", "V1", 40.0 + k, 300 + k] for k in range(1, 21)]
    write_cells(wb.add_worksheet("Results"), rows)
    wb.close()
    return buf.getvalue()


def truncated() -> None:
    """truncated.xlsx: a real workbook cut in half (no zip directory at the end)."""
    full = _base_workbook()
    (HERE / "truncated.xlsx").write_bytes(full[: len(full) // 2])


def random_bytes() -> None:
    """random_bytes.xlsx: 4 KiB of seeded random bytes (not starting like a zip or OLE file)."""
    data = bytearray(random.Random(20260105).randbytes(4096))
    if data[:2] == b"PK" or data[:4] == b"\xd0\xcf\x11\xe0":
        data[0] = 0x00
    (HERE / "random_bytes.xlsx").write_bytes(bytes(data))


def encrypted() -> None:
    """encrypted.xlsx: tests/data/unreadable/encrypted.xlsx (password "secret"), copied."""
    shutil.copyfile(HERE.parent / "unreadable" / "encrypted.xlsx", HERE / "encrypted.xlsx")


# ---------------------------------------------------------------------------------------------
# 6-7: XML entity attacks


def xml_attacks() -> None:
    """XXE and billion laughs, each in a workbook that is otherwise valid.

    xxe_shared_strings.xlsx: sharedStrings.xml declares ``<!ENTITY e SYSTEM "file:///etc/passwd">``
    and a cell shows ``&e;``; xxe_sheet.xlsx: the same in the sheet part (an inline string);
    xxe_utf16.xlsx: xxe_shared_strings in UTF-16 (the DTD does not show in the raw bytes);
    xxe_parameter.xlsx: a parameter entity (``%p;``) that would fetch the file;
    doctype_external.xlsx: ``<!DOCTYPE sst SYSTEM "file:///etc/passwd">`` (no entity declared);
    billion_laughs.xlsx: ten nested entities of ten each (10^9 "lol"s) in sharedStrings.xml.
    """
    xxe = f'<!DOCTYPE sst [<!ENTITY e SYSTEM "{PASSWD_PROBE}">]>\n'
    strings = ["Subject", f"PINP ({MICRO}g/L)", "&e;"]
    write_zip(HERE / "xxe_shared_strings.xlsx", ooxml_parts([("Sheet1", sheet_xml(SMALL_ROWS))], shared_xml(strings, prolog=xxe)))

    inline = f'<row r="1">{s_cell("A1", 0)}{s_cell("B1", 1)}</row><row r="2"><c r="A2" t="inlineStr"><is><t>&e;</t></is></c>{n_cell("B2", 45)}</row>'
    sheet = sheet_xml(inline, prolog=f'<!DOCTYPE worksheet [<!ENTITY e SYSTEM "{PASSWD_PROBE}">]>\n')
    write_zip(HERE / "xxe_sheet.xlsx", ooxml_parts([("Sheet1", sheet)], shared_xml(SMALL_STRINGS[:2])))

    utf16 = shared_xml(strings, prolog=xxe).replace('encoding="UTF-8"', 'encoding="UTF-16"')
    write_zip(HERE / "xxe_utf16.xlsx", ooxml_parts([("Sheet1", sheet_xml(SMALL_ROWS))], b"\xff\xfe" + utf16.encode("utf-16-le")))

    param = f'<!DOCTYPE sst [<!ENTITY % p SYSTEM "{PASSWD_PROBE}"> %p;]>\n'
    write_zip(HERE / "xxe_parameter.xlsx", ooxml_parts([("Sheet1", sheet_xml(SMALL_ROWS))], shared_xml(SMALL_STRINGS, prolog=param)))

    external = f'<!DOCTYPE sst SYSTEM "{PASSWD_PROBE}">\n'
    write_zip(HERE / "doctype_external.xlsx", ooxml_parts([("Sheet1", sheet_xml(SMALL_ROWS))], shared_xml(SMALL_STRINGS, prolog=external)))

    lol = '<!DOCTYPE sst [<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{k} "{f"&lol{k - 1};" * 10}">' for k in range(1, 10)
    ) + "]>\n"
    write_zip(HERE / "billion_laughs.xlsx", ooxml_parts([("Sheet1", sheet_xml(SMALL_ROWS))], shared_xml(["Subject", f"PINP ({MICRO}g/L)", "&lol9;"], prolog=lol)))


# ---------------------------------------------------------------------------------------------
# 8: zip bombs


def _padded_sheet(pad: int) -> bytes:
    head = _DECL + f"<worksheet {_NS}><sheetData>"
    return head.encode() + SMALL_ROWS.encode() + b" " * pad + b"</sheetData></worksheet>"


def zip_bombs() -> None:
    """zip_bomb.xlsx, zip_bomb_small.xlsx, zip_bomb_lying.xlsx (see the module docstring)."""
    names = [f"Sheet{k}" for k in range(1, 31)]
    parts = ooxml_parts([(n, "") for n in names], shared_xml(SMALL_STRINGS))
    parts = [(n, d) for n, d in parts if not n.startswith("xl/worksheets/")]
    bomb = ("xl/worksheets/sheet1.xml", _padded_sheet(100 * 1024**2))
    aliases = {bomb[0]: [f"xl/worksheets/sheet{k}.xml" for k in range(2, 31)]}
    write_zip(HERE / "zip_bomb.xlsx", [*parts, bomb], aliases=aliases)

    small = ooxml_parts([("Sheet1", _padded_sheet(5 * 1024**2))], shared_xml(SMALL_STRINGS))
    write_zip(HERE / "zip_bomb_small.xlsx", small)

    lying = ooxml_parts([("Sheet1", _padded_sheet(64 * 1024**2))], shared_xml(SMALL_STRINGS))
    write_zip(HERE / "zip_bomb_lying.xlsx", lying, lie={"xl/worksheets/sheet1.xml": 400})


# ---------------------------------------------------------------------------------------------
# 9: text files


def text_files() -> None:
    """nul_bytes.csv: NUL bytes inside a value, a subject id and a blank-looking cell, and a
    trailing run of NULs (a file pre-allocated and never filled); mixed_line_endings.csv: rows
    ended by CRLF, LF and CR in one file."""
    write_text("nul_bytes.csv",
               f"Subject,Visit,PINP ({MICRO}g/L)\nN1,V1,45\x00\nN2\x00,V1,50\nN3,V1,\x00\nN4,V1,38\n" + "\x00" * 64)
    write_text("mixed_line_endings.csv",
               f"Subject,Visit,PINP ({MICRO}g/L),CTX (ng/L)\r\nL1,V1,45,300\nL2,V1,50,310\rL3,V1,38,290\r\nL4,V1,41,305\n")


def huge_cell_csv(path: Path, n: int = 1_000_000) -> None:
    """(at test time) A CSV whose PINP cell of row 3 holds ``n`` digits and whose comment cell of
    row 2 holds ``n`` characters of text; the other values are ordinary."""
    text = (f"Subject,Visit,Comment,PINP ({MICRO}g/L)\n"
            f"H1,V1,{'x' * n},45\n"
            f"H2,V1,ok,{'9' * n}\n"
            f"H3,V1,ok,50\n")
    path.write_text(text, encoding="utf-8")


def wide_line_csv(path: Path, n: int = 1_000_000) -> None:
    """(at test time) A CSV whose header line has ``n`` empty columns after the two it names."""
    path.write_text(f"Subject,PINP ({MICRO}g/L)" + "," * n + "\nW1,45\nW2,50\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# 10-13: odd layouts


# 16,384 columns: (column index, header); the rest are named "Col 00005" etc.
WIDE_MARKERS = {0: "Subject", 1: f"PINP ({MICRO}g/L)", 2: "Visit", 700: "CTX (ng/L)", 16383: f"BALP ({MICRO}g/L)"}


def columns_16384() -> None:
    """columns_16384.xlsx: a header in every column A..XFD; markers in B, ZY and XFD; three data
    rows with values in the marker columns and a number in every 1000th other column."""
    wb = new_workbook(HERE / "columns_16384.xlsx")
    ws = wb.add_worksheet("Wide")
    for j in range(16384):
        ws.write_string(0, j, WIDE_MARKERS.get(j, f"Col {j:05d}"))
    values = {1: [45.0, 50.5, None], 700: [300, "hemolysed", 310], 16383: [14.2, 15.0, 12.5]}
    for i in range(3):
        ws.write_string(i + 1, 0, f"W{i + 1}")
        ws.write_string(i + 1, 2, "V1")
        for j in range(1000, 16384, 1000):
            ws.write_number(i + 1, j, j + i)
        for j, col in values.items():
            v = col[i]
            if isinstance(v, str):
                ws.write_string(i + 1, j, v)
            elif v is not None:
                ws.write_number(i + 1, j, v)
    wb.close()


def duplicates() -> None:
    """duplicate_headers.csv: two columns named "PINP (µg/L)"; synonyms_twice.csv: one sheet
    with "P1NP (µg/L)" and "PINP (µg/L)" (the same marker under two synonyms)."""
    write_text("duplicate_headers.csv",
               f"Subject,Visit,PINP ({MICRO}g/L),PINP ({MICRO}g/L)\nD1,V1,45,46\nD2,V1,50,\nD3,V1,,38\n")
    write_text("synonyms_twice.csv",
               f"Subject,Visit,P1NP ({MICRO}g/L),PINP ({MICRO}g/L)\nY1,V1,45,45\nY2,V1,50,52\n")


def merged_cells() -> None:
    """merged_cells.xlsx: the subject id of M01 merged over its two visit rows (A2:A3); the PINP
    value 50 merged over rows 4 and 5 (C4:C5), which belong to M02 and M03."""
    wb = new_workbook(HERE / "merged_cells.xlsx")
    ws = wb.add_worksheet("Merged")
    write_cells(ws, [
        ["Subject", "Visit", f"PINP ({MICRO}g/L)", "CTX (ng/L)"],
        [None, "V1", 40, 300],
        [None, "V2", 42, 310],
        ["M02", "V1", None, 320],
        ["M03", "V1", None, 330],
    ])
    ws.merge_range("A2:A3", "M01")
    ws.merge_range("C4:C5", 50)
    wb.close()


# ---------------------------------------------------------------------------------------------
# 14-15: formulas and error cells

FORMULA_ROWS = [
    ["Subject", "Visit", f"PINP ({MICRO}g/L)", "CTX (ng/L)"],
    ["F1", "V1", 40, 300],
    ["F2", "V1", "=C2+5", "=D2*2"],
    ["F3", "V1", "=1/0", "=NA()"],
]


def formulas() -> None:
    """formula_uncached.xlsx: formulas saved by openpyxl, with no cached values (``<v/>``);
    excel_errors.xlsx: error values as Excel stores them (``t="e"``: #DIV/0!, #N/A, #VALUE!)
    and error texts typed into cells (#N/A, #REF!)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Formulas"
    for row in FORMULA_ROWS:
        ws.append(row)
    wb.properties.created = wb.properties.modified = FIXED_CREATED
    buf = io.BytesIO()
    wb.save(buf)
    (HERE / "formula_uncached.xlsx").write_bytes(rezip(buf.getvalue()))

    wb = new_workbook(HERE / "excel_errors.xlsx")
    ws = wb.add_worksheet("Errors")
    write_cells(ws, [["Subject", "Visit", f"PINP ({MICRO}g/L)", "CTX (ng/L)"], ["E1", "V1"], ["E2", "V1"], ["E3", "V1", 45, 300]])
    ws.write_formula("C2", "=1/0", None, "#DIV/0!")
    ws.write_formula("D2", "=NA()", None, "#N/A")
    ws.write_formula("C3", '="a"+1', None, "#VALUE!")
    ws.write_string("D3", "#N/A")
    ws.write_string("A5", "E4")
    ws.write_string("B5", "V1")
    ws.write_string("C5", "#REF!")
    wb.close()


def libreoffice() -> None:
    """formula_cached.xlsx, .ods and .xls: formula_uncached.xlsx opened and saved by LibreOffice,
    which computes the cached values (45, 600, #DIV/0!, #N/A). Made once; the outputs are committed."""
    import shutil as sh

    soffice = sh.which("soffice") or sh.which("libreoffice")
    if not soffice:
        raise SystemExit("LibreOffice (soffice) not found; formula_cached.* need it")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "formula_cached.xlsx"
        shutil.copyfile(HERE / "formula_uncached.xlsx", src)
        profile = f"-env:UserInstallation=file://{tmp}/profile"
        out = Path(tmp) / "out"
        for target in ("xlsx", "ods", "xls"):
            subprocess.run([soffice, profile, "--headless", "--convert-to", target, "--outdir", str(out), str(src)], check=True)
            shutil.copyfile(out / f"formula_cached.{target}", HERE / f"formula_cached.{target}")


# ---------------------------------------------------------------------------------------------
# 16-19: values


def dates() -> None:
    """dates_pre1900.csv: a draw date typed as 1899-12-31 and birth dates in 1890;
    date1904.xlsx: a workbook in the 1904 date system (Excel for Mac) with real dates, and one
    draw date typed as a bare serial number (44594: 2026-02-03 counted from 1904, 2022-02-02 from 1900)."""
    write_text("dates_pre1900.csv",
               f"Subject,Visit,Draw date,DOB,PINP ({MICRO}g/L)\n"
               "P1,V1,1899-12-31,1890-05-01,45\n"
               "P2,V1,2026-01-02,1890-05-01,40\n"
               "P3,V1,2026-01-02,1960-05-01,38\n")
    wb = new_workbook(HERE / "date1904.xlsx", date_1904=True)
    ws = wb.add_worksheet("Mac")
    fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    write_cells(ws, [
        ["Subject", "Draw date", f"PINP ({MICRO}g/L)"],
        ["K1", dt.date(2026, 2, 3), 45],
        ["K2", dt.date(1904, 1, 2), 40],
        ["K3", dt.date(2026, 12, 31), 38],
        ["K4", 44594, 41],  # a serial number typed as a plain number: 2026-02-03 in the 1904 system
    ], date_format=fmt)
    wb.close()


BAD_NUMBERS = [  # (subject, PINP cell as typed)
    ("B1", "-5"), ("B2", "0"), ("B3", "NaN"), ("B4", "inf"), ("B5", "1e309"), ("B6", "-inf"),
    ("B7", "Infinity"), ("B8", "-0"), ("B9", "0.000"), ("B10", "1e-400"), ("B11", "45"),
]


def numbers() -> None:
    """bad_numbers.csv: negative, zero, NaN, infinite (text) and one good value;
    bad_numbers.xlsx: negative and zero as real numbers; unit_magnitude.csv: PINP typed in ng/L
    under a µg/L header and CTX in µg/L under ng/L (1000x off), loaded and flagged."""
    write_text("bad_numbers.csv", f"Subject,Visit,PINP ({MICRO}g/L)\n" + "".join(f"{s},V1,{v}\n" for s, v in BAD_NUMBERS))
    wb = new_workbook(HERE / "bad_numbers.xlsx")
    write_cells(wb.add_worksheet("Numbers"), [["Subject", "Visit", f"PINP ({MICRO}g/L)"], ["X1", "V1", -5], ["X2", "V1", 0], ["X3", "V1", -0.001], ["X4", "V1", 45]])
    wb.close()
    write_text("unit_magnitude.csv",
               f"Subject,Visit,PINP ({MICRO}g/L),CTX (ng/L)\nG1,V1,90000,0.41\nG2,V1,45,410\n")


TRICKY_IDS = ["007", "1e5", "00012", "2026-01-02", "01/02/2026", "=1+1", "+SUM(A1)", "-2", "@cmd", " 42 ", "1,5"]


def tricky_ids() -> None:
    """tricky_ids.csv/.xlsx: subject ids that look like numbers, dates and formulas (text cells)."""
    rows = [["Subject", "Visit", f"PINP ({MICRO}g/L)"]] + [[sid, "=V1" if k == 0 else "V1", str(40 + k)] for k, sid in enumerate(TRICKY_IDS)]
    buf = io.StringIO()
    import csv

    csv.writer(buf, lineterminator="\n").writerows(rows)
    write_text("tricky_ids.csv", buf.getvalue())
    wb = new_workbook(HERE / "tricky_ids.xlsx")
    write_cells(wb.add_worksheet("Ids"), [r if i == 0 else [r[0], r[1], float(r[2])] for i, r in enumerate(rows)])
    wb.close()


# ---------------------------------------------------------------------------------------------
# bounds: sheets whose cells span absurd grids


def bounds() -> None:
    """far_cell.xlsx: a header and a value at A1:B2 and one more number at XFD1048576 (a reader
    would allocate a grid of 17 billion cells); far_cell_lowercase.xlsx: the same with the far
    reference written "xfd1048576" (readers accept it); dimension_lie.xlsx: four cells under a
    ``<dimension ref="A1:XFD1048576"/>`` (readers ignore the claim); repeated_cells.ods: one
    value repeated over 100,000 columns of 100,000 rows (5 KB)."""
    far = SMALL_ROWS + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    write_zip(HERE / "far_cell.xlsx", ooxml_parts([("Sheet1", sheet_xml(far))], shared_xml(SMALL_STRINGS)))
    low = SMALL_ROWS + '<row r="1048576"><c r="xfd1048576"><v>1</v></c></row>'
    write_zip(HERE / "far_cell_lowercase.xlsx", ooxml_parts([("Sheet1", sheet_xml(low))], shared_xml(SMALL_STRINGS)))
    write_zip(HERE / "dimension_lie.xlsx", ooxml_parts([("Sheet1", sheet_xml(SMALL_ROWS, dimension="A1:XFD1048576"))], shared_xml(SMALL_STRINGS)))
    write_zip(HERE / "repeated_cells.ods", _ods_parts(
        '<table:table-row><table:table-cell office:value-type="string"><text:p>Subject</text:p></table:table-cell>'
        f'<table:table-cell office:value-type="string"><text:p>PINP ({MICRO}g/L)</text:p></table:table-cell></table:table-row>'
        '<table:table-row table:number-rows-repeated="100000"><table:table-cell table:number-columns-repeated="100000" '
        'office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row>'
    ))


def _ods_parts(rows: str) -> list[tuple[str, bytes]]:
    content = (
        _DECL + '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
        'office:version="1.3"><office:body><office:spreadsheet><table:table table:name="Sheet1">'
        + rows + "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        _DECL + '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    return [("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"), ("content.xml", content.encode()),
            ("META-INF/manifest.xml", manifest.encode())]


def main(argv: list[str]) -> int:
    empty_files()
    header_only()
    truncated()
    random_bytes()
    encrypted()
    xml_attacks()
    zip_bombs()
    text_files()
    columns_16384()
    duplicates()
    merged_cells()
    formulas()
    dates()
    numbers()
    tricky_ids()
    bounds()
    if "--libreoffice" in argv:
        libreoffice()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
