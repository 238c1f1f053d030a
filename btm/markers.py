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
    "Lookalike",
    "Marker",
    "MarkerMatch",
    "Measure",
    "catalog",
    "get_marker",
    "lookalike_of",
    "lookalikes",
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
    # LOINC short names (SerPl, Ur), and the specimen in other languages
    "serpl": "serum", "ser": "serum", "pl": "serum", "serique": "serum", "serico": "serum", "sierico": "serum", "suero": "serum",
    "soro": "serum", "siero": "serum", "surowica": "serum", "sera": "serum", "sang": "serum", "sangre": "serum", "blut": "serum",
    "сыворотка": "serum", "сыворотке": "serum", "сыворотки": "serum", "крови": "serum", "血清": "serum", "血中": "serum", "血浆": "serum",
    "urin": "urine", "urina": "urine", "orina": "urine", "urinaire": "urine", "urinario": "urine", "urinaria": "urine", "mocz": "urine",
    "moczu": "urine", "moc": "urine", "moci": "urine", "harn": "urine", "моча": "urine", "мочи": "urine", "моче": "urine", "尿": "urine",
    "尿中": "urine", "尿液": "urine", "kreatinin": "urine", "creatinina": "urine",
}
# Words a header may carry besides the marker name: vendors, methods and filler.
_NOISE_WORDS = frozenset(
    {
        "level", "levels", "conc", "concentration", "result", "results", "value", "values", "test",
        "assay", "ecl", "eclia", "elecsys", "cobas", "roche", "ids", "isys", "orion", "ria", "elisa",
        "eia", "access", "beckman", "diasorin", "liaison", "vitros", "immunoassay", "measured",
        "of", "the", "lab", "marker", "turnover",
        # codebook suffixes, LOINC short-name properties, assay makers and methods
        "num", "mcnc", "scnc", "ccnc", "acnc", "srto", "mrto", "rto", "ia", "metra", "quidel", "microvue", "immulite", "siemens",
        "alere", "wampole", "hybritech", "tandem", "clia", "cleia", "chemiluminescence", "labcorp", "spot",
        "random", "morning", "void", "first", "second", "in", "im", "on", "by", "at", "or",
        # articles and prepositions of long names in other languages
        "de", "du", "des", "del", "la", "le", "di", "do", "da", "van", "het", "der", "die", "das", "dans",
    }
)


_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
_WORD_CHARS = f"a-z0-9\u0400-\u04ff{_CJK}"


