"""Hostile and broken inputs: btm never crashes, hangs, eats memory, loses a value or is tricked.

The corpus is tests/data/bad/ (one small file per case, rebuilt byte for byte by
tests/data/bad/make_bad.py; the LibreOffice-made formula_cached.* are committed as they are).
CORPUS below states each file's exact outcome through ``btm import FILE -o out.csv``: the exit
status, a fragment of the message, and for readable files the counts read / loaded / rejected /
blank. The counting test then checks, for every readable file here, in sample_data/ and in
tests/data/, that each value of a marker column (counted independently, with openpyxl, xlrd, odf or
csv) ends loaded, rejected, blank or ignored, and that every rejection names its file, row,
column, raw text and reason. Property tests generate wide and long workbooks and CSV files and
check that every value comes out converted exactly, and every junk cell comes out rejected.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_import import GERMAN_MAPPING, LONG, WIDE
from test_import import _blank as blank_cell
from test_import import _grid as independent_grid

from btm.cli import main
from btm.errors import FileTooLargeError, InputFileError
from btm.io import Limits, load_mapping, read_results
from btm.io.layout import classify_header
from btm.io.readers import SPREADSHEET_SUFFIXES, read_file
from btm.io.write import write_csv
from btm.markers import match_marker
from btm.units import conversion_factor, resolve_unit

TESTS = Path(__file__).parent
BAD = TESTS / "data" / "bad"
SAMPLES = TESTS.parent / "sample_data"

_spec = importlib.util.spec_from_file_location("make_bad", BAD / "make_bad.py")
make_bad = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_bad)


@dataclass(frozen=True)
class Case:
    name: str
    exit: int  # of `btm import FILE -o out.csv`
    message: str | None  # unreadable: in the one error line; readable: in some problem's reason
    counts: tuple[int, int, int, int] | None = None  # read, loaded, rejected, blank (readable files)


BOUND = "raise it with --max-size MB if the file is trusted"
ENTITIES = "declares XML entities (EntitiesForbidden); this is how XXE and 'billion laughs' attacks work, so the file is not read"

CORPUS = [
    # 1-5: not a readable spreadsheet
    Case("empty.csv", 1, "the file is empty (0 bytes)"),
    Case("empty.xlsx", 1, "the file is empty (0 bytes)"),
    Case("header_only.csv", 0, None, (0, 0, 0, 0)),
    Case("header_only.xlsx", 0, None, (0, 0, 0, 0)),
    Case("truncated.xlsx", 1, "the workbook is damaged or truncated (not a complete zip archive)"),
    Case("random_bytes.xlsx", 1, "not a .xlsx workbook (the file's bytes are not a spreadsheet); is it damaged or misnamed?"),
    Case("encrypted.xlsx", 1, "the workbook is password-protected (encrypted); save an unprotected copy"),
    # 6-7: XML entities
    Case("xxe_shared_strings.xlsx", 1, f"refused: part 'xl/sharedStrings.xml' {ENTITIES}"),
    Case("xxe_sheet.xlsx", 1, f"refused: part 'xl/worksheets/sheet1.xml' {ENTITIES}"),
    Case("xxe_utf16.xlsx", 1, f"refused: part 'xl/sharedStrings.xml' {ENTITIES}"),
    Case("xxe_parameter.xlsx", 1, f"refused: part 'xl/sharedStrings.xml' {ENTITIES}"),
    Case("doctype_external.xlsx", 1, "refused: part 'xl/sharedStrings.xml' carries a DOCTYPE declaration, which workbooks never need"),
    Case("billion_laughs.xlsx", 1, f"refused: part 'xl/sharedStrings.xml' {ENTITIES}"),
    # 8: zip bombs
    Case("zip_bomb.xlsx", 1, f"the workbook expands to 3,000 MB when unzipped, above the 2,048 MB bound (a zip bomb?); {BOUND} (--max-size 751 would allow it)"),
    Case("zip_bomb_lying.xlsx", 1, "the workbook is damaged or forged: part 'xl/worksheets/sheet1.xml' unzips to at least 67,108,864 bytes but the zip directory says 400; not read"),
    Case("zip_bomb_small.xlsx", 0, None, (1, 1, 0, 0)),
    # 9: text files
    Case("nul_bytes.csv", 0, "not a number: '45\\x00'", (5, 2, 2, 1)),
    Case("mixed_line_endings.csv", 0, None, (8, 8, 0, 0)),
    # 10-13: layouts
    Case("columns_16384.xlsx", 0, "not a number: 'hemolysed'", (9, 7, 1, 1)),
    Case("duplicate_headers.csv", 0, "PINP appears 2 times with different values 45, 46", (6, 4, 0, 2)),
    Case("synonyms_twice.csv", 0, "PINP appears 2 times with different values 50, 52", (4, 4, 0, 0)),
    Case("merged_cells.xlsx", 0, "filled from merged range A2:A3", (8, 7, 0, 1)),
    # 14-15: formulas and error cells
    Case("formula_uncached.xlsx", 0, "formula =C2+5 has no cached value", (6, 2, 4, 0)),
    Case("formula_cached.xlsx", 0, "Excel error #DIV/0!", (6, 4, 2, 0)),
    Case("formula_cached.ods", 0, "Excel error #DIV/0!", (6, 4, 2, 0)),
    Case("formula_cached.xls", 0, "Excel error #N/A", (6, 4, 2, 0)),
    Case("excel_errors.xlsx", 0, "Excel error #VALUE!", (8, 2, 5, 1)),
    # 16-19: values
    Case("dates_pre1900.csv", 0, "date 1899-12-31 is before 1900; check it", (3, 3, 0, 0)),
    Case("date1904.xlsx", 0, None, (4, 4, 0, 0)),
    Case("bad_numbers.csv", 0, "infinite value: '1e309'", (11, 1, 10, 0)),
    Case("bad_numbers.xlsx", 0, "negative value (a concentration cannot be negative)", (4, 1, 3, 0)),
    Case("unit_magnitude.csv", 0, "PINP 90000 µg/L is about 1000x outside every published interval", (4, 4, 0, 0)),
    Case("tricky_ids.csv", 0, None, (11, 11, 0, 0)),
    Case("tricky_ids.xlsx", 0, None, (11, 11, 0, 0)),
    # bounds: absurd grids
    Case("dimension_lie.xlsx", 0, None, (1, 1, 0, 0)),
    Case("far_cell.xlsx", 1, f"sheet 'Sheet1': the sheet's cells span 1,048,576 rows x 16,384 columns (17,179,869,184 cells), above the 50,000,000-cell bound; {BOUND}"),
    Case("far_cell_lowercase.xlsx", 1, "sheet 'Sheet1': the sheet's cells span 1,048,576 rows x 16,384 columns"),
    Case("repeated_cells.ods", 1, f"sheet 'Sheet1': the sheet's cells span 100,001 rows x 100,000 columns (10,000,100,000 cells), above the 50,000,000-cell bound; {BOUND}"),
]
UNREADABLE = [c for c in CORPUS if c.exit == 1]
READABLE = [c for c in CORPUS if c.exit == 0]


def test_the_corpus_table_covers_every_file():
    files = {p.name for p in BAD.iterdir() if p.suffix.lower() in SPREADSHEET_SUFFIXES}
    assert files == {c.name for c in CORPUS}


def _import(capsys, tmp_path, *args: str) -> tuple[int, str, Path]:
    out = tmp_path / "out.csv"
    t0 = time.perf_counter()
    rc = main(["import", *args, "-o", str(out)])
    assert time.perf_counter() - t0 < 30  # a generous guard against hangs, not a timing test
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return rc, err, out


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_corpus_file(case, capsys, tmp_path):
    path = BAD / case.name
    rc, err, out = _import(capsys, tmp_path, str(path))
    assert rc == case.exit
    if case.exit == 1:  # one line: error: FILE[, sheet 'S']: message
        assert err.count("\n") == 1 and err.startswith(f"error: {path}")
        assert case.message in err
        assert not out.exists()
        return
    read, loaded, rejected, blank = case.counts
    assert f"{path}: {read} results read, {loaded} loaded, {rejected} rejected, {blank} blank\n" in err
    assert not [line for line in err.splitlines() if line.startswith("error: ")]
    tidy = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rej = pd.read_csv(out.with_name("out.rejected.csv"), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    warn = pd.read_csv(out.with_name("out.warnings.csv"), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert (len(tidy), len(rej)) == (loaded, rejected)
    if case.message:
        assert any(case.message in r for r in [*rej["reason"], *warn["reason"]]), case.message


@pytest.mark.parametrize("case", READABLE, ids=[c.name for c in READABLE])
def test_corpus_counts_through_the_api(case):
    res = read_results(BAD / case.name)
    (f,) = res.files.itertuples()
    assert (f.read, f.loaded, f.rejected, f.blank, f.ignored) == (*case.counts, 0)
    assert f.read == f.loaded + f.rejected + f.blank + f.ignored
    assert f.status == "ok"


@pytest.mark.parametrize("case", UNREADABLE, ids=[c.name for c in UNREADABLE])
def test_unreadable_file_among_good_ones_is_one_line_and_the_rest_load(case, capsys, tmp_path):
    bad = BAD / case.name
    good = BAD / "mixed_line_endings.csv"
    rc, err, out = _import(capsys, tmp_path, str(bad), str(good))
    assert rc == 0
    naming = [line for line in err.splitlines() if str(bad) in line]
    assert len(naming) == 1 and naming[0].startswith(f"error: {bad}") and naming[0].endswith("(the other files were read)")
    assert len(pd.read_csv(out)) == 8
    with pytest.raises(InputFileError):  # strict: the first unreadable file stops the import
        read_results([bad, good], strict=True)


def test_strict_names_file_row_column_and_raw_text(capsys, tmp_path):
    path = BAD / "bad_numbers.csv"
    rc, err, _ = _import(capsys, tmp_path, str(path), "--strict")
    assert rc == 1
    (line,) = [x for x in err.splitlines() if x.startswith("error: ")]  # after the summary line
    assert line.startswith("error: 10 value(s) rejected (--strict)")
    assert f"First: {path}, row 2, column C (PINP (µg/L)): negative value (a concentration cannot be negative): '-5' (raw '-5')" in line


def test_a_file_that_cannot_be_opened_is_unreadable_not_a_crash(monkeypatch, capsys, tmp_path):
    locked, good = tmp_path / "locked.csv", BAD / "mixed_line_endings.csv"
    locked.write_text("Subject,PINP (µg/L)\nS1,45\n", encoding="utf-8")
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    rc, err, out = _import(capsys, tmp_path, str(locked), str(good))
    assert rc == 0 and f"error: {locked}: cannot read the file (Permission denied) (the other files were read)" in err
    assert len(pd.read_csv(out)) == 8


def test_an_output_that_cannot_be_written_is_one_line(capsys, tmp_path):
    (tmp_path / "a_file").write_text("x")
    rc = main(["import", str(BAD / "mixed_line_endings.csv"), "-o", str(tmp_path / "a_file" / "out.csv")])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and "internal error" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error: ")]
    assert str(tmp_path / "a_file") in line


# ---------------------------------------------------------------------------------------------
# what the readable cases hold, value by value


def test_bad_numbers_are_rejected_with_their_reasons():
    res = read_results(BAD / "bad_numbers.csv")
    reasons = dict(zip(res.rejected["raw_value"], res.rejected["reason"], strict=True))
    zero = "zero (not a measurable concentration; report '<limit' instead)"
    assert reasons == {
        "-5": "negative value (a concentration cannot be negative): '-5'",
        "0": f"{zero}: '0'",
        "NaN": "not a number: 'NaN'",
        "inf": "not a number: 'inf'",
        "1e309": "infinite value: '1e309'",
        "-inf": "not a number: '-inf'",
        "Infinity": "not a number: 'Infinity'",
        "-0": f"{zero}: '-0'",
        "0.000": f"{zero}: '0.000'",
        "1e-400": f"{zero}: '1e-400'",  # underflows to 0
    }
    assert res.data["subject_id"].tolist() == ["B11"] and res.data["value"].tolist() == [45.0]
    xlsx = read_results(BAD / "bad_numbers.xlsx")
    assert xlsx.rejected["raw_value"].tolist() == ["-5", "0", "-0.001"]
    assert xlsx.rejected["reason"].tolist() == [
        "negative value (a concentration cannot be negative)", "zero (not a measurable concentration; report '<limit' instead)",
        "negative value (a concentration cannot be negative)",
    ]


@pytest.mark.parametrize("digits", [16, 400, 5000], ids=["16_digits", "400_digits_overflow", "5000_digits_int_limit"])
def test_long_digit_runs_never_raise(tmp_path, digits):
    # pd.to_numeric read these as Python ints: OverflowError (400) and ValueError (> 4300 digits)
    path = tmp_path / "digits.csv"
    path.write_text(f"Subject,Visit,PINP (µg/L)\nL1,V1,{'1' * digits}\nL2,V1,{'1' * digits}.5\n", encoding="utf-8")
    res = read_results(path)
    if digits == 16:
        assert res.data["value"].tolist() == [1111111111111111.0, 1111111111111111.5]
    else:
        assert res.data.empty
        assert [r.startswith("infinite value: '1111") for r in res.rejected["reason"]] == [True, True]


def test_error_cells_are_rejected_not_blank():
    # readers give #DIV/0! and #N/A cells as empty: they were counted blank, the values lost
    res = read_results(BAD / "excel_errors.xlsx")
    got = {(r.source_row, r.column[0]): (r.raw_value, r.reason) for r in res.rejected.itertuples()}
    assert got == {
        (2, "C"): ("#DIV/0!", "Excel error #DIV/0!"), (2, "D"): ("#N/A", "Excel error #N/A"),
        (3, "C"): ("#VALUE!", "Excel error #VALUE!"), (3, "D"): ("#N/A", "Excel error #N/A"),
        (5, "C"): ("#REF!", "Excel error #REF!"),
    }
    for ext in ("xlsx", "ods", "xls"):
        res = read_results(BAD / f"formula_cached.{ext}")
        assert sorted(res.rejected["raw_value"]) == ["#DIV/0!", "#N/A"], ext
        assert sorted(zip(res.data["subject_id"], res.data["marker"], res.data["value"], strict=True)) == [
            ("F1", "CTX1", 300.0), ("F1", "PINP", 40.0), ("F2", "CTX1", 600.0), ("F2", "PINP", 45.0)], ext


def test_formulas_without_cached_values_are_rejected_with_the_formula():
    res = read_results(BAD / "formula_uncached.xlsx")
    assert sorted(zip(res.rejected["raw_value"], res.rejected["source_row"], strict=True)) == [("=1/0", 4), ("=C2+5", 3), ("=D2*2", 3), ("=NA()", 4)]
    assert all("has no cached value (the file was saved without calculating)" in r for r in res.rejected["reason"])
    assert res.data["subject_id"].tolist() == ["F1", "F1"]


def test_duplicates_are_kept_flagged_and_never_averaged():
    for name, values in (("duplicate_headers.csv", {("D1", 45.0), ("D1", 46.0), ("D2", 50.0), ("D3", 38.0)}),
                         ("synonyms_twice.csv", {("Y1", 45.0), ("Y2", 50.0), ("Y2", 52.0)})):
        res = read_results(BAD / name)
        assert set(zip(res.data["subject_id"], res.data["value"], strict=True)) == values
        dup = res.data[res.data["flags"].str.contains("DUPLICATE")]
        assert sorted(dup["subject_id"]) == (["D1", "D1"] if name.startswith("dup") else ["Y1", "Y1", "Y2", "Y2"])
        assert len(res.data) == 4  # nothing dropped or merged
        assert all("all kept, none averaged" in r for r in res.warnings["reason"] if r.startswith("duplicate"))


def test_merged_cells_fill_the_subject_and_keep_a_value_once():
    res = read_results(BAD / "merged_cells.xlsx")
    pinp = {(r.subject_id, r.timepoint): r.value for r in res.data[res.data["marker"] == "PINP"].itertuples()}
    assert pinp == {("M01", "V1"): 40.0, ("M01", "V2"): 42.0, ("M02", "V1"): 50.0}  # 50 once, not also for M03
    warn = {(r.source_row, r.column): r.reason for r in res.warnings.itertuples() if r.severity == "warning"}
    assert warn == {
        (3, "A (Subject)"): "filled from merged range A2:A3",
        (5, "C (PINP (µg/L))"): "cell is part of merged range C4:C5; the result is kept once, in its top-left cell",
    }


def test_dates_before_1900_and_the_1904_system():
    res = read_results(BAD / "dates_pre1900.csv")
    d = {r.subject_id: (r.sample_date, r.age) for r in res.data.itertuples()}
    assert d["P1"][0] == pd.Timestamp("1899-12-31") and d["P2"][0] == pd.Timestamp("2026-01-02")
    assert d["P3"][1] == 65.0 and math.isnan(d["P2"][1])  # no age of 135 years
    warned = sorted((r.source_row, r.raw_value) for r in res.warnings.itertuples() if "before 1900" in r.reason)
    assert warned == [(2, "1890-05-01"), (2, "1899-12-31"), (3, "1890-05-01")]
    mac = read_results(BAD / "date1904.xlsx")
    dates = dict(zip(mac.data["subject_id"], mac.data["sample_date"].dt.strftime("%Y-%m-%d"), strict=True))
    # K4 is a bare serial number: 44594 days from 1904-01-01 (2022-02-02 if read in the 1900 system)
    assert dates == {"K1": "2026-02-03", "K2": "1904-01-02", "K3": "2026-12-31", "K4": "2026-02-03"}
    assert mac.warnings.empty


def test_values_1000x_off_are_flagged_and_loaded():
    res = read_results(BAD / "unit_magnitude.csv")
    flagged = res.data[res.data["flags"].str.contains("UNIT_MAGNITUDE")]
    assert sorted(zip(flagged["marker"], flagged["value"], strict=True)) == [("CTX1", 0.41), ("PINP", 90000.0)]
    assert len(res.data) == 4


def test_nul_bytes_and_mixed_line_endings():
    res = read_results(BAD / "nul_bytes.csv")
    assert sorted(zip(res.data["subject_id"], res.data["value"], strict=True)) == [("N2\x00", 50.0), ("N4", 38.0)]
    assert sorted(res.rejected["raw_value"]) == ["\x00", "45\x00"]
    res = read_results(BAD / "mixed_line_endings.csv")
    assert sorted(res.data.loc[res.data["marker"] == "PINP", "subject_id"]) == ["L1", "L2", "L3", "L4"]
    assert sorted(res.data["source_row"].tolist()) == [2, 2, 3, 3, 4, 4, 5, 5]


def test_ids_that_look_like_numbers_dates_or_formulas_stay_text_and_inert(capsys, tmp_path):
    expected = [t.strip() for t in make_bad.TRICKY_IDS]  # surrounding spaces are trimmed, nothing else
    for name in ("tricky_ids.csv", "tricky_ids.xlsx"):
        res = read_results(BAD / name)
        assert res.data.sort_values("source_row")["subject_id"].tolist() == expected, name
        out = tmp_path / f"{name}.tidy.csv"
        assert main(["import", str(BAD / name), "-o", str(out)]) == 0
        text = out.read_text(encoding="utf-8-sig")
        for formula in ("=1+1", "+SUM(A1)", "-2", "@cmd", "=V1"):
            assert f"'{formula}" in text  # escaped: a spreadsheet shows it as text, never runs it
        rows = list(csv.reader(text.splitlines()))
        assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row if cell not in ("",))
        again = read_results(out)  # and reading btm's own CSV back restores them
        assert again.data.sort_values("source_row")["subject_id"].tolist() == expected
        assert set(again.data["timepoint"]) == {"=V1", "V1"}
    capsys.readouterr()


# ---------------------------------------------------------------------------------------------
# XML entity attacks


def _secret_lines() -> list[str]:
    try:
        lines = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if len(line) > 8][:5]


XML_ATTACKS = ["xxe_shared_strings.xlsx", "xxe_sheet.xlsx", "xxe_utf16.xlsx", "xxe_parameter.xlsx", "doctype_external.xlsx", "billion_laughs.xlsx"]


@pytest.mark.parametrize("name", XML_ATTACKS)
def test_entity_attacks_are_refused_and_nothing_leaks(name, capsys, tmp_path):
    secrets = _secret_lines() + ["root:x:0:0", "lollollol"]
    path = BAD / name
    rc, err, out = _import(capsys, tmp_path, str(path), str(BAD / "mixed_line_endings.csv"))
    assert rc == 0 and f"error: {path}: refused: " in err
    written = err + "".join(p.read_text(encoding="utf-8-sig") for p in tmp_path.glob("*.csv"))
    for s in secrets:
        assert s not in written
    with pytest.raises(InputFileError, match="refused: ") as exc:
        read_file(path)
    for s in secrets:
        assert s not in str(exc.value)


def test_billion_laughs_is_refused_fast_in_a_fresh_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "btm", "import", str(BAD / "billion_laughs.xlsx"), "-o", str(tmp_path / "t.csv")],
        capture_output=True, text=True, timeout=60,  # a guard against hangs: it takes well under a second
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: {BAD / 'billion_laughs.xlsx'}: refused: ") and proc.stderr.count("\n") == 1


# ---------------------------------------------------------------------------------------------
# zip bombs and bounds


def test_zip_bomb_is_refused_from_its_directory_without_inflating(capsys, tmp_path):
    with zipfile.ZipFile(BAD / "zip_bomb.xlsx") as zf:
        declared = sum(i.file_size for i in zf.infolist())
    assert declared > 2.9 * 1024**3 and (BAD / "zip_bomb.xlsx").stat().st_size < 200_000
    t0 = time.perf_counter()
    with pytest.raises(FileTooLargeError, match="--max-size"):
        read_file(BAD / "zip_bomb.xlsx")
    assert time.perf_counter() - t0 < 5


def test_max_size_raises_the_unzipped_bound(capsys, tmp_path):
    small = BAD / "zip_bomb_small.xlsx"  # 7 KB that unzips to 5 MB
    rc, err, _ = _import(capsys, tmp_path, str(small), "--max-size", "1")  # unzipped bound 4 MB
    assert rc == 1
    assert err == (f"error: {small}: the workbook expands to 5 MB when unzipped, above the 4 MB bound (a zip bomb?); "
                   f"{BOUND} (--max-size 2 would allow it)\n")
    rc, err, _ = _import(capsys, tmp_path, str(small), "--max-size", "2")
    assert rc == 0 and f"{small}: 1 results read, 1 loaded, 0 rejected, 0 blank" in err
    with pytest.raises(FileTooLargeError):
        read_file(small, limits=Limits(max_uncompressed_bytes=5 * 1024**2))
    assert read_file(small, limits=Limits(max_uncompressed_bytes=6 * 1024**2))[0].rows[1] == ["S1", 45.0]


def test_zip_directory_that_lies_about_sizes_is_stopped_by_the_streaming_budget():
    lying = BAD / "zip_bomb_lying.xlsx"
    with zipfile.ZipFile(lying) as zf:
        assert sum(i.file_size for i in zf.infolist()) < 10_000  # it claims to be tiny
    with pytest.raises(FileTooLargeError, match=r"expands beyond the bound when unzipped, above the 4 MB bound \(a zip bomb\?\)"):
        read_file(lying, limits=Limits(max_uncompressed_bytes=4 * 1024**2))
    with pytest.raises(InputFileError, match="damaged or forged: part 'xl/worksheets/sheet1.xml' unzips to at least"):
        read_file(lying)


def test_zip_with_too_many_parts_is_refused():
    with pytest.raises(FileTooLargeError, match=r"zip archive of about \d+ parts, above the 3-part bound"):
        read_file(BAD / "date1904.xlsx", limits=Limits(max_zip_members=3))


def test_absurd_grids_are_refused_before_a_reader_allocates_them():
    # two cells at A1:B2 and XFD1048576 made the Rust reader abort the whole process (a 512 GB allocation)
    for name in ("far_cell.xlsx", "far_cell_lowercase.xlsx", "repeated_cells.ods"):
        t0 = time.perf_counter()
        with pytest.raises(FileTooLargeError, match=r"the sheet's cells span .*-cell bound") as exc:
            read_file(BAD / name)
        assert exc.value.sheet == "Sheet1"
        assert time.perf_counter() - t0 < 5
    t0 = time.perf_counter()
    (sheet,) = read_file(BAD / "dimension_lie.xlsx")  # claims A1:XFD1048576, holds four cells
    assert sheet.rows == [["Subject", "PINP (µg/L)"], ["S1", 45.0]]
    assert time.perf_counter() - t0 < 5


# far cells written every way the Rust reader accepts: each would make it allocate a grid of
# billions of cells and abort the process (sheet XML after the header row A1:B2)
FAR_CELLS = {
    "twelve_letters": '<row r="3"><c r="ZZZZZZZZZZZZ1"><v>1</v></c></row>',
    "eleven_digits": '<row r="3"><c r="A99999999999"><v>1</v></c></row>',
    "single_quotes_and_spaces": "<row r='3'><c r = 'XFD1048576'><v>1</v></c></row>",
    "no_reference_in_a_far_row": '<row r="1048576"><c><v>1</v></c></row><row r="1048575"><c r="XFD1048575"><v>1</v></c></row>',
    "prefixed_cell": '<row r="3"><x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="XFD1048576"><x:v>1</x:v></x:c></row>',
    "attribute_not_first": '<row r="3"><c s="0" r="XFD1048576"><v>1</v></c></row>',
}


@pytest.mark.parametrize("far", FAR_CELLS.values(), ids=FAR_CELLS.keys())
def test_far_cells_in_any_spelling_are_refused(far, tmp_path):
    path = tmp_path / "far.xlsx"
    make_bad.write_zip(path, make_bad.ooxml_parts([("Data", make_bad.sheet_xml(make_bad.SMALL_ROWS + far))], make_bad.shared_xml(make_bad.SMALL_STRINGS)))
    with pytest.raises(FileTooLargeError, match=r"the sheet's cells span .*-cell bound") as exc:
        read_file(path)
    assert exc.value.sheet == "Data"


@pytest.mark.parametrize(("cell", "at"), [('<c r="XFE1"><v>1</v></c>', (0, 16384)), ('<c r="a70000"><v>1</v></c>', (69999, 0))],
                         ids=["column_beyond_XFD", "lowercase_reference"])
def test_odd_references_with_small_grids_are_read(cell, at, tmp_path):
    # the check measures the grid; it does not refuse what the reader handles well
    path = tmp_path / "odd.xlsx"
    make_bad.write_zip(path, make_bad.ooxml_parts([("Data", make_bad.sheet_xml(make_bad.SMALL_ROWS + f'<row r="{at[0] + 1}">{cell}</row>'))],
                                                make_bad.shared_xml(make_bad.SMALL_STRINGS)))
    (sheet,) = read_file(path)
    assert sheet.rows[at[0]][at[1]] == 1.0 and sheet.rows[1][:2] == ["S1", 45.0]


def test_a_panic_in_the_reader_is_an_unreadable_file(monkeypatch):
    import python_calamine

    class PanicException(BaseException):  # what pyo3 raises for a Rust panic: not an Exception
        pass

    def panic(*args, **kwargs):
        raise PanicException("called `Option::unwrap()` on a `None` value")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", panic)
    with pytest.raises(InputFileError, match=r"cannot read the workbook \(called `Option::unwrap\(\)` on a `None` value\)"):
        read_file(BAD / "date1904.xlsx")


def test_a_bound_on_cells_counts_the_grid_a_sheet_spans():
    (sheet,) = read_file(BAD / "columns_16384.xlsx")
    assert len(sheet.rows[0]) == 16384
    with pytest.raises(FileTooLargeError, match=r"span 4 rows x 16,384 columns \(65,536 cells\), above the 60,000-cell bound"):
        read_file(BAD / "columns_16384.xlsx", limits=Limits(max_cells=60_000))


def test_a_million_character_cell(capsys, tmp_path):
    path = tmp_path / "huge_cell.csv"
    make_bad.huge_cell_csv(path)
    rc, err, out = _import(capsys, tmp_path, str(path))
    assert rc == 0 and f"{path}: 3 results read, 2 loaded, 1 rejected, 0 blank" in err
    assert max(len(line) for line in err.splitlines()) < 300
    res = read_results(path)
    (rej,) = res.rejected.itertuples()
    assert (rej.source_row, rej.column) == (3, "D (PINP (µg/L))")
    assert rej.raw_value == "9" * 200 + "… (1,000,000 characters)"
    assert rej.reason.startswith("infinite value: '999") and len(rej.reason) < 700
    assert res.data.set_index("subject_id")["comment"].str.len().to_dict() == {"H1": 1_000_000, "H3": 2}  # kept whole


def test_a_header_of_a_million_brackets_does_not_hang(tmp_path):
    # stripping brackets from a header was quadratic: 100,000 "(" took 83 s
    path = tmp_path / "brackets.csv"
    path.write_text("Subject,Visit,PINP (µg/L)," + "(" * 1_000_000 + "\nS1,V1,45,1\n", encoding="utf-8")
    t0 = time.perf_counter()
    res = read_results(path)
    assert time.perf_counter() - t0 < 10
    assert res.data["value"].tolist() == [45.0]


def test_a_line_of_a_million_columns(capsys, tmp_path):
    path = tmp_path / "wide_line.csv"
    make_bad.wide_line_csv(path)  # empty cells at the end of a line are dropped: two columns
    rc, err, _ = _import(capsys, tmp_path, str(path))
    assert rc == 0 and f"{path}: 2 results read, 2 loaded, 0 rejected, 0 blank" in err


def test_one_wide_line_cannot_make_every_row_wide(tmp_path):
    # every row is padded to the widest: 100,001 columns x 1,001 rows would be 100 million cells
    path = tmp_path / "wide_then_long.csv"
    path.write_text("Subject,PINP (µg/L)," + ",".join(["x"] * 99_999) + "\n" + "S1,45\n" * 1000, encoding="utf-8")
    t0 = time.perf_counter()
    with pytest.raises(FileTooLargeError, match=r"line 1 holds 100,001 cells, more than the 16,384 columns a spreadsheet has"):
        read_file(path)  # (refused as it is read: no row is ever padded to it)
    rows = "Subject,PINP (µg/L)," + ",".join(["x"] * 16_000) + "\n" + "S1,45\n" * 4000  # within a spreadsheet's width
    path.write_text(rows, encoding="utf-8")
    with pytest.raises(FileTooLargeError, match=r"the text spans 4,001 rows x 16,002 columns \(64,024,002 cells\), above the 50,000,000-cell bound"):
        read_file(path)
    assert time.perf_counter() - t0 < 10


# ---------------------------------------------------------------------------------------------
# counting: every value of a marker column ends loaded, rejected, blank or ignored

# readable corpus files: (sheet, first data row, marker columns, csv encoding)
BAD_LAYOUT = {
    "header_only.csv": ("", 2, ["C", "D"]), "header_only.xlsx": ("Results", 2, ["C", "D"]),
    "zip_bomb_small.xlsx": ("Sheet1", 2, ["B"]), "dimension_lie.xlsx": ("Sheet1", 2, ["B"]),
    "nul_bytes.csv": ("", 2, ["C"]), "mixed_line_endings.csv": ("", 2, ["C", "D"]),
    "columns_16384.xlsx": ("Wide", 2, ["B", "ZY", "XFD"]),
    "duplicate_headers.csv": ("", 2, ["C", "D"]), "synonyms_twice.csv": ("", 2, ["C", "D"]),
    "merged_cells.xlsx": ("Merged", 2, ["C", "D"]),
    "formula_uncached.xlsx": ("Formulas", 2, ["C", "D"]), "formula_cached.xlsx": ("Formulas", 2, ["C", "D"]),
    "formula_cached.ods": ("Formulas", 2, ["C", "D"]), "formula_cached.xls": ("Formulas", 2, ["C", "D"]),
    "excel_errors.xlsx": ("Errors", 2, ["C", "D"]),
    "dates_pre1900.csv": ("", 2, ["E"]), "date1904.xlsx": ("Mac", 2, ["C"]),
    "bad_numbers.csv": ("", 2, ["C"]), "bad_numbers.xlsx": ("Numbers", 2, ["C"]), "unit_magnitude.csv": ("", 2, ["C", "D"]),
    "tricky_ids.csv": ("", 2, ["C"]), "tricky_ids.xlsx": ("Ids", 2, ["C"]),
}


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _cells(path: Path, sheet: str, encoding: str = "utf-8", delimiter: str = ",") -> list[list]:
    """A sheet's cells read without btm (openpyxl, xlrd, odf, csv); error cells are not blank."""
    if path.suffix == ".ods":  # pandas' odf reader turns a "#N/A" cell into NaN: read the text with odfpy
        return _ods_cells(path, sheet)
    return independent_grid(path, sheet, encoding, delimiter)


