"""The one place where the web page calls btm's library: import, preview, analyse, write outputs.

Every function here runs in a worker process (:mod:`btm.web.jobs`), takes a dict of plain
values and returns a dict of plain values (str, int, float, bool, None, lists, dicts), so
nothing that crosses the process boundary depends on pickling btm's objects or exceptions: a
failure comes back as ``{"ok": False, "error": "one line", "kind": "InputFileError"}``.

When btm gains its summary model, the results page switches here (:func:`build_study` and
:func:`_summary`) and nowhere else.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["build_study", "check_file", "describe_study", "header_signature", "import_files", "warm", "write_figures_zip"]

PREVIEW_ROWS = 8  # data rows shown under the header on the preview page
TOP_ROWS = 30  # rows offered when choosing the header row (btm looks for it in the first 30)
MAX_PREVIEW_COLS = 80
MAX_CELL = 80  # characters of a cell shown in a preview
MAX_PREVIEW_SHEETS = 50  # sheets previewed in full; the others are only imported
MAX_LISTED = 5000  # rejected values / warnings kept for the page (all of them go into the xlsx download)


# ---------------------------------------------------------------------------------------------
# plumbing


def warm() -> None:
    """Import the library and load its tables once per worker process (the first job is then fast)."""
    from ..analysis import analyze  # noqa: F401
    from ..io import read_results  # noqa: F401
    from ..markers import catalog
    from ..ranges import load_biovariation, shipped_intervals
    from ..report import write_report  # noqa: F401

    catalog()
    shipped_intervals()
    load_biovariation()


def _safely(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Run a job; any failure becomes a plain ``{"ok": False, "error", "kind"}`` (never an exception)."""

    def run(job: dict[str, Any]) -> dict[str, Any]:
        from ..errors import BTMError

        names = _names(job)
        try:
            out = fn(job)
            out.setdefault("ok", True)
            return out
        except BTMError as exc:
            return {"ok": False, "error": _rename(str(exc), names), "kind": type(exc).__name__}
        except MemoryError:
            return {"ok": False, "error": "out of memory: the file is too large for this computer", "kind": "MemoryError"}
        except OSError as exc:
            return {"ok": False, "error": _rename(f"cannot read or write a file ({exc.strerror or exc})", names), "kind": "OSError"}
        except Exception as exc:  # a bug: still one line, and the type to report
            text = (str(exc).strip().splitlines() or [""])[0][:300]
            return {"ok": False, "error": f"internal error ({type(exc).__name__}: {_rename(text, names)})", "kind": "internal"}

    run.__name__ = fn.__name__
    run.__qualname__ = fn.__qualname__
    run.__doc__ = fn.__doc__
    return run


def _names(job: dict[str, Any]) -> dict[str, str]:
    """Stored path -> original file name, for every file of a job."""
    files = job.get("files") or ([{"path": job["path"], "original": job["original"]}] if "path" in job else [])
    out: dict[str, str] = {}
    for f in files:
        out[str(f["path"])] = f["original"]
        out[Path(f["path"]).name] = f["original"]
    return out


def _rename(text: str, names: dict[str, str]) -> str:
    """Replace generated upload names (paths first, then bare names) by the names people gave the files."""
    for stored in sorted(names, key=len, reverse=True):
        text = text.replace(stored, names[stored])
    return text


def _limits(max_mb: float | None):
    from ..io.readers import Limits

    default = Limits()
    if max_mb and max_mb * 1024**2 > default.max_file_bytes:
        return Limits.scaled(max_mb)
    return default


def _mapping(files: list[dict[str, Any]], *, dayfirst: bool | None, decimal: str | None, unit_aliases: dict[str, str] | None = None):
    """One mapping for the job: each file's sheet entries, bound to its generated name."""
    from ..io.mapping import mapping_from_dict

    sheets = []
    for f in files:
        for e in f.get("entries") or []:
            sheets.append(_entry_for_toml({**e, "file": Path(f["path"]).name}))
    raw: dict[str, Any] = {"sheets": sheets}
    if dayfirst is not None:
        raw["dayfirst"] = bool(dayfirst)
    if decimal:
        raw["decimal"] = decimal
    if unit_aliases:
        raw["unit_aliases"] = dict(unit_aliases)
    return mapping_from_dict(raw, source="mapping")


