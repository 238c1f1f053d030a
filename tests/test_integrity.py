"""Issue #10, integrity: no value altered, nothing dropped unseen, no user file overwritten or
half-written. One section per class of the issue; the fixtures are tests/data/integrity/ (rebuilt
byte for byte by make_integrity.py), plus files written here at test time.

Conservation (tests/conservation.py) is checked for every readable fixture and sample file and for
generated workbooks: the non-empty cells of the value columns, read by openpyxl, xlrd, odfpy or
the csv module, are exactly the cells loaded or rejected (or ignored as tests that are no bone
markers).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import importlib.util
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conservation import blank, cells_of, check_conservation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from btm.analysis import AnalysisOptions, analyze
from btm.cli import ANALYSIS_FILES, main
from btm.errors import BTMError, InputFileError, MappingError
from btm.io import load_mapping, read_results
from btm.io.mapping import mapping_from_dict
from btm.io.readers import SPREADSHEET_SUFFIXES, iter_spreadsheets, read_file
from btm.io.write import csv_text, escape_texts, unescape_texts, write_csv

TESTS = Path(__file__).parent
DATA = TESTS / "data"
HERE = DATA / "integrity"
SAMPLES = TESTS.parent / "sample_data"
GERMAN_MAPPING = DATA / "mapping_german.toml"

_spec = importlib.util.spec_from_file_location("make_integrity", HERE / "make_integrity.py")
make_integrity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_integrity)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err and "internal error" not in cap.err, cap.err
    return rc, cap.out, cap.err


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def _btm(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "btm", *argv], capture_output=True, text=True, timeout=120, **kw)


def test_the_fixtures_are_rebuilt_byte_for_byte(tmp_path, monkeypatch):
    monkeypatch.setattr(make_integrity, "HERE", tmp_path)
    make_integrity.main()
    made = {p.name for p in tmp_path.iterdir()}
    kept = {p.name for p in HERE.iterdir() if p.suffix != ".py"}
    assert made == kept
    for name in made:
        assert (tmp_path / name).read_bytes() == (HERE / name).read_bytes(), name


# ---------------------------------------------------------------------------------------------
# conservation, everywhere


def _readable_files() -> list[Path]:
    found = sorted(p for d in (SAMPLES, DATA) for p in d.rglob("*") if p.suffix.lower() in SPREADSHEET_SUFFIXES)
    return [p for p in found if "unreadable" not in p.parts]


@pytest.mark.parametrize("path", _readable_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_conservation_in_every_fixture_and_sample_file(path):
    mapping = load_mapping(GERMAN_MAPPING) if path.name == "mapping_german.xlsx" else None
    try:
        res = read_results(path, mapping=mapping)
    except BTMError:
        pytest.skip("not readable (its refusal is tested where the file is)")
    if res.files["status"].iloc[0] != "ok":
        pytest.skip("not readable (its refusal is tested where the file is)")
    census = check_conservation(path, res)
    assert census.cells >= census.values


def test_conservation_covers_most_files():
    checked = 0
    for path in _readable_files():
        mapping = load_mapping(GERMAN_MAPPING) if path.name == "mapping_german.xlsx" else None
        try:
            res = read_results(path, mapping=mapping)
        except BTMError:
            continue
        checked += res.files["status"].iloc[0] == "ok"
    assert checked >= 70  # every sample file and readable fixture (72 when this was written)


# cells in the spellings a reader must take: (XML of the cell at {ref}, what btm must make of it)
SPELLINGS = {
    "number": ('<c r="{ref}"><v>{x}</v></c>', "value"),
    "number_charref": ('<c r="{ref}"><v>{head}&#{code};</v></c>', "value"),
    "number_cdata": ('<c r="{ref}"><v><![CDATA[{x}]]></v></c>', "value"),
    "number_comment": ('<c r="{ref}"><v>{head}<!-- x -->{tail}</v></c>', "value"),
    "number_lower_ref": ('<c r="{lref}"><v>{x}</v></c>', "value"),
    "number_single_quotes": ("<c r = '{ref}' ><v>{x}</v></c>", "value"),
    "inline_text_number": ('<c r="{ref}" t="inlineStr"><is><t>{x}</t></is></c>', "value"),
    "error_double": ('<c r="{ref}" t="e"><v>#DIV/0!</v></c>', "rejected"),
    "error_single_spaced": ("<c r='{ref}' t = 'e' ><v>#N/A</v></c>", "rejected"),
    "formula_uncached": ('<c r="{ref}"><f>A1*2</f></c>', "rejected"),
    "formula_empty_v": ('<c r="{ref}"><f>A1*2</f><v></v></c>', "rejected"),
    "junk_text": ('<c r="{ref}" t="inlineStr"><is><t>hemolysed</t></is></c>', "rejected"),
    "empty": ("", "blank"),
}


@st.composite
def hostile_sheets(draw):
    n = draw(st.integers(1, 8))
    rless = draw(st.booleans())  # every cell of a row without its reference (placed after the one before)
    kinds = [[draw(st.sampled_from(sorted(SPELLINGS))) for _ in range(2)] for _ in range(n)]
    values = [[draw(st.integers(10, 99999)) for _ in range(2)] for _ in range(n)]
    return rless, kinds, values


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheet=hostile_sheets())
def test_conservation_in_generated_workbooks_of_every_xml_spelling(sheet, tmp_path_factory):
    rless, kinds, values = sheet
    mb = make_integrity.mb
    strings = ["Subject", "PINP (µg/L)", "CTX (ng/L)"] + [f"G{i}" for i in range(len(kinds))]
    rows = [f'<row r="1">{mb.s_cell("A1", 0)}{mb.s_cell("B1", 1)}{mb.s_cell("C1", 2)}</row>']
    expected = {}
    for i, (pair, xs) in enumerate(zip(kinds, values, strict=True)):
        r = i + 2
        cells = [mb.s_cell(f"A{r}", 3 + i)]
        for col, kind, x in zip("BC", pair, xs, strict=True):
            xml, outcome = SPELLINGS[kind]
            text = str(x)
            cell = xml.format(ref=f"{col}{r}", lref=f"{col.lower()}{r}", x=text, head=text[:-1], tail=text[-1], code=ord(text[-1]))
            if rless and cell:
                cell = cell.replace(f' r="{col}{r}"', "").replace(f"r = '{col}{r}' ", "").replace(f' r="{col.lower()}{r}"', "")
                if kind != "empty" and any(SPELLINGS[k][1] == "blank" for k in pair[: "BC".index(col)]):
                    cell = ""  # (a cell without a reference after an absent one would move left: keep the grid honest)
                    outcome = "blank"
            cells.append(cell)
            expected[(r, col)] = (outcome, float(x))
        rows.append(f'<row r="{r}">' + "".join(cells) + "</row>")
    path = tmp_path_factory.mktemp("hostile") / "hostile.xlsx"
    mb.write_zip(path, mb.ooxml_parts([("Data", mb.sheet_xml("".join(rows)))], mb.shared_xml(strings)))
    res = read_results(path)
    check_conservation(path, res)
    got = {(int(r.source_row), r.source_column[0]): r.value for r in res.data.itertuples()}
    rejected = {(int(r.source_row), r.column[0]) for r in res.rejected.itertuples()}
    for (r, col), (outcome, x) in expected.items():
        if outcome == "value":
            assert got[(r, col)] == x, (r, col)  # never 4 for 45, never lost
        elif outcome == "rejected":
            assert (r, col) in rejected, (r, col)
        else:
            assert (r, col) not in got and (r, col) not in rejected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blanks=st.lists(st.integers(0, 50), min_size=1, max_size=6), tail=st.integers(0, 30), delimiters=st.sampled_from([",", ";"]))
def test_conservation_in_generated_text_files_with_blank_lines(blanks, tail, delimiters, tmp_path_factory):
    d = delimiters
    lines = [d.join(["Subject", "Visit", "PINP (µg/L)", "CTX (ng/L)"])]
    for k, gap in enumerate(blanks):
        lines += [d * (k % 3)] * gap  # empty lines and lines of delimiters only
        lines.append(d.join([f"S{k}", "V1", str(40 + k), "" if k % 2 else str(300 + k)]))
    path = tmp_path_factory.mktemp("blank") / "blank.csv"
    path.write_text("\n".join(lines + [""] * tail) + "\n", encoding="utf-8")
    res = read_results(path)
    check_conservation(path, res)
    rows = {r.subject_id: int(r.source_row) for r in res.data.itertuples() if r.marker == "PINP"}
    line_of = {line.split(d)[0]: i + 1 for i, line in enumerate(lines) if i and line.startswith("S")}
    assert rows == line_of  # rows keep their line numbers across any run of blank lines


# ---------------------------------------------------------------------------------------------
# 1. values silently altered


def test_a_decimal_comma_file_reads_a_point_as_thousands_on_every_path():
    res = read_results(HERE / "decimal_comma_grouping.csv")
    got = {(r.subject_id, r.marker): r.value for r in res.data.itertuples()}
    assert got == {("A1", "PINP"): 1015.0, ("A1", "CTX1"): 12.5, ("A2", "PINP"): 1015.5, ("A2", "CTX1"): 300.0,
                   ("A3", "PINP"): 45.0, ("A3", "CTX1"): 1250.0}
    forced = read_results(HERE / "decimal_comma_grouping.csv", decimal=",")
    assert forced.data["value"].tolist() == res.data["value"].tolist()


def test_a_footnote_mark_is_rejected_never_read_as_a_digit():
    res = read_results(HERE / "footnotes.csv")
    assert not res.data["value"].isin([451.0, 3002.0, 1.0, 25.0]).any()
    rejected = dict(zip(res.rejected["raw_value"], res.rejected["reason"], strict=True))
    assert set(rejected) == {"45¹", "300²", "①", "₂5"}
    assert all(r.startswith("footnote or superscript mark") for r in rejected.values())
    full_width = res.data[res.data["subject_id"] == "F4"]  # full-width digits are the same digits
    assert sorted(full_width["value"]) == [45.0, 300.0]


def test_conversions_keep_the_decimal_a_person_would_write_and_refuse_overflow():
    res = read_results(HERE / "conversions.csv")
    got = {(r.subject_id, r.marker): r.value for r in res.data.itertuples()}
    assert got[("C1", "CTX1")] == 1025360.0 and got[("C2", "CTX1")] == 487.0 and got[("C1", "PINP")] == 45.3
    (rej,) = res.rejected.itertuples()
    assert (rej.source_row, rej.raw_value) == (4, "1e308")
    assert rej.reason == "the value 1e+308 overflows to infinity when converted to ng/L: not a measurable concentration"
    assert np.isfinite(res.data["value"]).all() and (res.data["value"] > 0).all()


@pytest.mark.parametrize("lod", ["nan", "inf", "-inf", "0", "true"])
def test_a_mapping_limit_that_is_not_a_positive_finite_number_is_refused(lod):
    with pytest.raises(MappingError, match="lod PINP must be a positive number"):
        mapping_from_dict(tomllib.loads(f"[[sheets]]\n[sheets.lod]\nPINP = {lod}\n"))


# ---------------------------------------------------------------------------------------------
# 2. values dropped unseen


def test_a_quote_never_closed_is_refused_not_allowed_to_swallow_the_rest(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('Subject,Visit,PINP (µg/L)\nS1,V1,"45\nS2,V1,46\nS3,V1,47\n', encoding="utf-8")
    with pytest.raises(InputFileError, match=r'a quote \(\"\) opened in line 2 is never closed'):
        read_results(path)
    path.write_text('Subject,Visit,PINP (µg/L),Comment\nS1,V1,45,5" tall\nS2,V1,46,"ok, fine"\n', encoding="utf-8")
    assert read_results(path).data["value"].tolist() == [45.0, 46.0]  # a quote inside a cell is read leniently


def test_a_marker_column_whose_unit_cannot_be_read_is_counted_and_rejected(capsys, tmp_path):
    res = read_results(HERE / "unit_unreadable.csv")
    assert sorted(res.rejected["column"].str[0]) == ["C", "C", "D"]
    assert "its unit 'ng/dl?' cannot be read" in res.rejected["reason"].iloc[0]
    assert any("its unit 'in furlongs' cannot be read" in r for r in res.rejected["reason"])
    rows = read_results(HERE / "units_row_unreadable.csv")
    assert rows.rejected["reason"].str.contains("its unit 'furlongs' cannot be read").sum() == 2
    rc, _, err = _run(capsys, "import", str(HERE / "unit_unreadable.csv"), "-o", str(tmp_path / "t.csv"), "--strict")
    assert rc == 1 and _error_lines(err)[0].startswith("error: 3 value(s) rejected (--strict)")


def test_every_table_on_a_sheet_is_read_with_its_own_header():
    res = read_results(HERE / "stacked_rerun.csv")
    got = {(r.subject_id, r.marker): r.value for r in res.data.itertuples()}
    assert got == {("T1", "PINP"): 45.0, ("T1", "CTX1"): 300.0, ("T2", "PINP"): 46.0, ("T2", "CTX1"): 310.0,
                   ("T3", "CTX1"): 320.0, ("T3", "PINP"): 47.0, ("T3", "OCN"): 20.0}  # T3's columns are in another order
    assert res.rejected.empty
    assert any("the sheet holds 2 tables (header rows 1, 6)" in r for r in res.warnings["reason"])
    above = read_results(HERE / "stacked_first_above.csv")
    assert sorted(above.data["subject_id"]) == ["B1", "B2", "B3", "B3", "B3"]


@pytest.mark.parametrize(("toml", "message"), [
    ("[[sheets]]\nheader_row = 1\nunits_row = 4\n", "units_row 4 must be the row right under (or above) header_row 1: the rows between would not be read"),
    ("[[sheets]]\nheader_row = 2\nunits_row = 2\n", "it is the header row itself"),
])
def test_inconsistent_mapping_rows_are_refused(toml, message):
    with pytest.raises(MappingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mapping_from_dict(tomllib.loads(toml))


def test_a_units_row_past_the_end_or_away_from_the_header_is_an_error(tmp_path, capsys):
    for toml, message in (("[[sheets]]\nunits_row = 40\n", "the mapping's units_row 40 is beyond the sheet's last row (4)"),
                          ("[[sheets]]\nunits_row = 4\n", "the mapping's units_row 4 is not next to the header (row 1)")):
        (tmp_path / "m.toml").write_text(toml, encoding="utf-8")
        rc, _, err = _run(capsys, "import", str(DATA / "enc_utf8.csv"), "--mapping", str(tmp_path / "m.toml"), "-o", str(tmp_path / "t.csv"))
        (line,) = _error_lines(err)
        assert rc == 1 and line.startswith(f"error: {DATA / 'enc_utf8.csv'}: {message}") and line.endswith("check the mapping")


def test_a_cell_address_twice_is_reported_never_kept_silently():
    res = read_results(HERE / "duplicate_cells.xlsx")
    (rej,) = res.rejected.itertuples()
    assert (rej.source_row, rej.column[0], rej.raw_value) == (2, "C", "'45' | '46'")
    assert "occurs 2 times in the sheet's XML with different contents ('45', '46')" in rej.reason
    assert sorted(zip(res.data["subject_id"], res.data["value"], strict=True)) == [("D1", 300.0), ("D2", 50.0), ("D2", 310.0)]
    assert any("occur more than once in the sheet's XML with the same content; read once" in r for r in res.warnings["reason"])


def test_unusual_but_valid_xml_is_read_by_its_structure():
    res = read_results(HERE / "xml_spellings.xlsx")
    got = {(int(r.source_row), r.source_column[0]): r.value for r in res.data.itertuples()}
    assert got == {(5, "C"): 45.0, (6, "C"): 48.0, (2, "D"): 300.0, (3, "D"): 310.0, (4, "D"): 320.0, (5, "D"): 330.0, (6, "D"): 340.0}
    rej = {(int(r.source_row), r.column[0]): r.reason for r in res.rejected.itertuples()}
    assert rej[(2, "C")] == "Excel error #N/A" and rej[(3, "C")] == "Excel error #REF!" and rej[(4, "C")] == "Excel error #DIV/0!"
    assert rej[(7, "C")].startswith("formula =C6*2 has no cached value")
    assert rej[(8, "C")] == "not a number: NaN" and rej[(8, "D")] == "infinite value"
    assert any("3 cell value(s) read from the sheet's XML directly" in r for r in res.warnings["reason"])
    prefixed = read_results(HERE / "prefixed_elements.xlsx")
    assert sorted(prefixed.data["value"]) == [45.0, 300.0]
    png = read_results(HERE / "sheet_part_named_png.xlsx")
    assert sorted(png.data["value"]) == [45.0, 300.0]


def test_ods_error_cells_and_formulas_without_a_value_in_any_spelling():
    res = read_results(HERE / "ods_spellings.ods")
    rej = {(int(r.source_row), r.column[0]): r.reason for r in res.rejected.itertuples()}
    assert rej == {(2, "D"): "Excel error #DIV/0!", (3, "C"): rej[(3, "C")], (4, "C"): "not a number: NaN", (5, "D"): "Excel error #N/A"}
    assert rej[(3, "C")].startswith("formula =[.C2]*2 has no cached value")
    with pytest.raises(InputFileError, match="holds 20 cell\\(s\\) the reader cannot see"):
        read_results(HERE / "ods_other_prefixes.ods")


# ---------------------------------------------------------------------------------------------
# 3. user files harmed


def _inputs(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    for name in ("wide_basic.xlsx", "enc_utf8.csv"):
        (d / name).write_bytes((DATA / name).read_bytes())
    return d


@pytest.mark.parametrize("spelling", ["same", "dot_dot", "symlink", "hardlink"])
@pytest.mark.parametrize("command", ["import", "interpret", "report", "init-study", "write-mapping"])
def test_an_output_that_is_an_input_is_refused(command, spelling, tmp_path, capsys):
    d = _inputs(tmp_path)
    target = d / "enc_utf8.csv"
    before = _sha(target)
    out = {"same": target, "dot_dot": d / ".." / "data" / "enc_utf8.csv", "symlink": tmp_path / "link.csv", "hardlink": tmp_path / "hard.csv"}[spelling]
    if spelling == "symlink":
        out.symlink_to(target)
    elif spelling == "hardlink":
        os.link(target, out)
    argv = {"import": ["import", str(d), "-o", str(out)], "interpret": ["interpret", str(d), "-o", str(out)],
            "report": ["report", str(d), "-o", str(out)], "init-study": ["init-study", str(d), "-o", str(out), "--force"],
            "write-mapping": ["import", str(d), "-o", str(tmp_path / "t.csv"), "--write-mapping", str(out)]}[command]
    rc, _, err = _run(capsys, *argv)
    assert rc == 1 and len(_error_lines(err)) == 1 and "is one of the inputs" in err and "refused:" in err
    assert _sha(target) == before
    assert not (tmp_path / "t.csv").exists()  # refused before anything is read or written


def test_an_analysis_folder_that_would_overwrite_an_input_is_refused(tmp_path, capsys):
    d = _inputs(tmp_path)
    (d / "results.csv").write_bytes((DATA / "enc_utf8.csv").read_bytes())  # an input that has an output's name
    before = _sha(d / "results.csv")
    rc, _, err = _run(capsys, "analyze", str(d), "-o", str(d))
    assert rc == 1 and "is one of the inputs" in err and _sha(d / "results.csv") == before


def test_a_folder_scan_skips_btm_outputs_and_results_are_not_doubled(tmp_path, capsys):
    d = _inputs(tmp_path)
    rc, _, _ = _run(capsys, "import", str(d), "-o", str(d / "tidy.csv"))
    assert rc == 0
    rc, _, _ = _run(capsys, "report", str(d), "-o", str(d / "report.xlsx"))
    assert rc == 0
    rc, _, _ = _run(capsys, "analyze", str(d), "-o", str(d / "results"))
    assert rc == 0
    again = read_results(d)
    assert len(again.data) == len(read_results([d / "wide_basic.xlsx", d / "enc_utf8.csv"]).data)
    skipped = set(again.problems.loc[again.problems["reason"].str.startswith("skipped: btm's"), "source_file"].map(lambda p: Path(p).name))
    assert {"tidy.csv", "tidy.rejected.csv", "tidy.warnings.csv", "report.xlsx", "results.csv", "cohort.csv", "run_info.txt"} <= skipped
    rc, _, err = _run(capsys, "import", str(d), "-o", str(tmp_path / "t.csv"))
    assert f"skipped {3 + 1 + len(ANALYSIS_FILES)} file(s) written by btm" in err  # tidy x3, the report, the analysis folder
    named = read_results(d / "tidy.csv")  # given by name, btm's table is read (the round trip)
    assert len(named.data) == len(again.data)


def test_a_failing_strict_run_writes_nothing_and_leaves_no_mix(tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert _run(capsys, "import", str(DATA / "wide_basic.xlsx"), "-o", str(out))[0] == 0
    before = {p.name: _sha(p) for p in tmp_path.iterdir()}
    rc, _, err = _run(capsys, "import", str(SAMPLES / "handtyped_lab_sheet.xlsx"), "-o", str(out), "--strict", "--write-mapping", str(tmp_path / "m.toml"))
    assert rc == 1 and "nothing written" in _error_lines(err)[0]
    assert {p.name: _sha(p) for p in tmp_path.iterdir()} == before


def test_a_full_disk_leaves_the_previous_outputs_whole(tmp_path, capsys, monkeypatch):
    out = tmp_path / "t.csv"
    assert _run(capsys, "import", str(DATA / "wide_basic.xlsx"), "-o", str(out))[0] == 0
    before = {p.name: _sha(p) for p in tmp_path.iterdir()}
    import btm.io.write as w

    real, calls = w.write_csv_file, []

    def full(df, path):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(df, path)

    monkeypatch.setattr(w, "write_csv_file", full)
    rc, _, err = _run(capsys, "import", str(DATA / "enc_utf8.csv"), "-o", str(out))
    assert rc == 1 and _error_lines(err) == ["error: No space left on device"]
    assert {p.name: _sha(p) for p in tmp_path.iterdir()} == before  # no half-written file, no temporary file left


_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import btm.io.outputs as o

    def slow_csv(self, target, df):
        tmp = self.file(target)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("half,written\\n" * 1000)
            fh.flush()
            Path(sys.argv[1]).write_text("writing")  # tell the test: killed from here on, mid-write
            time.sleep(60)

    o.OutputSet.csv = slow_csv
    from btm.cli import ANALYSIS_FILES, main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_run_killed_mid_write_leaves_the_previous_output_whole(how, tmp_path):
    out = tmp_path / "out" / "t.csv"
    assert _btm("import", str(DATA / "wide_basic.xlsx"), "-o", str(out)).returncode == 0
    before = {p.name: _sha(p) for p in out.parent.iterdir()}
    script, flag = tmp_path / "slow.py", tmp_path / "writing.flag"
    script.write_text(_SLOW_WRITER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), str(flag), "import", str(DATA / "enc_utf8.csv"), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert flag.exists(), proc.communicate()
    proc.send_signal(getattr(signal, how))
    _, err = proc.communicate(timeout=60)
    after = {p.name: _sha(p) for p in out.parent.iterdir() if not p.name.startswith(".")}
    assert after == before  # the previous outputs, byte for byte
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".")]
    if how == "SIGKILL":  # no program can clean up after SIGKILL: a hidden temporary file, never the target
        assert proc.returncode == -signal.SIGKILL
        assert all(".btm-tmp-" in name for name in leftovers)
        assert not [p for _, p in iter_spreadsheets([out.parent]) if p.name.startswith(".")]  # a folder scan never reads it
    else:
        assert proc.returncode == 1 and not leftovers
        assert len(_error_lines(err)) == 1 and err.splitlines()[-1].startswith("error: ") and "Traceback" not in err


def test_concurrent_runs_to_one_path_leave_a_valid_file(tmp_path):
    out = tmp_path / "t.csv"
    sources = [DATA / "wide_basic.xlsx", DATA / "enc_utf8.csv"]
    expected = []
    for src in sources:
        assert _btm("import", str(src), "-o", str(tmp_path / f"{src.stem}.csv")).returncode == 0
        expected.append((tmp_path / f"{src.stem}.csv").read_bytes())
    for _ in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "btm", "import", str(src), "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for src in sources]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        assert out.read_bytes() in expected  # one run's whole file, never a mix
        assert not [p for p in tmp_path.iterdir() if ".btm-tmp-" in p.name]


# ---------------------------------------------------------------------------------------------
# 4. output format and injection


NASTY = ["=1+1", " =1+1", "\t=cmd", "'007", "''x", "+SUM(A1)", "-2", "@cmd", "a\rb", "c\nd", "e\r\n=1+1", "ok", "'", ""]


def test_csv_cells_are_quoted_escaped_and_every_row_has_the_header_width():
    df = pd.DataFrame({"subject_id": NASTY, "n": range(len(NASTY)), "flag": [True, False] * (len(NASTY) // 2)})
    text = csv_text(df)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == len(NASTY) + 1 and {len(r) for r in rows} == {3}
    for cell in (r[0] for r in rows[1:]):
        stripped = cell.lstrip()
        assert not stripped.startswith(("=", "+", "-", "@")) and not cell.startswith(("\t", "\r")), repr(cell)
    assert [unescape_texts(np.array([r[0] for r in rows[1:]], dtype=object)).tolist()] == [NASTY]
    assert escape_texts(pd.Series([1.5, 2.0])).tolist() == [1.5, 2.0]


def test_ids_that_truly_start_with_an_apostrophe_survive_the_round_trip(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("Subject,Visit,PINP (µg/L)\n'007,V1,45\n''x,V1,46\n=1+1,V1,47\n" + '" =2",V1,48\n', encoding="utf-8")
    first = read_results(path)
    write_csv(first.data, tmp_path / "tidy.csv")
    back = read_results(tmp_path / "tidy.csv")
    assert back.data["subject_id"].tolist() == first.data["subject_id"].tolist() == ["'007", "''x", "=1+1", "=2"]


def test_terminal_escape_sequences_in_labels_are_not_echoed_raw(tmp_path, capsys):
    rc, out, err = _run(capsys, "analyze", str(HERE / "control_characters.csv"), "-o", str(tmp_path / "r"))
    assert rc == 0
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b[31mRed" in out


# ---------------------------------------------------------------------------------------------
# 5. crashes and resource bounds


@pytest.mark.parametrize(("name", "message"), [
    ("far_cell_part_png.xlsx", "the sheet's cells span 1,048,576 rows x 16,384 columns"),
    ("far_cell_part_bin.xlsx", "the sheet's cells span 1,048,576 rows x 16,384 columns"),
    ("far_cell.xlsb", "an .xlsb (Excel binary) workbook is not read"),
    ("xlsb_named_xlsx.xlsx", "an .xlsb (Excel binary) workbook is not read"),
    ("shared_strings_forged_count.xlsx", "its shared-strings part claims 4,000,000,000 strings"),
    ("error_code_blank.xlsx", "cannot read the sheet (Unsupported cell error value ' ')"),
])
def test_files_that_would_abort_the_reader_are_one_line_in_a_fresh_process(name, message, tmp_path):
    proc = _btm("import", str(HERE / name), "-o", str(tmp_path / "t.csv"))
    assert proc.returncode == 1, proc.stderr[-500:]  # never killed by the reader (SIGABRT: -6)
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"error: {HERE / name}") and message in proc.stderr
    both = _btm("import", str(HERE / name), str(DATA / "enc_utf8.csv"), "-o", str(tmp_path / "t.csv"))
    assert both.returncode == 0 and "(the other files were read)" in both.stderr  # in a folder it costs that file only


def test_a_text_file_of_empty_lines_costs_memory_in_proportion_to_what_it_holds(tmp_path):
    path = tmp_path / "empty_lines.csv"
    path.write_text("Subject,PINP (µg/L)\nS1,45\n" + "\n" * 2_000_000 + "S2,46\n" + "\n" * 2_000_000, encoding="utf-8")
    code = ("import resource, sys; from btm.io import read_results; r = read_results(sys.argv[1]); "
            "print(len(r.data), r.data.source_row.tolist(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    n, rows, peak_kb = proc.stdout.rsplit(" ", 1)[0], proc.stdout.split("]")[0] + "]", int(proc.stdout.split()[-1])
    assert proc.returncode == 0 and n.startswith("2 ") and rows.endswith("[2, 2000003]")
    assert peak_kb < 600 * 1024  # 4 MB of empty lines; it took 1.2 GB before (measured figures: README, Security)


def test_a_text_line_wider_than_a_spreadsheet_is_refused_and_a_device_is_never_an_output(tmp_path, capsys):
    wide = tmp_path / "wide.csv"
    wide.write_text("Subject,PINP (µg/L)," + ",".join(f"c{i}" for i in range(20_000)) + "\nS1,45\n", encoding="utf-8")
    rc, _, err = _run(capsys, "import", str(wide), "-o", str(tmp_path / "t.csv"))
    assert rc == 1 and "line 1 holds 20,002 cells, more than the 16,384 columns a spreadsheet has" in err
    rc, _, err = _run(capsys, "import", str(DATA / "enc_utf8.csv"), "-o", os.devnull)
    assert rc == 1 and _error_lines(err) == [f"error: output {os.devnull} is not a regular file; give a file name"]
    assert not Path(os.devnull).is_file()


def test_tidy_rows_without_source_row_and_btm_tables_edited_by_hand_are_validated():
    res = read_results(HERE / "tidy_hand_edited.csv")
    got = {(r.subject_id, r.marker): (r.value, r.unit) for r in res.data.itertuples()}
    assert got == {("H1", "CTX1"): (450.0, "ng/L"), ("H1", "PINP"): (45.0, "µg/L")}  # ng/mL converted to the canonical ng/L
    reasons = sorted(res.rejected["reason"])
    assert reasons[0].startswith("cannot read unit 'furlongs'") or "furlongs" in " ".join(reasons)
    assert "unknown marker id 'VITD'" in reasons and "no subject id in this row" in reasons
    assert "censored must be empty, '<' or '>'" in reasons
    assert res.data["source_row"].isna().all()


def test_identical_values_give_nan_statistics_with_a_note_not_an_internal_error(tmp_path, capsys):
    rc, _, _ = _run(capsys, "analyze", str(HERE / "identical_values.csv"), "-o", str(tmp_path / "r"))
    assert rc == 0
    between = pd.read_csv(tmp_path / "r" / "between_groups.csv", encoding="utf-8-sig")
    assert between["p"].isna().all()
    assert set(between["note"]) == {"the baseline values do not vary (singular design): no ANCOVA estimate", "all values identical: no model fitted"}


# ---------------------------------------------------------------------------------------------
# 6. data that disagrees with itself


def test_labels_that_differ_in_case_or_spacing_are_one_visit_and_conflicts_are_named():
    res = read_results(HERE / "labels_disagree.csv")
    assert set(res.data["timepoint"]) == {"Baseline", "Week 12"}
    reasons = " | ".join(res.warnings["reason"])
    assert "visit labels 'Week 12', 'week 12', 'Week12', 'Week  12' differ only in case or spacing: all read as 'Week 12'" in reasons
    assert "subject 'L2' has more than one sex: 'F', 'M'" in reasons
    assert "subject 'L4' has more than one arm: 'Control' at 'Baseline', 'Walk' at 'Week 12'; visits in different arms are not paired" in reasons
    a = analyze(res.data)
    assert any("subject(s) L4 change arm between visits" in n for n in a.notes)


def test_values_1000x_off_leave_the_arm_statistics_unless_kept(tmp_path, capsys):
    res = read_results(HERE / "magnitude_trial.csv")
    assert res.data["flags"].str.contains("UNIT_MAGNITUDE").sum() == 1
    a = analyze(res.data, AnalysisOptions(control="Control"))
    ex = a.cohort[(a.cohort["group"] == "Exercise") & (a.cohort["marker"] == "CTX1")].iloc[0]
    assert (ex["n"], ex["n_other_excluded"]) == (2, 1)
    assert abs(ex["gm_pct_change"]) < 20  # was +863 % with the 1000x value in
    assert any("left out of the arm statistics" in n for n in a.notes)
    kept = analyze(res.data, AnalysisOptions(control="Control", keep_implausible=True))
    assert kept.cohort[(kept.cohort["group"] == "Exercise") & (kept.cohort["marker"] == "CTX1")].iloc[0]["n"] == 3
    rc, out, _ = _run(capsys, "analyze", str(HERE / "magnitude_trial.csv"), "-o", str(tmp_path / "r"))
    assert rc == 0 and "left out of the arm statistics and counted in n_other_excluded; --keep-implausible includes them" in out
    assert "values flagged UNIT_MAGNITUDE: left out of the arm statistics" in (tmp_path / "r" / "run_info.txt").read_text(encoding="utf-8")
    rc, out, _ = _run(capsys, "analyze", str(HERE / "magnitude_trial.csv"), "-o", str(tmp_path / "k"), "--keep-implausible")
    assert rc == 0 and "are included in the arm statistics (--keep-implausible)" in out


# ---------------------------------------------------------------------------------------------
# 7. bad options


@pytest.mark.parametrize(("toml", "message"), [
    ('columns = "PINP"\n', "unknown key(s) columns"),
    ("sheets = [1, 2]\n", "sheets must be tables, written [[sheets]] (one per sheet), not [1, 2]"),
    ('[[sheets]]\ncolumns = "PINP"\n', "columns must be a table"),
    ('[[sheets]]\nheader_row = true\n', "header_row must be an Excel row number"),
    ('[[sheets]]\nfile = 5\n', "file must be text in quotes, not 5"),
    ('timepoint_order = "Baseline"\n', "timepoint_order must be a list of labels"),
])
def test_bad_mapping_values_are_one_clear_line(toml, message, tmp_path, capsys):
    (tmp_path / "m.toml").write_text(toml, encoding="utf-8")
    rc, _, err = _run(capsys, "import", str(DATA / "enc_utf8.csv"), "--mapping", str(tmp_path / "m.toml"), "-o", str(tmp_path / "t.csv"))
    assert rc == 1 and len(_error_lines(err)) == 1 and message in err


@pytest.mark.parametrize(("toml", "message"), [
    ("[study]\ninputs = 5\n", "[study] inputs must be a path in quotes or a list of them"),
    ('[study]\ninputs = ["x.csv"]\ntimepoint_order = "Baseline"\n', "timepoint_order='Baseline': must be a list"),
    ('[study]\ninputs = ["x.csv"]\ndayfirst = "yes"\n', "[study] dayfirst must be true or false"),
    ('study = 5\n', "study must be a table"),
    ('[study]\ninputs = ["x.csv"]\n[arms]\nA = 1\n', '[arms] must be a table of "arm label" = "exercise type"'),
])
def test_bad_study_values_are_one_clear_line(toml, message, tmp_path, capsys):
    (tmp_path / "s.toml").write_text(toml, encoding="utf-8")
    rc, _, err = _run(capsys, "analyze", str(tmp_path / "s.toml"), "-o", str(tmp_path / "r"))
    assert rc == 1 and len(_error_lines(err)) == 1 and message in err


@pytest.mark.parametrize("argv", [
    ["import", "x.csv", "--max-size", "0"], ["import", "x.csv", "--max-size", "-1"], ["import", "x.csv", "--max-size", "nan"],
    ["convert", "nan", "ng/mL", "--marker", "CTX1"], ["convert", "inf", "ng/mL", "--marker", "CTX1"], ["convert", "-1", "ng/mL", "--marker", "CTX1"],
])
def test_bad_numbers_on_the_command_line_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "is not a positive number" in err and "Traceback" not in err


def test_a_header_with_control_characters_gives_a_valid_mapping_and_study_file(tmp_path, capsys):
    src = HERE / "control_characters.csv"
    rc, _, _ = _run(capsys, "import", str(src), "-o", str(tmp_path / "t.csv"), "--write-mapping", str(tmp_path / "m.toml"))
    assert rc == 0
    mapping = tomllib.loads((tmp_path / "m.toml").read_text(encoding="utf-8"))
    assert "Visit\rlabel" in mapping["sheets"][0]["columns"] and "PINP (µg/L)\x07" in mapping["sheets"][0]["columns"]
    again = read_results(src, mapping=load_mapping(tmp_path / "m.toml"))
    assert again.data["value"].tolist() == read_results(src).data["value"].tolist()
    rc, _, _ = _run(capsys, "init-study", str(src), "-o", str(tmp_path / "s.toml"))
    assert rc == 0
    study = tomllib.loads((tmp_path / "s.toml").read_text(encoding="utf-8"))
    assert "Week\n0" in study["study"]["timepoint_order"]


def test_read_file_never_hands_back_a_grid_the_independent_reader_disagrees_with(tmp_path):
    # the structural check puts back what a fast reader cut short: the grid itself holds 45, not 4
    (sheet,) = read_file(HERE / "xml_spellings.xlsx")
    assert sheet.rows[4][2] == 45.0 and sheet.rows[5][2] == 48.0
    assert not blank(cells_of(HERE / "xml_spellings.xlsx", "Data")[4][2])
    with zipfile.ZipFile(HERE / "xml_spellings.xlsx") as zf:
        assert b"4&#53;" in zf.read("xl/worksheets/sheet1.xml")
