"""Rendering helpers for the pages: number formats, labels, chart geometry. No computation of results."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ROLE_LABELS", "chart", "fmt_num", "fmt_p", "fmt_pct", "fmt_time", "role_label"]

#: The column roles a person can choose on the mapping page, with plain labels (order shown).
ROLE_LABELS: dict[str, str] = {
    "marker": "Marker result (choose the marker)",
    "subject_id": "Subject / patient id",
    "timepoint": "Visit / timepoint",
    "sample_date": "Date of the blood draw",
    "sample_time": "Time of the blood draw",
    "group": "Group / arm",
    "sex": "Sex",
    "age": "Age",
    "dob": "Date of birth",
    "menopausal_status": "Menopausal status",
    "fasting": "Fasting",
    "egfr": "eGFR (kidney function)",
    "mrn": "Medical record number",
    "sample_id": "Sample / lab number",
    "comment": "Comment",
    "assay": "Assay / analyser",
    "specimen": "Specimen (serum/urine)",
    "medication": "Medication",
    "fracture": "Recent fracture",
    "pregnancy": "Pregnancy / lactation",
    "last_exercise": "Last exercise",
    "tanner_stage": "Tanner stage",
    "test_name": "Test name (long layout)",
    "test_code": "Test code (long layout)",
    "result": "Result value (long layout)",
    "unit": "Unit (of the result or of the marker before)",
    "ignore": "Not used",
}

STATE_LABELS = {
    "queued": "waiting to be checked",
    "checking": "being checked…",
    "checked": "checked — waiting for your confirmation",
    "failed": "could not be read",
    "confirmed": "in the study",
    "discarded": "removed",
}

DIRECTION_LABELS = {
    "increase": "increase beyond RCV", "decrease": "decrease beyond RCV", "none": "within RCV",
    "undetermined": "undetermined (censored)", "no RCV": "no RCV known",
}


def role_label(role: str, marker: str = "") -> str:
    if role == "marker":
        return f"Marker: {marker}" if marker else "Marker"
    if role.startswith("unit_of_"):
        return f"Unit of {role.removeprefix('unit_of_')}"
    if not role:
        return "Not recognised"
    if role == "derived":
        return "Derived value, not read"
    if role == "lookalike":
        return "Look-alike, not read"
    return ROLE_LABELS.get(role, role.replace("_", " "))


def _is_missing(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


def fmt_num(v: Any, digits: int = 4) -> str:
    """A measured value: up to ``digits`` significant figures, no exponent for lab-sized numbers."""
    if _is_missing(v):
        return ""
    if not isinstance(v, int | float):
        return str(v)
    if v == 0:
        return "0"
    if not math.isfinite(v) or abs(v) >= 1e9:
        return f"{v:.{digits}g}"
    mag = math.floor(math.log10(abs(v)))
    decimals = min(max(0, digits - 1 - mag), 6)
    text = f"{v:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_pct(v: Any, *, signed: bool = True) -> str:
    if _is_missing(v) or not isinstance(v, int | float):
        return ""
    return f"{v:+.1f} %" if signed else f"{v:.1f} %"


def fmt_p(v: Any) -> str:
    if _is_missing(v) or not isinstance(v, int | float):
        return ""
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def fmt_time(iso: Any) -> str:
    if not iso:
        return ""
    return str(iso).replace("T", " ")[:16]


def cite(source: Any) -> str:
    """The citation key of a source (``[Michelsen13] Michelsen J et al. …`` -> ``[Michelsen13]``)."""
    import re

    text = "" if _is_missing(source) else str(source)
    m = re.match(r"^\s*(\[[^\]]{1,40}\])", text)
    return m.group(1) if m else (text[:40] + "…" if len(text) > 40 else text)


def pretty(code: Any) -> str:
    """A code in the report's plain words (``no_change`` -> ``no change``): :func:`btm.summary.plain`."""
    from ..summary import plain

    return "" if _is_missing(code) else plain(code)


