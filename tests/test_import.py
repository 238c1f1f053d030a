"""`btm import`: real lab spreadsheets -> one tidy table, every value accounted for.

The sample files are described cell by cell in sample_data/README.md; the small fixtures in
tests/data/ (one file per case, rebuilt by tests/data/make_fixtures.py) are described next to the
function that writes them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from btm.cli import main
from btm.errors import InputFileError, MappingError, StrictModeError
from btm.io import PROBLEM_COLUMNS, TIDY_COLUMNS, load_mapping, read_results
from btm.io.layout import classify_header, split_header
from btm.io.load import OPTIONAL_COLUMNS
from btm.io.mapping import mapping_from_dict
from btm.io.write import write_csv
from btm.markers import match_marker

DATA = Path(__file__).parent / "data"
SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"
REJECTED_COLUMNS = ["source_file", "source_sheet", "source_row", "column", "raw_value", "reason"]
FILE_COLUMNS = ["file", "sheets", "read", "loaded", "rejected", "blank", "ignored", "status"]
GERMAN_MAPPING = DATA / "mapping_german.toml"

# every fixture that imports without a mapping (the unreadable ones are in tests/data/unreadable)
READABLE_FIXTURES = [
    "wide_basic.xlsx", "wide_basic.xlsm", "wide_basic.xls", "wide_basic.ods", "header_row4_merged_title.xlsx",
    "units_second_row.xlsx", "unit_column.xlsx", "per_timepoint.xlsx", "synonyms_wide.xlsx", "values_wide.xlsx",
    "dates.xlsx", "uncached_formula.xlsx", "enc_utf8.csv", "enc_utf8_bom.csv", "enc_utf16_bom.tsv", "enc_utf16le_nobom.txt",
    "enc_cp1252_semicolon.csv", "enc_latin1_semicolon.txt", "long_lis.csv", "ids_leading_zero.csv",
    "date_timepoint.csv", "decimal_comma.csv", "unit_magnitude.csv", "duplicates.csv", "sites/site_a.csv",
    "sites/site_b.csv",
]


@pytest.fixture(scope="module")
def samples():
    return read_results(SAMPLES)


def _rows(res, name: str, **where) -> pd.DataFrame:
    d = res.data[res.data["source_file"].map(lambda f: Path(f).name) == name]
    for k, v in where.items():
        d = d[d[k] == v]
    return d


def _one(res, name: str, **where) -> pd.Series:
    d = _rows(res, name, **where)
    assert len(d) == 1, (name, where, len(d))
    return d.iloc[0]


# ---------------------------------------------------------------------------------------------
# the six sample files

# (file, sheet, Excel row or CSV line, marker) -> (subject, timepoint, value, unit, censored, raw value, raw unit)
SAMPLE_CELLS = [
    ("analyser_cobas_export.xlsx", "Results", 7, "CTX1", ("S301", "2026-03-09", 487.0, "ng/L", "", "0.487", "ng/mL")),
    ("analyser_cobas_export.xlsx", "Results", 7, "PINP", ("S301", "2026-03-09", 32.4, "µg/L", "", "32.4", "ng/mL")),
    ("analyser_cobas_export.xlsx", "Results", 7, "OCN", ("S301", "2026-03-09", 21.96, "µg/L", "", "21.96", "ng/mL")),
    ("analyser_cobas_export.xlsx", "Results", 15, "CTX1", ("S309", None, 10.0, "ng/L", "<", "<0.010", "ng/mL")),
    ("analyser_cobas_export.xlsx", "Results", 30, "PINP", ("S324", None, 1200.0, "µg/L", ">", ">1200", "ng/mL")),
    ("lis_long_export.csv", "", 2, "PINP", ("000101", "2026-02-09", 39.1, "µg/L", "", "39.1", "µg/L")),
    ("lis_long_export.csv", "", 3, "CTX1", ("000101", "2026-02-09", 288.0, "ng/L", "", "288", "pg/mL")),
    ("lis_long_export.csv", "", 28, "ALP", ("000106", "2026-02-23", 62.0, "U/L", "", "62", "U/L")),
    ("lis_long_export.csv", "", 105, "CTX1", ("000118", "2026-05-05", 50.0, "ng/L", "<", "<50", "pg/mL")),
    ("european_semicolon.csv", "", 2, "PINP", ("S201", "V1", 31.4, "µg/L", "", "31,4", "µg/l")),
    ("european_semicolon.csv", "", 2, "CTX1", ("S201", "V1", 430.0, "ng/L", "", "0,430", "ng/ml")),
    ("european_semicolon.csv", "", 28, "CTX1", ("S214", "V1", 36.0, "ng/L", "", "0,036", "ng/ml")),
    ("european_semicolon.csv", "", 29, "CTX1", ("S214", "V2", 30.0, "ng/L", "<", "<0,030", "ng/ml")),
    ("research_timepoints.xlsx", "Baseline", 2, "PINP", ("J01", "Baseline", 35.4, "µg/L", "", "35.4", "µg/L")),
    ("research_timepoints.xlsx", "Baseline", 2, "CTX1", ("J01", "Baseline", 143.0, "ng/L", "", "143", "ng/L")),
    ("research_timepoints.xlsx", "Baseline", 2, "BALP", ("J01", "Baseline", 12.4, "µg/L", "", "12.4", "µg/L")),
    ("research_timepoints.xlsx", "Baseline", 2, "TRAP5B", ("J01", "Baseline", 4.4, "U/L", "", "4.4", "U/L")),
    ("research_timepoints.xlsx", "Week 12", 24, "PINP", ("C12", "Week 12", 51.3, "µg/L", "", "51.3", "µg/L")),
    ("handtyped_lab_sheet.xlsx", "Sheet1", 4, "PINP", ("007", "pre", 38.8, "µg/L", "", "38.8", "ng/ml")),
    ("handtyped_lab_sheet.xlsx", "Sheet1", 4, "CTX1", ("007", "pre", 365.0, "ng/L", "", "365", "pg/mL")),
    ("handtyped_lab_sheet.xlsx", "Sheet1", 5, "PINP", ("007", "post", 52.1, "µg/L", "", "52.1", "ng/ml")),
    ("handtyped_lab_sheet.xlsx", "Sheet1", 6, "BALP", ("012", "pre", 12.5, "µg/L", "", "12,5", "µg/L")),
    ("handtyped_lab_sheet.xlsx", "Sheet1", 8, "PINP", ("015", None, 48.0, "µg/L", "", " 48.0 ", "ng/ml")),
    ("handtyped_lab_sheet.xlsx", "Sheet1", 11, "PINP", ("021", None, 5.0, "µg/L", "<", "< 5", "ng/ml")),
    ("handtyped_lab_sheet.xlsx", "Sheet1", 12, "BALP", ("023", None, 20.0, "µg/L", "<", "≤20", "µg/L")),
    ("trial_exercise.xlsx", "Data", 2, "PINP", ("S001", "Baseline", 64.0, "µg/L", "", "64", "µg/L")),
    ("trial_exercise.xlsx", "Data", 2, "CTX1", ("S001", "Baseline", 294.0, "ng/L", "", "294", "ng/L")),
    ("trial_exercise.xlsx", "Data", 2, "OCN", ("S001", "Baseline", 22.2, "µg/L", "", "22.2", "µg/L")),
    ("trial_exercise.xlsx", "Data", 2, "TRAP5B", ("S001", "Baseline", 5.17, "U/L", "", "5.17", "U/L")),
    ("trial_exercise.xlsx", "Data", 88, "CTX1", ("S030", "Week 6", 33.0, "ng/L", "<", "<33", "ng/L")),
]


@pytest.mark.parametrize(("name", "sheet", "row", "marker", "expected"), SAMPLE_CELLS, ids=[f"{c[0].split('_')[0]}-{c[1]}-{c[2]}-{c[3]}" for c in SAMPLE_CELLS])
def test_sample_cell(samples, name, sheet, row, marker, expected):
    subject, timepoint, value, unit, censored, raw_value, raw_unit = expected
    r = _one(samples, name, source_sheet=sheet, source_row=row, marker=marker)
    assert r["subject_id"] == subject
    if timepoint is not None:
        assert r["timepoint"] == timepoint
    assert r["value"] == pytest.approx(value)
    assert (r["unit"], r["censored"], r["raw_value"], r["raw_unit"]) == (unit, censored, raw_value, raw_unit)


# every rejection in the sample files: (file, row, column letter, raw text, text the reason must contain)
SAMPLE_REJECTIONS = {
    ("handtyped_lab_sheet.xlsx", 13, "F", "4o.2", "4o.2"),
    ("handtyped_lab_sheet.xlsx", 9, "G", "<LOD", "no limit"),
    ("handtyped_lab_sheet.xlsx", 15, "G", "n/a", "n/a"),
    ("handtyped_lab_sheet.xlsx", 17, "H", "see comment", "see comment"),
    ("lis_long_export.csv", 22, "I", "hemolysed", "hemolysed"),
    ("lis_long_export.csv", 44, "I", "QNS", "QNS"),
    ("lis_long_export.csv", 87, "I", "cancelled", "cancelled"),
}


def test_sample_files_have_no_unexpected_rejection(samples):
    rej = samples.rejected
    got = {(Path(r.source_file).name, r.source_row, r.column.split(" ")[0], r.raw_value) for r in rej.itertuples()}
    assert got == {e[:4] for e in SAMPLE_REJECTIONS}
    for name, row, _, _, text in SAMPLE_REJECTIONS:
        reason = rej.loc[(rej["source_file"].str.endswith(name)) & (rej["source_row"] == row), "reason"].iloc[0]
        assert text in reason
    assert (samples.files["status"] == "ok").all()
    assert not (samples.problems["severity"] == "error").any()


def test_sample_blank_cells_are_missing_not_zero(samples):
    # analyser I22: S316 has no osteocalcin; trial M13: S004 Week 12 has no BALP
    assert _rows(samples, "analyser_cobas_export.xlsx", subject_id="S316", marker="OCN").empty
    assert len(_rows(samples, "analyser_cobas_export.xlsx", subject_id="S316")) == 2
    assert _rows(samples, "trial_exercise.xlsx", subject_id="S004", timepoint="Week 12", marker="BALP").empty
    assert (samples.data["value"] > 0).all()
    counts = samples.files.set_index(samples.files["file"].map(lambda f: Path(f).name))
    assert counts.loc["analyser_cobas_export.xlsx", "blank"] == 1
    assert counts.loc["trial_exercise.xlsx", "blank"] == 1


def test_sample_subjects_and_timepoints(samples):
    trial = _rows(samples, "trial_exercise.xlsx", marker="PINP")
    assert trial["timepoint"].value_counts().to_dict() == {"Baseline": 100, "Week 6": 98, "Week 12": 96}
    lis = _rows(samples, "lis_long_export.csv")
    assert sorted(lis["subject_id"].unique()) == [f"{k:06d}" for k in range(101, 126)]  # zero-padded text
    assert set(_rows(samples, "handtyped_lab_sheet.xlsx")["subject_id"]) == {"007", "012", "015", "021", "023", "034", "038", "041"}
    research = _rows(samples, "research_timepoints.xlsx", marker="PINP")
    assert research.groupby("timepoint")["subject_id"].nunique().to_dict() == {"Baseline": 24, "Week 6": 24, "Week 12": 23}
    assert "C07" not in set(research.loc[research["timepoint"] == "Week 12", "subject_id"])
    s099 = _one(samples, "trial_exercise.xlsx", subject_id="S099", timepoint="Baseline", marker="CTX1")
    assert (s099["egfr"], s099["sex"], s099["group"]) == (28.0, "M", "Control")
    ntx = _rows(samples, "lis_long_export.csv", marker="NTX")
    assert set(ntx["unit"]) == {"nmol BCE/mmol creatinine"} and set(ntx["specimen"]) == {"urine"}


def test_sample_sheet_without_marker_data_is_skipped_with_a_notice(samples):
    notes = samples.problems[(samples.problems["source_sheet"] == "Notes")]
    assert notes["severity"].tolist() == ["notice"]
    assert notes["reason"].iloc[0].startswith("sheet skipped: no marker column found")
    assert "Notes" not in set(samples.data["source_sheet"])


def test_sample_dates_and_the_ambiguous_one(samples):
    hand = "handtyped_lab_sheet.xlsx"
    assert _one(samples, hand, source_row=8, marker="PINP")["sample_date"] == pd.Timestamp("2026-02-14")
    assert _one(samples, hand, source_row=11, marker="PINP")["sample_date"] == pd.Timestamp("2026-04-18")
    assert pd.isna(_one(samples, hand, source_row=16, marker="PINP")["sample_date"])
    warn = samples.problems[(samples.problems["severity"] == "warning") & samples.problems["reason"].str.startswith("ambiguous date")]
    assert len(warn) == 1
    assert (warn["source_row"].iloc[0], warn["raw_value"].iloc[0]) == (16, "03/04/2026")
    euro = _one(samples, "european_semicolon.csv", source_row=2, marker="PINP")
    assert euro["sample_date"] == pd.Timestamp("2026-01-12")  # 12.01.2026, day first


@pytest.mark.parametrize(("dayfirst", "expected"), [(True, "2026-04-03"), (False, "2026-03-04")], ids=["dayfirst", "monthfirst"])
def test_ambiguous_date_is_settled_by_dayfirst(dayfirst, expected):
    res = read_results(SAMPLES / "handtyped_lab_sheet.xlsx", dayfirst=dayfirst)
    assert _one(res, "handtyped_lab_sheet.xlsx", source_row=16, marker="PINP")["sample_date"] == pd.Timestamp(expected)
    assert _one(res, "handtyped_lab_sheet.xlsx", source_row=8, marker="PINP")["sample_date"] == pd.Timestamp("2026-02-14")
    assert not res.problems["reason"].str.startswith("ambiguous date").any()


# ---------------------------------------------------------------------------------------------
# layouts


def test_header_below_title_lines_blank_rows_and_a_merged_title():
    res = read_results(DATA / "header_row4_merged_title.xlsx")
    assert sorted(set(res.data["source_row"])) == [5, 6, 7]
    assert sorted(set(res.data["subject_id"])) == ["P01", "P02", "P03"]
    assert _one(res, "header_row4_merged_title.xlsx", subject_id="P02", marker="CTX1")["value"] == 505.0
    assert res.layouts[0]["header_row"] == 4
    assert len(res.rejected) == 0


@pytest.mark.parametrize(
    ("header", "name", "unit"),
    [
        ("PINP (ng/mL)", "PINP", "ng/mL"),
        ("CTX [pg/mL]", "CTX", "pg/mL"),
        ("BALP, µg/L", "BALP", "µg/L"),
        ("P1NP ng/ml", "P1NP", "ng/ml"),
        ("Bone ALP (Ostase) (µg/L)", "Bone ALP (Ostase)", "µg/L"),
        ("Bone ALP (Ostase)", "Bone ALP (Ostase)", ""),
        ("TRAP-5b {U/L}", "TRAP-5b", "U/L"),
    ],
    ids=["parentheses", "brackets", "comma", "space", "two_parentheses", "no_unit", "braces"],
)
def test_unit_in_the_header(header, name, unit):
    assert split_header(header) == (name, unit)


def test_units_on_a_second_header_row():
    res = read_results(DATA / "units_second_row.xlsx")
    assert res.layouts[0]["units_row"] == 2
    assert sorted(set(res.data["source_row"])) == [3, 4, 5]
    ctx = _rows(res, "units_second_row.xlsx", marker="CTX1").set_index("subject_id")
    assert ctx["value"].to_dict() == {"A1": pytest.approx(412.0), "A2": pytest.approx(655.0), "A3": pytest.approx(198.0)}
    assert set(ctx["raw_unit"]) == {"ng/mL"}


def test_unit_column_after_each_marker_column_gives_the_unit_per_row():
    res = read_results(DATA / "unit_column.xlsx")
    assert len(res.rejected) == 0
    got = {(r.subject_id, r.marker): (r.value, r.raw_unit) for r in res.data.itertuples()}
    assert got == {
        ("U1", "CTX1"): (pytest.approx(450.0), "ng/mL"),
        ("U2", "CTX1"): (pytest.approx(450.0), "pg/mL"),
        ("U3", "CTX1"): (pytest.approx(380.0), "ng/L"),
        ("U1", "PINP"): (pytest.approx(50.0), "ng/mL"),
        ("U2", "PINP"): (pytest.approx(50.0), "mg/L"),
        ("U3", "PINP"): (pytest.approx(44.4), "µg/L"),
    }
    assert set(res.data["unit"]) == {"ng/L", "µg/L"}


def test_long_lis_layout_with_spelled_out_test_names():
    res = read_results(DATA / "long_lis.csv")
    got = {(r.subject_id, r.marker): (r.value, r.unit) for r in res.data.itertuples()}
    assert got == {
        ("000101", "PINP"): (pytest.approx(45.2), "µg/L"),
        ("000101", "CTX1"): (pytest.approx(412.0), "ng/L"),
        ("000101", "BALP"): (pytest.approx(14.1), "µg/L"),
        ("000101", "NTX"): (pytest.approx(38.0), "nmol BCE/mmol creatinine"),
        ("000102", "PINP"): (pytest.approx(33.0), "µg/L"),
    }
    (rej,) = res.rejected.itertuples()
    assert (rej.source_row, rej.raw_value) == (9, "hemolysed") and "hemolysed" in rej.reason
    f = res.files.iloc[0]
    assert (f.read, f.loaded, f.rejected, f.blank, f.ignored) == (10, 5, 1, 2, 2)
    notice = res.problems[res.problems["reason"].str.contains("not bone markers")]["reason"].iloc[0]
    assert "Calcium (1)" in notice and "Vitamin D (25-OH) (1)" in notice
    # no visit column: the draw date is the timepoint, and the MRN is the subject
    assert set(res.data["timepoint"]) == {"2026-02-03", "2026-02-04"}
    assert set(res.data["sample_time"]) == {"07:45", "08:05"}


def test_one_sheet_per_timepoint_and_a_notes_sheet_skipped():
    res = read_results(DATA / "per_timepoint.xlsx")
    got = {(r.subject_id, r.timepoint, r.marker): r.value for r in res.data.itertuples()}
    assert got == {
        ("R1", "Baseline", "PINP"): 41.0, ("R2", "Baseline", "PINP"): 55.5, ("R1", "Baseline", "CTX1"): 300.0,
        ("R2", "Baseline", "CTX1"): 420.0, ("R1", "Week 12", "PINP"): 47.5, ("R2", "Week 12", "PINP"): 58.0,
        ("R1", "Week 12", "CTX1"): 310.0,
    }
    skipped = res.problems[res.problems["source_sheet"] == "Notes"]
    assert skipped[["severity", "reason"]].values.tolist() == [
        ["notice", "sheet skipped: no marker column found (no header names a bone marker, and no test/result columns)"]
    ]
    assert res.files.iloc[0]["sheets"] == 2


def test_no_visit_column_the_draw_date_is_the_timepoint():
    res = read_results(DATA / "date_timepoint.csv")
    assert sorted(set(res.data["timepoint"])) == ["2026-02-03", "2026-05-05"]
    assert (res.data["timepoint"] == res.data["sample_date"].dt.strftime("%Y-%m-%d")).all()


SYNONYMS = [
    ("P1NP total", "PINP"), ("PINP total", "PINP"), ("total P1NP", "PINP"), ("β-CrossLaps", "CTX1"), ("beta-CrossLaps", "CTX1"),
    ("CTX-1", "CTX1"), ("Bone ALP (Ostase)", "BALP"), ("BAP", "BALP"), ("OC N-MID", "OCN"), ("N-MID Osteocalcin", "OCN"),
    ("uNTx/Cr", "NTX"), ("C-Telopeptide,Serum", "CTX1"), ("PROCOLLAGEN TYPE 1 N-TERMINAL PROPEPTIDE", "PINP"),
    ("TRAP-5b", "TRAP5B"), ("Alkaline Phosphatase", "ALP"), ("Deoxypyridinoline", "DPD"), ("Pyridinoline", "PYD"),
]


@pytest.mark.parametrize(("header", "marker"), SYNONYMS, ids=[s[0] for s in SYNONYMS])
def test_marker_column_named_by_synonym(header, marker):
    hc = classify_header(header)
    assert (hc.role, hc.marker) == ("marker", marker)
    assert match_marker(header).marker == marker


@pytest.mark.parametrize(
    ("header", "specimen", "variant"),
    [("uNTx/Cr", "urine", ""), ("C-Telopeptide,Serum", "serum", ""), ("P1NP total", None, "total"), ("OC N-MID", None, "N-MID")],
    ids=["urine", "serum", "total", "nmid"],
)
def test_synonym_carries_specimen_and_variant(header, specimen, variant):
    m = match_marker(header)
    assert (m.specimen, m.variant) == (specimen, variant)


SUBJECT_COLUMNS = [
    ("Subject", "subject_id"), ("Subject ID", "subject_id"), ("Patient", "subject_id"), ("Patient ID", "subject_id"),
    ("Pat-Nr", "subject_id"), ("Proband", "subject_id"), ("Sample ID", "sample_id"), ("MRN", "mrn"),
    ("Visit", "timepoint"), ("Zeitpunkt", "timepoint"), ("Draw date", "sample_date"), ("Collected", "sample_date"),
    ("Draw time", "sample_time"), ("Sex", "sex"), ("Gender", "sex"), ("Age", "age"), ("Age (years)", "age"),
    ("DOB", "dob"), ("Date of birth", "dob"), ("Group", "group"), ("Arm", "group"), ("Menopausal status", "menopausal_status"),
    ("Fasting", "fasting"), ("eGFR (mL/min/1.73m²)", "egfr"), ("eGFR", "egfr"),
]


@pytest.mark.parametrize(("header", "role"), SUBJECT_COLUMNS, ids=[s[0] for s in SUBJECT_COLUMNS])
def test_subject_column_named_by_synonym(header, role):
    assert classify_header(header).role == role


def test_subject_columns_are_read_and_normalised():
    res = read_results(DATA / "synonyms_wide.xlsx")
    assert len(res.rejected) == 0
    assert sorted(set(res.data["marker"])) == ["BALP", "CTX1", "NTX", "OCN", "PINP"]
    n01 = _one(res, "synonyms_wide.xlsx", subject_id="N01", marker="CTX1")
    assert n01["value"] == pytest.approx(501.0)
    assert (n01["sex"], n01["age"], n01["group"], n01["menopausal_status"], n01["fasting"], n01["egfr"]) == ("F", 65.0, "Impact", "post", "yes", 88.0)
    assert (n01["timepoint"], n01["sample_date"], n01["sample_time"], n01["sample_id"]) == ("Baseline", pd.Timestamp("2026-02-03"), "07:45", "L-1")
    n02 = _one(res, "synonyms_wide.xlsx", subject_id="N02", marker="NTX")
    assert (n02["sex"], n02["age"], n02["fasting"], n02["specimen"]) == ("M", 55.0, "no", "urine")
    assert _one(res, "synonyms_wide.xlsx", subject_id="N01", marker="PINP")["variant"] == "total"


# ---------------------------------------------------------------------------------------------
# mapping files


def test_layout_synonyms_cannot_resolve_needs_a_mapping():
    with pytest.raises(InputFileError, match="no bone marker data found"):
        read_results(DATA / "mapping_german.xlsx")


def test_mapping_resolves_headers_units_and_lod():
    res = read_results(DATA / "mapping_german.xlsx", mapping=load_mapping(GERMAN_MAPPING))
    got = {(r.subject_id, r.timepoint, r.marker): (r.value, r.censored, r.raw_unit) for r in res.data.itertuples()}
    assert got == {
        ("007", "T0", "PINP"): (44.5, "", "µg/L"),
        ("007", "T1", "PINP"): (49.0, "", "µg/L"),
        ("012", "T0", "PINP"): (39.9, "", "µg/L"),
        ("007", "T0", "CTX1"): (pytest.approx(350.0), "", "ng/mL"),
        ("007", "T1", "CTX1"): (pytest.approx(10.0), "<", "ng/mL"),  # <LOD at the mapping's lod 0.01 ng/mL
        ("012", "T0", "CTX1"): (pytest.approx(410.0), "", "ng/mL"),
        ("012", "T1", "CTX1"): (pytest.approx(380.0), "", "ng/mL"),
    }
    (rej,) = res.rejected.itertuples()
    assert (rej.source_row, rej.column, rej.raw_value) == (8, "C (Knochenaufbau)", "n.b.")
    assert sorted(set(res.data["source_row"])) == [5, 6, 7, 8]


def test_lod_from_the_mapping_censors_lod_text():
    m = mapping_from_dict({"sheets": [{"file": "values_wide.xlsx", "lod": {"PINP": 0.5}}]})
    res = read_results(DATA / "values_wide.xlsx", mapping=m)
    r = _one(res, "values_wide.xlsx", raw_value="<LOD")
    assert (r["value"], r["censored"], r["unit"]) == (0.5, "<", "µg/L")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[sheets]]\n[sheets.columns]\n"X" = "vitamin_d"\n', "is neither a marker id"),
        ('[[sheets]]\n[sheets.lod]\nPINP = -1\n', "must be a positive number"),
        ('[[sheets]]\n[sheets.units]\nPINP = "apples"\n', "cannot read unit 'apples'"),
        ('date_order = "dmy"\n', "unknown key(s) date_order"),
        ("[[sheets]\n", "not valid TOML"),
    ],
    ids=["unknown_role", "negative_lod", "bad_unit", "unknown_key", "bad_toml"],
)
def test_bad_mapping_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "map.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MappingError) as exc:
        load_mapping(path)
    assert str(exc.value).startswith(str(path))
    assert message in str(exc.value)


def test_write_mapping_drafts_a_mapping_that_gives_the_same_table(tmp_path, capsys):
    inputs = [str(SAMPLES), str(DATA / "mapping_german.xlsx"), str(DATA / "unit_column.xlsx"), str(DATA / "per_timepoint.xlsx"),
              str(DATA / "long_lis.csv"), str(DATA / "units_second_row.xlsx")]
    draft = tmp_path / "draft.toml"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert main(["import", *inputs, "--mapping", str(GERMAN_MAPPING), "--dayfirst", "-o", str(first), "--write-mapping", str(draft)]) == 0
    text = draft.read_text(encoding="utf-8")
    assert 'file = "mapping_german.xlsx"' in text and "[sheets.lod]" in text and "dayfirst = true" in text
    assert main(["import", *inputs, "--mapping", str(draft), "-o", str(second)]) == 0
    capsys.readouterr()
    a = pd.read_csv(first, dtype=str, keep_default_na=False)
    b = pd.read_csv(second, dtype=str, keep_default_na=False)
    assert len(a) > 2000
    for col in a.columns:
        assert a[col].tolist() == b[col].tolist(), col
    assert (tmp_path / "first.rejected.csv").read_text(encoding="utf-8") == (tmp_path / "second.rejected.csv").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# values


VALUES_WIDE = {  # row label in column C -> (value, censored) when loaded, or the text the reason must contain
    "number": (45.3, ""), "integer": (45.0, ""), "text_number": (52.1, ""), "text_spaces": (48.0, ""),
    "thousands_comma": (1234.5, ""), "thousands_dot_decimal_comma": (1234.5, ""), "thousands_space": (1234.5, ""),
    "lt": (0.01, "<"), "lt_space": (0.01, "<"), "le_sign": (0.01, "<"), "le_ascii": (0.01, "<"),
    "gt": (1500.0, ">"), "ge_sign": (1500.0, ">"), "unit_in_cell": (45.0, ""),
    "blank": None, "spaces_only": None,
    "hemolysed": "hemolysed", "qns": "QNS", "n_a": "n/a", "see_comment": "see comment", "cancelled": "cancelled",
    "lod_no_limit": "no limit is known", "typo": "4o.2", "zero": "zero", "negative": "negative", "excel_error": "#N/A",
}


@pytest.fixture(scope="module")
def values_wide():
    ws = openpyxl.load_workbook(DATA / "values_wide.xlsx")["Values"]
    rows = {ws.cell(r, 3).value: r for r in range(2, ws.max_row + 1)}
    return read_results(DATA / "values_wide.xlsx"), rows


@pytest.mark.parametrize("label", list(VALUES_WIDE), ids=list(VALUES_WIDE))
def test_value_in_a_spreadsheet_cell(values_wide, label):
    res, rows = values_wide
    row = rows[label]
    loaded = _rows(res, "values_wide.xlsx", source_row=row, marker="PINP")
    rejected = res.rejected[res.rejected["source_row"] == row]
    expected = VALUES_WIDE[label]
    if expected is None:  # blank: no row, and not an error
        assert loaded.empty and rejected.empty
    elif isinstance(expected, tuple):
        assert rejected.empty
        (r,) = loaded.itertuples()
        assert (r.value, r.censored, r.unit) == (pytest.approx(expected[0]), expected[1], "µg/L")
    else:
        assert loaded.empty
        (r,) = rejected.itertuples()
        assert expected in r.reason
        assert r.column == "D (PINP (µg/L))"


def test_decimal_comma_and_thousands_in_text():
    res = read_results(DATA / "decimal_comma.csv")
    got = {(r.subject_id, r.marker): (r.value, r.censored) for r in res.data.itertuples()}
    assert got == {
        ("K01", "PINP"): (12.5, ""), ("K02", "PINP"): (1234.5, ""), ("K03", "PINP"): (45.0, ""),
        ("K01", "CTX1"): (pytest.approx(412.0), ""), ("K02", "CTX1"): (pytest.approx(30.0), "<"), ("K03", "CTX1"): (pytest.approx(298.0), ""),
    }


@pytest.mark.parametrize(
    ("name", "ids"),
    [("ids_leading_zero.csv", ["007", "012", "0034"]), ("synonyms_wide.xlsx", ["N01", "N02"])],
    ids=["csv", "xlsx"],
)
def test_subject_ids_stay_text(name, ids):
    res = read_results(DATA / name)
    assert list(dict.fromkeys(res.data["subject_id"])) == ids


DATES = [("D1", "2026-02-03"), ("D2", "2026-02-05"), ("D3", "2026-02-06"), ("D4", "2026-02-14"), ("D5", "2026-02-03")]


@pytest.mark.parametrize(("subject", "date"), DATES, ids=["excel_date", "excel_serial", "iso_text", "dayfirst_text", "dotted_text"])
def test_dates_every_way(subject, date):
    res = read_results(DATA / "dates.xlsx")
    assert _one(res, "dates.xlsx", subject_id=subject)["sample_date"] == pd.Timestamp(date)


@pytest.mark.parametrize(("dayfirst", "expected"), [(None, None), (True, "2026-04-03"), (False, "2026-03-04")], ids=["reported", "dayfirst", "monthfirst"])
def test_ambiguous_date_is_reported_not_guessed(dayfirst, expected):
    res = read_results(DATA / "dates.xlsx", dayfirst=dayfirst)
    d6 = _one(res, "dates.xlsx", subject_id="D6")
    ambiguous = res.problems[res.problems["reason"].str.startswith("ambiguous date '03/04/2026'")]
    if expected is None:
        assert pd.isna(d6["sample_date"])
        assert ambiguous[["severity", "source_row", "column"]].values.tolist() == [["warning", 7, "C (Date)"]]
        assert "--dayfirst" in ambiguous["reason"].iloc[0]
    else:
        assert d6["sample_date"] == pd.Timestamp(expected)
        assert ambiguous.empty
    assert d6["value"] == 45.0  # the result itself is loaded either way


def test_cli_dayfirst(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["import", str(DATA / "dates.xlsx"), "-o", str(out), "--dayfirst"]) == 0
    capsys.readouterr()
    t = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert t.loc[t["subject_id"] == "D6", "sample_date"].tolist() == ["2026-04-03"]


def test_mixed_units_across_files_are_converted_per_row():
    res = read_results([DATA / "sites" / "site_a.csv", DATA / "sites" / "site_b.csv"])
    got = {(r.subject_id, r.raw_unit): r.value for r in res.data.itertuples()}
    assert got == {("A01", "ng/mL"): pytest.approx(450.0), ("A02", "ng/mL"): pytest.approx(301.0),
                   ("B01", "pg/mL"): 450.0, ("B02", "pg/mL"): 301.0}
    assert set(res.data["unit"]) == {"ng/L"}


def test_value_1000x_off_its_unit_is_flagged():
    res = read_results(DATA / "unit_magnitude.csv")
    m1 = _one(res, "unit_magnitude.csv", subject_id="M1")
    m2 = _one(res, "unit_magnitude.csv", subject_id="M2")
    assert m1["value"] == pytest.approx(450000.0)
    assert "UNIT_MAGNITUDE" in m1["flags"].split(";")
    assert "UNIT_MAGNITUDE" not in m2["flags"]
    warn = res.problems[res.problems["severity"] == "warning"]
    assert warn["source_row"].tolist() == [2]
    assert "1000x" in warn["reason"].iloc[0] and "is the unit right?" in warn["reason"].iloc[0]


def test_duplicates_with_different_values_are_warned_and_both_kept():
    res = read_results(DATA / "duplicates.csv")
    q1 = _rows(res, "duplicates.csv", subject_id="Q1")
    assert sorted(q1["value"]) == [45.0, 50.0]
    assert (q1["flags"] == "DUPLICATE").all()
    assert _one(res, "duplicates.csv", subject_id="Q2")["flags"] == ""
    warn = res.problems[res.problems["severity"] == "warning"]
    assert warn["source_row"].tolist() == [2, 3]
    assert all("different values 45, 50" in r and "all kept" in r for r in warn["reason"])


def test_same_results_in_two_files_are_duplicates_with_the_same_value():
    res = read_results([DATA / "wide_basic.xlsx", DATA / "wide_basic.ods"])
    assert len(res.data) == 2 * len(_rows(res, "wide_basic.xlsx"))  # both kept
    assert (res.data["flags"] == "DUPLICATE").all()
    warn = res.problems[res.problems["severity"] == "warning"]
    assert len(warn) == len(res.data)
    first = warn.iloc[0]
    assert (Path(first["source_file"]).name, first["source_row"], first["raw_value"]) == ("wide_basic.xlsx", 2, "45.3")
    assert "subject 'S01', timepoint 'V1', PINP appears 2 times with the same value" in first["reason"]
    assert f"{DATA / 'wide_basic.xlsx'} [Results] row 2; {DATA / 'wide_basic.ods'} [Results] row 2" in first["reason"]
    # reported group by group, in the order the groups first appear
    assert [Path(f).name for f in warn["source_file"][:4]] == ["wide_basic.xlsx", "wide_basic.ods", "wide_basic.xlsx", "wide_basic.ods"]


# ---------------------------------------------------------------------------------------------
# output and the command line


def test_output_columns(samples):
    extra = [c for c in samples.data.columns if c not in TIDY_COLUMNS]
    assert list(samples.data.columns[: len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    assert extra == [c for c in OPTIONAL_COLUMNS if c in extra]
    assert list(samples.rejected.columns) == REJECTED_COLUMNS
    assert list(samples.problems.columns) == PROBLEM_COLUMNS
    assert list(samples.files.columns) == FILE_COLUMNS
    assert samples.data["value"].dtype == np.float64
    assert str(samples.data["source_row"].dtype) == "Int64"
    assert pd.api.types.is_datetime64_any_dtype(samples.data["sample_date"])
    assert samples.data["censored"].isin(["", "<", ">"]).all()


def test_cli_import_writes_tidy_rejected_and_warnings(tmp_path, capsys):
    out = tmp_path / "tidy.csv"
    assert main(["import", str(SAMPLES), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{SAMPLES / 'lis_long_export.csv'}: 145 results read, 142 loaded, 3 rejected, 0 blank" in err
    assert f"{SAMPLES / 'handtyped_lab_sheet.xlsx'}: 45 results read, 41 loaded, 4 rejected, 0 blank" in err
    with open(out, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[: len(TIDY_COLUMNS)] == TIDY_COLUMNS
    rejected = pd.read_csv(tmp_path / "tidy.rejected.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(rejected.columns) == REJECTED_COLUMNS
    assert len(rejected) == len(SAMPLE_REJECTIONS)
    assert (tmp_path / "tidy.warnings.csv").exists()


def test_strict_rejection_raises_and_exits_1(tmp_path, capsys):
    with pytest.raises(StrictModeError, match="4 value"):
        read_results(SAMPLES / "handtyped_lab_sheet.xlsx", strict=True)
    assert main(["import", str(SAMPLES / "handtyped_lab_sheet.xlsx"), "-o", str(tmp_path / "t.csv"), "--strict"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("error: 4 value(s) rejected (--strict)")
    assert "handtyped_lab_sheet.xlsx" in lines[0]
    assert main(["import", str(DATA / "wide_basic.xlsx"), "-o", str(tmp_path / "ok.csv"), "--strict"]) == 0


@pytest.mark.parametrize("name", ["corrupt.xlsx", "encrypted.xlsx", "not_a_spreadsheet.xlsx", "no_marker_column.csv"],
                         ids=["corrupt", "password", "not_a_spreadsheet", "no_marker_column"])
def test_cli_unreadable_file_among_others(tmp_path, capsys, name):
    bad = DATA / "unreadable" / name
    out = tmp_path / "t.csv"
    assert main(["import", str(bad), str(DATA / "wide_basic.xlsx"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    naming = [line for line in err.splitlines() if str(bad) in line]
    assert len(naming) == 1 and naming[0].startswith(f"error: {bad}: ") and naming[0].endswith("(the other files were read)")
    assert "Traceback" not in err
    assert len(pd.read_csv(out)) == 11  # the other file loaded
    assert main(["import", str(bad), str(DATA / "wide_basic.xlsx"), "-o", str(out), "--strict"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in err


@pytest.mark.parametrize("name", ["corrupt.xlsx", "encrypted.xls", "empty.csv", "not_a_spreadsheet.xlsx"],
                         ids=["corrupt", "password", "empty", "not_a_spreadsheet"])
def test_cli_only_file_unreadable_is_one_error_line(tmp_path, capsys, name):
    bad = DATA / "unreadable" / name
    assert main(["import", str(bad), "-o", str(tmp_path / "t.csv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {bad}: ")


def test_many_files_and_folders_at_once():
    res = read_results([SAMPLES, DATA / "sites", DATA / "wide_basic.xlsx"])
    names = [Path(f).name for f in res.files["file"]]
    assert names == sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".csv", ".xlsx")) + ["site_a.csv", "site_b.csv", "wide_basic.xlsx"]
    assert set(res.data["source_file"]) == set(res.files["file"])


def _compare_frames(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col].reset_index(drop=True), b[col].reset_index(drop=True)
        if col in ("value", "age", "egfr"):
            assert np.array_equal(x.to_numpy(float), y.to_numpy(float), equal_nan=True), col
        elif col == "sample_date":
            assert x.equals(y), col
        elif col == "source_row":
            assert x.astype("Int64").equals(y.astype("Int64")), col
        else:
            assert x.astype(str).tolist() == y.astype(str).tolist(), col


def test_tidy_csv_read_back_gives_the_same_table(tmp_path):
    first = read_results([SAMPLES, *[DATA / f for f in READABLE_FIXTURES]])
    assert " 48.0 " in set(first.data["raw_value"])  # whitespace must survive the round trip
    path = tmp_path / "tidy.csv"
    write_csv(first.data, path)
    again = read_results(path)
    assert len(again.rejected) == 0
    _compare_frames(first.data, again.data)


def test_cli_tidy_csv_imported_again_is_the_same_file(tmp_path, capsys):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    assert main(["import", str(SAMPLES), str(DATA / "unit_column.xlsx"), "-o", str(first)]) == 0
    assert main(["import", str(first), "-o", str(second)]) == 0
    capsys.readouterr()
    assert first.read_text(encoding="utf-8-sig") == second.read_text(encoding="utf-8-sig")


def test_text_that_looks_like_a_formula_survives_the_round_trip(tmp_path):
    src = tmp_path / "formula.csv"
    src.write_text("Subject,Visit,PINP (µg/L)\n=cmd,+V1,45\n-S2,@V2,50\n", encoding="utf-8")
    first = read_results(src)
    write_csv(first.data, tmp_path / "tidy.csv")
    assert "'=cmd" in (tmp_path / "tidy.csv").read_text(encoding="utf-8-sig")  # escaped for Excel
    again = read_results(tmp_path / "tidy.csv")
    assert again.data["subject_id"].tolist() == ["=cmd", "-S2"]
    assert again.data["timepoint"].tolist() == ["+V1", "@V2"]


# ---------------------------------------------------------------------------------------------
# counting: every input value ends loaded, rejected, blank or ignored

# file -> sheets of a wide layout: (sheet, first data row, marker column letters, csv encoding, csv delimiter)
WIDE = {
    SAMPLES / "analyser_cobas_export.xlsx": [("Results", 7, "GHI")],
    SAMPLES / "european_semicolon.csv": [("", 2, "GHIJ", "cp1252", ";")],
    SAMPLES / "handtyped_lab_sheet.xlsx": [("Sheet1", 4, "FGH")],
    SAMPLES / "research_timepoints.xlsx": [("Baseline", 2, "FGHI"), ("Week 6", 2, "FGHI"), ("Week 12", 2, "FGHI")],
    SAMPLES / "trial_exercise.xlsx": [("Data", 2, "KLMNO")],
    **{DATA / f"wide_basic.{ext}": [("Results", 2, "GHI")] for ext in ("xlsx", "xlsm", "xls", "ods")},
    DATA / "header_row4_merged_title.xlsx": [("Sheet1", 5, "DEF")],
    DATA / "units_second_row.xlsx": [("Export", 3, "CDE")],
    DATA / "unit_column.xlsx": [("Sheet1", 2, "CE")],
    DATA / "per_timepoint.xlsx": [("Baseline", 2, "CD"), ("Week 12", 2, "CD")],
    DATA / "synonyms_wide.xlsx": [("Data", 2, "MNOPQ")],
    DATA / "values_wide.xlsx": [("Values", 2, "DE")],
    # research layouts (marker x visit columns, two-row headers): only the marker columns count
    DATA / "research" / "visit_suffix.csv": [("", 2, "CDEF")],
    DATA / "research" / "visit_prefix_german.csv": [("", 2, "CDEF", "utf-8", ";")],
    DATA / "research" / "visit_codes.csv": [("", 2, "BCDEFGHI")],
    DATA / "research" / "cohort_codes.csv": [("", 2, "BC")],
    DATA / "research" / "band_visits_over_markers.xlsx": [("Data", 4, "CDEFGH")],
    DATA / "research" / "band_markers_over_visits.xlsx": [("Sheet1", 3, "CDEFGH")],
    DATA / "research" / "band_units_row.xlsx": [("Data", 4, "CDEF")],
    DATA / "dates.xlsx": [("Sheet1", 2, "D")],
    DATA / "uncached_formula.xlsx": [("S", 2, "C")],
    DATA / "mapping_german.xlsx": [("Tabelle1", 5, "CD")],
    DATA / "enc_utf8.csv": [("", 2, "DEF", "utf-8", ",")],
    DATA / "enc_utf8_bom.csv": [("", 2, "DEF", "utf-8-sig", ",")],
    DATA / "enc_utf16_bom.tsv": [("", 2, "DEF", "utf-16", "\t")],
    DATA / "enc_utf16le_nobom.txt": [("", 2, "DEF", "utf-16-le", "\t")],
    DATA / "enc_cp1252_semicolon.csv": [("", 2, "DEF", "cp1252", ";")],
    DATA / "enc_latin1_semicolon.txt": [("", 2, "DEF", "latin-1", ";")],
    DATA / "ids_leading_zero.csv": [("", 2, "C", "utf-8", ",")],
    DATA / "date_timepoint.csv": [("", 2, "CD", "utf-8", ",")],
    DATA / "decimal_comma.csv": [("", 2, "CD", "utf-8", ";")],
    DATA / "unit_magnitude.csv": [("", 2, "C", "utf-8", ",")],
    DATA / "duplicates.csv": [("", 2, "C", "utf-8", ",")],
    DATA / "sites" / "site_a.csv": [("", 2, "C", "utf-8", ",")],
    DATA / "sites" / "site_b.csv": [("", 2, "C", "utf-8", ",")],
}
# file -> long layout: (result column, test name column, tests that are not bone markers)
LONG = {
    SAMPLES / "lis_long_export.csv": ("I", "H", set()),  # total ALP is in the catalog
    DATA / "long_lis.csv": ("D", "C", {"Calcium", "Vitamin D (25-OH)"}),
}


def _col(letter: str) -> int:
    return ord(letter) - ord("A")


def _grid(path: Path, sheet: str, encoding: str = "utf-8", delimiter: str = ",") -> list[list]:
    """The cells of a sheet, read independently of btm (openpyxl, xlrd, odfpy, csv)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        ws = openpyxl.load_workbook(path)[sheet]
        return [[c.value for c in row] for row in ws.iter_rows()]
    if suffix == ".xls":
        import xlrd

        sh = xlrd.open_workbook(str(path)).sheet_by_name(sheet)
        return [sh.row_values(i) for i in range(sh.nrows)]
    if suffix == ".ods":
        df = pd.read_excel(path, sheet_name=sheet, header=None, engine="odf", dtype=object)
        return [[None if (isinstance(v, float) and math.isnan(v)) else v for v in row] for row in df.itertuples(index=False)]
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def _blank(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, float) and math.isnan(v))


