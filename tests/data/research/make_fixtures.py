#!/usr/bin/env python
"""Rebuild the research-layout fixtures (small, exact values; run from anywhere)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).parent


def _book(name: str) -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(str(HERE / name))
    wb.set_properties({"created": dt.datetime(2026, 1, 1)})
    return wb


def suffix_csv() -> None:
    (HERE / "visit_suffix.csv").write_text(
        "ID,Group,P1NP_pre (ng/mL),P1NP_post (ng/mL),CTX pre (ng/mL),CTX post (ng/mL),P1NP % change,CTX post/pre,Notes\n"
        "S01,Tai Chi,41.2,48.9,0.412,0.350,18.7,0.85,\n"
        "S02,Tai Chi,55.0,60.1,0.380,0.301,9.3,0.79,late draw\n"
        "S03,Control,38.5,37.9,0.295,0.310,-1.6,1.05,\n"
        "S04,Control,47.1,45.0,0.520,0.498,-4.5,0.96,\n",
        encoding="utf-8",
    )


def prefix_languages_csv() -> None:
    (HERE / "visit_prefix_german.csv").write_text(
        "Patient;Gruppe;vor P1NP [µg/l];nach P1NP [µg/l];vor Beta-CrossLaps [ng/ml];nach Beta-CrossLaps [ng/ml];CTX-II vor;Δ P1NP\n"
        "P1;Kraft;40,1;52,3;0,45;0,40;210;12,2\n"
        "P2;Kraft;61,0;70,2;0,52;0,47;180;9,2\n",
        encoding="utf-8",
    )


def many_visits_csv() -> None:
    (HERE / "visit_codes.csv").write_text(
        "Subject,PINP_T0,PINP_T1,PINP_T2,BALP V1 (µg/L),BALP V2 (µg/L),BALP V3 (µg/L),wk0 OCN,wk12 OCN\n"
        "A,40,44,50,12.0,12.5,13.1,20,22\n"
        "B,35,33,39,10.0,10.4,11.0,18,17\n",
        encoding="utf-8",
    )


def oai_csv() -> None:
    (HERE / "cohort_codes.csv").write_text(
        "ID,V00Serum_CTXI_NUM,V01Serum_CTXI_NUM,V00Urine_CTXII_NUMCA,V01Urine_CTXII_NUMCA\n"
        "9000001,0.321,0.298,250,260\n"
        "9000002,0.455,0.470,310,305\n",
        encoding="utf-8",
    )


def visits_over_markers() -> None:
    wb = _book("band_visits_over_markers.xlsx")
    ws = wb.add_worksheet("Data")
    ws.write(0, 0, "Exercise trial: bone markers")
    ws.merge_range(1, 0, 2, 0, "ID")  # the id header spans both header rows
    ws.write(2, 1, "Group")
    ws.merge_range(1, 2, 1, 4, "Baseline")
    ws.merge_range(1, 5, 1, 7, "After 16 weeks")
    for j, h in enumerate(["PINP (µg/L)", "CTX (ng/mL)", "BALP (µg/L)"] * 2):
        ws.write(2, 2 + j, h)
    ws.write(2, 8, "PINP change (%)")
    data = [
        ["S1", "Impact", 45.0, 0.40, 14.0, 52.0, 0.36, 15.5, 15.6],
        ["S2", "Impact", 38.0, 0.31, 11.0, 41.0, 0.30, 11.8, 7.9],
        ["S3", "Control", 50.0, 0.55, 16.0, 49.0, 0.57, 15.9, -2.0],
    ]
    for i, row in enumerate(data):
        ws.write_row(3 + i, 0, row)
    wb.close()


def markers_over_visits() -> None:
    wb = _book("band_markers_over_visits.xlsx")
    ws = wb.add_worksheet("Sheet1")
    ws.write(0, 0, "Subject")
    ws.write(0, 1, "Arm")
    ws.merge_range(0, 2, 0, 4, "P1NP (ng/mL)")
    ws.merge_range(0, 5, 0, 7, "β-CTX (pg/mL)")
    for j, h in enumerate(["Baseline", "Week 6", "Week 12"] * 2):
        ws.write(1, 2 + j, h)
    data = [
        ["K01", "Resistance", 44.0, 47.5, 53.0, 410.0, 380.0, 350.0],
        ["K02", "Resistance", 39.0, 40.0, 46.0, 300.0, 310.0, 280.0],
        ["K03", "Control", 51.0, 50.0, 52.0, 500.0, 520.0, 505.0],
    ]
    for i, row in enumerate(data):
        ws.write_row(2 + i, 0, row)
    wb.close()


def band_with_units_row() -> None:
    wb = _book("band_units_row.xlsx")
    ws = wb.add_worksheet("Data")
    ws.write(0, 2, "pre")  # repeated band cells, no merge
    ws.write(0, 3, "pre")
    ws.write(0, 4, "post")
    ws.write(0, 5, "post")
    ws.write_row(1, 0, ["Participant", "Sex", "PINP", "CTX", "PINP", "CTX"])
    ws.write_row(2, 0, ["", "", "µg/L", "ng/L", "µg/L", "ng/L"])
    ws.write_row(3, 0, ["P01", 2, 30.0, 300.0, 36.0, 270.0])
    ws.write_row(4, 0, ["P02", 1, 42.0, 410.0, 41.0, 400.0])
    wb.close()


def wide_visits_teaching() -> None:
    (HERE / "unreadable").mkdir(exist_ok=True)  # unreadable without its mapping
    # one marker per sheet, one column per visit (months), no id column: a teaching data set
    (HERE / "unreadable" / "teaching_months.csv").write_text(
        "sex,arm,0,3,6,12,24\n"
        "1,1,52.1,48.0,45.2,44.0,47.9\n"
        "2,1,40.3,37.7,36.0,35.1,38.8\n"
        "2,2,45.0,45.9,44.1,46.2,45.3\n"
        "1,2,60.2,58.8,61.0,59.4,60.0\n",
        encoding="utf-8",
    )
    (HERE / "unreadable" / "teaching_months.toml").write_text(
        '# the documentation says: PINP in µg/L, visits in months, sex 1 = male 2 = female, arm 1 = exercise 2 = control\n'
        '[[sheets]]\nfile = "teaching_months.csv"\nlayout = "wide_visits"\nmarker = "PINP"\nunit = "µg/L"\nid = "row"\n\n'
        '[sheets.values]\nsex = { 1 = "M", 2 = "F" }\narm = { 1 = "Exercise", 2 = "Control" }\n\n'
        '[sheets.columns]\narm = "group"\n',
        encoding="utf-8",
    )


if __name__ == "__main__":
    suffix_csv()
    prefix_languages_csv()
    many_visits_csv()
    oai_csv()
    visits_over_markers()
    markers_over_visits()
    band_with_units_row()
    wide_visits_teaching()
