"""Draft a mapping file for any input, even one btm cannot read yet.

``btm import FILES --write-mapping map.toml`` always writes a draft: for every sheet, every column
with its guessed role (subject column, visit, marker + unit + visit, derived value, look-alike,
unknown) and, for unknown columns, the nearest marker names as candidates. A sheet with no marker
column gets a full draft too (a header row, the columns, ``layout = "wide_visits"`` when its
headers are visits), so the user fills in only the blanks (``marker``, ``unit``) and reruns with
``--mapping``.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Any

from ..errors import InputFileError
from ..markers import catalog, normalize_name
from .layout import HEADER_SCAN_ROWS, classify_header, detect_layout, split_header
from .load import _has_cells, _layout_record
from .mapping import Mapping
from .readers import Limits, iter_spreadsheets, read_file
from .values import cell_text
from .visits import split_visit, visit_label

__all__ = ["candidates", "draft_entries", "draft_sheet"]


@functools.cache
def _names() -> dict[str, str]:
    out: dict[str, str] = {}
    for m in catalog().values():
        for syn in (m.id, *m.synonyms, *m.serum_synonyms, *m.urine_synonyms):
            key = normalize_name(syn).replace(" ", "")
            if key:
                out.setdefault(key, m.id)
    return out


def candidates(header: str, n: int = 3) -> list[str]:
    """Marker ids whose names are nearest to an unknown header (for the user to choose from)."""
    name = split_header(header)[0]
    vs = split_visit(name)
    key = normalize_name(vs.rest if vs else name).replace(" ", "")
    if not key:
        return []
    names = _names()
    out: list[str] = []
    for hit in difflib.get_close_matches(key, list(names), n=12, cutoff=0.6):
        if names[hit] not in out:
            out.append(names[hit])
    return out[:n]


def _guess_header_row(rows: list[list[Any]]) -> int:
    """The row with the most text cells among the first rows (a header is mostly text)."""
    best, best_n = 0, -1
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        texts = [cell_text(c).strip() for c in row]
        n = sum(1 for t in texts if t and not _is_number(t))
        n += sum(1 for t in texts if t and _is_number(t) and i == 0)  # visit columns named 0, 3, 6 …
        if n > best_n:
            best, best_n = i, n
    return best


def _is_number(t: str) -> bool:
    try:
        float(t.replace(",", "."))
    except ValueError:
        return False
    return True


def draft_sheet(file: str, sheet: str, rows: list[list[Any]], why: str) -> dict[str, Any]:
    """A draft mapping entry for a sheet btm could not read: every column with a guessed role."""
    h = _guess_header_row(rows)
    header = [cell_text(c).strip() for c in rows[h]] if rows else []
    columns: dict[str, str] = {}
    comments: dict[str, str] = {}
    visits = 0
    for text in header:
        if not text:
            continue
        hc = classify_header(text)
        if hc.role == "marker":
            columns[text] = hc.marker
            comments[text] = f"marker {hc.marker}" + (f", visit {hc.timepoint!r}" if hc.timepoint else "")
        elif hc.role in ("derived", "lookalike"):
            columns[text] = "ignore"
            comments[text] = f"{hc.role}: {hc.reason}"
        elif hc.role and hc.role != "time":
            columns[text] = "ignore" if hc.role == "ignore" else hc.role
            comments[text] = "subject/sample column"
        elif visit_label(text) or _is_number(text):
            visits += 1
            comments[text] = "a visit of the sheet's marker (layout wide_visits)"
        else:
            columns[text] = "ignore"
            cands = candidates(text)
            comments[text] = "unknown" + (f"; candidates: {', '.join(cands)}" if cands else "; a marker id, a column name or ignore")
    return {
        "file": file, "sheet": sheet, "header_row": h + 1, "units_row": None,
        "layout": "wide_visits" if visits >= 2 else "wide", "timepoint": None, "columns": columns, "units": {},
        "lod": {}, "specimen": None, "comments": comments, "draft_of_unread": why,
        "wide_visits": {"marker": None, "unit": None} if visits >= 2 else None,
        "id": None if any(v == "subject_id" for v in columns.values()) else "row",
    }


def draft_entries(paths: list[str | Path], *, mapping: Mapping | None = None, limits: Limits | None = None) -> list[dict[str, Any]]:
    """Mapping entries for every sheet of the inputs: what was detected, or a draft of every column."""
    mapping = mapping or Mapping()
    entries: list[dict[str, Any]] = []
    for shown, path in iter_spreadsheets(list(paths)):
        try:
            sheets = read_file(path, limits=limits or Limits())
        except InputFileError:
            continue
        with_data = [s for s in sheets if _has_cells(s)]
        file_entries: list[dict[str, Any]] = []
        for raw in with_data:
            sm = mapping.for_sheet(shown, raw.sheet)
            layout = detect_layout(raw.rows, sheet=raw.sheet, multi_sheet=len(with_data) > 1, mapping=sm, merged=raw.merged)
            if isinstance(layout, str):
                file_entries.append(draft_sheet(Path(shown).name, raw.sheet, raw.rows, layout))
            else:
                rec = _layout_record(shown, raw, layout, sm)
                rec["comments"] = _comments(layout)
                file_entries.append(rec)
        read_any = any("draft_of_unread" not in e for e in file_entries)
        for e in file_entries:
            if read_any and "draft_of_unread" in e:
                e["skip"] = True  # another sheet of the file holds the data: keep this one skipped, its draft commented
                e["why"] = e["draft_of_unread"]
        entries.extend(file_entries)
    return entries


def _comments(layout) -> dict[str, str]:
    out = {}
    for c in layout.columns:
        if not c.header:
            continue
        if c.role == "marker":
            out[c.header] = f"marker {c.marker}" + (f", visit {c.timepoint!r}" if c.timepoint else "") + (f", unit from {c.unit_source}" if c.unit_source else ", no unit found")
        elif c.role in ("derived", "lookalike"):
            out[c.header] = f"{c.role}: {c.reason}"
        elif c.role == "":
            cands = candidates(c.header)
            out[c.header] = "unknown" + (f"; candidates: {', '.join(cands)}" if cands else "; a marker id, a column name or ignore")
    return out
