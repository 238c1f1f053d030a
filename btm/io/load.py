"""Import: files and folders of lab spreadsheets -> one tidy table of results + every problem.

The tidy table has one row per result, ``value`` in the marker's canonical unit, and the
provenance of each value (file, sheet, Excel row, column, raw text and unit). Nothing is dropped
silently: every cell of a marker column ends loaded, blank, or rejected with its reason
(:data:`ImportResult.problems`), and every file gets a summary row (:data:`ImportResult.files`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._groupwise import repack_texts
from ..errors import InputFileError, StrictModeError
from ._checks import finish, flag_magnitude, harmonise_labels, report_conflicts, report_duplicates
from ._sheet import load_sheet
from ._stacked import split_tables
from ._tables import OPTIONAL_COLUMNS, PROBLEM_COLUMNS, TIDY_COLUMNS, Counts, Problems
from .layout import SheetLayout, detect_layout
from .mapping import Mapping, SheetMapping
from .readers import Limits, RawSheet, iter_spreadsheets, read_file
from .values import cell_text

__all__ = ["ImportResult", "OPTIONAL_COLUMNS", "PROBLEM_COLUMNS", "TIDY_COLUMNS", "first_rejection", "read_results"]


@dataclass
class ImportResult:
    """What :func:`read_results` returns.

    Attributes
    ----------
    data
        The tidy table (:data:`TIDY_COLUMNS` plus the optional columns found).
    problems
        Every problem, one row each (:data:`PROBLEM_COLUMNS`); ``severity`` is ``rejected``
        (a value not loaded), ``error`` (a file not read), ``warning`` (loaded, but check it) or
        ``notice`` (e.g. a sheet skipped).
    files
        One row per file: results read, loaded, rejected, blank, ignored, and its status.
    layouts
        What was detected per sheet (used to draft a mapping file).
    """

    data: pd.DataFrame
    problems: pd.DataFrame
    files: pd.DataFrame
    layouts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rejected(self) -> pd.DataFrame:
        """Values that were not loaded: file, sheet, row, column, raw text and reason."""
        cols = ["source_file", "source_sheet", "source_row", "column", "raw_value", "reason"]
        return self.problems.loc[self.problems["severity"] == "rejected", cols].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        return self.problems.loc[self.problems["severity"] != "rejected"].reset_index(drop=True)


def read_results(
    paths: str | Path | Sequence[str | Path],
    *,
    mapping: Mapping | str | Path | None = None,
    dayfirst: bool | None = None,
    decimal: str | None = None,
    strict: bool = False,
    limits: Limits | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportResult:
    """Import bone marker results from spreadsheet files and folders.

    Parameters
    ----------
    paths
        Files (.xlsx, .xlsm, .xls, .ods, .csv, .tsv, .txt) and folders (every spreadsheet inside).
    mapping
        A mapping file (path of its TOML) or a :class:`~btm.io.mapping.Mapping`, for layouts
        synonyms cannot resolve.
    dayfirst
        Order of day and month in dates such as ``03/04/2026``; ``None`` reports them as
        ambiguous instead of guessing.
    decimal
        Decimal mark of text numbers (``"."`` or ``","``); ``None`` detects it per file.
    strict
        Raise on the first unreadable file, and raise :class:`~btm.errors.StrictModeError` if any
        value was rejected.
    limits
        Size bounds (:class:`~btm.io.readers.Limits`).

    Returns
    -------
    ImportResult

    Raises
    ------
    InputFileError
        When no file could be read, or (``strict``) when one could not.
    StrictModeError
        When ``strict`` and some values were rejected.

    Examples
    --------
    >>> res = read_results("sample_data/analyser_cobas_export.xlsx")  # doctest: +SKIP
    >>> res.data[["subject_id", "marker", "value", "unit"]].head(3)  # doctest: +SKIP
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if isinstance(mapping, str | Path):
        from .mapping import load_mapping

        mapping = load_mapping(mapping)
    mapping = mapping or Mapping()
    run = _Run(
        mapping=mapping,
        dayfirst=mapping.dayfirst if dayfirst is None else dayfirst,
        decimal=decimal or mapping.decimal,
        strict=strict,
        limits=limits or Limits(),
    )
    skipped: list[tuple[str, str]] = []
    targets = list(iter_spreadsheets(list(paths), skipped))
    if not targets:
        own = f" (only btm's own outputs, skipped: {', '.join(s for s, _ in skipped[:5])}; give a file by name to read it)" if skipped else ""
        raise InputFileError("no spreadsheet files found in " + ", ".join(str(p) for p in paths) + own)
    for shown, kind in skipped:
        run.problems.add("notice", shown, "", None, "", "", f"skipped: {kind}, written by btm (give the file by name to read it)")
    for k, (shown, path) in enumerate(targets):
        if progress:
            progress(k, len(targets), shown)
        run.import_file(shown, path)
    if progress:
        progress(len(targets), len(targets), "")
    run.raise_if_nothing_was_read(len(targets))
    result = run.result()
    if strict and len(result.rejected):
        raise StrictModeError(f"{len(result.rejected)} value(s) rejected (strict mode); first: " + first_rejection(result))
    return result


