"""Subject and sample columns: recognise them by name and read their values.

The column vocabulary (``FIELD_NAMES``) maps header words, in English and a few common lab
languages, to the tidy column each feeds. Values are normalised: sex -> ``F``/``M``, menopausal
status -> ``pre``/``peri``/``post``, fasting -> ``yes``/``no``, dates -> ISO dates. A value that
cannot be read is left empty and reported as a warning (it is not a result, so nothing is
rejected), never guessed.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..markers import normalize_name
from .values import cell_text, cell_texts

__all__ = ["FIELD_NAMES", "DateParse", "field_for_header", "normalise_field", "parse_dates"]

# tidy column -> header names (compared without case, spaces and punctuation)
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "subject_id": (
        "subject", "subject id", "subjectid", "subject no", "subject number", "participant", "participant id",
        "patient", "patient id", "patientid", "pat id", "pat nr", "patient no", "patient number", "pid", "id",
        "proband", "probanden id", "proband id", "probandin", "study id", "record id", "person id", "case",
        "case id", "subj", "subj id", "teilnehmer", "identifier", "code",
    ),
    "mrn": ("mrn", "medical record number", "hospital number", "hospital no", "nhs number", "urn", "med rec no", "unit number"),
    "sample_id": (
        "sample id", "sample", "sample no", "sample number", "specimen id", "accession", "accession number",
        "lab no", "lab number", "lab id", "barcode", "tube id", "order", "order number", "probe", "proben nr",
    ),
    "timepoint": (
        "visit", "timepoint", "time point", "tp", "week", "wk", "phase", "occasion", "visite", "zeitpunkt",
        "session", "period", "visit name", "visit label", "event", "time", "study visit", "assessment",
    ),
    "sample_date": (
        "date", "draw date", "collection date", "collected", "collection", "sample date", "specimen date",
        "blood draw date", "date of draw", "date collected", "datum", "collection datetime", "draw datetime",
        "sampling date", "date of collection", "date sampled", "abnahmedatum", "entnahmedatum", "visit date",
    ),
    "sample_time": (
        "draw time", "collection time", "sample time", "time of draw", "time collected", "uhrzeit",
        "sampling time", "clock time", "time of collection", "abnahmezeit",
    ),
    "sex": ("sex", "gender", "geschlecht", "sexe", "sexo", "m f", "f m", "sex m f"),
    "age": ("age", "age y", "age yr", "age yrs", "age years", "alter", "age at draw", "age at visit", "edad", "years"),
    "dob": ("dob", "date of birth", "birth date", "birthdate", "geburtsdatum", "birthday", "d o b"),
    "group": (
        "group", "arm", "study arm", "intervention", "treatment", "allocation", "gruppe", "condition", "cohort",
        "training", "training group", "exercise group", "randomisation", "randomization", "treatment group",
    ),
    "menopausal_status": (
        "menopausal status", "menopause", "menopausal", "meno status", "menopause status", "menopausal state",
        "menopausenstatus",
    ),
    "fasting": ("fasting", "fasted", "fasting status", "nuchtern", "nuechtern", "fasting yes no", "fast"),
    "egfr": ("egfr", "gfr", "e gfr", "ckd epi", "egfr ckd epi", "estimated gfr", "egfr ml min 1 73m2", "egfr ml min"),
    "comment": ("comment", "comments", "note", "notes", "remark", "remarks", "bemerkung", "kommentar", "lab comment", "result comment"),
    "assay": ("assay", "method", "platform", "analyser", "analyzer", "instrument", "methode", "kit"),
    "specimen": ("specimen", "sample type", "specimen type", "material", "matrix", "probenmaterial"),
    "tanner_stage": ("tanner", "tanner stage", "pubertal stage", "puberty stage"),
    "fracture": ("recent fracture", "fracture", "fracture last 12 months", "fracture within 12 months"),
    "pregnancy": ("pregnant", "pregnancy", "lactating", "lactation", "pregnancy lactation", "breastfeeding"),
    "medication": ("medication", "medications", "drug", "drugs", "treatment drug", "bone medication", "therapy"),
    "last_exercise": (
        "last exercise", "last exercise bout", "hours since exercise", "hours since last exercise",
        "time since exercise", "last training", "exercise last 72 h", "strenuous exercise",
    ),
    # long (one row per result) layouts
    "test_name": (
        "test", "test name", "testname", "analyte", "parameter", "test description", "assay name", "component",
        "investigation", "examination", "determination", "description", "analysis", "untersuchung", "analyt",
    ),
    "test_code": ("test code", "testcode", "code test", "loinc", "loinc code", "order code", "test id"),
    "result": ("result", "value", "result value", "ergebnis", "wert", "resultat", "numeric result", "result numeric", "measurement", "res"),
    "unit": ("unit", "units", "uom", "einheit", "unit of measure", "result unit", "units of measure", "unite"),
    "censored": ("censored",),
    "raw_value": ("raw value",),
    "raw_unit": ("raw unit",),
    "source_file": ("source file",),
    "source_sheet": ("source sheet",),
    "source_row": ("source row",),
    "source_column": ("source column",),
    "flags": ("flags",),
    "variant": ("variant",),
    "marker": ("marker",),
    # ignored on purpose (personal names; lab flags recomputed by btm)
    "_ignore": ("patient name", "name", "surname", "first name", "last name", "full name", "reference range", "ref range", "flag", "abnormal flag", "h l"),
}

#: Header cells longer than this are not read as column names (no real header is this long).
MAX_HEADER_CHARS = 255

_INDEX: dict[str, str] = {}
for _field, _names in FIELD_NAMES.items():
    for _n in _names:
        _INDEX.setdefault(normalize_name(_n).replace(" ", ""), _field)


def field_for_header(header: str) -> str | None:
    """The tidy column a header names (``"subject_id"``, ``"sample_date"`` …), or ``None``.

    Bracketed parts are ignored if the whole header does not match (``Age (years)``,
    ``eGFR (mL/min/1.73m²)``). Text longer than :data:`MAX_HEADER_CHARS` names nothing (and is
    not searched: stripping brackets is quadratic in the worst case).
    """
    if len(str(header)) > MAX_HEADER_CHARS:
        return None
    key = normalize_name(header).replace(" ", "")
    if key in _INDEX:
        return _INDEX[key]
    stripped = re.sub(r"[\(\[\{].*?[\)\]\}]", " ", str(header))
    key = normalize_name(stripped).replace(" ", "")
    return _INDEX.get(key) if key else None


# ---------------------------------------------------------------------------------------------
# values

_SEX = {
    "f": "F", "female": "F", "w": "F", "weiblich": "F", "woman": "F", "women": "F", "frau": "F", "fem": "F",
    "femme": "F", "mujer": "F", "girl": "F",
    "m": "M", "male": "M", "mannlich": "M", "maennlich": "M", "man": "M", "men": "M", "mann": "M", "homme": "M",
    "hombre": "M", "boy": "M", "masc": "M",
}
_MENO = {
    "pre": "pre", "premenopausal": "pre", "pre menopausal": "pre", "premenopause": "pre", "prae": "pre", "pra": "pre",
    "peri": "peri", "perimenopausal": "peri", "peri menopausal": "peri", "perimenopause": "peri",
    "post": "post", "postmenopausal": "post", "post menopausal": "post", "postmenopause": "post", "pm": "post",
}
_YES = {"yes", "y", "true", "1", "ja", "j", "fasted", "fasting", "nuchtern", "nuechtern", "oui", "si", "x"}
_NO = {"no", "n", "false", "0", "nein", "non fasting", "nonfasting", "not fasting", "fed", "non", "not fasted"}


def _ascii_key(text: str) -> str:
    import unicodedata

    s = unicodedata.normalize("NFKD", str(text))
    s = "".join(c for c in s if not unicodedata.combining(c))
    return normalize_name(s)


def normalise_field(field: str, cells: Any) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Normalised values of one subject column and the problems: [(index, raw text, reason)].

    Dates are not handled here (see :func:`parse_dates`).
    """
    arr = np.asarray(cells, dtype=object)
    out = np.empty(arr.shape[0], dtype=object)
    problems: list[tuple[int, str, str]] = []
    codes, uniques = pd.factorize(cell_texts(arr))
    mapped = np.empty(len(uniques) + 1, dtype=object)
    reasons: dict[int, str] = {}
    for k, text in enumerate(uniques):
        value, reason = _normalise_one(field, text)
        mapped[k] = value
        if reason:
            reasons[k] = reason
    mapped[len(uniques)] = ""
    codes = np.where(codes < 0, len(uniques), codes)
    out[:] = mapped[codes]
    if reasons:
        for i in np.flatnonzero(np.isin(codes, list(reasons))):
            problems.append((int(i), uniques[codes[i]], reasons[int(codes[i])]))
    return out, problems