def _independent_count(path: Path) -> dict[str, int]:
    """Input values, blank and ignored ones, counted from the file itself."""
    total = blank = ignored = 0
    if path in LONG:
        result, test, others = LONG[path]
        rows = _grid(path, "")[1:]
        for row in rows:
            total += 1
            if _blank(row[_col(result)]):
                blank += 1
            elif row[_col(test)] in others:
                ignored += 1
    else:
        for sheet, first, letters, *text in WIDE[path]:
            rows = _grid(path, sheet, *text)[first - 1 :]
            for row in rows:
                for letter in letters:
                    total += 1
                    j = _col(letter)
                    blank += _blank(row[j] if j < len(row) else None)
    return {"total": total, "blank": blank, "ignored": ignored}


@pytest.mark.parametrize("path", [*WIDE, *LONG], ids=[p.name for p in [*WIDE, *LONG]])
def test_every_input_value_is_accounted_for(path):
    mapping = load_mapping(GERMAN_MAPPING) if path.name == "mapping_german.xlsx" else None
    res = read_results(path, mapping=mapping)
    (f,) = res.files.itertuples()
    expected = _independent_count(path)
    assert expected["total"] > 0
    assert f.loaded + f.rejected + f.blank + f.ignored == expected["total"]
    assert f.read == expected["total"]
    assert f.blank == expected["blank"]
    assert f.ignored == expected["ignored"]
    assert f.loaded == len(res.data)
    assert f.rejected == len(res.rejected)
