"""The Excel report (btm report): sheets, values, formats, safety, reproducibility, figures, LibreOffice.

Reports are built once per module (building takes seconds) and reopened with openpyxl, the way a
reader's spreadsheet program would see them.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from btm.analysis import analyze
from btm.cli import main
from btm.errors import BTMError
from btm.interpret import FLAGS
from btm.io import read_results
from btm.report import SHEETS, write_report
from btm.report.excel import MAX_CELL_CHARS, _text

ROOT = Path(__file__).resolve().parents[1]
TRIAL = ROOT / "sample_data" / "trial_exercise.xlsx"
HANDTYPED = ROOT / "sample_data" / "handtyped_lab_sheet.xlsx"
STAMP = dt.datetime(2026, 1, 31, 9, 0, 0)
OTHER_STAMP = "2026-02-01T10:30:00"
P_FORMAT = '[<0.001]"<0.001";0.000'
PCT_FORMAT = "+0.0;-0.0;0.0"
TABLE_SHEETS = [
    "Results",
    "Balance",
    "Changes",
    "Group statistics",
    "Between groups",
    "Evidence",
    "Recommendations",
    "Rejected",
    "Warnings",
    "Chart data",
    "Figures",
]
INJECTED_ID = '=HYPERLINK("http://x","y")'
INJECTED_COMMENTS = ["+1+1", "-2", "@SUM(A1)", "=1+1"]
#: the import strips leading whitespace, so these are put into the tidy table directly
DIRECT_COMMENTS = ["\t=2+2", "\r@SUM(B1)"]
INJECTED_ARM = "=SUM(1,2) Resistance"


# ---------------------------------------------------------------------------------------------
# builds (module scope)


@pytest.fixture(scope="module")
def trial():
    imported = read_results(TRIAL)
    return imported, analyze(imported.data)


@pytest.fixture(scope="module")
def built(trial, tmp_path_factory):
    """The trial report with figures, by the Python API."""
    imported, a = trial
    d = tmp_path_factory.mktemp("api")
    path = write_report(a, imported, d / "report.xlsx", figures_dir=d / "figures", timestamp=STAMP)
    return path, d / "figures"


@pytest.fixture(scope="module")
def wb(built):
    return openpyxl.load_workbook(built[0])


@pytest.fixture(scope="module")
def plain_pair(trial, tmp_path_factory):
    """The same report without figures: by the API (STAMP) and by the CLI (another timestamp)."""
    imported, a = trial
    d = tmp_path_factory.mktemp("pair")
    api = write_report(a, imported, d / "api.xlsx", timestamp=STAMP)
    cli = d / "cli.xlsx"
    assert main(["report", str(TRIAL), "-o", str(cli), "--timestamp", OTHER_STAMP]) == 0
    return api, cli


@pytest.fixture(scope="module")
def with_rejections(tmp_path_factory):
    imported = read_results([HANDTYPED, TRIAL])
    assert len(imported.rejected) > 0
    path = write_report(
        analyze(imported.data), imported, tmp_path_factory.mktemp("rej") / "report.xlsx", timestamp=STAMP
    )
    return imported, openpyxl.load_workbook(path)


def _write_injection_trial(path: Path) -> None:
    """A small two-arm trial whose text cells look like formulas (always written as text)."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    header = ["Subject ID", "Arm", "Sex", "Age", "Visit", "Draw date", "PINP (µg/L)", "CTX-1 (ng/L)", "Comment"]
    for j, h in enumerate(header):
        ws.write_string(0, j, h)
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    r = 1
    for i in range(12):
        sid = INJECTED_ID if i == 0 else f"S{i:02d}"
        arm = "Control" if i % 2 else INJECTED_ARM
        for k, visit in enumerate(("Baseline", "Week 12")):
            ws.write_string(r, 0, sid)
            ws.write_string(r, 1, arm)
            ws.write_string(r, 2, "F")
            ws.write_number(r, 3, 55 + i)
            ws.write_string(r, 4, visit)
            ws.write_datetime(r, 5, dt.datetime(2026, 1, 5 + i) + dt.timedelta(days=84 * k), date)
            ws.write_number(r, 6, 40.0 + i + 5 * k * (i % 2 == 0))
            ws.write_number(r, 7, 300.0 + 10 * i - 20 * k)
            if i < len(INJECTED_COMMENTS) and k == 0:
                ws.write_string(r, 8, INJECTED_COMMENTS[i])
            r += 1
    wb.close()


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    d = tmp_path_factory.mktemp("inject")
    src = d / "injection_trial.xlsx"
    _write_injection_trial(src)
    imported = read_results(src)
    assert (imported.data["subject_id"] == INJECTED_ID).any()
    data = imported.data.copy()
    data.loc[data.index[-len(DIRECT_COMMENTS) :], "comment"] = DIRECT_COMMENTS
    path = write_report(analyze(data), imported, d / "report.xlsx", timestamp=STAMP)
    return path, openpyxl.load_workbook(path)


