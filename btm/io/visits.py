"""Visit tokens: read a timepoint out of a header (``P1NP_pre``, ``CTX V2``, ``wk12 BALP``).

Research spreadsheets keep one row per subject and one column per marker × visit. The visit is
written into the header as a prefix or a suffix, joined by ``_``, ``-``, a space, brackets or
nothing at all. :func:`visit_label` reads a whole token and returns its *canonical label*;
:func:`split_visit` splits a header into the rest (the marker and its unit) and that label.

Canonical labels (one spelling per visit, whatever language or abbreviation the header used)::

    screening · baseline · pre · mid · post · end · follow-up [N]
    visit N (V1, Visite 2)  · TN (T0, T1)  · week N (W12, wk12, 12 weeks, Woche 12)
    month N (M6, 6 months)  · day N (D0, J7, Tag 3)  · year N  · hour N

These labels are what :mod:`btm.timepoints` orders: ``screening`` before ``baseline``/``pre``/``T0``,
numbered visits by their number (weeks, months and days by their length in days), ``post`` and
``end`` after numbered visits, ``follow-up`` last.

Words are those of research sheets in English, German, French, Spanish, Portuguese, Italian,
Dutch, Polish/Czech, Russian, Chinese and Japanese (``vor``/``nach``, ``avant``/``après``,
``antes``/``después``, ``prima``/``dopo``, ``voor``/``na``, ``przed``/``po``, ``до``/``после``,
``前``/``后``). A bare number (``PINP 1``) is never a visit: it may be a replicate or part of a
name (``CTX1``); a mapping can say the columns are visits (``layout = "wide_visits"``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["VisitSplit", "canonical_label", "split_visit", "visit_label"]

# word tokens -> canonical label (compared after casefold, accents removed, separators -> space)
_WORDS: dict[str, tuple[str, ...]] = {
    "screening": ("screening", "screen", "scr", "scrn", "voruntersuchung", "cribado", "selection"),
    "baseline": (
        "baseline", "base line", "bl", "base", "basis", "basal", "basale", "basalwert", "ausgangswert", "baseline visit",
        "linea base", "linea de base", "linea basal", "uitgangswaarde", "inclusion", "einschluss", "randomisation",
        "randomization", "day of randomisation", "исходно", "基线", "ベースライン",
    ),
    "pre": (
        "pre", "pre training", "pretraining", "pre test", "pretest", "pre intervention", "preintervention",
        "pre exercise", "preexercise", "pre study", "before", "before training", "vor", "vorher", "vor training",
        "prae", "pra", "avant", "antes", "prima", "voor", "przed", "pred", "до", "перед", "前", "训练前", "运动前", "介入前",
        "トレーニング前", "運動前",
    ),
    "mid": ("mid", "midpoint", "mid training", "mid study", "mid term", "interim", "halfway", "zwischen", "mitte", "milieu"),
    "post": (
        "post", "post training", "posttraining", "post test", "posttest", "post intervention", "postintervention",
        "post exercise", "postexercise", "post study", "after", "after training", "nach", "nachher", "nach training",
        "apres", "despues", "dopo", "na", "po", "после", "后", "後", "训练后", "运动后", "介入后", "トレーニング後", "運動後",
    ),
    "end": (
        "end", "eos", "end of study", "end of training", "end of treatment", "end of intervention", "eot", "final",
        "final visit", "study end", "ende", "studienende", "fin", "fin d etude", "fin del estudio", "fine", "einde",
    ),
    "follow-up": (
        "follow up", "followup", "fu", "f u", "fup", "fu visit", "follow up visit", "retention", "detraining",
        "nachbeobachtung", "nachuntersuchung", "suivi", "seguimiento", "seguimento", "controllo", "vervolg",
    ),
}

# numbered tokens: word before or after a number -> canonical prefix
_NUMBERED: dict[str, tuple[str, ...]] = {
    "visit": ("v", "visit", "visits", "vis", "visite", "visita", "bezoek", "besuch", "wizyta", "navsteva", "визит"),
    "T": ("t", "tp", "timepoint", "time point", "time", "zeitpunkt", "temps", "tiempo", "tempo", "tijdstip"),
    "week": (
        "w", "wk", "wks", "week", "weeks", "woche", "wochen", "wo", "semaine", "semaines", "sem", "semana", "semanas",
        "settimana", "settimane", "sett", "weken", "tydzien", "tydzien", "tyden", "неделя", "недели", "недель", "нед", "周", "週",
    ),
    "month": (
        "m", "mo", "mos", "mon", "mth", "mths", "month", "months", "monat", "monate", "monaten", "mois", "mes", "meses",
        "mese", "mesi", "maand", "maanden", "miesiac", "miesiace", "miesiecy", "mesic", "mesice", "месяц", "месяца",
        "месяцев", "мес", "个月", "月", "ヶ月", "か月", "カ月",
    ),
    "day": (
        "d", "day", "days", "tag", "tage", "tagen", "jour", "jours", "j", "dia", "dias", "giorno", "giorni", "dag",
        "dagen", "dzien", "dni", "den", "день", "дня", "дней", "天", "日",
    ),
    "year": ("y", "yr", "yrs", "year", "years", "jahr", "jahre", "jahren", "an", "ans", "ano", "anos", "anno", "anni", "jaar", "год", "年"),
    "minute": ("min", "mins", "minute", "minutes", "minuten", "минут", "分钟"),
    "hour": ("h", "hr", "hrs", "hour", "hours", "stunde", "stunden", "std", "heure", "heures", "hora", "horas", "ora", "ore", "uur", "час", "小时", "時間"),
    "follow-up": ("fu", "follow up", "followup", "fup"),
}
# words that may stand before a time span: "after 16 weeks", "nach 12 Wochen", "at week 12"
_LEADING = ("after", "at", "nach", "apres", "despues", "dopo", "na", "po", "post", "through", "bei", "a", "en", "em", "al", "in")

# single letters are only numbered-visit words when glued to the number (V1, T0, W12, M6, D0, J7)
_GLUED_ONLY = {"v", "t", "w", "m", "d", "y", "h", "j"}


def _fold(text: str) -> str:
    """Casefold, drop accents of Latin letters, separators -> single spaces."""
    s = unicodedata.normalize("NFKC", str(text)).casefold()
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not ("\u0300" <= c <= "\u036f"))
    s = unicodedata.normalize("NFKC", s)
    s = re.sub(r"[\s_\-\.:;,/|\\()\[\]{}#]+", " ", s)
    return s.strip()


@functools.cache
def _word_index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for label, words in _WORDS.items():
        for w in words:
            idx.setdefault(_fold(w), label)
    return idx


@functools.cache
def _numbered_index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for label, words in _NUMBERED.items():
        for w in words:
            idx.setdefault(_fold(w), label)
    return idx


_NUM = r"(\d{1,3}(?:[.,]\d{1,2})?)"
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
_CYR = "\u0400-\u04ff"
_LETTERS = rf"[a-z{_CJK}{_CYR}]+(?: [a-z{_CJK}{_CYR}]+)?"
_WORD = rf"[a-z{_CJK}{_CYR}]+"


def _number(text: str) -> str:
    v = float(text.replace(",", "."))
    return f"{v:g}"


def _numbered(prefix: str, num: str) -> str:
    n = _number(num)
    if prefix == "T":
        return f"T{n}"
    return f"{prefix} {n}"


@functools.lru_cache(maxsize=8192)
def visit_label(token: str) -> str | None:
    """The canonical label of a whole visit token, or ``None`` when it is not one.

    >>> [visit_label(t) for t in ("Pre", "BL", "V2", "wk12", "Week 12", "M6", "D0", "après", "FU2", "PINP")]
    ['pre', 'baseline', 'visit 2', 'week 12', 'week 12', 'month 6', 'day 0', 'post', 'follow-up 2', None]
    """
    raw = unicodedata.normalize("NFKC", str(token)).strip()
    if not raw or len(raw) > 40:
        return None
    both = re.fullmatch(r"(.+?)\s*[\(\[]([^\(\)\[\]]+)[\)\]]", raw)
    if both:  # "Baseline (week 0)", "V2 [week 12]": the first names the visit
        return visit_label(both.group(1))
    t = _fold(raw)
    if not t:
        return None
    words = _word_index()
    if t in words:
        return words[t]
    compact = t.replace(" ", "")
    if compact in words and len(compact) > 3:
        return words[compact]
    nums = _numbered_index()
    # word + number: "v2", "visit 2", "week 12", "wk12", "t0", "fu 2"
    m = re.fullmatch(rf"({_LETTERS}) ?{_NUM}", t)
    if m:
        word, num = m.group(1), m.group(2)
        glued = re.fullmatch(rf"[a-z]+{_NUM}", t.replace(" ", "")) is not None and " " not in t
        if word in nums and (word not in _GLUED_ONLY or glued):
            return _numbered(nums[word], num)
        if word in words and words[word] == "follow-up":
            return _numbered("follow-up", num)
        # "after 16 weeks" is handled below; "post 2" etc. are not visits
    # number + word: "12 weeks", "6 months", "12wk", "6mo", "12 weeks post", "3个月"
    m = re.fullmatch(rf"(?:({'|'.join(_LEADING)}) )?{_NUM} ?({_WORD})(?: (post|after|later|nach|apres|despues|dopo|later))?", t)
    if m:
        num, word = m.group(2), m.group(3)
        glued = re.search(rf"(?:^| ){re.escape(num)}{re.escape(word)}(?: |$)", t) is not None
        if word in nums and nums[word] not in ("visit", "T", "follow-up") and word not in _GLUED_ONLY | {"an", "a"}:
            return _numbered(nums[word], num)
        if word in nums and word in _GLUED_ONLY and (glued or m.group(3)) and m.group(1) is None:
            return _numbered(nums[word], num)  # "12w", "6m", "3d", "1h post"
    # leading word + word + number: "after week 16", "at month 6"
    m = re.fullmatch(rf"(?:{'|'.join(_LEADING)}) ({_LETTERS}) ?{_NUM}", t)
    if m and m.group(1) in nums and nums[m.group(1)] not in ("visit", "T"):
        return _numbered(nums[m.group(1)], m.group(2))
    return None


def canonical_label(label: str) -> str:
    """``label`` as its canonical visit label when it is a visit token, else unchanged (stripped)."""
    return visit_label(label) or str(label).strip()


@dataclass(frozen=True)
class VisitSplit:
    """A header split into the rest (marker and unit, as written) and its visit."""

    rest: str
    label: str
    token: str
    position: str  # "prefix" or "suffix"


# a trailing unit in brackets is kept with the rest: "PINP pre (ng/mL)" -> rest "PINP (ng/mL)"
_TRAILING_BRACKET = re.compile(r"^(?P<head>.*?)\s*(?P<tail>[\(\[\{][^\(\)\[\]\{\}]*[\)\]\}])\s*$")
_PIECE = re.compile(r"[^\s_\-\.:;,|/\\()\[\]{}#]+")
# glued tokens: "P1NPpre", "CTXpost", "V00Serum", "preCTX"
_GLUED_SUFFIX = re.compile(r"^(?P<rest>.*?[A-Za-z0-9])(?P<tok>pre|post|Pre|Post|PRE|POST|BL|(?:V|T|W|M|D|FU|Wk|WK|wk|v|t|w|d)\d{1,3})$")
_GLUED_PREFIX = re.compile(r"^(?P<tok>pre|post|Pre|Post|PRE|POST|(?:V|T|W|M|D|FU|v|t)\d{1,3})(?P<rest>[A-Za-z].*)$")


def _is_unit(text: str) -> bool:
    from .layout import _is_unit as is_unit

    return is_unit(text.strip("()[]{} "))


@functools.lru_cache(maxsize=32768)
def split_visit(header: str) -> VisitSplit | None:
    """Split a header into ``(rest, visit)``; ``None`` when no visit token is at either end.

    The caller checks that the rest names a marker; this function only finds the token.

    >>> s = split_visit("P1NP_pre (ng/mL)")
    >>> s.rest, s.label
    ('P1NP (ng/mL)', 'pre')
    >>> split_visit("wk12 BALP").label
    'week 12'
    >>> split_visit("CTX1") is None
    True
    """
    text = str(header)
    if any("\uff00" <= c <= "\uffef" or c == "\u3000" for c in text):
        text = unicodedata.normalize("NFKC", text)  # full-width brackets, letters and spaces of CJK sheets
    text = " ".join(text.split())
    if not text or len(text) > 120:
        return None
    unit_tail = ""
    m = _TRAILING_BRACKET.match(text)
    if m and m.group("head") and (_is_unit(m.group("tail")) or "/" in m.group("tail")):  # a unit, or unit-like text
        text, unit_tail = m.group("head"), m.group("tail")
    pieces = list(_PIECE.finditer(text))
    if len(pieces) >= 2:
        # suffix: the last 1..4 pieces
        for k in range(min(4, len(pieces) - 1), 0, -1):
            start = pieces[-k].start()
            token = text[start:]
            if start > 0 and text[start - 1] in "([{":
                start -= 1
            label = visit_label(token.strip("()[]{} "))
            if label and not _is_name_part(pieces, len(pieces) - k):
                rest = text[:start].rstrip(" _-.:;,|/\\")
                return VisitSplit(_join(rest, unit_tail), label, token.strip("()[]{} "), "suffix")
        # prefix: the first 1..4 pieces
        for k in range(min(4, len(pieces) - 1), 0, -1):
            end = pieces[k - 1].end()
            token = text[:end]
            label = visit_label(token.strip("()[]{} "))
            if label:
                rest = text[end:].lstrip(" _-.:;,|/\\)]}")
                return VisitSplit(_join(rest, unit_tail), label, token.strip("()[]{} "), "prefix")
    # no separator: "P1NPpre", "V00Serum_CTXI_NUM"
    first, last = (pieces[0].group(), pieces[-1].group()) if pieces else ("", "")
    g = _GLUED_SUFFIX.match(last)
    if g and len(g.group("rest")) >= 2:
        label = visit_label(g.group("tok"))
        if label:
            rest = text[: pieces[-1].start()] + g.group("rest")
            return VisitSplit(_join(rest, unit_tail), label, g.group("tok"), "suffix")
    g = _GLUED_PREFIX.match(first)
    if g and len(g.group("rest")) >= 2:
        label = visit_label(g.group("tok"))
        if label:
            rest = g.group("rest") + text[pieces[0].end() :]
            return VisitSplit(_join(rest, unit_tail), label, g.group("tok"), "prefix")
    return None


def _is_name_part(pieces: list[re.Match[str]], k: int) -> bool:
    """Pieces that look like a visit but belong to a marker name: "N-MID" (osteocalcin), "Type 1"."""
    tok = pieces[k].group().casefold()
    before = pieces[k - 1].group().casefold() if k > 0 else ""
    if tok == "mid" and before == "n":
        return True
    return before in ("type", "typ", "typu", "tipo", "тип")


def _join(rest: str, unit_tail: str) -> str:
    return f"{rest} {unit_tail}".strip() if unit_tail else rest.strip()
