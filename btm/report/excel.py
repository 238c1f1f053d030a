"""The Excel report: one workbook a lab manager or a trial researcher can read without btm.

Sheets (:data:`SHEETS`): Summary (the study at a glance, arms and visits, the headline change of
every arm and marker at every visit and its comparison with control, the mixed-model tests, native
trajectory charts), Table 1, Figures (only with ``figures_dir``), Results, Balance, Changes,
Missing visits, Group statistics, Between groups, Evidence, Recommendations, Rejected, Warnings,
Methods and Chart data (the cells the charts read).

How it is written
-----------------
* Compute, then render: every number shown comes from the analysis tables or the
  :class:`~btm.summary.Summary` (the console prints the same headline); nothing here computes a
  statistic. One short function per sheet (``_summary_sheet``, ``_table1``, ``_sheets``,
  ``_methods``); column specifications once (``_columns``); formats once (``_formats``,
  ``_writer``); charts in ``_charts``.
* XlsxWriter in normal mode; every data sheet is one rectangular table with a frozen, wrapped
  header row, an autofilter, column widths fitted to the content (long text capped and wrapped),
  landscape A4 with the header row repeated on every printed page.
* Numbers are number cells holding the computed value; only number formats round them on screen
  (values by marker, ``+0.0`` for %, ``[<0.001]"<0.001";0.000`` for p, ``0.00`` for z). Missing
  values are blank cells; dates are Excel dates.
* Every string is written with ``write_string``, and the workbook is opened with
  ``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers`` off, so text from the
  data such as ``=HYPERLINK(...)`` stays text. Text longer than Excel's 32,767 characters is cut
  with a visible marker. Chart titles and series names from the data are cell references. No
  sheet name comes from the data.
* Colour never carries meaning alone: conditional formats colour cells whose text stays.
* Reproducible: the same inputs, options and ``timestamp`` give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ..summary import summarize
from ._formats import MAX_CELL_CHARS
from ._formats import text as _text
from ._methods import methods_sheet
from ._sheets import (
    balance_sheet,
    changes_sheet,
    evidence_sheets,
    figures_sheet,
    missing_visits_sheet,
    problem_sheets,
    results_sheet,
    statistics_sheets,
)
from ._summary_sheet import summary_sheet
from ._table1 import table1_sheet
from ._writer import Writer

__all__ = ["DEFAULT_TITLE", "MAX_CELL_CHARS", "SHEETS", "write_report"]

#: Sheets of the report, in order, with what each holds (also printed on the Summary sheet).
SHEETS: dict[str, str] = {
    "Summary": "the study at a glance, arms and visits, the change of every arm and marker at every visit, the comparison with control, charts",
    "Table 1": "baseline characteristics per arm and overall: n, age, sex, menopausal status, each marker's geometric mean and median",
    "Figures": "figures per marker (only when figures were asked for)",
    "Results": "every result in its canonical unit with reference interval, status, z, flags and where it came from",
    "Balance": "per sample: formation z, resorption z, balance index, turnover state and marker ratios",
    "Changes": "per subject and marker: change from baseline and the verdict against the reference change value (RCV)",
    "Missing visits": "which subject lacks which visit, or which markers at a visit",
    "Group statistics": "per arm, marker and visit: geometric mean % change, 95% CI, paired test, effect size; ratios apart",
    "Between groups": "each arm against control: adjusted geometric means, % difference (ANCOVA) and mixed-model tests",
    "Evidence": "per arm and marker: what the exercise literature expects against what was observed, with citations",
    "Recommendations": "the review's recommended exercise types per population",
    "Rejected": "every value that could not be loaded, grouped by file, column and reason, then one by one with subject and visit",
    "Warnings": "values loaded with a warning (ambiguous dates, duplicates, ...) and notices about the input files",
    "Methods": "software, input files with SHA-256, options, methods in plain words, intervals and RCVs used, glossaries",
    "Chart data": "the numbers the Summary charts show",
}
DEFAULT_TITLE = "Bone turnover marker report"
_ = _text  # re-exported for the tests of the text limit


def _btm_version() -> str:
    from .. import __version__

    return __version__


def _properties(w: Any, title: str, files: list[str], stamp: dt.datetime) -> None:
    w.wb.set_properties({
        "title": title[:255],
        "subject": "Bone turnover markers: results, interpretation and trial statistics",
        "author": "btm",
        "keywords": "bone turnover markers, PINP, CTX, exercise trial",
        "comments": f"Written by btm {_btm_version()} (https://pypi.org/project/btm/); inputs: " + "; ".join(files)[:200],
        "created": stamp,
    })
    w.wb.set_custom_property("btm version", _btm_version())


def write_report(
    a: Any,
    imported: Any,
    path: str | Path,
    *,
    summary: Any = None,
    figures_dir: str | Path | None = None,
    timestamp: dt.datetime | None = None,
    title: str | None = None,
    table1_p: bool = False,
) -> Path:
    """Write the Excel report of an analysis.

    Parameters
    ----------
    a
        The :class:`~btm.analysis.AnalysisResult` of :func:`btm.analyze`.
    imported
        The :class:`~btm.io.ImportResult` the analysis was made from (its rejected values,
        warnings and input files go into the report); ``None`` when the table did not come from
        files.
    path
        Workbook to write (``.xlsx``); its folder is created if needed.
    summary
        The :class:`~btm.summary.Summary` to render (default: ``btm.summarize(a, imported)``);
        pass the one the console printed so that both show the same object.
    figures_dir
        Also write figures into this folder (PNG at 300 dpi, SVG, and ``figures.pdf`` with every
        figure; needs matplotlib) and embed them on a Figures sheet.
    timestamp
        Generation time printed in the report and stored as the document's creation date
        (default: now). The same inputs, options and timestamp give a byte-identical file.
    title
        Report title (default: the summary's title, else ``"Bone turnover marker report"``).
    table1_p
        Test baseline differences between arms in Table 1 (used when ``summary`` is not given).

    Returns
    -------
    Path of the workbook.

    Raises
    ------
    BTMError
        When the file cannot be written, or figures were asked for without matplotlib.

    Examples
    --------
    >>> import btm                                                     # doctest: +SKIP
    >>> imp = btm.read_results("sample_data/trial_exercise.xlsx")      # doctest: +SKIP
    >>> btm.write_report(btm.analyze(imp.data), imp, "report.xlsx")    # doctest: +SKIP
    PosixPath('report.xlsx')
    """
    out = Path(path)
    stamp = (timestamp or dt.datetime.now()).replace(microsecond=0, tzinfo=None)
    s = summary if summary is not None else summarize(a, imported, title=title or "", table1_p=table1_p)
    title = title or s.title or DEFAULT_TITLE
    figs = []
    if figures_dir is not None:
        from .figures import write_figures

        figs = write_figures(a, figures_dir, summary=s)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [str(x) for x in imported.files["file"]] if imported is not None and len(imported.files) else []
    w = Writer(out, timestamp=stamp, title=title)
    _properties(w, title, files, stamp)
    listed = {k: v for k, v in SHEETS.items() if figs or k != "Figures"}
    write_chart_data = summary_sheet(w, a, s, sheets=listed, version=_btm_version())
    table1_sheet(w, s)
    if figs:
        figures_sheet(w, figs)
    results_sheet(w, a, s)
    balance_sheet(w, a)
    changes_sheet(w, a, s)
    missing_visits_sheet(w, s)
    statistics_sheets(w, a, s)
    evidence_sheets(w, a, s)
    problem_sheets(w, imported, s)
    methods_sheet(w, a, imported, s, files=files, version=_btm_version())
    write_chart_data()
    w.close()
    return out