def _normalise_one(field: str, text: str) -> tuple[Any, str]:
    t = text.strip()
    if not t:
        return ("" if field not in ("age", "egfr") else math.nan), ""
    if field == "sex":
        v = _SEX.get(_ascii_key(t))
        return (v, "") if v else ("", f"sex {t!r} not understood (expected F/M, female/male, w/m)")
    if field == "menopausal_status":
        v = _MENO.get(_ascii_key(t))
        return (v, "") if v else ("", f"menopausal status {t!r} not understood (expected pre, peri or post)")
    if field == "fasting":
        k = _ascii_key(t)
        if k in _YES:
            return "yes", ""
        if k in _NO:
            return "no", ""
        return "", f"fasting {t!r} not understood (expected yes or no)"
    if field in ("age", "egfr"):
        m = re.match(r"^\s*([<>]?)\s*(\d+(?:[.,]\d+)?)\s*(?:y|yr|yrs|years|j|jahre)?\s*$", t, re.I)
        if not m:
            return math.nan, f"{field} {t!r} is not a number"
        v = float(m.group(2).replace(",", "."))
        if m.group(1):  # eGFR '>90' is common: keep the limit, say so
            return v, f"{field} {t!r} is censored; {v:g} used as the limit"
        if field == "age" and not 0 <= v < 130:
            return math.nan, f"age {t!r} is out of range"
        return v, ""
    if field == "sample_time":
        tm = _parse_time(t)
        return (tm, "") if tm else ("", f"time {t!r} not understood (expected HH:MM)")
    if field in ("subject_id", "mrn", "sample_id"):
        return t, ""
    return t, ""


