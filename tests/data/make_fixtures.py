"""Rebuild the small import fixtures in tests/data/ (one file per malformed case).

    python tests/data/make_fixtures.py                 # text and xlsx fixtures, into tests/data/
    python tests/data/make_fixtures.py --libreoffice   # also the .xls, .ods, .xlsm and the
                                                       # password-protected copies (LibreOffice,
                                                       # and msoffcrypto-tool for the .xlsx)

The binary fixtures made by LibreOffice are committed as they are; tests never run LibreOffice.
Workbooks are written with xlsxwriter and a fixed creation date, so a rebuild gives the same
bytes. All people are synthetic.

What each file holds is said next to the function that writes it; tests/test_import.py states
the expected values.
"""

from __future__ import annotations

import codecs
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
FIXED_CREATED = dt.datetime(2026, 1, 5, 9, 0, 0)


def new_workbook(path: Path) -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"author": "btm test fixtures", "comments": "Synthetic data", "created": FIXED_CREATED})
    return wb


def write_rows(ws, rows: list[list], *, first_row: int = 0, date_format=None) -> None:
    """Write cells as they are: str as text (numbers stored as text stay text), dates as dates."""
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            r = first_row + i
            if v is None:
                continue
            if isinstance(v, dt.datetime | dt.date):
                d = v if isinstance(v, dt.datetime) else dt.datetime.combine(v, dt.time())
                ws.write_datetime(r, j, d, date_format)
            elif isinstance(v, str):
                ws.write_string(r, j, v)
            else:
                ws.write_number(r, j, v)


def write_text(name: str, text: str, encoding: str, *, bom: bytes = b"") -> None:
    (HERE / name).write_bytes(bom + text.encode(encoding))


# ---------------------------------------------------------------------------------------------
# workbooks

WIDE_BASIC = [
    ["Subject ID", "Visit", "Draw date", "Sex", "Age", "Group", "PINP (ng/mL)", "CTX [pg/mL]", "BALP, µg/L"],
    ["S01", "V1", dt.date(2026, 2, 3), "F", 61, "Exercise", 45.3, 412, 14.2],
    ["S01", "V2", dt.date(2026, 4, 28), "F", 61, "Exercise", 51.7, 388, 15.0],
    ["S02", "V1", dt.date(2026, 2, 4), "M", 55, "Control", 38.0, 290, 12.5],
    ["S02", "V2", dt.date(2026, 4, 29), "M", 55, "Control", 36.4, 301, None],
]


def wide_basic() -> None:
    """wide_basic.xlsx: header on row 1, units in the header three ways; F5 (S02 V2 BALP) is blank.

    Also the source of wide_basic.xls / .ods / .xlsm (LibreOffice conversions)."""
    wb = new_workbook(HERE / "wide_basic.xlsx")
    ws = wb.add_worksheet("Results")
    write_rows(ws, WIDE_BASIC, date_format=wb.add_format({"num_format": "yyyy-mm-dd"}))
    wb.close()


def header_row4_merged_title() -> None:
    """Merged title A1:F1, a note on row 2, blank row 3, header on row 4, data on rows 5-7."""
    wb = new_workbook(HERE / "header_row4_merged_title.xlsx")
    ws = wb.add_worksheet("Sheet1")
    ws.merge_range("A1:F1", "Bone marker results – study BONE-7 (synthetic)", wb.add_format({"bold": True}))
    ws.write_string(1, 0, "Printed 2026-03-01 by the study lab")
    write_rows(ws, [
        ["Patient", "Visit", "Sex", "P1NP (µg/L)", "CTX-1 (ng/L)", "Osteocalcin (µg/L)"],
        ["P01", "baseline", "F", 40.1, 350, 18.2],
        ["P02", "baseline", "F", 52.6, 505, 22.9],
        ["P03", "baseline", "M", 33.3, 240, 15.5],
    ], first_row=3)
    wb.close()


