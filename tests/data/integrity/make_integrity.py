"""Rebuild the integrity fixtures in tests/data/integrity/ (issue #10), byte for byte.

    python tests/data/integrity/make_integrity.py

One small file per case; tests/test_integrity.py states what btm must do with each. Workbooks
are written part by part (the zip helpers of tests/data/bad/make_bad.py), so that each case holds
exactly the XML spelling it is about: spellings spreadsheet programs rarely write but a reader
must take (single quotes, spaces around "=", cells without a reference, lower-case references,
prefixed elements, character references and CDATA inside values, parts named .png or .bin).
All people are synthetic.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("make_bad", HERE.parent / "bad" / "make_bad.py")
mb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mb)

MICRO = "\u00b5"
NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def text(name: str, content: str, encoding: str = "utf-8") -> None:
    (HERE / name).write_bytes(content.encode(encoding))


def xlsx(name: str, cells: str, strings: list[str], *, rename: dict[str, str] | None = None, sheet: str = "Data",
         raw_sheet: str | None = None, patch=None) -> None:
    """A one-sheet workbook: ``cells`` is the sheetData content, ``strings`` the shared strings;
    ``rename`` moves the worksheet part (and its relationship) to another name."""
    parts = mb.ooxml_parts([(sheet, raw_sheet or mb.sheet_xml(cells))], mb.shared_xml(strings))
    out = []
    for part, data in parts:
        for old, new in (rename or {}).items():
            if part == old:
                part = new
            if part in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                data = data.replace(old.removeprefix("xl/").encode(), new.removeprefix("xl/").encode())
        if patch:
            part, data = patch(part, data)
        out.append((part, data))
    mb.write_zip(HERE / name, out)


def s(ref: str, k: int) -> str:
    return f'<c r="{ref}" t="s"><v>{k}</v></c>'


def n(ref: str, v: object) -> str:
    return f'<c r="{ref}"><v>{v}</v></c>'


HEAD = ["Subject", "Visit", f"PINP ({MICRO}g/L)", "CTX (ng/L)", "V1"]  # shared strings 0..4; subjects from 5


def header_row() -> str:
    return f'<row r="1">{s("A1", 0)}{s("B1", 1)}{s("C1", 2)}{s("D1", 3)}</row>'


# ---------------------------------------------------------------------------------------------
# 1. values silently altered


def values() -> None:
    # a decimal comma file (12,5 shows it): a point groups thousands on every path, 1.015 is 1015
    text("decimal_comma_grouping.csv", "Patient;Visit;PINP (µg/L);CTX (ng/L)\nA1;V1;1.015;12,5\nA2;V1;1.015,5;300\nA3;V1;45;1.250\n")
    # footnote marks: never read as digits (45¹ is not 451)
    text("footnotes.csv", "Subject,Visit,PINP (µg/L),CTX (ng/L)\nF1,V1,45¹,300²\nF2,V1,①,₂5\nF3,V1,45,300\nF4,V1,４５,３００\n")
    # conversions: float noise rounded to 12 significant digits; an overflow refused
    text("conversions.csv", "Subject,Visit,CTX (ng/mL),PINP (ng/mL)\nC1,V1,1025.36,45.3\nC2,V1,0.487,45\nC3,V1,1e308,0.1\n")


# ---------------------------------------------------------------------------------------------
# 2. values dropped unseen


def dropped() -> None:
    text("unit_unreadable.csv", "Subject,Visit,CTX ng/dl?,OCN in furlongs,PINP (µg/L)\nU1,V1,300,20,45\nU2,V1,310,,46\n")
    text("units_row_unreadable.csv", "Subject,Visit,PINP,CTX\n,,furlongs,ng/L\nR1,V1,45,300\nR2,V1,46,310\n")
    # a re-run batch under the first, its columns in another order
    text("stacked_rerun.csv", "Subject,Visit,PINP (µg/L),CTX (ng/L)\nT1,V1,45,300\nT2,V1,46,310\n\nRe-run, batch 2\n"
                              "Subject,Visit,CTX (ng/L),PINP (µg/L),OCN (µg/L)\nT3,V1,320,47,20\n")
    # a small first table above the header that scores best
    text("stacked_first_above.csv", "Subject,PINP (µg/L)\nB1,45\nB2,46\nSubject,Visit,PINP (µg/L),CTX (ng/L),OCN (µg/L)\nB3,V1,47,320,20\n")
    names = HEAD + [f"X{k}" for k in range(1, 9)]
    rows = header_row() + "".join(
        f'<row r="{r}">{s(f"A{r}", 4 + r)}{s(f"B{r}", 4)}{cells}</row>' for r, cells in (
            (2, "<c r='C2' t = 'e' ><v>#N/A</v></c>" + n("D2", 300)),           # error, single quotes and spaces
            (3, '<c r="c3" t="e"><v>#REF!</v></c><c r="d3"><v>310</v></c>'),   # lower-case references
            (4, '<c t="e"><v>#DIV/0!</v></c><c><v>320</v></c>'),                 # no references: C4, D4
            (5, '<c r="C5"><v>4&#53;</v></c><c r="D5"><v>3<![CDATA[30]]></v></c>'),  # a reader reads 4 and 3
            (6, '<c r="C6"><v>4<!-- typed twice? -->8</v></c><c r="D6" t="inlineStr"><is><t>34&#48;</t></is></c>'),
            (7, '<c r="C7"><f>C6*2</f></c><c r="D7" t="str"><f>""</f><v></v></c>'),  # no cached value; an empty text result
            (8, '<c r="C8"><v>NaN</v></c><c r="D8"><v>1e999</v></c>'),
        ))
    xlsx("xml_spellings.xlsx", rows, names)
    # the whole sheet with a namespace prefix on every element
    pre = mb.sheet_xml(header_row() + f'<row r="2">{s("A2", 5)}{s("B2", 4)}{n("C2", 45)}{n("D2", 300)}</row>')
    pre = pre.replace(f'<worksheet xmlns="{NS}">', f'<x:worksheet xmlns:x="{NS}">').replace("</worksheet>", "</x:worksheet>")
    for tag in ("sheetData", "row", "c", "v"):
        pre = pre.replace(f"<{tag} ", f"<x:{tag} ").replace(f"<{tag}>", f"<x:{tag}>").replace(f"</{tag}>", f"</x:{tag}>")
    xlsx("prefixed_elements.xlsx", "", HEAD + ["P1"], raw_sheet=pre)
    # a cell address twice with different values, a row number twice with the same cell
    dup = header_row() + f'<row r="2">{s("A2", 5)}{s("B2", 4)}{n("C2", 45)}{n("C2", 46)}{n("D2", 300)}</row>' \
        + f'<row r="3">{s("A3", 6)}{s("B3", 4)}{n("C3", 50)}</row><row r="3">{n("C3", 50)}{n("D3", 310)}</row>'
    xlsx("duplicate_cells.xlsx", dup, HEAD + ["D1", "D2"])
    # worksheet parts not named .xml: read (they are sheets); with a far cell: refused before the reader
    ok = header_row() + f'<row r="2">{s("A2", 5)}{s("B2", 4)}{n("C2", 45)}{n("D2", 300)}</row>'
    xlsx("sheet_part_named_png.xlsx", ok, HEAD + ["N1"], rename={"xl/worksheets/sheet1.xml": "xl/worksheets/sheet1.png"})
    far = ok + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    xlsx("far_cell_part_png.xlsx", far, HEAD + ["N1"], rename={"xl/worksheets/sheet1.xml": "xl/worksheets/sheet1.png"})
    xlsx("far_cell_part_bin.xlsx", far, HEAD + ["N1"], rename={"xl/worksheets/sheet1.xml": "xl/media/image1.bin"})

    def forged_count(part: str, data: bytes) -> tuple[str, bytes]:
        return part, data.replace(b'uniqueCount="6"', b'uniqueCount="4000000000"') if part == "xl/sharedStrings.xml" else data

    xlsx("shared_strings_forged_count.xlsx", ok, HEAD + ["N1"], patch=forged_count)
    # an error cell whose code is blank: the reader refuses the sheet (one line, never blank)
    xlsx("error_code_blank.xlsx", header_row() + f'<row r="2">{s("A2", 5)}{s("B2", 4)}<c r="C2" t="e"><v> </v></c></row>', HEAD + ["E1"])


def xlsb() -> None:
    """A 1.3 KB-class .xlsb: a real BIFF12 workbook part and a sheet whose one cell is at XFD1048576."""
    def rec(kind: int, body: bytes) -> bytes:
        head = bytes([kind]) if kind < 0x80 else bytes([(kind & 0x7F) | 0x80, kind >> 7])
        size, out = len(body), b""
        while True:
            out += bytes([(size & 0x7F) | (0x80 if size > 0x7F else 0)])
            size >>= 7
            if not size:
                break
        return head + out + body

    def wide(s: str) -> bytes:
        return struct.pack("<I", len(s)) + s.encode("utf-16-le")

    book = rec(0x83, b"") + rec(0x8F, b"") + rec(0x9C, struct.pack("<II", 0, 1) + wide("rId1") + wide("Data")) + rec(0x90, b"") + rec(0x84, b"")
    sheet = (rec(0x81, b"") + rec(0x94, struct.pack("<IIII", 0, 1048575, 0, 16383)) + rec(0x91, b"")
             + rec(0x00, struct.pack("<I", 1048575) + b"\x00" * 13) + rec(0x05, struct.pack("<I", 16383) + b"\x00" * 4 + struct.pack("<d", 45.0))
             + rec(0x92, b"") + rec(0x82, b""))
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.bin"/></Relationships>')
    top = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
           '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.bin"/></Relationships>')
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/>'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/></Types>')
    parts = [("[Content_Types].xml", types.encode()), ("_rels/.rels", top.encode()), ("xl/workbook.bin", book),
             ("xl/_rels/workbook.bin.rels", rels.encode()), ("xl/worksheets/sheet1.bin", sheet)]
    mb.write_zip(HERE / "far_cell.xlsb", parts)
    mb.write_zip(HERE / "xlsb_named_xlsx.xlsx", parts)


def ods() -> None:
    def cell_s(t: str) -> str:
        return f'<table:table-cell office:value-type="string"><text:p>{t}</text:p></table:table-cell>'

    def row(*cells: str) -> str:
        return "<table:table-row>" + "".join(cells) + "</table:table-row>"

    def flt(v: str) -> str:
        return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'

    rows = (row(cell_s("Subject"), cell_s("Visit"), cell_s("PINP (µg/L)"), cell_s("CTX (ng/L)"))
            + row(cell_s("O1"), cell_s("V1"), flt("45"), "<table:table-cell office:value-type = 'error' ><text:p>#DIV/0!</text:p></table:table-cell>")
            + row(cell_s("O2"), cell_s("V1"), '<table:table-cell table:formula="of:=[.C2]*2"/>', flt("310"))
            + row(cell_s("O3"), cell_s("V1"), '<table:table-cell office:value-type="float" office:value="NaN"><text:p>NaN</text:p></table:table-cell>', flt("320"))
            + row(cell_s("O4"), cell_s("V1"), flt("47"), '<table:table-cell office:value-type="string" calcext:value-type="error"><text:p>#N/A</text:p></table:table-cell>'))
    parts = mb._ods_parts(rows)
    parts = [(p, d.replace(b'xmlns:text=', b'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" xmlns:text=')) for p, d in parts]
    mb.write_zip(HERE / "ods_spellings.ods", parts)
    # every element under other prefixes: valid XML a reader matching prefixes cannot see
    other = rows.replace("<table:", "<t:").replace("</table:", "</t:").replace(" table:", " t:")
    other = other.replace(" office:", " o:").replace("<text:", "<x:").replace("</text:", "</x:")
    parts = mb._ods_parts("")
    content = parts[1][1].decode()
    content = (content.replace('<table:table table:name="Sheet1"></table:table>', f'<t:table t:name="Sheet1">{other}</t:table>')
               .replace("xmlns:table=", "xmlns:t=")
               .replace("xmlns:text=", 'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0" xmlns:x=')
               .replace('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"',
                        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:o="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'))
    mb.write_zip(HERE / "ods_other_prefixes.ods", [parts[0], ("content.xml", content.encode()), parts[2]])


# ---------------------------------------------------------------------------------------------
# 3.-7. files harmed, output format, crashes, data that disagrees, bad options


def others() -> None:
    # btm's tidy table edited by hand: a unit that is not canonical, an unknown marker, no id, a bad mark, no source_row
    text("tidy_hand_edited.csv",
         "subject_id,timepoint,sample_date,marker,specimen,value,unit,censored,raw_value,raw_unit,source_file,source_sheet,source_column,flags\n"
         "H1,V1,,CTX1,serum,0.45,ng/mL,,0.45,ng/mL,lab.xlsx,,D (CTX),\n"
         "H1,V1,,PINP,serum,45,µg/L,,45,µg/L,lab.xlsx,,C (PINP),\n"
         "H2,V1,,VITD,serum,30,ng/mL,,30,ng/mL,lab.xlsx,,E (Vit D),\n"
         ",V1,,PINP,serum,46,µg/L,,46,µg/L,lab.xlsx,,C (PINP),\n"
         "H3,V1,,PINP,serum,47,µg/L,~,47,µg/L,lab.xlsx,,C (PINP),\n"
         "H4,V1,,PINP,serum,48,furlongs,,48,furlongs,lab.xlsx,,C (PINP),\n")
    text("labels_disagree.csv",
         "Subject,Visit,Arm,Sex,PINP (µg/L)\n"
         "L1,Baseline,Walk,F,40\nL1,Week 12,Walk,F,45\nL2,Baseline,Walk,F,41\nL2,week 12,Walk,M,47\n"
         "L3,Baseline,Walk,F,39\nL3,Week12,Walk,F,44\nL4,Baseline,Control,F,40\nL4,Week  12,Walk,F,41\n"
         "L5,Baseline,Control,F,42\nL5,Week 12,Control,F,42\nL6,Baseline,Control,F,43\nL6,Week 12,Control,F,44\n")
    rows = ["Subject,Visit,Arm,CTX (pg/mL)"]
    base = [300, 320, 280, 310, 290, 305]
    for k, b in enumerate(base):
        arm = "Exercise" if k < 3 else "Control"
        follow = "0.38" if k == 0 else str(b - 20 if arm == "Exercise" else b + 5)  # 0.38 typed into a pg/mL column
        rows += [f"M{k + 1},Baseline,{arm},{b}", f"M{k + 1},Week 12,{arm},{follow}"]
    text("magnitude_trial.csv", "\n".join(rows) + "\n")
    rows = ["Subject,Visit,Arm,PINP (µg/L)"]
    for arm in ("Control", "Resistance"):
        for k in range(4):
            rows += [f"{arm[0]}{k},{v},{arm},50" for v in ("Baseline", "Week 6", "Week 12")]
    text("identical_values.csv", "\n".join(rows) + "\n")
    # a header cell with a carriage return, one with a bell; a visit label over two lines; an arm with an escape sequence
    text("control_characters.csv",
         'Subject,"Visit\rlabel",Arm,"PINP (µg/L)\x07"\n'
         'K1,"Week\n0","\x1b[31mRed\x1b[0m",40\nK1,"Week\n12","\x1b[31mRed\x1b[0m",45\n'
         'K2,"Week\n0",Control,41\nK2,"Week\n12",Control,42\n')


def main() -> int:
    values()
    dropped()
    xlsb()
    ods()
    others()
    return 0


if __name__ == "__main__":
    sys.exit(main())