def _ods_cells(path: Path, sheet: str) -> list[list]:
    from odf import teletype
    from odf.opendocument import load
    from odf.table import Table, TableRow

    (table,) = [t for t in load(str(path)).spreadsheet.getElementsByType(Table) if t.getAttribute("name") == sheet]
    rows = []
    for tr in table.getElementsByType(TableRow):
        row = []
        for c in tr.childNodes:
            if c.qname[1] not in ("table-cell", "covered-table-cell"):
                continue
            text = teletype.extractText(c)
            value = text if (text or c.getAttribute("valuetype")) else None
            row += [value] * min(int(c.getAttribute("numbercolumnsrepeated") or 1), 64)  # (fill to XFD: cut)
        rows += [row] * min(int(tr.getAttribute("numberrowsrepeated") or 1), 64)
    while rows and all(v is None for v in rows[-1]):  # the fill to the last row
        rows.pop()
    return rows


def _count(path: Path, layout: list[tuple]) -> tuple[int, int, dict[tuple[str, int, str], object]]:
    """(values, blank, {(sheet, Excel row, column letter): cell}) of the marker columns, counted independently."""
    total = blank = 0
    cells = {}
    for sheet, first, letters, *text in layout:
        rows = _cells(path, sheet, *text)
        for i, row in enumerate(rows[first - 1 :], start=first):
            for letter in letters:
                j = _col(letter)
                v = row[j] if j < len(row) else None
                total += 1
                blank += blank_cell(v)
                cells[(sheet, i, letter)] = v
    return total, blank, cells