# ---------------------------------------------------------------------------------------------
# helpers


def _header(ws, row: int = 1) -> dict[str, int]:
    return {c.value: c.column for c in ws[row] if c.value is not None}


def _find_row(ws, criteria: dict[str, object], header_row: int = 1) -> int:
    cols = _header(ws, header_row)
    for r in range(header_row + 1, ws.max_row + 1):
        if all(ws.cell(r, cols[k]).value == v for k, v in criteria.items()):
            return r
    raise AssertionError(f"no row with {criteria} on {ws.title}")


def _cohort_row(a, group: str, marker: str, to: str = "Week 12"):
    c = a.cohort
    sel = c[
        (c["group"] == group)
        & (c["marker"] == marker)
        & (c["timepoint_from"] == "Baseline")
        & (c["timepoint_to"] == to)
    ]
    assert len(sel) == 1
    return sel.iloc[0]


def _unescape(text: str) -> str:
    """A carriage return is stored as _x000D_ (Excel decodes it; openpyxl does not)."""
    return text.replace("_x000D_", "\r")


def _all_values(path: Path) -> dict[tuple[str, str], object]:
    wb = openpyxl.load_workbook(path)
    return {
        (ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows() for c in row if c.value is not None
    }


# ---------------------------------------------------------------------------------------------
# structure


def test_sheets_in_order(wb):
    assert wb.sheetnames == list(SHEETS)


@pytest.mark.parametrize("name", list(SHEETS), ids=list(SHEETS))
def test_every_sheet_has_frozen_header_and_autofilter(wb, name):
    ws = wb[name]
    assert ws.freeze_panes is not None, f"{name}: no frozen header"
    assert ws.auto_filter.ref, f"{name}: no autofilter"


@pytest.mark.parametrize("name", TABLE_SHEETS, ids=TABLE_SHEETS)
def test_table_sheets_header_in_row_1_and_page_setup(wb, name):
    ws = wb[name]
    assert ws.freeze_panes in ("A2", "B2")
    assert ws.auto_filter.ref.startswith("A1:")
    assert ws.page_setup.orientation == "landscape"
    # one page wide (1 is the OOXML default, so it may be omitted), as many pages tall as needed;
    # the wide data sheets print two pages wide with their first three (id) columns on every page
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    repeat = {"Results": "$A:$C", "Balance": "$A:$C", "Changes": "$A:$C", "Group statistics": "$A:$B", "Between groups": "$A:$B"}
    wide = name in repeat
    assert ws.page_setup.fitToWidth in ((2,) if wide else (None, 1)) and ws.page_setup.fitToHeight == 0
    assert not ws.print_options.gridLines
    if name != "Figures":
        assert ws.print_title_rows == "$1:$1"  # the header repeats on every printed page
    if wide:
        assert ws.print_title_cols == repeat[name]


def test_document_properties(wb):
    import btm

    props = wb.properties
    assert props.title == "Bone turnover marker report"
    assert f"btm {btm.__version__}" in props.description
    assert props.created == STAMP


# ---------------------------------------------------------------------------------------------
# values equal the analysis tables


def _headline_header_row(ws) -> int:
    for r in range(1, ws.max_row + 1):
        if ws.cell(r, 1).value == "arm" and ws.cell(r, 3).value == "marker":
            return r
    raise AssertionError("no headline table on Summary")


def test_summary_headline_equals_cohort_and_between(wb, trial):
    _, a = trial
    ws = wb["Summary"]
    h = _headline_header_row(ws)
    cols = _header(ws, h)
    r = _find_row(ws, {"arm": "Resistance", "marker": "PINP"}, header_row=h)
    co = _cohort_row(a, "Resistance", "PINP")
    assert ws.cell(r, cols["geometric mean % change"]).value == pytest.approx(co["gm_pct_change"], abs=1e-9)
    assert ws.cell(r, cols["95% CI low (%)"]).value == pytest.approx(co["gm_pct_ci_low"], abs=1e-9)
    assert ws.cell(r, cols["p adj"]).value == pytest.approx(co["p_adj"], abs=1e-12)
    b = a.between
    b = b[(b["group"] == "Resistance") & (b["marker"] == "PINP") & (b["timepoint_to"] == "Week 12")].iloc[0]
    assert ws.cell(r, cols["vs control: % difference"]).value == pytest.approx(b["pct_difference"], abs=1e-9)
    assert ws.cell(r, cols["vs control: p adj"]).value == pytest.approx(b["p_adj"], abs=1e-12)
    assert ws.cell(r, cols["to"]).value == "Week 12"
    # the tests are named above the table
    notes = " ".join(str(ws.cell(k, 1).value) for k in range(h - 3, h))
    assert co["test"] in notes and "ANCOVA" in notes
    # control rows have no comparison with control
    rc = _find_row(ws, {"arm": "Control", "marker": "PINP"}, header_row=h)
    assert ws.cell(rc, cols["vs control: % difference"]).value is None


def test_summary_study_at_a_glance(wb, trial):
    imported, a = trial
    ws = wb["Summary"]
    glance = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, 20)}
    assert glance["Subjects"] == a.results["subject_id"].nunique() == 100
    assert glance["Results loaded"] == len(a.results)
    assert glance["Rejected values"] == 0
    assert glance["Baseline"] == "Baseline"
    assert glance["Control arm"] == "Control"
    assert isinstance(ws["B2"].value, dt.datetime) and ws["B2"].value == STAMP