def _parse_time(t: str) -> str:
    m = re.match(r"^(\d{1,2})[:.h](\d{2})(?::(\d{2}))?\s*(am|pm)?$", t.strip(), re.I)
    if not m:
        return ""
    h, mi = int(m.group(1)), int(m.group(2))
    ampm = (m.group(4) or "").lower()
    if ampm == "pm" and h < 12:
        h += 12
    if ampm == "am" and h == 12:
        h = 0
    if h > 23 or mi > 59:
        return ""
    return f"{h:02d}:{mi:02d}"


def time_text(cell: Any) -> str:
    """A time cell as HH:MM, or ""."""
    if isinstance(cell, _dt.datetime):
        return f"{cell.hour:02d}:{cell.minute:02d}"
    if isinstance(cell, _dt.time):
        return f"{cell.hour:02d}:{cell.minute:02d}"
    if isinstance(cell, _dt.timedelta):
        secs = int(cell.total_seconds()) % 86400
        return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}"
    if isinstance(cell, float) and 0 <= cell < 1:  # Excel time as a day fraction
        mins = round(cell * 1440)
        return f"{mins // 60 % 24:02d}:{mins % 60:02d}"
    return _parse_time(cell_text(cell))


# ---------------------------------------------------------------------------------------------
# dates

_NUMERIC_DATE = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{2}|\d{4})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2})?))?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$")
_YMD_SLASH = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2})?))?$")


@dataclass
class DateParse:
    """Dates of a column: ISO date strings, HH:MM times found with them, and problems."""

    date: np.ndarray  # object: datetime.date or None
    time: np.ndarray  # object: "HH:MM" or ""
    problems: list[tuple[int, str, str]]


def parse_dates(
    cells: Any, *, dayfirst: bool | None = None, date1904: bool = False, two_digit_years: bool = True
) -> DateParse:
    """Read a column of dates written in any of the usual ways.

    * real Excel dates (datetime objects from the reader);
    * Excel serial numbers (1900 system, or 1904 when the workbook says so);
    * ISO text ``2026-02-03`` (with an optional time);
    * ``03.02.2026``: dots mean day-first (the European convention);
    * ``14/02/2026`` and ``2/14/2026``: the order is read from a part > 12; when both parts are
      <= 12 (``03/04/2026``) the order is ambiguous: the date is left empty and reported, unless
      ``dayfirst`` settles it;
    * month names (``3 Feb 2026``, ``Feb 3, 2026``).
    """
    arr = np.asarray(cells, dtype=object)
    n = arr.shape[0]
    dates = np.full(n, None, dtype=object)
    times = np.full(n, "", dtype=object)
    problems: list[tuple[int, str, str]] = []
    if n == 0:
        return DateParse(dates, times, problems)
    try:  # each distinct cell once; the type is part of the key (1.0, 1 and True are different cells)
        keys = np.fromiter(zip(map(type, arr), arr, strict=True), dtype=object, count=n)
        codes, uniques = pd.factorize(keys)
    except TypeError:  # an unhashable cell: one by one, below
        codes = None
    if codes is not None:
        parsed = [_parse_date_cell(cell, dayfirst, date1904, two_digit_years) for _, cell in uniques]
        dates[:] = _object_array([p[0] for p in parsed])[codes]
        times[:] = _object_array([p[1] for p in parsed])[codes]
        bad = [k for k, p in enumerate(parsed) if p[2]]
        if bad:
            for i in np.flatnonzero(np.isin(codes, bad)):
                problems.append((int(i), cell_text(arr[i]), parsed[codes[i]][2]))
        return DateParse(dates, times, problems)
    cache: dict[Any, tuple[Any, str, str]] = {}
    for i, cell in enumerate(arr):
        key = (type(cell), cell) if not isinstance(cell, float) or not math.isnan(cell) else (float, "nan")
        try:
            hit = cache.get(key)
        except TypeError:
            hit = None
        if hit is None:
            hit = _parse_date_cell(cell, dayfirst, date1904, two_digit_years)
            try:
                cache[key] = hit
            except TypeError:
                pass
        d, t, reason = hit
        dates[i], times[i] = d, t
        if reason:
            problems.append((i, cell_text(cell), reason))
    return DateParse(dates, times, problems)


