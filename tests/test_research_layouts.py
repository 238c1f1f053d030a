"""Research spreadsheets: marker × visit columns, two-row headers, wide_visits mappings, drafts,
and `btm analyze` pairing every subject's baseline with every follow-up (fixtures:
tests/data/research/, rebuilt by make_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from btm.analysis import analyze
from btm.cli import main
from btm.errors import MappingError
from btm.io import read_results
from btm.io.layout import classify_header
from btm.io.mapping import load_mapping, mapping_from_dict

D = Path(__file__).parent / "data" / "research"


def _values(res, subject, marker, timepoint):
    d = res.data
    sel = d[(d.subject_id == subject) & (d.marker == marker) & (d.timepoint == timepoint)]
    return sel["value"].tolist()


def test_issue_example_suffix_visits_and_derived_columns():
    res = read_results(D / "visit_suffix.csv")
    assert len(res.data) == 16 and len(res.rejected) == 0
    assert _values(res, "S01", "PINP", "pre") == [41.2]
    assert _values(res, "S01", "PINP", "post") == [48.9]
    assert _values(res, "S02", "CTX1", "pre") == [380.0]  # 0.380 ng/mL -> ng/L
    assert _values(res, "S04", "CTX1", "post") == [498.0]
    assert not res.data["flags"].str.contains("DUPLICATE").any()
    notes = " ".join(res.problems["reason"])
    assert "2 derived column(s) ignored" in notes and "'P1NP % change'" in notes and "'CTX post/pre'" in notes
    assert [u[0] for u in res.layouts[0]["unused"]] == ["P1NP % change", "CTX post/pre"]


def test_german_prefix_visits_lookalike_and_delta():
    res = read_results(D / "visit_prefix_german.csv")
    assert _values(res, "P1", "PINP", "pre") == [40.1]
    assert _values(res, "P2", "CTX1", "post") == [470.0]
    assert set(res.data["marker"]) == {"PINP", "CTX1"}  # CTX-II vor is never CTX-I
    reasons = " ".join(res.problems["reason"])
    assert "'CTX-II vor' not used: it names CTX-II" in reasons
    assert "'Δ P1NP'" in reasons


def test_visit_codes_order_and_missing_units_are_rejected_not_guessed():
    res = read_results(D / "visit_codes.csv")
    assert sorted(set(res.data["timepoint"])) == ["visit 1", "visit 2", "visit 3"]
    assert _values(res, "B", "BALP", "visit 3") == [11.0]
    rej = res.rejected
    assert len(rej) == 10 and rej["reason"].str.startswith("no unit for").all()
    # a unit from the mapping, by marker id, reads them
    m = mapping_from_dict({"sheets": [{"file": "visit_codes.csv", "units": {"PINP": "µg/L", "OCN": "ng/mL"}}]})
    res = read_results(D / "visit_codes.csv", mapping=m)
    assert len(res.rejected) == 0
    assert _values(res, "A", "PINP", "T2") == [50.0]
    assert _values(res, "B", "OCN", "week 12") == [17.0]


def test_cohort_codes_visit_prefix_and_cartilage_lookalike():
    m = mapping_from_dict({"sheets": [{"units": {"CTX1": "ng/mL"}}]})
    res = read_results(D / "cohort_codes.csv", mapping=m)
    assert sorted(set(res.data["timepoint"])) == ["visit 0", "visit 1"]
    assert set(res.data["marker"]) == {"CTX1"}
    assert set(res.data["specimen"]) == {"serum"}
    assert _values(res, "9000002", "CTX1", "visit 1") == [470.0]
    assert len(res.data) == 4


def test_band_of_visits_over_markers():
    res = read_results(D / "band_visits_over_markers.xlsx")
    assert len(res.data) == 18 and len(res.rejected) == 0
    assert _values(res, "S1", "PINP", "baseline") == [45.0]
    assert _values(res, "S1", "PINP", "week 16") == [52.0]
    assert _values(res, "S3", "CTX1", "week 16") == [570.0]
    assert _values(res, "S2", "BALP", "baseline") == [11.0]
    assert set(res.data["group"]) == {"Impact", "Control"}
    assert res.data["source_column"].iloc[0] == "C (Baseline · PINP (µg/L))"


def test_band_of_markers_over_visits():
    res = read_results(D / "band_markers_over_visits.xlsx")
    assert len(res.data) == 18 and len(res.rejected) == 0
    assert _values(res, "K01", "PINP", "week 6") == [47.5]
    assert _values(res, "K02", "CTX1", "week 12") == [280.0]  # pg/mL = ng/L


def test_repeated_band_cells_with_units_row_and_sex_codes():
    res = read_results(D / "band_units_row.xlsx")
    assert _values(res, "P01", "CTX1", "post") == [270.0]
    assert _values(res, "P02", "PINP", "pre") == [42.0]
    m = mapping_from_dict({"sheets": [{"values": {"sex": {"1": "M", "2": "F"}}}]})
    res = read_results(D / "band_units_row.xlsx", mapping=m)
    assert dict(zip(res.data.subject_id, res.data.sex, strict=True)) == {"P01": "F", "P02": "M"}
    assert not (res.problems["severity"] == "warning").any()


def test_wide_visits_mapping_ids_from_rows_and_codes():
    m = load_mapping(D / "unreadable/teaching_months.toml")
    res = read_results(D / "unreadable/teaching_months.csv", mapping=m)
    assert len(res.data) == 20 and len(res.rejected) == 0
    assert sorted(set(res.data.subject_id)) == ["row 2", "row 3", "row 4", "row 5"]
    assert _values(res, "row 3", "PINP", "6") == [36.0]
    first = res.data[res.data.subject_id == "row 2"].iloc[0]
    assert (first.sex, first.group) == ("M", "Exercise")
    assert "Excel row numbers" in " ".join(res.problems["reason"])


def test_wide_visits_needs_a_marker():
    with pytest.raises(MappingError, match="needs marker"):
        mapping_from_dict({"sheets": [{"layout": "wide_visits"}]})
    with pytest.raises(MappingError, match="not a marker"):
        mapping_from_dict({"sheets": [{"layout": "wide_visits", "marker": "CTX-II"}]})


def test_unit_alias_from_the_mapping(tmp_path):
    f = tmp_path / "alias.csv"
    f.write_text("ID,ALP pre (Einh./l),ALP post (Einh./l)\nA,70,75\n", encoding="utf-8")
    assert len(read_results(f).rejected) == 2
    m = mapping_from_dict({"unit_aliases": {"Einh./l": "U/L"}, "sheets": [{}]})
    res = read_results(f, mapping=m)
    assert len(res.rejected) == 0 and _values(res, "A", "ALP", "post") == [75.0]
    with pytest.raises(MappingError):
        mapping_from_dict({"unit_aliases": {"x": "furlongs"}})


@pytest.mark.parametrize(
    ("fixture", "mapping", "pairs"),
    [
        ("visit_suffix.csv", None, {("pre", "post"): 8}),  # 4 subjects x 2 markers
        ("band_visits_over_markers.xlsx", None, {("baseline", "week 16"): 9}),
        ("band_markers_over_visits.xlsx", None, {("baseline", "week 6"): 6, ("baseline", "week 12"): 6}),
        ("unreadable/teaching_months.csv", "unreadable/teaching_months.toml", {("0", t): 4 for t in ("3", "6", "12", "24")}),
    ],
)
def test_analyze_pairs_every_baseline_with_every_followup(fixture, mapping, pairs):
    m = load_mapping(D / mapping) if mapping else None
    res = read_results(D / fixture, mapping=m)
    a = analyze(res.data)
    ch = a.changes
    got = ch.groupby(["timepoint_from", "timepoint_to"]).size().to_dict()
    assert got == pairs
    # each pair is the same subject's own values
    for r in ch.itertuples():
        assert _values(res, r.subject_id, r.marker, r.timepoint_from) == [r.value_from]
        assert _values(res, r.subject_id, r.marker, r.timepoint_to) == [r.value_to]


def test_cli_analyze_on_a_research_layout(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["analyze", str(D / "band_visits_over_markers.xlsx"), "-o", str(out)]) == 0
    ch = pd.read_csv(out / "changes.csv")
    assert len(ch) == 9 and set(ch["timepoint_to"]) == {"week 16"}
    s1 = ch[(ch.subject_id == "S1") & (ch.marker == "PINP")].iloc[0]
    assert (s1.value_from, s1.value_to) == (45.0, 52.0)
    assert s1.change_pct == pytest.approx((52 / 45 - 1) * 100)
    err = capsys.readouterr().err
    assert "1 column(s) not used" in err and "PINP change (%)" in err


def test_write_mapping_drafts_when_nothing_can_be_read(tmp_path, capsys):
    draft = tmp_path / "m.toml"
    rc = main(["import", str(D / "unreadable/teaching_months.csv"), "-o", str(tmp_path / "t.csv"), "--write-mapping", str(draft)])
    assert rc == 1
    text = draft.read_text(encoding="utf-8")
    assert 'layout = "wide_visits"' in text and 'marker = ""' in text and 'id = "row"' in text
    assert '"arm" = "group"' in text and '# "12": a visit' in text
    assert "wrote mapping draft" in capsys.readouterr().err
    # fill the blanks: the draft then reads the sheet
    filled = text.replace('marker = ""', 'marker = "PINP"').replace('# unit = ""', 'unit = "µg/L"  #')
    draft.write_text(filled, encoding="utf-8")
    res = read_results(D / "unreadable/teaching_months.csv", mapping=load_mapping(draft))
    assert len(res.data) == 20 and len(res.rejected) == 0


def test_write_mapping_round_trip_keeps_visits(tmp_path):
    draft = tmp_path / "m.toml"
    for fixture in ("visit_suffix.csv", "band_visits_over_markers.xlsx", "band_markers_over_visits.xlsx"):
        assert main(["import", str(D / fixture), "-o", str(tmp_path / "t.csv"), "--write-mapping", str(draft)]) == 0
        again = read_results(D / fixture, mapping=load_mapping(draft))
        first = read_results(D / fixture)
        cols = ["subject_id", "timepoint", "marker", "value", "unit"]
        pd.testing.assert_frame_equal(again.data[cols], first.data[cols])


def test_unknown_column_gets_candidates(tmp_path):
    from btm.io.draft import candidates

    assert candidates("PNP pre") == ["PINP"]
    assert "OCN" in candidates("Osteocalcn")


@pytest.mark.parametrize(
    ("header", "role", "marker", "timepoint"),
    [
        ("V00Serum_CTXI_NUM", "marker", "CTX1", "visit 0"),
        ("V03Serum_NTXI_NUM", "marker", "NTX", "visit 3"),
        ("V00Urine_CTXII_NUMCA", "lookalike", "", None),
        ("P1NP_W12 (µg/L)", "marker", "PINP", "week 12"),
        ("CTX 30min", "marker", "CTX1", "minute 30"),
        ("PINP 1h post", "marker", "PINP", "hour 1"),
        ("PINP T1-T0", "derived", "", None),
        ("PINP/CTX", "derived", "", None),
        ("log CTX", "derived", "", None),
        ("Mean age", "", "", None),
        ("OC N-MID", "marker", "OCN", None),
        ("ucOC pre", "lookalike", "", None),
        ("PICP post", "lookalike", "", None),
    ],
)
def test_classify_research_headers(header, role, marker, timepoint):
    hc = classify_header(header)
    assert (hc.role, hc.marker, hc.timepoint) == (role, marker, timepoint)
