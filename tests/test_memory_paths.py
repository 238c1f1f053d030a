"""The memory-saving paths of ``btm analyze`` against the plain computations they replace.

Each saving (statistics on the markers' and the ratios' changes apart instead of one joined copy,
the mixed model's data coded from whole columns, text columns given new string objects after an
import, narrower codes in the CSV writer) must leave every number and every row order unchanged.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from btm._groupwise import codes_of, group_codes, repack_texts
from btm.analysis import STAT_COLUMNS, _implausible_left_out, _joined, _stat_parts, analyze
from btm.io import read_results
from btm.io.load import release_cell_texts
from btm.io.write import csv_text
from btm.stats import _lmm_data, between_groups, cohort_stats

ARMS = ["Control", "Run", "Lift"]
MARKERS = ["PINP", "CTX1", "BALP"]
RATIOS = ["PINP/CTX1", "BALP/TRAP5B"]


def _changes(rng: np.random.Generator, markers: list[str], n_subjects: int = 40, missing: float = 0.1) -> pd.DataFrame:
    rows = []
    for s in range(n_subjects):
        arm = ARMS[s % len(ARMS)]
        for m in markers:
            for tp in ("Week 6", "Week 12"):
                a = float(np.exp(rng.normal(3, 0.4)))
                b = a * float(np.exp(rng.normal(0.05 if arm != "Control" else 0, 0.1)))
                lr = np.nan if rng.random() < missing else np.log(b / a)
                rows.append({"subject_id": f"S{s:03d}", "group": arm, "marker": m, "specimen": "serum", "unit": "µg/L",
                             "timepoint_from": "Baseline", "timepoint_to": tp, "value_from": a, "value_to": b,
                             "censored_from": "", "censored_to": "<" if rng.random() < 0.03 else "",
                             "change_pct": (b / a - 1) * 100, "log_ratio": lr,
                             "direction": rng.choice(["increase", "decrease", "none", ""])})
    return pd.DataFrame(rows, columns=STAT_COLUMNS)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["ancova", "welch", "mannwhitney"])
def test_statistics_of_the_parts_equal_those_of_the_joined_table(seed, method):
    rng = np.random.default_rng(seed)
    ch = _changes(rng, MARKERS)
    ratio = _changes(rng, RATIOS, n_subjects=30 + seed)  # fewer subjects: an arm may lack ratio pairs
    if seed % 2:
        ratio = ratio[ratio["group"] != "Lift"]  # an arm with marker pairs and no ratio pairs
    joined = pd.concat([ch, ratio], ignore_index=True)
    parts = _stat_parts(ch, ratio)
    assert len(parts) == 2
    pd.testing.assert_frame_equal(_joined([cohort_stats(p) for p in parts]), cohort_stats(joined))
    arms = list(dict.fromkeys(str(g) for p in parts for g in pd.unique(p["group"])))
    apart = _joined([between_groups(p, control="Control", method=method, arms=arms) for p in parts])
    pd.testing.assert_frame_equal(apart, between_groups(joined, control="Control", method=method))


def test_a_marker_named_like_a_ratio_is_joined_with_the_ratios():
    rng = np.random.default_rng(1)
    ch = _changes(rng, ["PINP", "PYD/DPD"])
    ratio = _changes(rng, RATIOS)
    parts = _stat_parts(ch, ratio)
    assert len(parts) == 1 and len(parts[0]) == len(ch) + len(ratio)  # one p-value family, as before


def test_empty_ratio_changes_leave_the_markers_alone():
    rng = np.random.default_rng(2)
    ch = _changes(rng, MARKERS)
    parts = _stat_parts(ch, ch.iloc[:0])
    assert len(parts) == 1 and len(parts[0]) == len(ch)
    assert len(_stat_parts(ch.iloc[:0], ch.iloc[:0])) == 1  # nothing at all: one empty table


def test_implausible_pairs_are_found_in_every_part():
    rng = np.random.default_rng(3)
    ch, ratio = _changes(rng, MARKERS), _changes(rng, RATIOS)
    results = pd.DataFrame({"subject_id": ["S001", "S002"], "marker": ["PINP", "TRAP5B"], "timepoint": ["Week 6", "Baseline"],
                            "flags": ["UNIT_MAGNITUDE", "UNIT_MAGNITUDE"]})
    notes: list[str] = []
    (a, b), res = _implausible_left_out([ch, ratio], results, False, notes)
    joined = pd.concat([ch, ratio], ignore_index=True)
    expect = ((joined["subject_id"] == "S001") & joined["marker"].str.split("/").map(lambda p: "PINP" in p) & (joined["timepoint_to"] == "Week 6")) | (
        (joined["subject_id"] == "S002") & joined["marker"].str.contains("TRAP5B"))
    got = np.r_[a["log_ratio"].isna().to_numpy() & ~ch["log_ratio"].isna().to_numpy(), b["log_ratio"].isna().to_numpy() & ~ratio["log_ratio"].isna().to_numpy()]
    assert (got == (expect.to_numpy() & joined["log_ratio"].notna().to_numpy())).all()
    assert len(res) == 0 and notes[0].startswith(f"{int(expect.sum())} pair(s)")  # counted as before, with or without a log ratio
    assert ch["log_ratio"].notna().sum() == a["log_ratio"].notna().sum() + int(got[: len(ch)].sum())  # the input is not changed


def _lmm_data_by_copy(results: pd.DataFrame, order: list[str]) -> dict:
    """The mixed model's data as it was computed before: a copy of the kept rows, coded."""
    keep = ((results["censored"].fillna("") == "") & results["timepoint"].isin(order) & (results["group"].astype(str) != "")).to_numpy(dtype=bool)
    sub = results.loc[keep, ["subject_id", "group", "timepoint", "value", "marker", "specimen", "unit"]]
    d = {"value": sub["value"].to_numpy(dtype=float)}
    for c in ("subject_id", "group", "timepoint"):
        d[c], d[c + "_names"] = codes_of(sub[c])
    d["measure"], d["n_measures"], first = group_codes(sub["marker"], sub["specimen"], sub["unit"])
    d["measure_keys"] = list(zip(*(sub[c].to_numpy(dtype=object)[first] for c in ("marker", "specimen", "unit")), strict=True))
    return d


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["A", "B", ""]), st.sampled_from(["V0", "V1", "V2", "V9"]),
                          st.sampled_from(["PINP", "CTX1"]), st.sampled_from(["", "<"]), st.floats(0.1, 100)), min_size=1, max_size=60))