def _object_array(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _parse_date_cell(cell: Any, dayfirst: bool | None, date1904: bool, two_digit_years: bool) -> tuple[Any, str, str]:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return None, "", ""
    if isinstance(cell, pd.Timestamp):
        cell = cell.to_pydatetime()
    if isinstance(cell, _dt.datetime):
        t = f"{cell.hour:02d}:{cell.minute:02d}" if (cell.hour or cell.minute) else ""
        return _check_year(cell.date(), cell_text(cell)) + (t, "")[0:0] if False else _with_time(cell.date(), t)
    if isinstance(cell, _dt.date):
        return _with_time(cell, "")
    if isinstance(cell, bool):
        return None, "", f"{cell} is not a date"
    if isinstance(cell, int | float):
        v = float(cell)
        if not 1 <= v < 2958466:
            return None, "", f"{cell_text(cell)} is not a date (as an Excel serial number it is out of range)"
        origin = _dt.datetime(1904, 1, 1) if date1904 else _dt.datetime(1899, 12, 30)
        full = origin + _dt.timedelta(days=v)
        t = f"{full.hour:02d}:{full.minute:02d}" if (full.hour or full.minute) else ""
        return _with_time(full.date(), t)
    text = cell_text(cell).strip()
    if not text:
        return None, "", ""
    m = _ISO_DATE.match(text) or _YMD_SLASH.match(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        return _build(y, mo, d, m.group(4), text)
    m = _NUMERIC_DATE.match(text)
    if m:
        a, sep, b, y = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        if len(y) == 2:
            if not two_digit_years:
                return None, "", f"date {text!r} has a two-digit year; write the full year"
            year = 2000 + int(y)
        else:
            year = int(y)
        if sep == ".":
            return _build(year, b, a, m.group(5), text)  # dots: day.month.year
        if a > 12 and b <= 12:
            order = "dmy"
        elif b > 12 and a <= 12:
            order = "mdy"
        elif a == b:
            order = "dmy"  # 03/03/2026 reads the same both ways
        elif dayfirst is None:
            return None, "", (
                f"ambiguous date {text!r}: day/month order unknown (could be {a:02d} {_MONTH[b]} or {b:02d} {_MONTH[a]}); "
                "use --dayfirst/--monthfirst or set dayfirst in the mapping"
            )
        else:
            order = "dmy" if dayfirst else "mdy"
        if order == "dmy":
            return _build(year, b, a, m.group(5), text)
        return _build(year, a, b, m.group(5), text)
    if _MONTH_WORD.search(text) and re.search(r"\b(1[89]|20)\d\d\b", text):
        # month names ("3 Feb 2026", "Feb 3, 2026"): unambiguous, read by dateutil
        import warnings

        from dateutil import parser as dparser

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = dparser.parse(text, dayfirst=bool(dayfirst), fuzzy=False)
            t = f"{parsed.hour:02d}:{parsed.minute:02d}" if (parsed.hour or parsed.minute) else ""
            return _with_time(parsed.date(), t)
        except (ValueError, OverflowError, TypeError, ArithmeticError):
            pass
    return None, "", f"{text!r} is not a date btm can read"


_MONTH_WORD = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|september|"
    r"october|november|december|januar|februar|märz|mai|juni|juli|okt|oktober|dez|dezember)\b\.?",
    re.IGNORECASE,
)
_MONTH = ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _build(y: int, mo: int, d: int, time: str | None, text: str) -> tuple[Any, str, str]:
    try:
        date = _dt.date(y, mo, d)
    except ValueError:
        return None, "", f"{text!r} is not a valid date"
    t = ""
    if time:
        tt = _parse_time(time[:5] if len(time) >= 5 else time)
        t = tt if tt and tt != "00:00" else ""
    return _with_time(date, t)


def _with_time(date: _dt.date, t: str) -> tuple[Any, str, str]:
    if date.year < 1900:
        return date, t, f"date {date.isoformat()} is before 1900; check it"
    return date, t, ""


def _check_year(date: _dt.date, text: str) -> tuple[Any, str]:
    return date, ""