def units_second_row() -> None:
    """Header on row 1, a units row on row 2 (everything ng/mL), data on rows 3-5."""
    wb = new_workbook(HERE / "units_second_row.xlsx")
    ws = wb.add_worksheet("Export")
    write_rows(ws, [
        ["Patient ID", "Visit", "P1NP", "CTX-1", "Osteocalcin"],
        ["", "", "ng/mL", "ng/mL", "ng/mL"],
        ["A1", "V1", 41.2, 0.412, 19.5],
        ["A2", "V1", 60.0, 0.655, 25.25],
        ["A3", "V1", 28.9, 0.198, 12.75],
    ])
    wb.close()


def unit_column() -> None:
    """Wide, with a 'Unit' column right after each marker column; CTX mixes ng/mL and pg/mL per row."""
    wb = new_workbook(HERE / "unit_column.xlsx")
    ws = wb.add_worksheet("Sheet1")
    write_rows(ws, [
        ["Subject", "Visit", "CTX", "Unit", "PINP", "Unit"],
        ["U1", "V1", 0.45, "ng/mL", 50, "ng/mL"],
        ["U2", "V1", 450, "pg/mL", 0.05, "mg/L"],
        ["U3", "V1", 380, "ng/L", 44.4, "µg/L"],
    ])
    wb.close()


def per_timepoint() -> None:
    """One sheet per timepoint (no visit column) and a 'Notes' sheet with no marker data."""
    wb = new_workbook(HERE / "per_timepoint.xlsx")
    fmt = wb.add_format({"num_format": "dd/mm/yyyy"})
    for name, rows in (
        ("Baseline", [["R1", dt.date(2026, 1, 12), 41.0, 300], ["R2", dt.date(2026, 1, 13), 55.5, 420]]),
        ("Week 12", [["R1", dt.date(2026, 4, 6), 47.5, 310], ["R2", dt.date(2026, 4, 7), 58.0, None]]),
    ):
        ws = wb.add_worksheet(name)
        write_rows(ws, [["Subject", "Draw date", "PINP (µg/L)", "CTX (ng/L)"], *rows], date_format=fmt)
    ws = wb.add_worksheet("Notes")
    ws.write_string(0, 0, "Study notes")
    ws.write_string(1, 0, "R2 Week 12: CTX not run (tube lost).")
    wb.close()


def synonyms_wide() -> None:
    """Marker columns named by synonyms, and every subject column the importer knows."""
    wb = new_workbook(HERE / "synonyms_wide.xlsx")
    ws = wb.add_worksheet("Data")
    fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    write_rows(ws, [
        ["Patient ID", "MRN", "Sample ID", "Visit", "Draw date", "Draw time", "Sex", "DOB", "Arm",
         "Menopausal status", "Fasting", "eGFR (mL/min/1.73m²)",
         "P1NP total (µg/L)", "β-CrossLaps (ng/mL)", "Bone ALP (Ostase) (µg/L)", "OC N-MID (ng/mL)",
         "uNTx/Cr (nmol BCE/mmol Cr)"],
        ["N01", "000101", "L-1", "Baseline", dt.date(2026, 2, 3), "07:45", "female", dt.date(1960, 5, 1), "Impact",
         "post", "yes", 88, 47.5, 0.501, 16.1, 21.3, 38],
        ["N02", "000102", "L-2", "Baseline", dt.date(2026, 2, 4), "08:10", "male", dt.date(1970, 3, 9), "Control",
         "", "no", 64, 35.0, 0.287, 13.9, 17.0, 29],
    ], date_format=fmt)
    wb.close()


def mapping_german() -> None:
    """Headers no synonym resolves (header on row 4), units only in the mapping, '<LOD' needs the mapping's lod."""
    wb = new_workbook(HERE / "mapping_german.xlsx")
    ws = wb.add_worksheet("Tabelle1")
    ws.write_string(0, 0, "Studie KNOCHEN-2: Laborwerte")
    ws.write_string(1, 0, "Zentrallabor, Export vom 01.03.2026")
    write_rows(ws, [
        ["Pat-Nr", "Zeitpunkt", "Knochenaufbau", "Knochenabbau"],
        ["007", "T0", 44.5, 0.35],
        ["007", "T1", 49.0, "<LOD"],
        ["012", "T0", 39.9, 0.41],
        ["012", "T1", "n.b.", 0.38],
    ], first_row=3)
    wb.close()
    (HERE / "mapping_german.toml").write_text(
        '# mapping for mapping_german.xlsx: its headers name no marker btm knows\n'
        '[[sheets]]\n'
        'file = "mapping_german.xlsx"\n'
        'header_row = 4\n'
        'layout = "wide"\n'
        '\n'
        '[sheets.columns]\n'
        '"Pat-Nr" = "subject_id"\n'
        '"Zeitpunkt" = "timepoint"\n'
        '"Knochenaufbau" = "PINP"\n'
        '"Knochenabbau" = "CTX1"\n'
        '\n'
        '[sheets.units]\n'
        'PINP = "µg/L"\n'
        'CTX1 = "ng/mL"\n'
        '\n'
        '[sheets.lod]\n'
        'CTX1 = 0.01   # ng/mL, the column\'s unit\n',
        encoding="utf-8",
    )