ARM_COLOURS = ["#1f6f8b", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#2b6cb0", "#9b2c2c", "#4a5568"]


def chart(headline: list[dict[str, Any]], *, width: int = 560) -> list[dict[str, Any]]:
    """Per marker, a horizontal bar chart of the % change of each arm with its 95 % CI (geometry only).

    Returns one dict per marker: ``title``, ``height``, ``zero`` (x of 0 %), ``ticks`` and ``bars``
    (``arm``, ``y``, ``x``, ``w``, ``lo``, ``hi``, ``label``, ``colour``), in SVG user units.
    """
    label_w, pad, row_h = 150, 30, 30
    plot_w = width - label_w - 2 * pad
    arms: list[str] = []
    for r in headline:
        if r.get("group") not in arms:
            arms.append(r.get("group"))
    colour = {a: ARM_COLOURS[i % len(ARM_COLOURS)] for i, a in enumerate(arms)}
    out = []
    by_marker: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in headline:  # the headline has every follow-up visit: one chart per marker and visit
        by_marker.setdefault((str(r.get("marker")), str(r.get("specimen") or ""), str(r.get("timepoint_to") or "")), []).append(r)
    for (marker, specimen, _to), rows in by_marker.items():
        vals = []
        for r in rows:
            for k in ("gm_pct_change", "gm_pct_ci_low", "gm_pct_ci_high"):
                v = r.get(k)
                if isinstance(v, int | float) and math.isfinite(v):
                    vals.append(v)
        if not vals:
            continue
        lo, hi = min(vals + [0.0]), max(vals + [0.0])
        step = _nice_step((hi - lo) / 5 or 10)
        lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
        if hi == lo:
            hi = lo + step

        def x(v: float, lo: float = lo, hi: float = hi) -> float:
            return label_w + pad + (v - lo) / (hi - lo) * plot_w

        bars = []
        for i, r in enumerate(rows):
            v = r.get("gm_pct_change")
            if not isinstance(v, int | float) or not math.isfinite(v):
                continue
            x0, x1 = sorted((x(0.0), x(v)))
            ci_lo, ci_hi = r.get("gm_pct_ci_low"), r.get("gm_pct_ci_high")
            bars.append({
                "arm": str(r.get("group")), "y": 10 + i * row_h, "x": round(x0, 1), "w": round(max(x1 - x0, 1.0), 1),
                "lo": round(x(ci_lo), 1) if isinstance(ci_lo, int | float) and math.isfinite(ci_lo) else None,
                "hi": round(x(ci_hi), 1) if isinstance(ci_hi, int | float) and math.isfinite(ci_hi) else None,
                "label": f"{v:+.1f} %", "colour": colour[r.get("group")], "n": r.get("n"),
                "text_x": round(x(v) + (6 if v >= 0 else -6), 1), "anchor": "start" if v >= 0 else "end",
            })
        ticks = []
        t = lo
        while t <= hi + 1e-9:
            ticks.append({"x": round(x(t), 1), "label": f"{t:+g}" if t else "0"})
            t += step
        spec = f" ({specimen})" if specimen and specimen != "serum" else ""
        to = rows[0].get("timepoint_to") or ""
        frm = rows[0].get("timepoint_from") or ""
        out.append({
            "title": f"{marker}{spec}: % change {frm} → {to}", "height": 10 + len(rows) * row_h + 30,
            "zero": round(x(0.0), 1), "ticks": ticks, "bars": bars, "width": width, "label_w": label_w,
            "axis_y": 10 + len(rows) * row_h,
        })
    return out


def _nice_step(raw: float) -> float:
    mag = 10 ** math.floor(math.log10(abs(raw)))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


_FIXES: list[tuple[tuple[str, ...], str]] = [
    (("ambiguous date",), "Set the order of day and month under Import settings on the Check page."),
    (("duplicate:",), "Both values are kept: check which is right in the spreadsheet, correct it and upload the file again."),
    (("1000x outside",), "Probably the wrong unit: check the unit of this column on the Map page."),
    (("merged range",), "Unmerge the cells in the spreadsheet so each row has its own value."),
    (("sheet skipped",), "If this sheet holds results, map it on the Map page."),
    (("no unit for", "no unit given"), "Choose the unit of this column on the Map page (btm never guesses a unit)."),
    (("detection limit",), "Give the detection limit of this marker on the Map page, or correct the cell."),
    (("no subject id column",), "Mark the subject column on the Map page."),
    (("no subject id in this row",), "Fill in the subject id in this row of the spreadsheet and upload it again."),
    (("negative value", "zero (not a measurable"), "A concentration cannot be zero or negative: check the cell against the analyser's printout."),
    (("a date or time", "logical value"), "A date or TRUE/FALSE stands in a result column: check that the columns are not shifted."),
    (("excel error",), "The cell holds a spreadsheet error: fix the formula in the spreadsheet and upload it again."),
    (("has no cached value",), "Open the file in Excel or LibreOffice, let it calculate, save it, and upload it again."),
    (("separator", "decimal"), "Set the decimal mark under Import settings below, or write the number without a thousands separator."),
    (("cannot convert", "no fixed factor", "cannot read unit"), "This unit cannot be converted to the marker's unit: check the unit on the Map page."),
    (("unknown marker",), "The marker id is not one btm knows: correct it in the file."),
    (("not a number", "infinite"), "Correct the value in the spreadsheet (or leave it: it stays out of the study)."),
]


def fix_for(reason: Any) -> str:
    """A plain suggestion for a rejection reason (a convention of this page, not a rule of btm)."""
    text = str(reason or "").casefold()
    for words, fix in _FIXES:
        if any(w in text for w in words):
            return fix
    return "Check the cell in the spreadsheet; correct it and upload the file again, or leave it out."


def audit_text(entry: dict[str, Any]) -> str:
    """One line describing an audit entry's details."""
    d = entry.get("detail") or {}
    parts = []
    if d.get("file"):
        parts.append(str(d["file"]))
    if d.get("same_as"):
        parts.append(f"same content as {d['same_as']}" + (f" (uploaded {fmt_time(d.get('uploaded'))})" if d.get("uploaded") else ""))
    if d.get("bytes") is not None:
        parts.append(f"{int(d['bytes']):,} bytes")
    if d.get("counts"):
        c = d["counts"]
        parts.append(f"{c.get('loaded', 0)} loaded, {c.get('rejected', 0)} rejected, {c.get('blank', 0)} blank")
    if d.get("profile"):
        parts.append(f"profile {d['profile']}")
    if d.get("sheet"):
        parts.append(f"sheet {d['sheet']}")
    if isinstance(d.get("mapping"), list) and d["mapping"]:
        cols = sum(len(e.get("columns") or {}) for e in d["mapping"])
        parts.append(f"mapping of {cols} column(s)")
    if isinstance(d.get("options"), dict) and entry.get("action") != "study created":
        o = d["options"]
        shown = {k: v for k, v in o.items() if v not in (None, "", [], {}) and k != "ranges"}
        if shown:
            parts.append("; ".join(f"{k}={v}" for k, v in shown.items()))
    if d.get("title") and entry.get("action") == "study created":
        parts.append(f"title {d['title']}")
    if d.get("run"):
        parts.append(f"run {d['run']}")
    if d.get("error"):
        parts.append(str(d["error"]))
    return " · ".join(parts)