def _layouts() -> list[tuple[Path, list[tuple], int]]:
    """Every readable file of the corpus, sample_data/ and tests/data/ with where its values are."""
    out = [(BAD / name, [(sheet, first, letters)], 0) for name, (sheet, first, letters) in BAD_LAYOUT.items()]
    for path, sheets in WIDE.items():
        out.append((path, [(s, first, list(letters), *rest) for s, first, letters, *rest in sheets], 0))
    for path, (result, _test, others) in LONG.items():
        out.append((path, [("", 2, [result])], len(others)))
    return out


def test_the_counting_table_covers_every_readable_file():
    # (the folders of later fixtures, tests/data/integrity and others, are counted by the general
    # conservation test of tests/test_integrity.py, which needs no table)
    listed = {p.resolve() for p, _, _ in _layouts()}
    found = {p.resolve() for d in (SAMPLES, TESTS / "data") for p in d.rglob("*")
             if p.suffix.lower() in SPREADSHEET_SUFFIXES and p.parent in (SAMPLES, TESTS / "data", TESTS / "data" / "sites")}
    assert found - listed == set()
    assert {c.name for c in READABLE} == set(BAD_LAYOUT)


@pytest.mark.parametrize(("path", "layout", "has_ignored"), _layouts(), ids=[f"{p.parent.name}/{p.name}" for p, _, _ in _layouts()])
def test_every_input_value_is_loaded_rejected_blank_or_ignored(path, layout, has_ignored):
    mapping = load_mapping(GERMAN_MAPPING) if path.name == "mapping_german.xlsx" else None
    res = read_results(path, mapping=mapping)
    (f,) = res.files.itertuples()
    total, blank, cells = _count(path, layout)
    if path in LONG:  # one result per row: count the result column, the tests that are not markers are ignored
        assert f.ignored > 0 if has_ignored else f.ignored == 0
    else:
        assert f.ignored == 0
    assert f.read == total == f.loaded + f.rejected + f.blank + f.ignored
    assert f.blank == blank
    assert (f.loaded, f.rejected) == (len(res.data), len(res.rejected))
    for r in res.rejected.itertuples():  # every rejection names file, row, column, raw text and reason
        assert r.source_file == str(path) and r.source_row >= 1
        letter = r.column.split(" ")[0]
        assert letter.isalpha() and letter.isupper() and r.reason
        cell = cells[(r.source_sheet, r.source_row, letter)]
        assert not blank_cell(cell) and r.raw_value != ""
        if isinstance(cell, str) and not cell.startswith("="):  # the raw text is the cell's text (formulas: their value)
            assert r.raw_value == cell


