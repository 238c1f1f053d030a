"""Readers: every file format and text encoding, delimiter sniffing, and files that cannot be read.

Fixtures are in tests/data/ (rebuilt by tests/data/make_fixtures.py; the .xls, .ods, .xlsm and
password-protected files were converted once with LibreOffice and are committed as they are).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btm.errors import FileTooLargeError, InputFileError
from btm.io import Limits, read_results
from btm.io._csv import decode as _decode
from btm.io._csv import sniff_delimiter as _sniff_delimiter
from btm.io._xlsx import F_TAG as _F_TAG
from btm.io._xlsx import has_formula_tag as _has_formula_tag
from btm.io.readers import iter_spreadsheets, read_file

DATA = Path(__file__).parent / "data"

# wide_basic.xlsx, as (subject, visit, date, marker) -> (value in the canonical unit, unit, raw unit)
WIDE_BASIC = {
    ("S01", "V1", dt.date(2026, 2, 3), "PINP"): (45.3, "µg/L", "ng/mL"),
    ("S01", "V2", dt.date(2026, 4, 28), "PINP"): (51.7, "µg/L", "ng/mL"),
    ("S02", "V1", dt.date(2026, 2, 4), "PINP"): (38.0, "µg/L", "ng/mL"),
    ("S02", "V2", dt.date(2026, 4, 29), "PINP"): (36.4, "µg/L", "ng/mL"),
    ("S01", "V1", dt.date(2026, 2, 3), "CTX1"): (412.0, "ng/L", "pg/mL"),
    ("S01", "V2", dt.date(2026, 4, 28), "CTX1"): (388.0, "ng/L", "pg/mL"),
    ("S02", "V1", dt.date(2026, 2, 4), "CTX1"): (290.0, "ng/L", "pg/mL"),
    ("S02", "V2", dt.date(2026, 4, 29), "CTX1"): (301.0, "ng/L", "pg/mL"),
    ("S01", "V1", dt.date(2026, 2, 3), "BALP"): (14.2, "µg/L", "µg/L"),
    ("S01", "V2", dt.date(2026, 4, 28), "BALP"): (15.0, "µg/L", "µg/L"),
    ("S02", "V1", dt.date(2026, 2, 4), "BALP"): (12.5, "µg/L", "µg/L"),
}


def _as_dict(data: pd.DataFrame) -> dict:
    return {
        (r.subject_id, r.timepoint, r.sample_date.date(), r.marker): (r.value, r.unit, r.raw_unit)
        for r in data.itertuples()
    }


@pytest.mark.parametrize("name", ["wide_basic.xlsx", "wide_basic.xlsm", "wide_basic.xls", "wide_basic.ods"], ids=["xlsx", "xlsm", "xls", "ods"])
def test_every_workbook_format_gives_the_same_table(name):
    res = read_results(DATA / name)
    got = _as_dict(res.data)
    assert got.keys() == WIDE_BASIC.keys()
    for key, (value, unit, raw_unit) in WIDE_BASIC.items():
        assert got[key][0] == pytest.approx(value), key
        assert got[key][1:] == (unit, raw_unit), key
    assert res.files[["read", "loaded", "rejected", "blank"]].iloc[0].tolist() == [12, 11, 0, 1]
    assert set(res.data["source_sheet"]) == {"Results"}
    assert len(res.rejected) == 0


# (file, encoding note or None for UTF-8, delimiter note, decimal mark of the file)
ENCODINGS = [
    ("enc_utf8.csv", None, "comma-separated", "."),
    ("enc_utf8_bom.csv", None, "comma-separated", "."),
    ("enc_utf16_bom.tsv", "read as utf-16", "tab-separated", "."),
    ("enc_utf16le_nobom.txt", "read as utf-16-le", "tab-separated", "."),
    ("enc_cp1252_semicolon.csv", "read as cp1252", "semicolon-separated", ","),
    ("enc_latin1_semicolon.txt", "read as cp1252", "semicolon-separated", ","),  # latin-1 µ is cp1252 µ
]
ENC_EXPECTED = {
    ("E01", "V1", "PINP"): (45.3, ""), ("E01", "V2", "PINP"): (50.1, ""), ("E02", "V1", "PINP"): (38.7, ""),
    ("E01", "V1", "CTX1"): (412.0, ""), ("E01", "V2", "CTX1"): (30.0, "<"), ("E02", "V1", "CTX1"): (298.0, ""),
    ("E01", "V1", "BALP"): (14.2, ""), ("E01", "V2", "BALP"): (15.0, ""),
}


@pytest.mark.parametrize(("name", "encoding_note", "delimiter_note", "decimal"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_text_encodings_and_delimiters(name, encoding_note, delimiter_note, decimal):
    res = read_results(DATA / name)
    notes = set(res.problems.loc[res.problems["severity"] == "notice", "reason"])
    assert delimiter_note in notes
    if encoding_note:
        assert encoding_note in notes
    else:
        assert not any(n.startswith("read as") for n in notes)
    got = {(r.subject_id, r.timepoint, r.marker): (r.value, r.censored) for r in res.data.itertuples()}
    assert got.keys() == ENC_EXPECTED.keys()
    for key, (value, censored) in ENC_EXPECTED.items():
        assert got[key][0] == pytest.approx(value), key
        assert got[key][1] == censored, key
    # the µ sign survives every encoding, in the header-derived unit and in the column label
    balp = res.data[res.data["marker"] == "BALP"]
    assert set(balp["raw_unit"]) == {"µg/l"}
    assert set(res.data.loc[res.data["marker"] == "PINP", "source_column"]) == {"D (P1NP (µg/L))"}
    assert set(res.data.loc[res.data["marker"] == "CTX1", "raw_value"]) == (
        {"0,412", "<0,030", "0,298"} if decimal == "," else {"0.412", "<0.030", "0.298"}
    )
    assert res.data["sample_date"].notna().all()


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbfa,\xc2\xb5", "utf-8-sig"),
        ("a,µ".encode("utf-16"), "utf-16"),
        ("a,µ,b".encode("utf-16-le"), "utf-16-le"),
        ("a,µ,b".encode("utf-16-be"), "utf-16-be"),
        ("a,µ".encode(), "utf-8"),
        ("a,µ".encode("cp1252"), "cp1252"),
        (b"a,\xb5,\x81", "latin-1"),  # 0x81 is undefined in cp1252
    ],
    ids=["utf8_bom", "utf16_bom", "utf16le_no_bom", "utf16be_no_bom", "utf8", "cp1252", "latin1"],
)
def test_decode_keeps_the_micro_sign(data, encoding):
    text, found = _decode(data)
    assert found == encoding
    assert "µ" in text


@pytest.mark.parametrize(
    ("lines", "delimiter"),
    [
        (["a,b,c", "1,2,3"], ","),
        (["a;b;c", "1,5;2,5;3"], ";"),
        (["a\tb\tc", "1,5\t2\t3"], "\t"),
        (['"x,y";b;c', '"1,2";2;3'], ";"),  # commas inside quotes do not count
        (["a|b|c", "1|2|3"], "|"),
    ],
    ids=["comma", "semicolon_decimal_comma", "tab", "quoted_commas", "pipe"],
)
def test_delimiter_is_sniffed(lines, delimiter):
    assert _sniff_delimiter(lines) == delimiter


# (file in tests/data/unreadable, what the one-line error says)
UNREADABLE = [
    ("corrupt.xlsx", "damaged or truncated"),
    ("encrypted.xlsx", "password-protected"),
    ("encrypted.xls", "password-protected"),
    ("encrypted.ods", "password-protected"),
    ("not_a_spreadsheet.xlsx", "not a .xlsx workbook"),
    ("workbook_named.csv", "looks like an Excel workbook"),
    ("empty.csv", "the file is empty"),
    ("no_marker_column.csv", "no marker column found"),
]


@pytest.mark.parametrize(("name", "message"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_file_is_one_clear_error_naming_it(name, message):
    path = DATA / "unreadable" / name
    with pytest.raises(InputFileError) as exc:
        read_results(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text
    assert exc.value.path == str(path)


@pytest.mark.parametrize(("name", "message"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_file_does_not_stop_the_others(name, message):
    bad = DATA / "unreadable" / name
    res = read_results([bad, DATA / "wide_basic.xlsx"])
    assert len(res.data) == len(WIDE_BASIC)
    files = res.files.set_index("file")
    assert files.loc[str(bad), "status"].startswith("not read: ")
    assert message in files.loc[str(bad), "status"]
    assert files.loc[str(DATA / "wide_basic.xlsx"), "status"] == "ok"
    errors = res.problems[res.problems["severity"] == "error"]
    assert errors["source_file"].tolist() == [str(bad)]
    assert message in errors["reason"].iloc[0]


def test_strict_raises_on_the_first_unreadable_file():
    with pytest.raises(InputFileError, match="damaged or truncated"):
        read_results([DATA / "unreadable" / "corrupt.xlsx", DATA / "wide_basic.xlsx"], strict=True)


def test_missing_file_and_unsupported_suffix(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        read_file(tmp_path / "nope.xlsx")
    odd = tmp_path / "results.pdf"
    odd.write_bytes(b"%PDF-1.4")
    with pytest.raises(InputFileError, match="unsupported file type '.pdf'"):
        read_file(odd)


def test_size_bound_is_enforced():
    with pytest.raises(FileTooLargeError, match="--max-size"):
        read_file(DATA / "wide_basic.xlsx", limits=Limits(max_file_bytes=1000))
    with pytest.raises(FileTooLargeError, match="cells"):
        read_file(DATA / "enc_utf8.csv", limits=Limits(max_cells=10))


def test_folders_are_searched_recursively_and_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/2.csv", "a.xlsx", "~$a.xlsx", ".hidden.csv", "notes.docx", "c.TSV"):
        (tmp_path / name).write_bytes(b"x")
    found = [Path(shown).relative_to(tmp_path).as_posix() for shown, _ in iter_spreadsheets([tmp_path])]
    assert found == ["a.xlsx", "b/2.csv", "c.TSV"]


def test_every_sheet_is_read():
    sheets = read_file(DATA / "per_timepoint.xlsx")
    assert [s.sheet for s in sheets] == ["Baseline", "Week 12", "Notes"]
    assert sheets[0].rows[0] == ["Subject", "Draw date", "PINP (µg/L)", "CTX (ng/L)"]


def test_merged_title_is_reported_by_the_reader():
    (sheet,) = read_file(DATA / "header_row4_merged_title.xlsx")
    assert ((0, 0), (0, 5)) in [tuple(map(tuple, m)) for m in sheet.merged]


@settings(deadline=None, max_examples=300)
@given(window=st.one_of(st.binary(max_size=40), st.lists(st.sampled_from([b"<", b":", b"f", b" ", b">", b"/", b"x", b"c"]), max_size=700).map(b"".join)))
def test_formula_tag_scan_agrees_with_the_regular_expression(window):
    # the fast scan that finds formulas to check for cached values must find exactly what _F_TAG finds
    assert _has_formula_tag(window) == (_F_TAG.search(window) is not None)


def test_uncached_formula_is_rejected_with_the_formula():
    res = read_results(DATA / "uncached_formula.xlsx")
    (rej,) = res.rejected.itertuples()
    assert (rej.source_row, rej.column, rej.raw_value) == (3, "C (PINP (µg/L))", "=C2*2")
    assert "no cached value" in rej.reason
    assert res.data["subject_id"].tolist() == ["F1"]