def test_group_statistics_equals_cohort_and_names_tests(wb, trial):
    _, a = trial
    ws = wb["Group statistics"]
    cols = _header(ws)
    r = _find_row(ws, {"arm": "Resistance", "marker": "PINP", "to": "Week 12"})
    co = _cohort_row(a, "Resistance", "PINP")
    assert ws.cell(r, cols["geometric mean % change"]).value == pytest.approx(co["gm_pct_change"], abs=1e-9)
    # stored unrounded (XlsxWriter writes 16 significant digits: the last bit of a double may differ)
    assert ws.cell(r, cols["p"]).value == pytest.approx(co["p"], rel=1e-15, abs=0)
    assert ws.max_row - 1 == len(a.cohort)
    # each p-value beside the name of its test, and p adj beside its adjustment
    assert cols["test"] == cols["p"] - 1 and cols["p adjustment"] == cols["p adj"] + 1
    assert ws.cell(r, cols["test"]).value == "paired t-test on log values"
    ws_b = wb["Between groups"]
    cb = _header(ws_b)
    assert cb["test"] == cb["p"] - 1
    assert ws_b.max_row - 1 == len(a.between)
    tests = {ws_b.cell(k, cb["test"]).value for k in range(2, ws_b.max_row + 1)}
    assert any(t.startswith("ANCOVA") for t in tests) and any(t.startswith("linear mixed model") for t in tests)