def release_cell_texts(result: ImportResult) -> None:
    """Let the memory of the files' cells go back to the system before a long computation on
    ``result`` (``btm analyze`` and ``btm report`` call it; values are unchanged).

    The texts of the table and of the problem list get new string objects, made once the old ones
    and the caches keyed by cell text are dropped (see :func:`btm._groupwise.repack_texts`): on a
    400,000-result file about 60 MiB of the interpreter's memory is returned instead of held.
    """
    repack_texts([result.data, result.problems], release=_clear_text_caches)


def _clear_text_caches() -> None:
    """Forget what the caches keyed by cell text hold (header and visit words, unit texts): their
    keys are a file's strings, which would otherwise outlive the import. They refill as the next
    file is read."""
    from .. import markers, units
    from . import headers, layout, visits

    for fn in (layout._is_unit, layout.split_header, layout.classify_header, headers.derived_reason, visits.visit_label,
               visits.split_visit, markers._lookalike_tokens, units._algebra, units.parse_unit, units._conversion_factor, units._resolve):
        fn.cache_clear()


def first_rejection(result: ImportResult) -> str:
    """The first rejected value in one line: where, why, and its raw text."""
    r = result.rejected.iloc[0]
    sheet = f", sheet {r.source_sheet!r}" if r.source_sheet else ""
    return f"{r.source_file}{sheet}, row {r.source_row}, column {r.column}: {r.reason} (raw {r.raw_value!r})"


