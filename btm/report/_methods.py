"""The Methods sheet: software, inputs with SHA-256, options, methods in words, what was used, glossaries.

The method texts are the statistics modules' own descriptions (``btm.stats.describe_methods``,
``btm.change.describe_rcv``, ``btm.interpret.METHODS``, ``btm.evidence.METHODS``): the words
live next to the code they describe.
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import pandas as pd

from ..errors import BTMError
from ..summary import plain
from ._columns import Col, c
from ._formats import text
from ._writer import Writer

WIDTHS = [30, 68, 11, 11, 11, 11, 36]
_VALUES_TEXT = ("Cells hold unrounded values; number formats only round the display: values by marker (e.g. CTX in ng/L "
                "as integers, PINP with one decimal), % with one decimal, z and d_z with two, p with three and <0.001 below "
                "0.001. Blank cells are missing values. Text from the input is always stored as text.")


def versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for pkg in ("pandas", "numpy", "scipy", "pint", "python-calamine", "xlsxwriter"):
        try:
            parts.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(parts)


def methods_text(a: Any) -> list[tuple[str, str]]:
    """(topic, text) of every method used, from the modules that implement them."""
    from ..change import describe_rcv
    from ..evidence import METHODS as EVIDENCE_METHODS
    from ..interpret import METHODS as interpret_methods
    from ..stats import describe_methods

    o = a.options
    stats_text = describe_methods(test=o.test, adjust=o.adjust, between=o.between)
    return [
        *interpret_methods.items(),
        ("Change per subject", describe_rcv(o.rcv)),
        *stats_text.items(),
        ("Comparison with the literature", EVIDENCE_METHODS),
        ("Values in this workbook", _VALUES_TEXT),
    ]


def _about(w: Writer, a: Any, version: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("report title", w.title, ""),
            ("generated", "", ""),
            ("btm version", version, "the software that made this report"),
            ("software", versions(), ""),
            ("timepoint order", " → ".join(a.order.order), a.order.basis),
            ("baseline", a.order.baseline, ""),
            ("control arm", a.control or "none", ""),
            *[(f"arm: {g}", f"{plain(a.arm_types.get(g, '')) or 'exercise type unknown'}; population {plain(p[0])}", p[1])
              for g, p in a.populations.items() if g],
            *[(f"option: {k}", str(v), "") for k, v in a.options.describe().items()],
            *[(f"note {i}", n, "") for i, n in enumerate(a.notes, start=1)],
        ],
        columns=["item", "value", "detail"],
    )


def _inputs(imported: Any, files: list[str]) -> pd.DataFrame:
    from .._resources import sha256_of

    frame = imported.files if imported is not None and len(imported.files) else pd.DataFrame({"file": files})
    rows = []
    for rec in frame.to_dict("records"):
        name = str(rec.get("file", ""))
        try:
            digest = sha256_of(name)
        except OSError:
            digest = "(not readable now)"
        rows.append({**rec, "file": name, "sha256": digest})
    return pd.DataFrame(rows)


def _reference_digests() -> pd.DataFrame:
    from ..ranges import reference_files_digest

    try:
        digest = reference_files_digest()
    except (OSError, BTMError) as exc:
        digest = {"(reference files)": f"not found: {exc}"}
    return pd.DataFrame(list(digest.items()), columns=["file", "sha256"])


def _glossary(w: Writer) -> pd.DataFrame:
    from ._charts import CHART_SHEET
    from ._columns import CHART_COLS, MEAN_BALANCE_COL

    rows, seen = [], set()
    pending = {CHART_SHEET: [*CHART_COLS, MEAN_BALANCE_COL]} if "Summary" in w.sheets else {}  # written after this sheet
    for name, columns in [*((n, sh.columns) for n, sh in w.sheets.items()), *pending.items()]:
        for col in columns:
            if (col.header, name) in seen or not col.doc:
                continue
            seen.add((col.header, name))
            rows.append((col.header, col.doc, name))
    return pd.DataFrame(rows, columns=["column", "meaning", "sheet"])


def _verdicts() -> pd.DataFrame:
    from .. import evidence

    verdicts = getattr(evidence, "VERDICTS", {})  # the evidence module's own glossary
    return pd.DataFrame(list(verdicts.items()), columns=["verdict", "meaning"])


class _Blocks:
    """Titled small tables one below the other on the Methods sheet."""

    def __init__(self, w: Writer, ws: Any, row: int) -> None:
        self.w, self.ws, self.r = w, ws, row

    def add(self, title: str, df: pd.DataFrame, cols: list[Col], *, empty: str = "none", note: str = "") -> None:
        self.ws.write_string(self.r, 0, title, self.w.f["h2"])
        self.r += 1
        self.w.small_table(self.ws, df, cols, self.r, WIDTHS)
        if df.empty:
            self.ws.write_string(self.r + 1, 0, empty, self.w.f["label"])
        self.r += max(len(df), 1) + 2
        if note:
            self.ws.write_string(self.r - 1, 0, text(note), self.w.f["note"])
            self.r += 1


def methods_sheet(w: Writer, a: Any, imported: Any, summary: Any, *, files: list[str], version: str) -> None:
    s = w.sheet("Methods")
    ws = s.ws
    for j, wd in enumerate(WIDTHS):
        ws.set_column(j, j, wd, w.f["wrap"] if j in (0, 1, 6) else None)
    about = _about(w, a, version)
    cols = [c("item", "item", doc="what is described", wrap=True), c("value", "value", doc="its value", wrap=True),
            c("detail", "detail", doc="more on it")]
    w.small_table(ws, about, cols, 0, WIDTHS)  # the first block: the sheet's frozen header and autofilter
    ws.write_datetime(1 + int(about.index[about["item"] == "generated"][0]), 1, w.timestamp, w.f["datetime_left"])
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(about), 2)
    s.columns.extend(cols)
    b = _Blocks(w, ws, len(about) + 2)
    b.add("Statistical and interpretation methods", pd.DataFrame(methods_text(a), columns=["topic", "method"]),
          [c("topic", "topic", wrap=True), c("method", "method", wrap=True)])
    b.add("Input files (SHA-256 of each file's bytes)", _inputs(imported, files),
          [c("file", "file", wrap=True), c("sha256", "SHA-256"), c("read", "values read", "int"), c("loaded", "loaded", "int"),
           c("rejected", "rejected", "int"), c("blank", "blank", "int"), c("status", "status", wrap=True)])
    b.add("Shipped reference files (SHA-256)", _reference_digests(), [c("file", "file"), c("sha256", "SHA-256")])
    res = a.results
    none = sorted(set(res.loc[res["ref_high"].isna() & res["ref_low"].isna(), "marker"].astype(str))) if "ref_high" in res else []
    b.add("Reference intervals used", summary.intervals,
          [c("marker", "marker"), c("ref_source", "source", wrap=True), c("ref_low", "low", "general"), c("ref_high", "high", "general"),
           c("ref_unit", "unit"), c("n", "results", "int"), c("ref_population", "population", wrap=True)],
          note="No reference interval for: " + ", ".join(none) + " (no status or z for these)." if none else "")
    ch = a.changes
    no_rcv = sorted(set(ch.loc[ch["rcv_up_pct"].isna(), "marker"].astype(str))) if len(ch) and "rcv_up_pct" in ch else []
    b.add("Reference change values (RCV) used", summary.rcvs,
          [c("marker", "marker"), c("rcv_source", "source", wrap=True), c("rcv_down_pct", "RCV down (%)", "pct"),
           c("rcv_up_pct", "RCV up (%)", "pct"), c("n", "changes judged", "int"), c("specimen", "specimen")],
          note="No biological variation data (no RCV verdict) for: " + ", ".join(no_rcv) + "." if no_rcv else "")
    b.add("Evidence verdicts (Evidence sheet)", _verdicts(), [c("verdict", "verdict"), c("meaning", "meaning", wrap=True)])
    b.add("Flag glossary (Results sheet: flag codes, flags explained)", summary.flag_counts,
          [c("code", "flag code"), c("meaning", "meaning", wrap=True), c("n", "results flagged", "int")])
    b.add("Column glossary", _glossary(w), [c("column", "column", wrap=True), c("meaning", "meaning", wrap=True), c("sheet", "sheet")])