def _job_mapping(job: dict[str, Any], files: list[dict[str, Any]]):
    return _mapping(files, dayfirst=job.get("dayfirst"), decimal=job.get("decimal"), unit_aliases=job.get("unit_aliases"))


def _entry_for_toml(e: dict[str, Any]) -> dict[str, Any]:
    """A sheet entry with only the keys a mapping file accepts, without empty values."""
    from ..io import mapping as m

    keys = getattr(m, "_SHEET_KEYS", {"file", "sheet", "header_row", "units_row", "layout", "timepoint", "skip", "columns", "units", "lod", "specimen"})
    return {k: v for k, v in e.items() if k in keys and v is not None and v != {} and not (k == "skip" and not v)}


def _cut(text: str, n: int = MAX_CELL) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _letter(j: int) -> str:
    """Excel's letters of the 0-based column ``j`` (the importer's own function)."""
    from ..io._tables import col_letter

    return col_letter(j)


def _norm_header(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def header_signature(cells: list[Any]) -> str:
    """SHA-256 of a header row's cell texts (case, spacing and trailing empty cells ignored)."""
    from ..io.values import cell_text

    texts = [_norm_header(cell_text(c)) for c in cells]
    while texts and not texts[-1]:
        texts.pop()
    return hashlib.sha256("\x1f".join(texts).encode("utf-8")).hexdigest()


def _has_cells(rows: list[list[Any]]) -> bool:
    from ..io.values import cell_text

    return any(any(cell_text(c).strip() for c in row) for row in rows[:2000])


def _plain(v: Any) -> Any:
    """A JSON-safe scalar: NaN/NA -> None, numpy numbers -> Python numbers, dates -> ISO text."""
    if v is None:
        return None
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item") and not isinstance(v, str):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            pass
        if isinstance(v, float) and math.isnan(v):
            return None
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10] if getattr(v, "hour", 0) == 0 and getattr(v, "minute", 0) == 0 else v.isoformat()
    if isinstance(v, int | float | str | bool):
        return v
    return str(v)


def _records(df, columns: list[str], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN/NA -> None, dates -> ISO text), converted by pandas, not cell by cell."""
    import json

    cols = [c for c in columns if c in df.columns]
    part = df[cols] if limit is None else df[cols].head(limit)
    if part.empty:
        return []
    return json.loads(part.to_json(orient="records", date_format="iso", double_precision=15, force_ascii=False))


# ---------------------------------------------------------------------------------------------
# preview: what btm sees in each sheet


def _profile_for(rows: list[list[Any]], profiles: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest mapping profile whose header row matches this sheet's row at the same position."""
    cache: dict[int, str] = {}
    for p in profiles:
        h = int(p["header_row"]) - 1
        if h < 0 or h >= len(rows):
            continue
        if h not in cache:
            cache[h] = header_signature(rows[h])
        if cache[h] == p["signature"]:
            return p
    return None


def _column_state(role: str) -> str:
    if role == "marker":
        return "marker"
    if role == "ignore":
        return "ignored"
    if role in ("derived", "lookalike"):
        return "derived"
    if role.startswith("unit_of_") or role == "unit":
        return "unit"
    return "field" if role else "unknown"