# (row label, PINP cell) of values_wide.xlsx; CTX is 300 on every row
VALUE_CASES: list[tuple[str, object]] = [
    ("number", 45.3),
    ("integer", 45),
    ("text_number", "52.1"),
    ("text_spaces", " 48.0 "),
    ("thousands_comma", "1,234.5"),
    ("thousands_dot_decimal_comma", "1.234,5"),
    ("thousands_space", "1 234,5"),
    ("lt", "<0.01"),
    ("lt_space", "< 0.01"),
    ("le_sign", "≤0.01"),
    ("le_ascii", "<=0.01"),
    ("gt", ">1500"),
    ("ge_sign", "≥1500"),
    ("blank", None),
    ("spaces_only", "   "),
    ("hemolysed", "hemolysed"),
    ("qns", "QNS"),
    ("n_a", "n/a"),
    ("see_comment", "see comment"),
    ("cancelled", "cancelled"),
    ("lod_no_limit", "<LOD"),
    ("typo", "4o.2"),
    ("zero", 0),
    ("negative", -5),
    ("excel_error", "#N/A"),
    ("unit_in_cell", "45 ng/mL"),
]


def values_wide() -> None:
    """One row per kind of value in the PINP column (see VALUE_CASES); CTX is always 300."""
    wb = new_workbook(HERE / "values_wide.xlsx")
    ws = wb.add_worksheet("Values")
    rows: list[list] = [["Subject", "Visit", "Comment", "PINP (µg/L)", "CTX (ng/L)"]]
    for k, (label, cell) in enumerate(VALUE_CASES, start=1):
        rows.append([f"V{k:02d}", "V1", label, cell, 300])
    write_rows(ws, rows)
    wb.close()


def dates_xlsx() -> None:
    """Date cells every way a lab writes them; row 7 is the ambiguous '03/04/2026'."""
    wb = new_workbook(HERE / "dates.xlsx")
    ws = wb.add_worksheet("Sheet1")
    write_rows(ws, [
        ["Subject", "Visit", "Date", "PINP (µg/L)"],
        ["D1", "V1", dt.date(2026, 2, 3), 40.0],      # a real Excel date
        ["D2", "V1", 46058, 41.0],                      # an Excel serial number (2026-02-05)
        ["D3", "V1", "2026-02-06", 42.0],               # ISO text
        ["D4", "V1", "14/02/2026", 43.0],               # day-first text (unambiguous)
        ["D5", "V1", "03.02.2026", 44.0],               # dotted: day.month.year
        ["D6", "V1", "03/04/2026", 45.0],               # ambiguous: 3 April or 4 March
    ], date_format=wb.add_format({"num_format": "dd/mm/yyyy"}))
    wb.close()


def uncached_formula() -> None:
    """C3 holds a formula saved without its cached value (as some generators write them)."""
    wb = new_workbook(HERE / "uncached_formula.xlsx")
    ws = wb.add_worksheet("S")
    write_rows(ws, [["Subject", "Visit", "PINP (µg/L)"], ["F1", "V1", 45], ["F2", "V1"]])
    ws.write_formula(2, 2, "=C2*2", None, "")  # value "" -> <v></v>: no cached value
    wb.close()


# ---------------------------------------------------------------------------------------------
# text files

