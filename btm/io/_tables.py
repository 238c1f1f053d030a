"""The tables an import produces: their columns, the problem list and the per-file counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .layout import ColumnRole

#: Columns every tidy table has, in this order.
TIDY_COLUMNS = [
    "subject_id", "timepoint", "sample_date", "marker", "specimen", "value", "unit", "censored",
    "raw_value", "raw_unit", "source_file", "source_sheet", "source_row", "source_column",
    "sex", "age", "group", "menopausal_status", "fasting", "sample_time", "egfr", "variant", "kind", "flags",
]
#: Subject and sample columns added when some input has them.
OPTIONAL_COLUMNS = [
    "sample_id", "assay", "comment", "tanner_stage", "fracture", "pregnancy", "medication", "last_exercise",
]
#: Columns of the problem list.
PROBLEM_COLUMNS = ["severity", "source_file", "source_sheet", "source_row", "column", "raw_value", "reason"]

_MAX_RAW = 200  # raw text longer than this is shortened in the problem list
_MAX_REASON = 600  # a reason quoting a huge cell is cut in the middle (its explanation is at the end)


def short_raw(text: str) -> str:
    return text if len(text) <= _MAX_RAW else text[:_MAX_RAW] + f"… ({len(text):,} characters)"


def short_reason(text: str) -> str:
    if len(text) <= _MAX_REASON:
        return text
    return text[:300] + f" … [{len(text) - 450:,} characters cut] … " + text[-150:]


def col_letter(j: int) -> str:
    """Excel's letters of the 0-based column ``j``: 0 -> A, 26 -> AA."""
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def col_label(c: ColumnRole) -> str:
    """A column as the problem list names it: ``C (PINP (µg/L))``."""
    return f"{col_letter(c.index)} ({c.header})" if c.header else col_letter(c.index)


class Problems:
    """The problem list, one row per problem (see :data:`PROBLEM_COLUMNS`)."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def add(self, severity: str, file: str, sheet: str, row: int | None, column: str, raw: str, reason: str) -> None:
        self.rows.append((severity, file, sheet, row, column, short_raw(raw), short_reason(reason)))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=PROBLEM_COLUMNS)
        df["source_row"] = df["source_row"].astype("Int64")
        return df


@dataclass
class Counts:
    """What became of the values of a file: read = loaded + rejected + blank + ignored."""

    read: int = 0
    loaded: int = 0
    rejected: int = 0
    blank: int = 0
    ignored: int = 0

    def add(self, other: Counts) -> None:
        self.read += other.read
        self.loaded += other.loaded
        self.rejected += other.rejected
        self.blank += other.blank
        self.ignored += other.ignored
