"""btm's own outputs, recognised by their content (not their names), so a folder scan never reads
them as new data: ``btm import data/ -o data/tidy.csv`` then ``btm analyze data/`` would otherwise
read every result twice. A file given by name is always read (the tidy CSV round trip)."""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["btm_output_kind"]

# header columns that together only btm writes, and what the file is
_CSV_SIGNATURES = [
    ({"source_file", "source_sheet", "source_row", "raw_value", "reason"}, "btm's list of rejected values or warnings"),
    ({"subject_id", "timepoint", "marker", "value", "unit", "censored", "raw_value", "source_file", "source_row"}, "btm's tidy table"),
    ({"subject_id", "formation_z", "resorption_z", "balance_index"}, "btm's balance table"),
    ({"subject_id", "timepoint_from", "timepoint_to", "rcv_up_pct", "rcv_down_pct"}, "btm's table of changes"),
    ({"group", "timepoint_from", "timepoint_to", "gm_pct_change", "n_censored_excluded"}, "btm's arm statistics"),
    ({"group", "control", "estimate_label", "pct_difference"}, "btm's between-arm statistics"),
    ({"group", "exercise_type", "verdict", "citations"}, "btm's evidence table"),
]


def btm_output_kind(path: Path) -> str | None:
    """What btm output ``path`` is ("btm's tidy table" …), or None for anything else."""
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return _workbook_kind(path)
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    text = head.decode("utf-8-sig", errors="replace")
    first = text.split("\n", 1)[0].strip("\r\ufeff ")
    if first.startswith("btm ") and "inputs (SHA-256):" in text[:4096]:
        return "btm's run information"
    cells = {c.strip().strip('"') for c in first.split(",")}
    return next((what for need, what in _CSV_SIGNATURES if need <= cells), None)


def _workbook_kind(path: Path) -> str | None:
    """A report written by btm carries the custom document property "btm version"."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n.lower(): n for n in zf.namelist()}
            member = names.get("docprops/custom.xml")
            if member is None:
                return None
            with zf.open(member) as fh:
                head = fh.read(65536)
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        return None
    return "btm's report" if b'name="btm version"' in head else None
