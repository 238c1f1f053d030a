"""The Summary sheet: the study at a glance, arms and visits, the headline, mixed-model tests, charts.

Everything shown comes from the :class:`~btm.summary.Summary` (the console prints the same
headline rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ._charts import insert_grid, summary_charts
from ._columns import ARM_COLS, HEADLINE_COLS, MIXED_COLS, c
from ._formats import arm_colours, text
from ._writer import Sheet, Writer

#: Column widths of the Summary sheet (the headline table and the blocks above it share them).
WIDTHS = [26, 19, 11, 11, 6, 10, 9, 9, 8, 8, 7, 11, 11, 11, 9, 13, 25]


def _title(w: Writer, ws: Any, version: str) -> int:
    ws.write_string(0, 0, text(w.title), w.f["title"])
    ws.set_row(0, 24)
    ws.write_string(1, 0, "Generated", w.f["label"])
    ws.write_datetime(1, 1, w.timestamp, w.f["datetime_left"])
    ws.write_string(1, 3, f"by btm {version}", w.f["text"])
    ws.freeze_panes(2, 0)
    return 3


def _glance(w: Writer, ws: Any, summary: Any, r: int) -> int:
    ws.write_string(r, 0, "Study at a glance", w.f["h2"])
    r += 1
    for label, value, detail in summary.glance.itertuples(index=False):
        ws.write_string(r, 0, label, w.f["label"])
        if isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(r, 1, value, w.f["int_left"])
        else:
            ws.write_string(r, 1, text(value), w.f["text"])
        if detail:
            ws.write_string(r, 2, text(detail), w.f["text"])
        r += 1
    return r + 1


def _arms(w: Writer, ws: Any, summary: Any, r: int) -> int:
    ws.write_string(r, 0, "Arms", w.f["h2"])
    r += 1
    arms = summary.arm_table.assign(group=summary.arm_table["group"].replace("", "(no arm)"))
    w.small_table(ws, arms, ARM_COLS, r, WIDTHS, nowrap_last=True)
    r += len(arms) + 2
    # subjects with a sample at each visit (n per visit), visits in time order
    v = summary.visits
    if v.empty:
        return r
    ws.write_string(r, 0, "Subjects with a sample at each visit", w.f["h2"])
    r += 1
    tps = [t for t in summary.timepoints if t in set(v["timepoint"])]
    wide = v.pivot_table(index="group", columns="timepoint", values="n_subjects", aggfunc="sum").reindex(index=list(summary.arms))
    table = pd.DataFrame({"group": wide.index, **{f"tp{i}": wide[t].to_numpy() if t in wide else None for i, t in enumerate(tps)}})
    cols = [c("group", "arm"), *[c(f"tp{i}", t, "int_left") for i, t in enumerate(tps)]]
    w.small_table(ws, table, cols, r, WIDTHS, col=0)
    return r + len(table) + 2


def _headline_notes(summary: Any) -> list[str]:
    t = summary.tests
    lines = [f"Within each arm: geometric mean % change from the arm's baseline with 95% CI, at every visit; p from the "
             f"{t['within']}; p adj: {t['adjust']}."]
    if summary.control:
        lines.append(f"Against control ({summary.control}): % difference at the same visit adjusted for baseline, from the "
                     f"{t['between'] or 'comparison with control'}; p adj: {t['between_adjust'] or 'across the markers of the arm'}. "
                     "Adjusted geometric means: Between groups sheet.")
    else:
        lines.append("No control arm: no comparison between arms (name the control arm to compare the others with it).")
    lines.append("p below 0.001 shows as <0.001; cells hold unrounded values. Colours repeat the text: consistent (green), "
                 "inconsistent (orange). Exploratory ratios are on the Group statistics sheet, apart from the markers.")
    return lines


def _headline(w: Writer, s: Sheet, summary: Any, r: int) -> int:
    ws = s.ws
    ws.write_string(r, 0, text(f"Headline: change from baseline at every visit, and against control ({len(summary.headline)} rows)"), w.f["h2"])
    r += 1
    for line in _headline_notes(summary):
        ws.write_string(r, 0, text(line), w.f["note"])
        r += 1
    n = w.table(s, summary.headline, HEADLINE_COLS, row=r, widths=WIDTHS, autofilter=True,
                empty_text="no change could be computed (check the timepoints and the baseline)")
    w.cond_text(s, "verdict", {"consistent": "good", "inconsistent": "warm"}, first_row=r + 1, n=n)
    return r + max(n, 1) + 2


def _mixed(w: Writer, ws: Any, summary: Any, r: int) -> int:
    m = summary.mixed_model
    if m.empty:
        return r
    ws.write_string(r, 0, "Arm × time over all visits: linear mixed model, likelihood-ratio test", w.f["h2"])
    ws.write_string(r + 1, 0, "ln(value) ~ arm × visit with a random intercept per subject (maximum likelihood); p adj across "
                    "the markers of one comparison. No p: the note says why.", w.f["note"])
    table = m.assign(comparison=[x if x == "all arms" else f"{x} vs {summary.control}" for x in m["comparison"]])
    w.small_table(ws, table, MIXED_COLS, r + 2, WIDTHS, nowrap_last=True)
    return r + len(table) + 4


def _sheet_list(w: Writer, ws: Any, sheets: dict[str, str], r: int) -> None:
    ws.write_string(r, 0, "Sheets in this workbook", w.f["h2"])
    for k, (name, what) in enumerate(sheets.items(), start=1):
        ws.write_string(r + k, 0, name, w.f["label"])
        ws.write_string(r + k, 1, what, w.f["text"])


def summary_sheet(w: Writer, a: Any, summary: Any, *, sheets: dict[str, str], version: str) -> Callable[[], None]:
    """Write the Summary sheet; return the function that writes the Chart data sheet (call it last)."""
    s = w.sheet("Summary")
    ws = s.ws
    for j, wd in enumerate(WIDTHS):
        ws.set_column(j, j, wd)
    r = _title(w, ws, version)
    r = _glance(w, ws, summary, r)
    r = _arms(w, ws, summary, r)
    r = _headline(w, s, summary, r)
    r = _mixed(w, ws, summary, r)
    # native charts: a trajectory per marker and the balance index; on a page of their own
    ws.set_h_pagebreaks([r])
    ws.write_string(r, 0, "Charts: % change from baseline at every visit by arm (their numbers are on the 'Chart data' sheet)", w.f["h2"])
    charts, write_chart_data = summary_charts(w, a, summary, arm_colours(list(summary.arms), summary.control))
    r = insert_grid(ws, charts, r + 1)
    _sheet_list(w, ws, sheets, r)
    return write_chart_data