def test_results_row_equals_analysis(wb, trial):
    _, a = trial
    ws = wb["Results"]
    cols = _header(ws)
    assert ws.max_row - 1 == len(a.results)
    row = a.results[a.results["flags"] != ""].iloc[0]
    r = _find_row(ws, {"subject": row["subject_id"], "timepoint": row["timepoint"], "marker": row["marker"]})
    assert ws.cell(r, cols["value (canonical unit)"]).value == pytest.approx(row["value"], rel=1e-15)
    assert ws.cell(r, cols["unit"]).value == row["unit"]
    assert ws.cell(r, cols["status vs interval"]).value == row["status"]
    assert ws.cell(r, cols["z (zlog)"]).value == pytest.approx(row["z"], abs=1e-12)
    assert ws.cell(r, cols["flags explained"]).value == row["flag_notes"]
    assert ws.cell(r, cols["source row"]).value == row["source_row"]
    date = ws.cell(r, cols["sample date"])
    assert date.is_date and date.value == row["sample_date"].to_pydatetime() and date.number_format == "yyyy-mm-dd"


def test_units_in_headers(wb):
    assert "value (canonical unit)" in _header(wb["Results"]) and "unit" in _header(wb["Results"])
    assert "% change" in _header(wb["Changes"])
    assert "geometric mean % change" in _header(wb["Group statistics"])


def test_numbers_are_numeric_cells_with_display_formats(wb):
    ws = wb["Results"]
    cols = _header(ws)
    values = [ws.cell(r, cols["value (canonical unit)"]) for r in range(2, ws.max_row + 1)]
    assert all(c.data_type == "n" and isinstance(c.value, int | float) for c in values)
    gs = wb["Group statistics"]
    g = _header(gs)
    p_cells = [gs.cell(r, g["p adj"]) for r in range(2, gs.max_row + 1)]
    assert all(c.data_type == "n" for c in p_cells)
    assert {c.number_format for c in p_cells} == {P_FORMAT}
    assert gs.cell(2, g["geometric mean % change"]).number_format == PCT_FORMAT
    assert gs.cell(2, g["effect size d_z"]).number_format == "0.00"
    # unrounded: some p has more digits than its display
    assert any(len(repr(c.value)) > 8 for c in p_cells)


def test_missing_values_are_blank_cells(wb):
    ws = wb["Results"]
    cols = _header(ws)
    # TRAP5B has no reference interval: blank limits, status and z
    r = _find_row(ws, {"marker": "TRAP5B"})
    for h in ("ref low", "ref high", "z (zlog)", "status vs interval"):
        assert ws.cell(r, cols[h]).value is None


def test_methods_lists_hashes_intervals_rcv_and_glossaries(wb, trial):
    from btm._resources import sha256_of

    ws = wb["Methods"]
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    assert sha256_of(TRIAL) in text
    assert "Vickers & Altman 2001" in text and "d_z" in text and "Holm" in text and "mixed model" in text
    for code in FLAGS:
        assert code in text
    _, a = trial
    assert a.changes.loc[a.changes["rcv_up_pct"].notna(), "rcv_source"].iloc[0] in text
    for source in a.results["ref_source"].dropna().unique():
        if source:
            assert source in text
    assert "Column glossary" in text and "value (canonical unit)" in text


def test_evidence_and_recommendations(wb, trial):
    from btm.evidence import recommendations

    _, a = trial
    ev = wb["Evidence"]
    assert ev.max_row - 1 == len(a.evidence)
    cols = _header(ev)
    r = _find_row(ev, {"arm": "Resistance", "marker": "OCN"})
    assert ev.cell(r, cols["verdict"]).value == "consistent"
    assert wb["Recommendations"].max_row - 1 == len(recommendations())


# ---------------------------------------------------------------------------------------------
# conditional formats and charts


def _cf_rules(ws) -> list[tuple[str, str]]:
    return [
        (str(cf.sqref), " ".join(f for rule in cf.rules for f in (rule.formula or [])))
        for cf in ws.conditional_formatting
    ]