def normalize_name(text: str) -> str:
    """Lower-case words of a header or test name, with Greek letters spelled out.

    Accents are dropped (``ostéocalcine`` = ``osteocalcine``); Cyrillic, Chinese and Japanese
    letters are kept, and a change of script starts a new word (``血清P1NP`` -> ``血清 p1np``).
    ``I型``/``Ⅰ型`` (type I in Chinese and Japanese) becomes ``1型``; German ``i.S.``/``i.U.``
    (im Serum, im Urin) become ``serum``/``urine``.

    >>> normalize_name("β-CrossLaps (Serum)")
    'beta crosslaps serum'
    >>> normalize_name("Ostéocalcine i.S.")
    'osteocalcine serum'
    """
    s = unicodedata.normalize("NFKC", str(text))
    s = re.sub(r"(?<![A-Za-z])i\.\s?S\.?(?![A-Za-z])", " serum ", s)
    s = re.sub(r"(?<![A-Za-z])i\.\s?U\.?(?![A-Za-z/])", " urine ", s)
    s = s.casefold()
    s = s.replace("β", "beta").replace("ß", "beta").replace("α", "alpha").replace("μ", "u").replace("µ", "u")
    s = s.replace("бета", "beta").replace("альфа", "alpha")
    s = unicodedata.normalize("NFKD", s)
    s = unicodedata.normalize("NFKC", "".join(c for c in s if not ("\u0300" <= c <= "\u036f")))
    s = re.sub(r"(?<![a-z])(iii|ii|i)(?=型)", lambda m: str(len(m.group(1))), s)
    s = re.sub(f"[^{_WORD_CHARS}]+", " ", s)
    s = re.sub(f"(?<=[{_CJK}])(?=[^{_CJK}\\s])|(?<=[^{_CJK}\\s])(?=[{_CJK}])", " ", s)
    return " ".join(s.split())


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
    #: unit text that only means this measure's unit for this marker ("nmol/mmol" for urine DPD is
    #: per mmol creatinine): text -> a unit the grammar reads
    aliases: tuple[tuple[str, str], ...] = ()
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
        if mid in _RESERVED_KEYS:
            continue
        entry = _with_names(mid, entry)
        measures = tuple(
            Measure(
                specimen=m["specimen"], kind=m["kind"], unit=m["unit"],
                units=tuple(m.get("units", ())), note=m.get("note", ""),
                aliases=tuple((str(k), str(v)) for k, v in m.get("unit_aliases", {}).items()),
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


_RESERVED_KEYS = frozenset({"lookalike"})


def _with_names(mid: str, entry: dict) -> dict:
    """The marker table with the names of its ``[[<id>.names]]`` blocks added to its synonyms."""
    blocks = entry.get("names", ())
    if not blocks:
        return entry
    entry = dict(entry)
    key = {None: "synonyms", "serum": "serum_synonyms", "urine": "urine_synonyms"}
    for n, block in enumerate(blocks, start=1):
        if not block.get("source"):
            raise BTMError(f"markers.toml: {mid}.names #{n} has no source")
        spec = block.get("specimen")
        if spec not in key:
            raise BTMError(f"markers.toml: {mid}.names #{n}: specimen {spec!r}; expected serum or urine")
        entry[key[spec]] = list(entry.get(key[spec], ())) + list(block.get("names", ()))
    return entry


@dataclass(frozen=True)
class Lookalike:
    """An analyte whose name resembles a marker but that is something else (``[[lookalike]]``)."""

    name: str
    what: str
    source: str
    words: tuple[tuple[str, ...], ...]
    compact: tuple[str, ...]


@functools.cache
def lookalikes() -> tuple[Lookalike, ...]:
    """The look-alike rules of the catalog (read once from ``btm/data/markers.toml``)."""
    with open(data_path("markers.toml"), "rb") as fh:
        raw = tomllib.load(fh)
    out = []
    for e in raw.get("lookalike", ()):
        words = tuple(tuple(normalize_name(w).split()) for w in e.get("words", ()) if normalize_name(w))
        compact = tuple(normalize_name(w).replace(" ", "") for w in e.get("compact", ()) if normalize_name(w))
        out.append(Lookalike(e["name"], e["what"], e.get("source", ""), words, compact))
    return tuple(out)


def lookalike_of(header: str) -> Lookalike | None:
    """The look-alike a header names (CTX-II, ICTP, PICP, PIIINP, ucOC …), or ``None``.

    >>> lookalike_of("uCTX-II").name
    'CTX-II'
    >>> lookalike_of("CTX-I") is None
    True
    """
    tokens = normalize_name(header).split()
    if not tokens:
        return None
    return _lookalike_tokens(tuple(tokens))


@functools.lru_cache(maxsize=32768)
def _lookalike_tokens(tokens: tuple[str, ...]) -> Lookalike | None:
    n = len(tokens)
    for la in lookalikes():
        for pat in la.words:
            k = len(pat)
            if any(tokens[i : i + k] == pat for i in range(n - k + 1)):
                return la
        if any(c in t for c in la.compact for t in tokens):
            return la
    return None


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


# LOINC long names carry the property in brackets: "[Mass/volume]", "[Moles/volume]", "[Molar ratio]"
_LOINC_PROPERTY = re.compile(
    r"\[(?:mass|moles|molar|enzymatic|catalytic|units|substance|presence|mass ratio|molar ratio|ratio)[^\]]*\]", re.IGNORECASE
)


def _names_another_marker(tokens: list[str], marker: str, index: dict) -> bool:
    """Whether a word or pair of words of the header is a synonym of a marker other than ``marker``."""
    for size in (1, 2):
        for i in range(len(tokens) - size + 1):
            key = _compact(tokens[i : i + size])
            if len(key) < 2 or key in _SPECIMEN_WORDS or key in _NOISE_WORDS:
                continue
            if any(e[0] != marker for e in index.get(key, ())):
                return True
    return False


def _specimen_from_tokens(tokens: list[str]) -> str | None:
    found = {_SPECIMEN_WORDS[t] for t in tokens if t in _SPECIMEN_WORDS}
    return found.pop() if len(found) == 1 else None


def match_marker(header: str, *, exact: bool = False) -> MarkerMatch | None:
    """Which marker a column header or LIS test name refers to, or ``None``.

    The header is normalised (:func:`normalize_name`); then, in order: the whole header, the
    header without specimen, variant and vendor words, and finally the longest synonym found as
    a run of words inside the header. A header that matches two markers equally well returns
    ``None``: it is left for the user to map rather than guessed. ``exact=True`` stops before the
    last step (the header is a marker name, with at most specimen, variant and vendor words).
    A header that names a look-alike (CTX-II, ICTP, PICP, PIIINP, ucOC …, see
    :func:`lookalike_of`) or two different markers (``PINP/CTX``) is never a marker.

    >>> match_marker("β-CrossLaps").marker
    'CTX1'
    >>> match_marker("uNTx/Cr").specimen
    'urine'
    """
    header = _LOINC_PROPERTY.sub(" ", str(header))
    tokens = normalize_name(header).split()
    if not tokens:
        return None
    if _lookalike_tokens(tuple(tokens)) is not None:
        return None  # CTX-II, ICTP, PICP, PIIINP, ucOC …: never a marker
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
    if exact:
        return None
    # 3. longest synonym inside the header (synonyms of at least 4 letters, to avoid "OC", "AP"),
    #    with at most two other words that are not specimen, variant or vendor words: a sentence
    #    that mentions a marker is not a header
    if sum(t not in _NOISE_WORDS and t not in _SPECIMEN_WORDS for t in tokens) > 8:
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
    if chosen and _names_another_marker(tokens, chosen[0], index):
        return None  # "PINP/CTX", "CTX:PINP ratio": two markers in one header is not a result of one
    return result(chosen) if chosen else None