def _preview_sheet(raw, layout) -> dict[str, Any]:
    from ..io.values import cell_text

    def row_texts(r: list[Any], width: int, n: int = MAX_CELL) -> list[str]:
        return [_cut(cell_text(r[j]).strip(), n) if j < len(r) else "" for j in range(width)]

    def top_rows(width: int) -> list[list[str]]:  # whole header texts (up to 255 characters: longer are never headers)
        return [row_texts(r, width, 255) for r in raw.rows[:TOP_ROWS]]

    base: dict[str, Any] = {"sheet": raw.sheet, "n_rows": len(raw.rows), "notes": list(raw.notes)}
    width = min(max((len(r) for r in raw.rows[:200]), default=0), MAX_PREVIEW_COLS)
    if isinstance(layout, str):
        base.update(status="skipped", why=layout, top=top_rows(width), width=width,
                    top_signatures=[header_signature(r) for r in raw.rows[:TOP_ROWS]])
        return base
    cols = []
    for c in layout.columns[:MAX_PREVIEW_COLS]:
        cols.append({
            "index": c.index, "letter": _letter(c.index), "header": _cut(c.header, 120), "header_full": c.header,
            "role": c.role, "state": _column_state(c.role), "marker": c.marker, "specimen": c.specimen or "",
            "variant": c.variant, "unit": c.unit, "unit_source": c.unit_source,
            "unit_column": None if c.unit_column is None else _letter(c.unit_column),
            "visit": getattr(c, "timepoint", None) or "", "reason": getattr(c, "reason", "") or "",
        })
    width = max(width, len(cols))
    data = raw.rows[layout.data_start : layout.data_start + PREVIEW_ROWS]
    units = sorted({c.unit for c in layout.columns if c.role == "marker" and c.unit})
    unit_cols = [c.index for c in layout.columns if c.role == "unit" or c.role.startswith("unit_of_")]
    for r in raw.rows[layout.data_start : layout.data_start + 2000]:
        for j in unit_cols:
            if j < len(r):
                t = cell_text(r[j]).strip()
                if t and len(units) < 50 and t not in units:
                    units.append(t)
    base.update(
        status="table", header_row=layout.header_row + 1,
        units_row=None if layout.units_row is None else layout.units_row + 1,
        data_start=layout.data_start + 1, layout=layout.layout, timepoint=layout.timepoint,
        columns=cols, n_columns=len(layout.columns), width=width,
        header=row_texts(raw.rows[layout.header_row], width),
        units_line=row_texts(raw.rows[layout.units_row], width) if layout.units_row is not None else None,
        rows=[row_texts(r, width) for r in data], units=units, layout_notes=list(layout.notes),
        signature=header_signature(raw.rows[layout.header_row]),
        top=top_rows(width), top_signatures=[header_signature(r) for r in raw.rows[:TOP_ROWS]],
    )
    return base


def _rejected_records(result, sheets_info: dict[tuple[str, str], Any] | None = None) -> list[dict[str, Any]]:
    """Every rejected value with its cell (``Sheet!B7``), subject and visit where known.

    Subject and visit come from the values of the same row that were loaded, else (when the
    sheet's grid is at hand, ``sheets_info``) from the row's own subject and visit cells.
    """
    import numpy as np
    import pandas as pd

    rej = result.rejected
    if rej.empty:
        return []
    keys = ["source_file", "source_sheet", "source_row"]
    known = result.data[keys + ["subject_id", "timepoint"]].drop_duplicates(keys)
    rej = rej.assign(source_row=pd.to_numeric(rej["source_row"], errors="coerce").astype("Int64"))
    known = known.assign(source_row=pd.to_numeric(known["source_row"], errors="coerce").astype("Int64"))
    m = rej.merge(known, on=keys, how="left")
    sheet = m["source_sheet"].fillna("").astype(str)
    row = m["source_row"]
    row_text = row.astype("string").fillna("")
    letter = m["column"].astype(str).str.extract(r"^([A-Z]{1,3})(?:\s|$)", expand=False).fillna("")
    cell = np.where((letter != "") & row.notna(), letter + row_text, np.where(row.notna(), "row " + row_text, ""))
    refs = sheet.map({x: _sheet_ref(x) for x in sheet.unique() if x})
    cell = np.where((sheet != "") & (cell != ""), refs.fillna("") + "!" + cell, cell)
    out = pd.DataFrame({
        "file": m["source_file"].astype(str), "sheet": sheet, "cell": cell, "row": row, "column": m["column"].astype(str),
        "subject_id": m["subject_id"].fillna("").astype(str), "timepoint": m["timepoint"].fillna("").astype(str),
        "raw_value": m["raw_value"].fillna("").astype(str), "reason": m["reason"].astype(str),
    })
    records = _records(out, list(out.columns))
    if sheets_info:
        for rec in records:  # rows with no loaded value: read the row's own subject and visit cells
            info = sheets_info.get((rec["file"], rec["sheet"]))
            if info is not None and rec["row"] and not rec["subject_id"]:
                rec["subject_id"], rec["timepoint"] = info(rec["row"])
    return records


