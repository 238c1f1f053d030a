"""The marker catalog: ids, names, synonyms, classes, specimens, units and molecular weights.

The catalog is data (``btm/data/markers.toml``), read on first use and cached. Column headers
and LIS test names are matched to markers with :func:`match_marker`, which ignores case,
spacing, punctuation and Greek letters.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from ._resources import data_path
from .errors import BTMError, UnknownMarkerError

__all__ = [
    "Marker",
    "MarkerMatch",
    "Measure",
    "catalog",
    "get_marker",
    "match_marker",
    "normalize_name",
]

FORMATION = "formation"
RESORPTION = "resorption"
SPECIMENS = ("serum", "urine")

# Words that say which specimen a header means.
_SPECIMEN_WORDS = {
    "serum": "serum", "plasma": "serum", "blood": "serum", "edta": "serum", "s": "serum",
    "urine": "urine", "urinary": "urine", "ur": "urine", "u": "urine", "cr": "urine",
    "creat": "urine", "creatinine": "urine", "crea": "urine",
}
# Words a header may carry besides the marker name: vendors, methods and filler.
_NOISE_WORDS = frozenset(
    {
        "level", "levels", "conc", "concentration", "result", "results", "value", "values", "test",
        "assay", "ecl", "eclia", "elecsys", "cobas", "roche", "ids", "isys", "orion", "ria", "elisa",
        "eia", "access", "beckman", "diasorin", "liaison", "vitros", "immunoassay", "measured",
        "of", "the", "lab", "marker", "turnover",
    }
)


def normalize_name(text: str) -> str:
    """Lower-case words of a header or test name, with Greek letters spelled out.

    >>> normalize_name("β-CrossLaps (Serum)")
    'beta crosslaps serum'
    """
    s = unicodedata.normalize("NFKC", str(text)).casefold()
    s = s.replace("β", "beta").replace("ß", "beta").replace("α", "alpha").replace("μ", "u").replace("µ", "u")
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return s.strip()


def _compact(tokens: Iterable[str]) -> str:
    return "".join(tokens)


@dataclass(frozen=True)
class Measure:
    """One kind of measurement of a marker in one specimen, with its canonical unit."""

    specimen: str
    kind: str
    unit: str
    units: tuple[str, ...] = ()
    note: str = ""
    loinc: str = ""  # LOINC code of this measure (one per kind of measurement), "" where none was found
    loinc_name: str = ""
    loinc_source: str = ""


@dataclass(frozen=True)
class Marker:
    """A catalog entry. See ``btm/data/markers.toml`` for the meaning of each field."""

    id: str
    name: str
    marker_class: str
    synonyms: tuple[str, ...]
    serum_synonyms: tuple[str, ...] = ()
    urine_synonyms: tuple[str, ...] = ()
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)
    not_words: tuple[str, ...] = ()
    molecular_weight: float | None = None
    molecular_weight_note: str = ""
    loinc: dict[str, str] = field(default_factory=dict)  # by specimen, only where it has one measure; see Measure.loinc
    sources: tuple[str, ...] = ()
    note: str = ""
    measures: tuple[Measure, ...] = ()

    @property
    def specimens(self) -> tuple[str, ...]:
        seen: list[str] = []
        for m in self.measures:
            if m.specimen not in seen:
                seen.append(m.specimen)
        return tuple(seen)

    def canonical_unit(self, specimen: str | None = None) -> str:
        """The canonical unit of the marker's first measure in ``specimen``."""
        for m in self.measures:
            if specimen is None or m.specimen == specimen:
                return m.unit
        raise BTMError(f"{self.id} is not measured in {specimen}; it is measured in {', '.join(self.specimens)}")

    def variant_of(self, tokens: Iterable[str]) -> str:
        """The assay variant named by header words, or ``""``."""
        joined = " " + " ".join(tokens) + " "
        for variant, words in self.variants.items():
            for word in words:
                if f" {normalize_name(word)} " in joined:
                    return variant
        return ""


def _loinc_by_specimen(measures: tuple[Measure, ...]) -> dict[str, str]:
    """specimen -> LOINC code where the specimen has a single measure (else ambiguous: use Measure.loinc)."""
    out = {}
    for spec in dict.fromkeys(m.specimen for m in measures):
        ms = [m for m in measures if m.specimen == spec]
        if len(ms) == 1 and ms[0].loinc:
            out[spec] = ms[0].loinc
    return out


@functools.cache
def catalog() -> dict[str, Marker]:
    """All markers by id, in catalog order (read once from ``btm/data/markers.toml``)."""
    with open(data_path("markers.toml"), "rb") as fh:
        raw = tomllib.load(fh)
    markers: dict[str, Marker] = {}
    for mid, entry in raw.items():
        measures = tuple(
            Measure(
                specimen=m["specimen"], kind=m["kind"], unit=m["unit"],
                units=tuple(m.get("units", ())), note=m.get("note", ""),
                loinc=m.get("loinc", ""), loinc_name=m.get("loinc_name", ""), loinc_source=m.get("loinc_source", ""),
            )
            for m in entry.get("measures", ())
        )
        if entry.get("class") not in (FORMATION, RESORPTION):
            raise BTMError(f"markers.toml: {mid} has class {entry.get('class')!r}; expected formation or resorption")
        markers[mid] = Marker(
            id=mid,
            name=entry["name"],
            marker_class=entry["class"],
            synonyms=tuple(entry.get("synonyms", ())),
            serum_synonyms=tuple(entry.get("serum_synonyms", ())),
            urine_synonyms=tuple(entry.get("urine_synonyms", ())),
            variants={k: tuple(v) for k, v in entry.get("variants", {}).items()},
            not_words=tuple(normalize_name(w) for w in entry.get("not_words", ())),
            molecular_weight=entry.get("molecular_weight"),
            molecular_weight_note=entry.get("molecular_weight_note", ""),
            loinc=_loinc_by_specimen(measures),
            sources=tuple(entry.get("sources", ())),
            note=entry.get("note", ""),
            measures=measures,
        )
    return markers