@dataclass
class _Run:
    """One import: the settings, and what the files read so far gave."""

    mapping: Mapping
    dayfirst: bool | None
    decimal: str | None
    strict: bool
    limits: Limits
    problems: Problems = field(default_factory=Problems)
    chunks: list[pd.DataFrame] = field(default_factory=list)
    file_rows: list[dict[str, Any]] = field(default_factory=list)
    layouts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[InputFileError] = field(default_factory=list)

    def import_file(self, shown: str, path: Path) -> None:
        """Read every sheet of one file; an unreadable file is listed (or raised, when strict)."""
        counts = Counts()
        try:
            sheets = read_file(path, limits=self.limits)
        except InputFileError as exc:
            self._file_error(exc, shown, "")
            self.file_rows.append({"file": shown, "sheets": 0, **vars(counts), "status": f"not read: {_message(exc, shown)}"})
            return
        sheets_with_data = [s for s in sheets if _has_cells(s)]
        used = sum(self._import_sheet(shown, raw, sheets_with_data, counts) for raw in sheets)
        if used:
            self.file_rows.append({"file": shown, "sheets": used, **vars(counts), "status": "ok"})
            return
        prior = next((e for e in self.errors if e.path == shown), None)
        if prior is None:
            msg = "no bone marker data found in any sheet"
            self._file_error(InputFileError(msg, path=shown), shown, "")
        else:  # already reported (a text file with no marker column): not "ok" in the summary
            msg = _message(prior, shown)
        self.file_rows.append({"file": shown, "sheets": len(sheets), **vars(counts), "status": f"not read: {msg}"})

    def _import_sheet(self, shown: str, raw: RawSheet, sheets_with_data: list[RawSheet], counts: Counts) -> bool:
        """Load one sheet into the table; False when it was skipped (mapping, empty, no marker data)."""
        problems = self.problems
        sm = self.mapping.for_sheet(shown, raw.sheet)
        if sm is not None and sm.skip:
            problems.add("notice", shown, raw.sheet, None, "", "", "sheet skipped (mapping says skip)")
            self.layouts.append({"file": Path(shown).name, "sheet": raw.sheet, "skip": True, "why": "mapping says skip"})
            return False
        if not _has_cells(raw):
            if raw.sheet:
                problems.add("notice", shown, raw.sheet, None, "", "", "sheet skipped: it is empty")
            return False
        layout = detect_layout(raw.rows, sheet=raw.sheet, multi_sheet=len(sheets_with_data) > 1, mapping=sm, merged=raw.merged)
        if isinstance(layout, str):
            if raw.is_csv and not sheets_with_data[1:]:  # a single-table file with no marker data at all
                self._file_error(InputFileError(layout, path=shown), shown, raw.sheet)
            else:
                problems.add("notice", shown, raw.sheet, None, "", "", f"sheet skipped: {layout}")
            self.layouts.append({"file": Path(shown).name, "sheet": raw.sheet, "skip": True, "why": layout})
            return False
        bad_rows = _mapping_rows_problem(sm, layout, len(raw.rows))
        if bad_rows:
            self._file_error(InputFileError(bad_rows, path=shown, sheet=raw.sheet or None), shown, raw.sheet)
            return False
        for note in [*raw.notes, *layout.notes]:
            problems.add("notice", shown, raw.sheet, None, "", "", note)
        record = _layout_record(shown, raw, layout, sm)
        self.layouts.append(record)
        tables = split_tables(raw, layout, sm, multi_sheet=len(sheets_with_data) > 1)
        record["tables"] = [_table_record(t, end) for t, end in tables]
        if len(tables) > 1:
            rows = ", ".join(str(t.header_row + 1) for t, _ in tables)
            problems.add("notice", shown, raw.sheet, None, "", "", f"the sheet holds {len(tables)} tables (header rows {rows}); each is read with its own header")
        for table, end in tables:
            chunk, c = load_sheet(raw, table, sm, problems, dayfirst=self.dayfirst, decimal=self.decimal, end=end)
            counts.add(c)
            if chunk is not None and len(chunk):
                self.chunks.append(chunk)
        return True

    def _file_error(self, exc: InputFileError, shown: str, sheet: str) -> None:
        """A file that could not be read: raised when strict, else listed and the import goes on."""
        if self.strict:
            raise exc
        self.errors.append(exc)
        self.problems.add("error", shown, sheet, None, "", "", _message(exc, shown))

    def raise_if_nothing_was_read(self, n_files: int) -> None:
        if not self.chunks and self.errors and len(self.errors) == n_files:
            if len(self.errors) == 1:
                raise self.errors[0]
            raise InputFileError(f"none of the {len(self.errors)} files could be read; first: {self.errors[0]}")

    def result(self) -> ImportResult:
        """The table of every file read, checked across rows (magnitudes, duplicates)."""
        data = finish(self.chunks)
        self.chunks.clear()
        harmonise_labels(data, self.problems)
        flag_magnitude(data, self.problems)
        report_duplicates(data, self.problems)
        report_conflicts(data, self.problems)
        return ImportResult(data=data, problems=self.problems.frame(), files=pd.DataFrame(self.file_rows), layouts=self.layouts)