def _sheet_ref(sheet: str) -> str:
    return sheet if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", sheet) else "'" + sheet.replace("'", "''") + "'"


def _row_lookup(raw, layout) -> Callable[[int], tuple[str, str]]:
    """Excel row -> (subject, visit) read from the sheet's own subject and visit columns."""
    from ..io.values import cell_text

    subj = next((layout.by_role(r) for r in ("subject_id", "mrn", "sample_id") if layout.by_role(r)), None)
    visit = layout.by_role("timepoint")

    def look(row: int) -> tuple[str, str]:
        cells = raw.rows[row - 1] if 0 < row <= len(raw.rows) else []
        s = cell_text(cells[subj.index]).strip() if subj and subj.index < len(cells) else ""
        v = cell_text(cells[visit.index]).strip() if visit and visit.index < len(cells) else (layout.timepoint or "")
        return _cut(s, 120), _cut(v, 120)

    return look


def _problem_records(result) -> list[dict[str, Any]]:
    w = result.warnings
    return [
        {"severity": str(r.severity), "file": str(r.source_file), "sheet": str(r.source_sheet or ""),
         "row": _plain(r.source_row), "column": str(r.column or ""), "raw_value": _plain(r.raw_value) or "", "reason": str(r.reason)}
        for r in w.head(MAX_LISTED).itertuples(index=False)
    ]


def _counts(files_df) -> dict[str, int]:
    keys = ("read", "loaded", "rejected", "blank", "ignored")
    return {k: int(files_df[k].sum()) if k in files_df and len(files_df) else 0 for k in keys}


def _rename_frames(result, names: dict[str, str]) -> None:
    """Show the original file names in the tables (the paths were generated)."""
    mapping = {k: v for k, v in names.items() if "/" in k or "\\" in k}
    for df, col in ((result.data, "source_file"), (result.problems, "source_file"), (result.files, "file")):
        if col in df and len(df):
            df[col] = df[col].astype(str).replace(mapping)
    if len(result.problems):
        result.problems["reason"] = result.problems["reason"].astype(str).map(lambda t: _rename(t, names))
    if "status" in result.files and len(result.files):
        result.files["status"] = result.files["status"].astype(str).map(lambda t: _rename(t, names))
    for rec in result.layouts:
        rec["file"] = names.get(rec.get("file", ""), rec.get("file", ""))