def test_conditional_formats_on_status_and_direction(wb):
    ws = wb["Results"]
    letter = openpyxl.utils.get_column_letter(_header(ws)["status vs interval"])
    rules = _cf_rules(ws)
    assert any(ref.startswith(f"{letter}2:") and '"high"' in f for ref, f in rules)
    assert any(ref.startswith(f"{letter}2:") and '"low"' in f for ref, f in rules)
    ws = wb["Changes"]
    letter = openpyxl.utils.get_column_letter(_header(ws)["direction (RCV verdict)"])
    rules = _cf_rules(ws)
    assert any(ref.startswith(f"{letter}2:") and '"increase"' in f for ref, f in rules)
    assert any(ref.startswith(f"{letter}2:") and '"decrease"' in f for ref, f in rules)


def test_native_charts_on_summary_read_chart_data(wb, built):
    ws = wb["Summary"]
    assert len(ws._charts) == 5 + 1  # one per marker and the balance index
    with zipfile.ZipFile(built[0]) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) == 6
    assert sum("<c:errBars>" in c and "'Chart data'!" in c for c in charts) == 5
    cd = wb["Chart data"]
    cols = _header(cd)
    r = _find_row(cd, {"marker": "PINP", "arm": "Resistance"})
    pct = cd.cell(r, cols["geometric mean % change"]).value
    assert cd.cell(r, cols["error bar plus (%)"]).value == pytest.approx(
        cd.cell(r, cols["95% CI high (%)"]).value - pct
    )


# ---------------------------------------------------------------------------------------------
# rejected values


def test_rejected_sheet_says_none(wb):
    ws = wb["Rejected"]
    assert ws["A2"].value == "none" and ws.max_row == 2


def test_rejected_sheet_lists_every_rejected_value(with_rejections):
    imported, wb = with_rejections
    ws = wb["Rejected"]
    cols = _header(ws)
    assert ws.max_row - 1 == len(imported.rejected)
    raw = {ws.cell(r, cols["raw text"]).value for r in range(2, ws.max_row + 1)}
    assert {"4o.2", "n/a", "see comment"} <= raw
    r = _find_row(ws, {"raw text": "4o.2"})
    assert ws.cell(r, cols["source row"]).value == 13 and ws.cell(r, cols["source file"]).value.endswith(
        "handtyped_lab_sheet.xlsx"
    )
    assert "not a number" in ws.cell(r, cols["reason"]).value
    warnings = wb["Warnings"]
    text = " ".join(str(c.value) for row in warnings.iter_rows() for c in row if c.value)
    assert "ambiguous date" in text
    glance = {wb["Summary"].cell(r, 1).value: wb["Summary"].cell(r, 2).value for r in range(1, 20)}
    assert glance["Rejected values"] == len(imported.rejected)


# ---------------------------------------------------------------------------------------------
# safety: text from the data never becomes a formula


def test_no_formula_anywhere_in_the_workbook(injected, wb):
    for book in (injected[1], wb):
        formulas = [
            f"{ws.title}!{c.coordinate}" for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"
        ]
        assert formulas == []
    with zipfile.ZipFile(injected[0]) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = z.read(name).decode()
                assert "<f>" not in xml and "<f " not in xml, name


def test_formula_like_text_stays_text(injected):
    _, wb = injected
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    for text in [INJECTED_ID, INJECTED_ARM, *INJECTED_COMMENTS, *DIRECT_COMMENTS]:
        hits = [c for c in cells if isinstance(c.value, str) and _unescape(c.value) == text]
        assert hits, f"{text!r} not in the report"
        assert all(c.data_type == "s" for c in hits), text
    ws = wb["Results"]
    cols = _header(ws)
    assert "comment" in cols
    comments = {_unescape(str(ws.cell(r, cols["comment"]).value)) for r in range(2, ws.max_row + 1)}
    assert comments >= {*INJECTED_COMMENTS, *DIRECT_COMMENTS}