ENC_HEADER = ["Subject", "Visit", "Date", "P1NP (µg/L)", "CTX (ng/mL)", "BAP (µg/l)"]
ENC_ROWS = [
    ["E01", "V1", "2026-01-12", "45.3", "0.412", "14.2"],
    ["E01", "V2", "2026-04-07", "50.1", "<0.030", "15.0"],
    ["E02", "V1", "2026-01-13", "38.7", "0.298", ""],
]


def _table(delim: str, *, decimal_comma: bool = False, newline: str = "\n") -> str:
    lines = [delim.join(ENC_HEADER)]
    for r in ENC_ROWS:
        cells = [c.replace(".", ",") if decimal_comma and k >= 3 else c for k, c in enumerate(r)]
        lines.append(delim.join(cells))
    return newline.join(lines) + newline


def encodings() -> None:
    """The same small table in every text encoding and delimiter the importer must read."""
    write_text("enc_utf8.csv", _table(","), "utf-8")
    write_text("enc_utf8_bom.csv", _table(","), "utf-8", bom=codecs.BOM_UTF8)
    write_text("enc_utf16_bom.tsv", _table("\t", newline="\r\n"), "utf-16-le", bom=codecs.BOM_UTF16_LE)
    write_text("enc_utf16le_nobom.txt", _table("\t", newline="\r\n"), "utf-16-le")
    write_text("enc_cp1252_semicolon.csv", _table(";", decimal_comma=True, newline="\r\n"), "cp1252")
    write_text("enc_latin1_semicolon.txt", _table(";", decimal_comma=True), "latin-1")


def long_lis() -> None:
    """LIS long export: test names spelled out, tests that are not bone markers, a blank result each."""
    write_text("long_lis.csv", "\n".join([
        "MRN,Collected,Test Name,Result,Units",
        '000101,2026-02-03 07:45,PROCOLLAGEN TYPE 1 N-TERMINAL PROPEPTIDE,45.2,µg/L',
        '000101,2026-02-03 07:45,"C-Telopeptide,Serum",412,pg/mL',
        '000101,2026-02-03 07:45,Bone ALP (Ostase),14.1,µg/L',
        '000101,2026-02-03 07:45,uNTx/Cr,38,nmol BCE/mmol Cr',
        '000101,2026-02-03 07:45,Calcium,2.31,mmol/L',
        '000101,2026-02-03 07:45,Vitamin D (25-OH),61,nmol/L',
        '000102,2026-02-04 08:05,PROCOLLAGEN TYPE 1 N-TERMINAL PROPEPTIDE,33.0,µg/L',
        '000102,2026-02-04 08:05,"C-Telopeptide,Serum",hemolysed,pg/mL',
        '000102,2026-02-04 08:05,Bone ALP (Ostase),,µg/L',
        '000102,2026-02-04 08:05,Calcium,,mmol/L',
    ]) + "\n", "utf-8")


def small_csvs() -> None:
    write_text("ids_leading_zero.csv", "ID,Visit,PINP (µg/L)\n007,pre,45.0\n012,pre,38.5\n0034,pre,40\n", "utf-8")
    # no visit column: the draw date is the timepoint
    write_text("date_timepoint.csv", "Subject,Collection date,PINP (µg/L),CTX (ng/L)\nT1,2026-02-03,45.0,400\nT1,2026-05-05,52.0,380\n", "utf-8")
    # decimal comma typed as text, thousands with dots, censored with a comma
    write_text("decimal_comma.csv", "Proband;Visite;P1NP (µg/l);CTX (ng/ml)\nK01;V1;12,5;0,412\nK02;V1;1.234,5;<0,030\nK03;V1;45;0,298\n", "utf-8")
    # one column of CTX in ng/mL whose values are in ng/L: 1000x off
    write_text("unit_magnitude.csv", "Subject,Visit,CTX (ng/mL)\nM1,V1,450\nM2,V1,0.38\n", "utf-8")
    # the same subject, timepoint and marker twice with different values
    write_text("duplicates.csv", "Subject,Visit,PINP (µg/L)\nQ1,V1,45.0\nQ1,V1,50.0\nQ2,V1,38.0\n", "utf-8")
    # two sites, one file each: CTX in ng/mL at one, pg/mL at the other
    (HERE / "sites").mkdir(exist_ok=True)
    write_text("sites/site_a.csv", "Subject,Visit,CTX (ng/mL)\nA01,V1,0.45\nA02,V1,0.301\n", "utf-8")
    write_text("sites/site_b.csv", "Subject,Visit,CTX (pg/mL)\nB01,V1,450\nB02,V1,301\n", "utf-8")