# ---------------------------------------------------------------------------------------------
# property tests: what goes in comes out

# marker -> (header names, units the catalog converts to its canonical unit)
MARKERS = {
    "PINP": (["PINP", "P1NP", "Total P1NP"], ["ng/mL", "µg/L", "ug/L", "mcg/L"]),
    "CTX1": (["CTX", "CTX-1", "beta-CrossLaps"], ["pg/mL", "ng/mL", "ng/L", "µg/L"]),
    "BALP": (["BALP", "Bone ALP"], ["µg/L", "ng/mL", "U/L"]),
    "OCN": (["Osteocalcin", "OCN"], ["ng/mL", "µg/L"]),
    "TRAP5B": (["TRAP-5b", "TRAP5b"], ["U/L", "IU/L"]),
    "ALP": (["ALP", "Alkaline phosphatase"], ["U/L", "µkat/L"]),
}
JUNK = ["hemolysed", "QNS", "n/a", "see comment", "cancelled", "4o.2", "#N/A", "#DIV/0!", "pending", "--", "?", "<LOD", "12..5", "1,2,3"]

# words that name no marker and no column: a data row of them never looks like a header
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8).filter(lambda w: classify_header(w).role == "")
number_text = st.builds(lambda m, e: f"{m / 10**e:.{e}f}", st.integers(1, 999_999), st.integers(0, 4))
cell = st.one_of(
    number_text.map(lambda t: ("num", t)),
    st.tuples(st.sampled_from(["<", ">", "≤", "< "]), number_text).map(lambda c: ("cens", c[0] + c[1])),
    st.one_of(st.sampled_from(JUNK), words).map(lambda t: ("junk", t)),
    st.just(("blank", "")),
)