def test_long_text_is_cut_with_a_marker():
    long = "x" * (MAX_CELL_CHARS + 10)
    cut = _text(long)
    assert len(cut) == MAX_CELL_CHARS and cut.endswith("characters in all]") and "32,777" in cut
    assert _text("short") == "short"


# ---------------------------------------------------------------------------------------------
# reproducibility


def test_same_timestamp_gives_identical_bytes(built, trial, tmp_path):
    imported, a = trial
    again = write_report(a, imported, tmp_path / "again.xlsx", figures_dir=tmp_path / "figs", timestamp=STAMP)
    assert again.read_bytes() == built[0].read_bytes()
    first = sorted(built[1].glob("*.png"))
    assert [p.name for p in first] == sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    for p in first:
        assert p.read_bytes() == (tmp_path / "figs" / p.name).read_bytes(), p.name


def test_other_timestamp_changes_only_the_timestamp_cells(plain_pair):
    api, cli = plain_pair
    va, vc = _all_values(api), _all_values(cli)
    assert va.keys() == vc.keys()
    differ = {k for k in va if va[k] != vc[k]}
    assert differ == {("Summary", "B2"), ("Methods", "B3")}
    assert va[("Summary", "B2")] == STAMP and vc[("Summary", "B2")] == dt.datetime.fromisoformat(OTHER_STAMP)
    assert va[("Methods", "A3")] == "generated"


# ---------------------------------------------------------------------------------------------
# figures


def test_figures_written_and_embedded(built, wb):
    pngs = sorted(built[1].glob("*.png"))
    assert len(pngs) == 2 * 5
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000 for p in pngs)
    assert len(wb["Figures"]._images) == len(pngs)
    ws = wb["Figures"]
    assert {ws.cell(r, 4).value for r in range(2, len(pngs) + 2)} == {p.name for p in pngs}


def test_figures_without_matplotlib_say_how_to_install(trial, tmp_path, monkeypatch):
    _, a = trial
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(BTMError, match=r"pip install 'btm\[figures\]'"):
        write_report(a, None, tmp_path / "r.xlsx", figures_dir=tmp_path / "f", timestamp=STAMP)


# ---------------------------------------------------------------------------------------------
# other inputs


def test_no_control_arm(trial, tmp_path):
    imported, _ = trial
    data = imported.data.copy()
    data["group"] = data["group"].replace({"Control": "Arm X"})
    a = analyze(data)
    assert a.control is None
    wb = openpyxl.load_workbook(write_report(a, imported, tmp_path / "r.xlsx", timestamp=STAMP))
    assert wb["Between groups"]["A2"].value.startswith("none")
    ws = wb["Summary"]
    h = _headline_header_row(ws)
    r = _find_row(ws, {"arm": "Resistance", "marker": "PINP"}, header_row=h)
    assert ws.cell(r, _header(ws, h)["vs control: % difference"]).value is None
    assert len(ws._charts) == 6


def test_cli_report_defaults(plain_pair):
    _, cli = plain_pair
    wb = openpyxl.load_workbook(cli)
    assert wb.sheetnames == [n for n in SHEETS if n != "Figures"]
    assert wb["Summary"]["A1"].value == "Bone turnover marker report"


# ---------------------------------------------------------------------------------------------
# LibreOffice opens it


@pytest.mark.skipif(
    shutil.which("soffice") is None and shutil.which("libreoffice") is None, reason="LibreOffice not installed"
)
def test_libreoffice_converts_the_report_to_pdf(plain_pair, tmp_path):
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    src = plain_pair[0]
    profile = (tmp_path / "lo_profile").as_uri()  # a private profile: no clash with a running LibreOffice
    subprocess.run(
        [
            exe,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(src),
        ],
        check=True,
        timeout=180,
        capture_output=True,
    )
    pdf = tmp_path / (src.stem + ".pdf")
    assert pdf.exists()
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 50_000