def unreadable() -> None:
    """Files that cannot be read at all (the encrypted one is made by --libreoffice)."""
    d = HERE / "unreadable"
    d.mkdir(exist_ok=True)
    full = (HERE / "wide_basic.xlsx").read_bytes()
    (d / "corrupt.xlsx").write_bytes(full[: len(full) // 2])
    (d / "not_a_spreadsheet.xlsx").write_bytes(b"This is a plain text note, saved with the wrong extension.\n")
    (d / "no_marker_column.csv").write_text("Subject,Visit,Weight (kg)\nZ1,V1,71.5\n", encoding="utf-8")
    (d / "empty.csv").write_bytes(b"")
    (d / "workbook_named.csv").write_bytes(full)  # an .xlsx saved under a .csv name


# ---------------------------------------------------------------------------------------------
# LibreOffice conversions (run once; the outputs are committed)

_UNO_SCRIPT = '''
import sys, uno
from com.sun.star.beans import PropertyValue

def prop(name, value):
    p = PropertyValue(); p.Name = name; p.Value = value; return p

local = uno.getComponentContext()
resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
ctx = resolver.resolve("uno:socket,host=localhost,port=%(port)d;urp;StarOffice.ComponentContext")
desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(sys.argv[1]), "_blank", 0, (prop("Hidden", True),))
for target, filter_name in (("encrypted.xls", "MS Excel 97"), ("encrypted.ods", "calc8")):
    url = uno.systemPathToFileUrl(sys.argv[2] + "/" + target)
    doc.storeToURL(url, (prop("FilterName", filter_name), prop("Password", "secret")))
doc.close(True)
'''


def libreoffice() -> None:
    """wide_basic.xls/.ods/.xlsm and password-protected copies (.xls, .ods with LibreOffice; .xlsx
    with msoffcrypto-tool, since LibreOffice 7.4 does not encrypt OOXML on export)."""
    import time

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise SystemExit("LibreOffice (soffice) not found; the .xls/.ods/.xlsm fixtures need it")
    src = HERE / "wide_basic.xlsx"
    with tempfile.TemporaryDirectory() as tmp:
        profile = f"-env:UserInstallation=file://{tmp}/profile"
        for target in ("xls", "ods", "xlsm:Calc MS Excel 2007 VBA XML"):
            subprocess.run([soffice, profile, "--headless", "--convert-to", target, "--outdir", tmp, str(src)], check=True)
        for ext in ("xls", "ods", "xlsm"):
            shutil.copy(Path(tmp) / f"wide_basic.{ext}", HERE / f"wide_basic.{ext}")
        port = 2002
        proc = subprocess.Popen([soffice, profile, "--headless", f"--accept=socket,host=localhost,port={port};urp;"])
        try:
            script = Path(tmp) / "encrypt.py"
            script.write_text(_UNO_SCRIPT % {"port": port})
            for _ in range(60):
                r = subprocess.run(["/usr/bin/python3", str(script), str(src), str(HERE / "unreadable")], capture_output=True)
                if r.returncode == 0:
                    break
                time.sleep(1)  # LibreOffice is still starting
            else:
                raise SystemExit("could not save the encrypted copies with LibreOffice: " + r.stderr.decode()[-500:])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    from msoffcrypto.format.ooxml import OOXMLFile  # pip install msoffcrypto-tool (only to rebuild this file)

    with open(src, "rb") as fh, open(HERE / "unreadable" / "encrypted.xlsx", "wb") as out:
        OOXMLFile(fh).encrypt("secret", out)


def main(argv: list[str]) -> int:
    wide_basic()
    header_row4_merged_title()
    units_second_row()
    unit_column()
    per_timepoint()
    synonyms_wide()
    mapping_german()
    values_wide()
    dates_xlsx()
    uncached_formula()
    encodings()
    long_lis()
    small_csvs()
    unreadable()
    if "--libreoffice" in argv:
        libreoffice()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