@st.composite
def datasets(draw):
    markers = draw(st.lists(st.sampled_from(sorted(MARKERS)), min_size=1, max_size=4, unique=True))
    cols = []
    for m in markers:
        names, units = MARKERS[m]
        cols.append((m, draw(st.sampled_from(names)), draw(st.sampled_from(units))))
    n = draw(st.integers(1, 12))
    # ids that look like numbers or formulas stay text: "0003", "=004", "1e005"
    subjects = [f"{draw(st.sampled_from(['S', 'P', '0', '=', '+', '-', '@', '1e']))}{k:03d}" for k in range(n)]
    visits = [draw(st.sampled_from(["V1", "V2", "Week 6", "Baseline"])) for _ in range(n)]
    cells = [[draw(cell) for _ in cols] for _ in range(n)]
    return cols, subjects, visits, cells


def _write(path: Path, header: list[str], rows: list[list]) -> None:
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([header, *rows])
        return
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("Data")
    ws.write_row(0, 0, header)
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            if isinstance(v, float):
                ws.write_number(i, j, v)
            elif v != "":
                ws.write_string(i, j, v)
    wb.close()


def _expected_value(marker: str, unit: str, text: str) -> tuple[float, str, str]:
    censored = {"<": "<", ">": ">", "≤": "<"}.get(text.strip()[0], "")
    raw = float(text.strip().lstrip("<>≤ "))
    canonical = resolve_unit(unit, marker=marker).unit
    value = raw * conversion_factor(unit, canonical, marker=marker)
    if value != raw:  # a converted value keeps 12 significant digits: 299.40000000000003 is 299.4
        value = float(f"{value:.12g}")
    return value, canonical, censored