def get_marker(name: str) -> Marker:
    """A marker by id or by any synonym.

    Raises
    ------
    UnknownMarkerError
        When neither the id nor a synonym matches.
    """
    markers = catalog()
    key = str(name).strip()
    if key in markers:
        return markers[key]
    if key.upper() in markers:
        return markers[key.upper()]
    match = match_marker(key)
    if match is None:
        raise UnknownMarkerError(key, known=list(markers))
    return markers[match.marker]


@dataclass(frozen=True)
class MarkerMatch:
    """What a header names: the marker, and the specimen and assay variant if it says."""

    marker: str
    specimen: str | None
    variant: str
    synonym: str


@functools.cache
def _synonym_index() -> dict[str, list[tuple[str, str | None, str]]]:
    """compact synonym -> [(marker id, specimen or None, synonym as written)]."""
    index: dict[str, list[tuple[str, str | None, str]]] = {}
    for m in catalog().values():
        groups = ((m.synonyms, None), (m.serum_synonyms, "serum"), (m.urine_synonyms, "urine"), ((m.id,), None))
        for names, specimen in groups:
            for syn in names:
                key = _compact(normalize_name(syn).split())
                entries = index.setdefault(key, [])
                if (m.id, specimen, syn) not in entries and not any(e[0] == m.id and e[1] == specimen for e in entries):
                    entries.append((m.id, specimen, syn))
    return index


def _specimen_from_tokens(tokens: list[str]) -> str | None:
    found = {_SPECIMEN_WORDS[t] for t in tokens if t in _SPECIMEN_WORDS}
    return found.pop() if len(found) == 1 else None


def match_marker(header: str) -> MarkerMatch | None:
    """Which marker a column header or LIS test name refers to, or ``None``.

    The header is normalised (:func:`normalize_name`); then, in order: the whole header, the
    header without specimen, variant and vendor words, and finally the longest synonym found as
    a run of words inside the header. A header that matches two markers equally well returns
    ``None``: it is left for the user to map rather than guessed.

    >>> match_marker("β-CrossLaps").marker
    'CTX1'
    >>> match_marker("uNTx/Cr").specimen
    'urine'
    """
    tokens = normalize_name(header).split()
    if not tokens:
        return None
    index = _synonym_index()
    markers = catalog()

    def result(entry: tuple[str, str | None, str]) -> MarkerMatch:
        mid, specimen, syn = entry
        return MarkerMatch(mid, specimen or _specimen_from_tokens(tokens), markers[mid].variant_of(tokens), syn)

    present = set(tokens)

    def unique(entries: list[tuple[str, str | None, str]]) -> tuple[str, str | None, str] | None:
        entries = [e for e in entries if not present & set(markers[e[0]].not_words)]
        if not entries:
            return None
        ids = {e[0] for e in entries}
        if len(ids) != 1:
            return None
        with_specimen = [e for e in entries if e[1] is not None]
        return with_specimen[0] if len(with_specimen) == 1 else entries[0]

    # 1. the whole header
    entries = index.get(_compact(tokens))
    if entries:
        return result(unique(entries)) if unique(entries) else None
    # 2. without specimen, variant and vendor words
    variant_words = {w for m in markers.values() for ws in m.variants.values() for w in ws if " " not in w}
    core = [t for t in tokens if t not in _NOISE_WORDS and t not in _SPECIMEN_WORDS and t not in variant_words]
    if core and core != tokens:
        entries = index.get(_compact(core))
        if entries:
            return result(unique(entries)) if unique(entries) else None
    # 3. longest synonym inside the header (synonyms of at least 4 letters, to avoid "OC", "AP"),
    #    with at most two other words that are not specimen, variant or vendor words: a sentence
    #    that mentions a marker is not a header
    if len(tokens) > 8:
        return None
    best: list[tuple[int, tuple[str, str | None, str]]] = []
    for size in range(len(tokens), 0, -1):
        for start in range(len(tokens) - size + 1):
            key = _compact(tokens[start : start + size])
            if len(key) < 4 or key not in index:
                continue
            rest = tokens[:start] + tokens[start + size :]
            other = [t for t in rest if t not in _NOISE_WORDS and t not in _SPECIMEN_WORDS and t not in variant_words]
            if len(other) > 2:
                continue
            for entry in index[key]:
                best.append((len(key), entry))
        if best:
            break
    if not best:
        return None
    longest = max(b[0] for b in best)
    chosen = unique([e for n, e in best if n == longest])
    return result(chosen) if chosen else None