def _mapping_rows_problem(sm: SheetMapping | None, layout: SheetLayout, n_rows: int) -> str:
    """Why the mapping's units_row cannot be right for this sheet ("" when it can): past the last
    row, or not next to the header (the rows between would be skipped)."""
    if sm is None or not sm.units_row:
        return ""
    u, h = sm.units_row, layout.header_row + 1
    if u > n_rows:
        return f"the mapping's units_row {u} is beyond the sheet's last row ({n_rows}); check the mapping"
    if u not in (h + 1, h - 1):
        return f"the mapping's units_row {u} is not next to the header (row {h}): the rows between would not be read; check the mapping"
    return ""


def _table_record(layout: SheetLayout, end: int | None) -> dict[str, Any]:
    """Where one table's values are (0-based rows and columns): what the counting tests check."""
    kind = "marker" if layout.layout == "wide" else "result"
    return {
        "header_row": layout.header_row, "data_start": layout.data_start, "end": end, "layout": layout.layout,
        "value_columns": [c.index for c in layout.columns if c.role == kind],
    }


def _message(exc: InputFileError, shown: str) -> str:
    return str(exc).removeprefix(f"{shown}: ")


def _has_cells(raw: RawSheet) -> bool:
    return any(any(cell_text(c).strip() for c in row) for row in raw.rows[:2000]) if raw.rows else False


def _layout_record(shown: str, raw: RawSheet, layout: SheetLayout, sm: SheetMapping | None = None) -> dict[str, Any]:
    cols = {}
    units = {}
    for c in layout.columns:
        if not c.header:
            continue
        if c.role == "marker":
            cols[c.header] = c.marker
            if c.unit_column is None:
                units[c.header] = c.unit
        elif c.role.startswith("unit_of_"):
            cols[c.header] = "unit"
        elif c.role and c.role not in ("derived", "lookalike"):
            cols[c.header] = c.role
        else:
            cols[c.header] = "ignore"
    return {
        "file": Path(shown).name,
        "sheet": raw.sheet,
        "header_row": layout.header_row + 1,
        "units_row": None if layout.units_row is None else layout.units_row + 1,
        "layout": "long" if layout.layout == "tidy" else layout.layout,
        "timepoint": layout.timepoint,
        "columns": cols,
        "units": units,
        # what only a mapping can say is carried into a drafted mapping, so a re-run reads the same
        "lod": dict(sm.lod) if sm else {},
        "specimen": sm.specimen if sm else None,
        **_research_record(layout, sm),
    }


def _research_record(layout: SheetLayout, sm: SheetMapping | None) -> dict[str, Any]:
    """What a drafted mapping and the console summary need of research layouts: visits per column,
    the columns not used (unknown, derived, look-alike) and the mapping keys only a mapping can say."""
    out: dict[str, Any] = {}
    if layout.header_kind == "markers over visits":
        out["header_row"] = layout.header_row  # the marker band (1-based: the row above the visits)
    return out | {
        "visits": {c.header: c.timepoint for c in layout.columns if c.role == "marker" and c.timepoint},
        "unused": [(c.header, c.role or "unknown", c.reason) for c in layout.unused],
        "header_kind": layout.header_kind,
        "wide_visits": {"marker": sm.marker, "unit": sm.unit} if sm and sm.layout == "wide_visits" else None,
        "id": sm.id if sm else None,
        "values": dict(sm.values) if sm else {},
    }


def progress_printer(stream=None) -> Callable[[int, int, str], None] | None:
    """A one-line progress display on a terminal; ``None`` when the stream is not a terminal."""
    stream = stream or sys.stderr
    if not getattr(stream, "isatty", lambda: False)():
        return None

    def show(k: int, total: int, name: str) -> None:
        if total < 2:
            return
        width = 24
        done = int(width * k / total)
        label = "".join(ch if ch.isprintable() else "?" for ch in Path(name).name[:40]) if name else "done"
        stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {k}/{total} {label:<40}")
        if k >= total:
            stream.write("\n")
        stream.flush()

    return show