def test_mixed_model_data_coded_from_whole_columns_equals_the_copy(rows):
    df = pd.DataFrame(rows, columns=["subject_id", "group", "timepoint", "marker", "censored", "value"])
    df["subject_id"] = "S" + df["subject_id"].astype(str)
    df["specimen"], df["unit"] = "serum", "µg/L"
    got, want = _lmm_data(df, ["V0", "V1", "V2"]), _lmm_data_by_copy(df, ["V0", "V1", "V2"])
    assert got.keys() == want.keys()
    for k in want:
        if isinstance(want[k], np.ndarray):
            np.testing.assert_array_equal(got[k], want[k])
            assert got[k].dtype == want[k].dtype
        else:
            assert got[k] == want[k]


@given(st.lists(st.text(max_size=6), min_size=1, max_size=40), st.sampled_from([object, "str"]))
def test_repacked_texts_keep_values_order_and_dtype_with_new_objects(texts, dtype):
    df = pd.DataFrame({"a": pd.Series(texts, dtype=dtype), "n": np.arange(len(texts), dtype=float),
                       "mixed": pd.Series([1.5] + texts[1:], dtype=object)})
    before = df.copy()
    old = df["a"].to_numpy(dtype=object)
    released = []
    repack_texts([df], release=lambda: released.append(True))
    pd.testing.assert_frame_equal(df, before)
    assert released == [True]
    new = df["a"].to_numpy(dtype=object)
    long = [k for k, t in enumerate(old) if len(t) > 1]  # (one-character and empty texts are the interpreter's own singletons)
    assert all(new[k] is not old[k] for k in long)
    assert df["mixed"].iloc[0] == 1.5  # a column of anything but text is left as it was


def test_an_import_released_for_the_analysis_analyses_the_same(tmp_path):
    rng = np.random.default_rng(4)
    lines = ["Subject,Group,Visit,PINP (µg/L),CTX-1 (ng/L)"]
    for s in range(60):
        for v in ("Baseline", "Week 6", "Week 12"):
            lines.append(f"S{s:03d},{ARMS[s % 3]},{v},{rng.uniform(20, 80):.1f},{rng.uniform(100, 900):.0f}")
    lines.append("S999,Run,Week 6,n/a,12")  # a rejected value: the problem list is released too
    f = tmp_path / "trial.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plain, released = read_results([f]), read_results([f])
    release_cell_texts(released)
    pd.testing.assert_frame_equal(released.data, plain.data)
    pd.testing.assert_frame_equal(released.problems, plain.problems)
    a, b = analyze(plain.data), analyze(released.data)
    for name in ("results", "changes", "cohort", "between", "balance"):
        assert csv_text(getattr(a, name)) == csv_text(getattr(b, name))


@pytest.mark.parametrize("n_distinct", [1, 255, 256, 257, 70_000])
def test_csv_codes_of_any_width_write_the_same_text(n_distinct):
    rng = np.random.default_rng(n_distinct)
    n = max(2 * n_distinct, 1000)
    vals = np.array([f"t{k}" for k in range(n_distinct)], dtype=object)[rng.integers(0, n_distinct, n)]
    df = pd.DataFrame({"a": vals, "b": rng.integers(0, 3, n).astype(str).astype(object), "x": rng.normal(size=n)})
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\r\n")
    assert csv_text(df) == buf.getvalue()


def test_mmap_threshold_is_set_where_glibc_is_and_harmless_elsewhere():
    import sys

    from btm._memory import fix_mmap_threshold

    ok = fix_mmap_threshold()
    if sys.platform.startswith("linux") and __import__("platform").libc_ver()[0] == "glibc":
        assert ok is True
    else:
        assert ok is False
    assert np.arange(1 << 20).sum() == (1 << 20) * ((1 << 20) - 1) // 2  # large blocks still allocate and free


@pytest.mark.parametrize("sample", ["trial_exercise.xlsx", "research_timepoints.xlsx"])
def test_the_console_brief_equals_the_summary(sample):
    from pathlib import Path

    from btm.summary import brief, summarize

    imported = read_results([Path(__file__).resolve().parent.parent / "sample_data" / sample])
    a = analyze(imported.data)
    s, b = summarize(a, imported), brief(a)
    assert b.control == s.control and b.notes == s.notes
    pd.testing.assert_frame_equal(b.headline, s.headline)
    pd.testing.assert_frame_equal(b.mixed_model, s.mixed_model)