def _check_round_trip(res, expected: dict, junk: dict, blanks: int) -> None:
    (f,) = res.files.itertuples()
    assert (f.read, f.loaded, f.rejected, f.blank) == (len(expected) + len(junk) + blanks, len(expected), len(junk), blanks)
    got = {(r.source_row, r.marker): (r.value, r.unit, r.censored, r.subject_id) for r in res.data.itertuples()}
    assert got == expected  # exact: the value times the catalog's factor, to 12 significant digits
    rejected = {(r.source_row, r.raw_value) for r in res.rejected.itertuples()}
    assert rejected == {(row, text) for (row, _), text in junk.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), as_numbers=st.booleans(), suffix=st.sampled_from([".xlsx", ".csv"]))
def test_wide_files_what_goes_in_comes_out(data, as_numbers, suffix):
    cols, subjects, visits, cells = data
    header = ["Subject", "Visit", *[f"{name} ({unit})" for _, name, unit in cols]]
    rows, expected, junk, blanks = [], {}, {}, 0
    for i, (sid, visit, row) in enumerate(zip(subjects, visits, cells, strict=True), start=2):
        out = [sid, visit]
        for (m, _, unit), (kind, text) in zip(cols, row, strict=True):
            if kind == "num" and as_numbers and suffix == ".xlsx":
                out.append(float(text))  # a real number cell
            else:
                out.append(text)
            if kind in ("num", "cens"):
                value, canonical, censored = _expected_value(m, unit, text)
                expected[(i, m)] = (value, canonical, censored, sid)
            elif kind == "junk":
                junk[(i, m)] = text
            else:
                blanks += 1
        rows.append(out)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"wide{suffix}"
        _write(path, header, rows)
        _check_round_trip(read_results(path, decimal="."), expected, junk, blanks)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), suffix=st.sampled_from([".xlsx", ".csv"]))
def test_long_files_what_goes_in_comes_out(data, suffix):
    cols, subjects, visits, cells = data
    rows, expected, junk, blanks = [], {}, {}, 0
    i = 1
    for sid, visit, row in zip(subjects, visits, cells, strict=True):
        for (m, name, unit), (kind, text) in zip(cols, row, strict=True):
            i += 1
            assert match_marker(name).marker == m
            rows.append([sid, visit, name, text, unit])
            if kind in ("num", "cens"):
                value, canonical, censored = _expected_value(m, unit, text)
                expected[(i, m)] = (value, canonical, censored, sid)
            elif kind == "junk":
                junk[(i, m)] = text
            else:
                blanks += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"long{suffix}"
        _write(path, ["Subject", "Visit", "Test", "Result", "Unit"], rows)
        res = read_results(path, decimal=".")
        _check_round_trip(res, expected, junk, blanks)
        again = Path(tmp) / "tidy.csv"  # and btm's own CSV reads back to the same values
        write_csv(res.data, again)
        back = read_results(again)
        pairs = sorted(zip(res.data["subject_id"], res.data["marker"], res.data["value"], strict=True))
        assert sorted(zip(back.data["subject_id"], back.data["marker"], back.data["value"], strict=True)) == pairs