def write_rejected_xlsx(records: list[dict[str, Any]], path: str | Path, *, title: str = "Rejected values") -> None:
    """The rejected list as a workbook (every cell written as text or number, never as a formula)."""
    import xlsxwriter

    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
    ws = wb.add_worksheet("Rejected")
    bold = wb.add_format({"bold": True, "bg_color": "#E8EEF4", "border": 1, "text_wrap": True, "valign": "top"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    heads = [("file", "File", 28), ("cell", "Cell", 12), ("column", "Column", 22), ("subject_id", "Subject", 14),
             ("timepoint", "Visit", 12), ("raw_value", "Raw text", 22), ("reason", "Reason", 70)]
    ws.write_string(0, 0, f"{title}: {len(records)}", wb.add_format({"bold": True, "font_size": 13}))
    for j, (_, h, width) in enumerate(heads):
        ws.set_column(j, j, width)
        ws.write_string(2, j, h, bold)
    for i, rec in enumerate(records, start=3):
        for j, (k, _, _) in enumerate(heads):
            v = rec.get(k)
            ws.write_string(i, j, "" if v is None else str(v)[:32_000], wrap)
    ws.freeze_panes(3, 0)
    if records:
        ws.autofilter(2, 0, 2 + len(records), len(heads) - 1)
    wb.close()
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# jobs


def _detect(raw, *, multi_sheet: bool, mapping):
    """``detect_layout`` as the importer calls it (merged ranges passed where the library takes them)."""
    import inspect

    from ..io.layout import detect_layout

    kw = {"merged": raw.merged} if "merged" in inspect.signature(detect_layout).parameters else {}
    return detect_layout(raw.rows, sheet=raw.sheet, multi_sheet=multi_sheet, mapping=mapping, **kw)


def _drafts(path: str, mapping, limits, names: dict[str, str]) -> list[dict[str, Any]]:
    """The mapping draft of a file (every sheet, every column with its guessed role), for download."""
    try:
        from ..io.draft import draft_entries
    except ImportError:  # an older btm: the importer's own layout records are the draft
        return []
    out = []
    for e in draft_entries([path], mapping=mapping, limits=limits):
        out.append(json_safe({**e, "file": "*", "source": names.get(e.get("file", ""), e.get("file", ""))}))
    return out


def json_safe(obj: Any) -> Any:
    import json

    return json.loads(json.dumps(obj, default=str))


@_safely
def check_file(job: dict[str, Any]) -> dict[str, Any]:
    """Preview and import one uploaded file: what each sheet looks like, counts, every rejected value.

    ``job``: ``path``, ``original``, ``entries`` (the file's own mapping entries), ``profiles``
    (saved mapping profiles), ``dayfirst``, ``decimal``, ``max_mb``, ``rejected_xlsx`` (where to
    write the rejected list).
    """
    from ..errors import InputFileError
    from ..io import read_results
    from ..io.readers import read_file

    path, original = str(job["path"]), job["original"]
    names = _names(job)
    limits = _limits(job.get("max_mb"))
    sheets = read_file(path, limits=limits)
    entries = list(job.get("entries") or [])
    profiles = list(job.get("profiles") or [])
    applied: list[dict[str, Any]] = []
    explicit = {e.get("sheet") for e in entries}
    for raw in sheets:
        if raw.sheet in explicit or None in explicit or not raw.rows:
            continue
        p = _profile_for(raw.rows, profiles)
        if p is not None:
            entries.append({**p["entry"], "sheet": raw.sheet})
            applied.append({"sheet": raw.sheet, "profile_id": p["id"], "profile_name": p["name"]})
    files = [{"path": path, "original": original, "entries": entries}]
    mapping = _job_mapping(job, files)
    with_data = [s for s in sheets if _has_cells(s.rows)]
    preview, lookups = [], {}
    for k, raw in enumerate(sheets):
        if k >= MAX_PREVIEW_SHEETS:
            why = f"not previewed (only the first {MAX_PREVIEW_SHEETS} sheets are); it is still imported"
            preview.append({"sheet": raw.sheet, "status": "skipped", "why": why, "top": [], "n_rows": len(raw.rows), "notes": []})
            continue
        sm = mapping.for_sheet(path, raw.sheet)
        if sm is not None and sm.skip:
            preview.append({"sheet": raw.sheet, "status": "skipped", "why": "the mapping says skip", "top": [], "n_rows": len(raw.rows), "notes": []})
            continue
        if not _has_cells(raw.rows):
            preview.append({"sheet": raw.sheet, "status": "skipped", "why": "the sheet is empty", "top": [], "n_rows": len(raw.rows), "notes": []})
            continue
        layout = _detect(raw, multi_sheet=len(with_data) > 1, mapping=sm)
        preview.append(_preview_sheet(raw, layout))
        if not isinstance(layout, str):
            lookups[(original, raw.sheet)] = _row_lookup(raw, layout)
    out: dict[str, Any] = {"file": original, "sheets": preview, "applied_profiles": applied, "entries": entries,
                           "drafts": _drafts(path, mapping, limits, names)}
    try:
        result = read_results([path], mapping=mapping, dayfirst=job.get("dayfirst"), decimal=job.get("decimal"), limits=limits)
    except InputFileError as exc:
        out.update(ok=True, readable=False, error=_rename(str(exc), names), counts=_counts(_empty_files()), rejected=[], warnings=[])
        return out
    _rename_frames(result, names)
    status = str(result.files["status"].iat[0]) if len(result.files) else "ok"
    rejected = _rejected_records(result, lookups)
    if job.get("rejected_xlsx"):
        write_rejected_xlsx(rejected, job["rejected_xlsx"], title=f"Rejected values of {original}")
    data = result.data
    out.update(
        readable=status == "ok", error="" if status == "ok" else status.removeprefix("not read: "),
        counts=_counts(result.files), rejected=rejected[:MAX_LISTED], n_rejected=len(rejected),
        warnings=_problem_records(result), n_warnings=len(result.warnings),
        groups=[str(g) for g in data["group"].astype(str).unique()[:200] if g],
        timepoints=[str(t) for t in data["timepoint"].astype(str).unique()[:200] if t],
        markers=sorted(str(m) for m in data["marker"].astype(str).unique()),
        subjects=int(data["subject_id"].nunique()), layouts=result.layouts,
    )
    return out


def _empty_files():
    import pandas as pd

    return pd.DataFrame(columns=["read", "loaded", "rejected", "blank", "ignored"])


@_safely
def import_files(job: dict[str, Any]) -> dict[str, Any]:
    """Import several files at once (the API): per-file counts and status, rejected values, groups and visits."""
    from ..errors import InputFileError
    from ..io import read_results

    files = job["files"]
    names = _names(job)
    mapping = _job_mapping(job, files)
    try:
        result = read_results([f["path"] for f in files], mapping=mapping, dayfirst=job.get("dayfirst"), decimal=job.get("decimal"), limits=_limits(job.get("max_mb")))
    except InputFileError as exc:
        return {"ok": False, "error": _rename(str(exc), names), "kind": "InputFileError"}
    _rename_frames(result, names)
    per_file = []
    by_name = {r.file: r for r in result.files.itertuples(index=False)}
    for f in files:
        r = by_name.get(f["original"])
        counts = {k: int(getattr(r, k)) for k in ("read", "loaded", "rejected", "blank", "ignored")} if r is not None else dict.fromkeys(("read", "loaded", "rejected", "blank", "ignored"), 0)
        status = str(r.status) if r is not None else "not read"
        per_file.append({"name": f["original"], "counts": counts, "status": "ok" if status == "ok" else "unreadable",
                         "error": "" if status == "ok" else status.removeprefix("not read: ")})
    data = result.data
    rejected = _rejected_records(result)
    return {
        "files": per_file, "counts": _counts(result.files), "rejected": rejected, "warnings": _problem_records(result),
        "groups": [str(g) for g in data["group"].astype(str).unique() if g],
        "timepoints": [str(t) for t in data["timepoint"].astype(str).unique() if t],
    }


def _order_and_arms(data, options: dict[str, Any]) -> dict[str, Any]:
    from ..errors import AnalysisError
    from ..evidence import arm_population, detect_control, exercise_type_of
    from ..timepoints import order_timepoints

    groups = [str(g) for g in data["group"].astype(str).unique() if g]
    try:
        order = order_timepoints(data, explicit=options.get("timepoint_order") or None, baseline=options.get("baseline") or None)
        tps, baseline, basis = list(order.order), order.baseline, order.basis
    except AnalysisError as exc:
        tps, baseline, basis = [str(t) for t in data["timepoint"].astype(str).unique() if t], "", str(exc)
    control = detect_control(groups) if groups else None
    pops = {g: list(p) for g, p in arm_population(data).items()} if groups else {}
    return {
        "groups": groups, "timepoints": tps, "baseline": baseline, "order_basis": basis, "control": control or "",
        "arm_types": {g: ("control" if g == control else exercise_type_of(g)) for g in groups}, "populations": pops,
    }


@_safely
def describe_study(job: dict[str, Any]) -> dict[str, Any]:
    """What the options page proposes: arms, visits in order, baseline, control, exercise types."""
    from ..io import read_results

    files = job["files"]
    mapping = _job_mapping(job, files)
    result = read_results([f["path"] for f in files], mapping=mapping, dayfirst=job.get("dayfirst"), decimal=job.get("decimal"), limits=_limits(job.get("max_mb")))
    return _order_and_arms(result.data, {})


def _options(opts: dict[str, Any]):
    from ..analysis import AnalysisOptions

    return AnalysisOptions(
        control=opts.get("control") or None, baseline=opts.get("baseline") or None,
        timepoint_order=list(opts.get("timepoint_order") or []), test=opts.get("test") or "t",
        adjust=opts.get("adjust") or "holm", between=opts.get("between") or "ancova", rcv=opts.get("rcv") or "lognormal",
        ranges=list(opts.get("ranges_paths") or []), arm_types=dict(opts.get("arm_types") or {}),
        population=opts.get("population") or None, condition=opts.get("condition") or None,
    )


def _interpretation_only(data, options, message: str):
    """An analysis result with the interpretation of every result and no change statistics."""
    import pandas as pd

    from ..analysis import AnalysisResult
    from ..change import CHANGE_COLUMNS
    from ..interpret import interpret
    from ..timepoints import TimepointOrder

    it = interpret(data, ranges=options.ranges or None)
    tps = tuple(str(t) for t in pd.unique(it.results["timepoint"].astype(str))) or ("",)
    return AnalysisResult(
        results=it.results, balance=it.balance, changes=pd.DataFrame(columns=CHANGE_COLUMNS), cohort=pd.DataFrame(),
        between=pd.DataFrame(), evidence=pd.DataFrame(), order=TimepointOrder(tps, tps[0], "as found (no trial analysis)"),
        control=None, arm_types={}, populations={}, options=options,
        notes=[f"trial analysis not possible: {message}; the report interprets every result against its reference interval"],
    )


RESULT_COLUMNS = [
    "subject_id", "timepoint", "group", "sex", "age", "marker", "specimen", "value", "unit", "censored", "status",
    "ref_low", "ref_high", "ref_unit", "ref_population", "ref_source", "ref_note", "z", "flags",
    "source_file", "source_sheet", "source_row", "source_column",
]
CHANGE_VIEW_COLUMNS = [
    "subject_id", "group", "marker", "unit", "timepoint_from", "timepoint_to", "value_from", "value_to", "change_pct",
    "rcv_down_pct", "rcv_up_pct", "direction", "responder", "note",
]
BETWEEN_VIEW_COLUMNS = [
    "group", "control", "marker", "timepoint_to", "n_group", "n_control", "test", "pct_difference", "pct_ci_low",
    "pct_ci_high", "p", "p_adj", "note",
]
EVIDENCE_VIEW_COLUMNS = [
    "group", "exercise_type", "population", "marker", "timepoint_to", "n", "gm_pct_change", "observed", "expected",
    "verdict", "evidence", "citations",
]
HEADLINE_VIEW_COLUMNS = [
    "group", "exercise_type", "marker", "specimen", "unit", "timepoint_from", "timepoint_to", "n", "gm_pct_change",
    "gm_pct_ci_low", "gm_pct_ci_high", "p_adj", "d_z", "test", "pct_difference", "pct_ci_low", "pct_ci_high",
    "between_p_adj", "expected", "verdict",
]


def _summary(a, imported, *, analysis: str, message: str, summary: Any = None) -> dict[str, Any]:
    """What the results page shows first (small); the per-row tables go to JSON files beside it.

    ``summary`` is the :class:`~btm.summary.Summary` the report rendered (the same headline)."""
    res = a.results
    status = res["status"].astype(str).replace("", "no interval").value_counts() if len(res) else {}
    head = summary.headline if (analysis == "trial" and summary is not None) else None
    changes = a.changes
    rcv = []
    if len(changes):
        c = changes[~changes["marker"].astype(str).str.contains("/", regex=False)]
        tab = c.groupby(["group", "marker", "timepoint_to"], sort=False)["direction"].value_counts().unstack(fill_value=0)
        for (g, m, t), row in tab.iterrows():
            rcv.append({"group": str(g), "marker": str(m), "timepoint_to": str(t),
                        **{str(k): int(v) for k, v in row.items()}, "n": int(row.sum())})
    return {
        "analysis": analysis, "message": message, "notes": list(a.notes),
        "order": list(a.order.order), "baseline": a.order.baseline, "order_basis": a.order.basis,
        "control": a.control or "", "arm_types": dict(a.arm_types),
        "populations": {g: list(p) for g, p in a.populations.items()},
        "options": a.options.describe(),
        "counts": _counts(imported.files), "files": _records(imported.files, ["file", "sheets", "read", "loaded", "rejected", "blank", "ignored", "status"]),
        "n_results": int(len(res)), "n_subjects": int(res["subject_id"].nunique()) if len(res) else 0,
        "status_counts": {str(k): int(v) for k, v in dict(status).items()},
        "markers": sorted(str(m) for m in res["marker"].astype(str).unique()) if len(res) else [],
        "headline": _records(head, HEADLINE_VIEW_COLUMNS) if head is not None else [],
        "between": _records(a.between, BETWEEN_VIEW_COLUMNS) if len(a.between) else [],
        "evidence": _records(a.evidence, EVIDENCE_VIEW_COLUMNS) if len(a.evidence) else [],
        "rcv": rcv, "n_rejected": int(len(imported.rejected)), "n_warnings": int(len(imported.warnings)),
    }


@_safely
def build_study(job: dict[str, Any]) -> dict[str, Any]:
    """Import the study's confirmed files, analyse, and write report.xlsx, tidy.csv, rejected.xlsx.

    ``job``: ``files`` (``path``, ``original``, ``entries``), ``options`` (analysis options),
    ``dayfirst``, ``decimal``, ``max_mb``, ``outdir``, ``title``, ``strict_options`` (an analysis
    error is an error rather than a fall-back to interpretation only).
    """
    import json

    from ..errors import AnalysisError
    from ..io import read_results
    from ..io.write import write_csv
    from ..report import write_report

    files = job["files"]
    names = _names(job)
    mapping = _job_mapping(job, files)
    imported = read_results([f["path"] for f in files], mapping=mapping, dayfirst=job.get("dayfirst"), decimal=job.get("decimal"), limits=_limits(job.get("max_mb")))
    _rename_frames(imported, names)
    options = _options(job.get("options") or {})
    try:
        from ..analysis import analyze

        a, analysis, message = analyze(imported.data, options), "trial", ""
    except AnalysisError as exc:
        if job.get("strict_options"):
            raise
        a, analysis, message = _interpretation_only(imported.data, options, str(exc)), "interpretation", str(exc)
    outdir = Path(job["outdir"])
    work = Path(tempfile.mkdtemp(prefix=".run-", dir=outdir.parent))
    try:
        write_csv(imported.data, work / "tidy.csv")
        from ..summary import summarize

        computed = summarize(a, imported, title=job.get("title") or "")  # once: the report and the page show it
        write_report(a, imported, work / "report.xlsx", summary=computed, title=job.get("title") or None)
        rejected = _rejected_records(imported)
        write_rejected_xlsx(rejected, work / "rejected.xlsx")
        summary = _summary(a, imported, analysis=analysis, message=message, summary=computed)
        tables = {
            "results": _records(a.results, RESULT_COLUMNS),
            "changes": _records(a.changes, CHANGE_VIEW_COLUMNS) if len(a.changes) else [],
            "rejected": rejected,
            "warnings": _problem_records(imported),
        }
        for name, rows in tables.items():
            with open(work / f"{name}.json", "w", encoding="utf-8") as fh:
                json.dump(rows, fh, ensure_ascii=False)
        if outdir.exists():
            shutil.rmtree(outdir)
        os.replace(work, outdir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return {"summary": summary}


@_safely
def write_figures_zip(job: dict[str, Any]) -> dict[str, Any]:
    """The figures of a study (PNG, needs matplotlib) in one zip; ``job`` as for :func:`build_study` plus ``zip``."""
    import zipfile

    from ..analysis import analyze
    from ..errors import BTMError
    from ..io import read_results
    from ..report.figures import write_figures

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BTMError("figures need matplotlib: pip install 'btm[figures]'") from None
    files = job["files"]
    mapping = _job_mapping(job, files)
    imported = read_results([f["path"] for f in files], mapping=mapping, dayfirst=job.get("dayfirst"), decimal=job.get("decimal"), limits=_limits(job.get("max_mb")))
    a = analyze(imported.data, _options(job.get("options") or {}))
    target = Path(job["zip"])
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        figs = write_figures(a, Path(tmp) / "figures")
        part = target.with_name(target.name + ".part")
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in figs:
                p = Path(f.path)
                zf.write(p, arcname=p.name)
        os.replace(part, target)
    return {"n": len(figs)}


@_safely
def probe_ranges(job: dict[str, Any]) -> dict[str, Any]:
    """Validate a lab's reference-interval file: its row count and markers."""
    from ..ranges import load_intervals

    df = load_intervals(job["path"], origin="user")
    return {"n": int(len(df)), "markers": sorted(str(m) for m in df["marker"].unique())}
