#!/usr/bin/env python
"""Rebuild every bundled sample input of ``btm`` (all people are synthetic).

Usage::

    python sample_data/make_samples.py [OUTPUT_DIR]

OUTPUT_DIR defaults to the folder holding this script.  The output is
byte-for-byte reproducible: one seeded ``numpy.random.default_rng`` drives
every random draw, workbook properties carry a fixed creation date and
xlsxwriter stores fixed zip timestamps.  Only numpy, xlsxwriter and the
standard library are used.

Six files are written (see README.md in this folder for layouts and traps):

1. analyser_cobas_export.xlsx   Roche cobas-like analyser export
2. lis_long_export.csv          hospital LIS long export (one row per result)
3. european_semicolon.csv       cp1252, ';', decimal comma, CRLF
4. research_timepoints.xlsx     one sheet per timepoint + a Notes sheet
5. handtyped_lab_sheet.xlsx     hand-typed sheet full of text/typo traps
6. trial_exercise.xlsx          the bundled five-arm exercise trial

Marker values are drawn log-normally around published reference intervals
(shared/domain/BTM_FACTS.md section 3) with within-subject variation from
CVi + CVa (section 4).  Internally every marker is kept in its canonical
unit: PINP ug/L, CTX ng/L, BALP ug/L, OCN ug/L, TRAP-5b U/L,
uNTX nmol BCE/mmol Cr, total ALP U/L.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import sys
from pathlib import Path

import numpy as np
import xlsxwriter

SEED = 20261126
rng = np.random.default_rng(SEED)

FIXED_CREATED = dt.datetime(2026, 3, 14, 9, 12, 0)

MARKERS = ("PINP", "CTX", "BALP", "OCN", "TRAP", "NTX", "ALP")

# Population geometric mean and log-SD (between + within subject), canonical units.
#   PINP  post 18.2-102.3, pre 19.3-76.3, men ~16-80 ug/L          [Michelsen13]
#   CTX   post 177-1015, pre 136-689 pg/mL [Mayo CTX]; men 100-600 [Austin]
#   BALP  post 8.1-31.6, pre 6.0-22.7, men 7.4-27.7 ug/L            [Michelsen13]
#   OCN   post 8.0-40.9, pre 7.6-38.7, men 6.5-36.7 ug/L            [Hannemann13]
#   TRAP  no published RI in BTM_FACTS; lab-typical 1.5-5 U/L spread
#   NTX   post 26-124, pre 17-94, men 21-83 nmol BCE/mmol Cr        [Mayo NTX]
#   ALP   typical adult 35-130 U/L (RI NF in BTM_FACTS)
POP = {
    "post_f": dict(PINP=(45.0, 0.42), CTX=(400.0, 0.50), BALP=(15.0, 0.34),
                   OCN=(20.0, 0.40), TRAP=(3.5, 0.28), NTX=(57.0, 0.40),
                   ALP=(80.0, 0.25)),
    "pre_f": dict(PINP=(38.0, 0.35), CTX=(280.0, 0.45), BALP=(11.5, 0.34),
                  OCN=(16.0, 0.34), TRAP=(2.6, 0.28), NTX=(40.0, 0.44),
                  ALP=(62.0, 0.25)),
    "male": dict(PINP=(38.0, 0.40), CTX=(290.0, 0.45), BALP=(14.0, 0.32),
                 OCN=(16.0, 0.39), TRAP=(2.9, 0.28), NTX=(42.0, 0.35),
                 ALP=(75.0, 0.25)),
    "young_male": dict(PINP=(52.0, 0.30), CTX=(380.0, 0.42), BALP=(15.0, 0.30),
                       OCN=(20.0, 0.33), TRAP=(3.0, 0.28), NTX=(45.0, 0.35),
                       ALP=(70.0, 0.25)),
}

# Within-subject total CV (CVi + CVa), BTM_FACTS section 4, as log-SD.
TOTAL_CV = dict(PINP=0.137, CTX=0.20, BALP=0.09, OCN=0.10, TRAP=0.10,
                NTX=0.18, ALP=0.07)
SD_W = {m: math.sqrt(math.log(1.0 + cv * cv)) for m, cv in TOTAL_CV.items()}

TRAPS: list[tuple[str, str, str]] = []   # (file, location, description)


def trap(file: str, where: str, what: str) -> None:
    TRAPS.append((file, where, what))


# --------------------------------------------------------------------------- #
# generic helpers
# --------------------------------------------------------------------------- #
def make_subject(pop: str, rho: float = 0.5) -> dict:
    """True (long-run) marker levels of one synthetic person.

    A shared 'turnover' factor correlates the markers (rho on the log scale).
    """
    common = rng.standard_normal()
    true = {}
    for m in MARKERS:
        gm, sd_pop = POP[pop][m]
        sd_between = math.sqrt(max(sd_pop ** 2 - SD_W[m] ** 2, 0.01))
        z = rho * common + math.sqrt(1.0 - rho * rho) * rng.standard_normal()
        true[m] = gm * math.exp(sd_between * z)
    return true


def measure(true: dict, m: str, factor: float = 1.0) -> float:
    """One draw: true level x effect x within-subject noise."""
    return true[m] * factor * math.exp(SD_W[m] * rng.standard_normal())


def rint(lo: int, hi: int) -> int:
    """Random integer, both ends inclusive."""
    return int(rng.integers(lo, hi + 1))


def col_letter(idx: int) -> str:
    """0-based column index -> Excel letters."""
    s = ""
    idx += 1
    while idx:
        idx, r = divmod(idx - 1, 26)
        s = chr(65 + r) + s
    return s


def weekday_on_or_after(d: dt.date) -> dt.date:
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def new_workbook(path: Path, title: str) -> xlsxwriter.Workbook:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False,
                                         "strings_to_formulas": False,
                                         "strings_to_urls": False})
    wb.set_properties({"title": title, "author": "btm sample generator",
                       "comments": "Synthetic data - no real persons",
                       "created": FIXED_CREATED})
    return wb


def comma(x: float, nd: int) -> str:
    return f"{x:.{nd}f}".replace(".", ",")


# --------------------------------------------------------------------------- #
# 1. analyser_cobas_export.xlsx
# --------------------------------------------------------------------------- #
def build_cobas(out: Path) -> None:
    fname = "analyser_cobas_export.xlsx"
    n = 40
    cats = ["post_f"] * 24 + ["pre_f"] * 6 + ["male"] * 10
    cats = [cats[i] for i in rng.permutation(n)]
    # fixed roles for the trap rows (data index 8 -> row 15, 23 -> row 30)
    cats[8] = "post_f"
    cats[23] = "male"
    rows = []
    for i in range(n):
        pop = cats[i]
        true = make_subject(pop)
        sex = "M" if pop == "male" else "F"
        age = {"post_f": rint(52, 82), "pre_f": rint(30, 45), "male": rint(35, 80)}[pop]
        day = dt.date(2026, 3, 9) + dt.timedelta(days=i // 9)
        minute = 7 * 60 + 30 + 5 * rint(0, 30)
        pinp = measure(true, "PINP")
        ctx = measure(true, "CTX")
        ocn = measure(true, "OCN")
        if i == 8:           # antiresorptive-suppressed patient: CTX below range
            age, pinp, ocn = 71, 9.0 * math.exp(0.1 * rng.standard_normal()), 6.1
        if i == 23:          # Paget-like man: P1NP above the measuring range
            age = 78
            ctx = 2150.0 * math.exp(0.05 * rng.standard_normal())
            ocn = 88.0 * math.exp(0.05 * rng.standard_normal())
        rows.append(dict(sample=f"L2603-{1001 + i}", pid=f"S{301 + i}", sex=sex,
                         age=age, date=day, time=hhmm(minute),
                         pinp=round(pinp, 1), ctx=round(ctx / 1000.0, 3),
                         ocn=round(ocn, 2)))

    wb = new_workbook(out / fname, "cobas e 601 result export (synthetic)")
    ws = wb.add_worksheet("Results")
    bold = wb.add_format({"bold": True})
    f_date = wb.add_format({"num_format": "yyyy-mm-dd"})
    f1 = wb.add_format({"num_format": "0.0"})
    f2 = wb.add_format({"num_format": "0.00"})
    f3 = wb.add_format({"num_format": "0.000"})
    ws.write_string(0, 0, "cobas e 601 \u2014 Result export", bold)
    ws.write_string(1, 0, "Laboratory: Example Bone Lab")
    ws.write_string(2, 0, "Exported: 2026-03-14 09:12")
    header = ["Sample ID", "Patient ID", "Sex", "Age", "Collection date",
              "Collection time", "total P1NP", "\u03b2-CrossLaps", "N-MID Osteocalcin"]
    for c, h in enumerate(header):
        ws.write_string(4, c, h, bold)
    for c in (6, 7, 8):
        ws.write_string(5, c, "ng/mL")
    for i, r in enumerate(rows):
        xr = 6 + i                     # 0-based; Excel row = xr + 1
        ws.write_string(xr, 0, r["sample"])
        ws.write_string(xr, 1, r["pid"])
        ws.write_string(xr, 2, r["sex"])
        ws.write_number(xr, 3, r["age"])
        ws.write_datetime(xr, 4, dt.datetime.combine(r["date"], dt.time()), f_date)
        ws.write_string(xr, 5, r["time"])
        if i == 23:
            ws.write_string(xr, 6, ">1200")
        else:
            ws.write_number(xr, 6, r["pinp"], f1)
        if i == 8:
            ws.write_string(xr, 7, "<0.010")
        else:
            ws.write_number(xr, 7, r["ctx"], f3)
        if i == 15:
            pass                       # blank OCN cell (no result)
        else:
            ws.write_number(xr, 8, r["ocn"], f2)
    trap(fname, "H15 (S309)", "CTX text '<0.010' ng/mL -> <10 ng/L (below measuring range)")
    trap(fname, "G30 (S324)", "P1NP text '>1200' (above measuring range)")
    trap(fname, "I22 (S316)", "blank N-MID osteocalcin cell")
    ws.set_column(0, 1, 12)
    ws.set_column(4, 5, 15)
    ws.set_column(6, 8, 17)
    wb.close()


# --------------------------------------------------------------------------- #
# 2. lis_long_export.csv
# --------------------------------------------------------------------------- #
LIS_TESTS = [
    # key, code, name, units, decimals, to-LIS-unit factor
    ("PINP", "PINP", "PROCOLLAGEN TYPE 1 N-TERMINAL PROPEPTIDE", "\u00b5g/L", 1, 1.0),
    ("CTX", "CTXS", "C-Telopeptide,Serum", "pg/mL", 0, 1.0),
    ("BALP", "BAP", "Bone ALP (Ostase)", "\u00b5g/L", 1, 1.0),
    ("OCN", "OSTEO", "Osteocalcin", "ng/mL", 1, 1.0),
    ("NTX", "NTXU", "uNTx/Cr", "nmol BCE/mmol Cr", 0, 1.0),
    ("ALP", "ALP", "Alkaline Phosphatase", "U/L", 0, 1.0),
]
LIS_RANGES = {   # as the LIS prints them, by population
    "PINP": {"male": "22-87", "pre_f": "19-83", "post_f": "16-96"},
    "CTX": {"male": "100-600", "pre_f": "136-689", "post_f": "177-1015"},
    "BALP": {"male": "<=20", "pre_f": "<=14", "post_f": "<=22"},
    "OCN": {"male": "7.5-34.4", "pre_f": "8.1-42.9", "post_f": "8.1-42.9"},
    "NTX": {"male": "21-83", "pre_f": "17-94", "post_f": "26-124"},
    "ALP": {"male": "40-129", "pre_f": "35-104", "post_f": "35-104"},
}
LIS_P_OPTIONAL = {"BALP": 0.6, "OCN": 0.4, "NTX": 0.35, "ALP": 0.5}
# antiresorptive response at the 2nd collection (responders)
LIS_TREAT = {"PINP": 0.60, "CTX": 0.45, "BALP": 0.80, "OCN": 0.70, "NTX": 0.55, "ALP": 0.90}


def lis_flag(value: float, rng_text: str) -> str:
    if rng_text.startswith("<="):
        return "H" if value > float(rng_text[2:]) else ""
    lo, hi = (float(x) for x in rng_text.split("-"))
    return "H" if value > hi else ("L" if value < lo else "")


def build_lis(out: Path) -> None:
    fname = "lis_long_export.csv"
    n = 25
    cats = ["post_f"] * 16 + ["pre_f"] * 3 + ["male"] * 6
    cats = [cats[i] for i in rng.permutation(n)]
    # 15 patients have a 2nd collection; MRN 000115 and 000118 always do (traps)
    others = [i for i in range(n) if i not in (14, 17)]
    two_visits = sorted([14, 17] + [others[int(i)] for i in
                                    rng.choice(len(others), size=13, replace=False)])
    non_responders = [two_visits[1], two_visits[6], two_visits[11]]
    # forced tests / text results: (patient index, visit index, marker)
    text_results = {
        (3, 0, "CTX"): ("hemolysed", "Specimen hemolysed - please recollect"),
        (8, 0, "OCN"): ("QNS", "Quantity not sufficient"),
        (14, 1, "NTX"): ("cancelled", "Cancelled: urine sample not received"),
        (17, 1, "CTX"): ("<50", "Below analytical measuring range"),
    }
    header = ["MRN", "Patient Name", "DOB", "Sex", "Collected", "Order", "Test Code",
              "Test Name", "Result", "Units", "Reference Range", "Flag", "Comment"]
    lines = []
    acc = 100
    for p in range(n):
        pop = cats[p]
        true = make_subject(pop)
        sex = "M" if pop == "male" else "F"
        age = {"post_f": rint(52, 80), "pre_f": rint(32, 48), "male": rint(45, 80)}[pop]
        mrn = f"{101 + p:06d}"
        name = f"TEST, PATIENT {p + 1}"
        first = weekday_on_or_after(dt.date(2026, 1, 5) + dt.timedelta(days=rint(0, 52)))
        dob = first - dt.timedelta(days=365 * age + rint(10, 350))
        visits = [first]
        if p in two_visits:
            visits.append(weekday_on_or_after(first + dt.timedelta(days=rint(90, 120))))
        treat = {m: LIS_TREAT[m] * math.exp(0.15 * rng.standard_normal()) for m in MARKERS
                 if m in LIS_TREAT}
        for v, day in enumerate(visits):
            acc += 1
            minute = 7 * 60 + 5 * rint(0, 42)
            collected = f"{day.isoformat()} {hhmm(minute)}"
            order = f"A{day:%y%m%d}{acc:04d}"
            for key, code, tname, units, nd, fac in LIS_TESTS:
                u = rng.random()
                wanted = key in ("PINP", "CTX") or u < LIS_P_OPTIONAL[key]
                if (p, v, key) in text_results:
                    wanted = True
                if not wanted:
                    continue
                factor = 1.0
                if v == 1 and p not in non_responders:
                    factor = treat[key]
                val = measure(true, key, factor) * fac
                rr = LIS_RANGES[key][pop]
                comment = "2nd morning void" if key == "NTX" else ""
                if (p, v, key) in text_results:
                    res, comment = text_results[(p, v, key)]
                    flag = "L" if res.startswith("<") else ""
                else:
                    res = f"{val:.{nd}f}"
                    flag = lis_flag(float(res), rr)
                lines.append([mrn, name, dob.isoformat(), sex, collected, order, code,
                              tname, res, units, rr, flag, comment])
    with open(out / fname, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(header)
        w.writerows(lines)
    trap(fname, "MRN " + ", ".join(f"{101 + p:06d}" for p in non_responders),
         "info: 2nd collection WITHOUT antiresorptive response (other 2-visit MRNs respond)")
    for (p, v, key), (res, _) in text_results.items():
        mrn = f"{101 + p:06d}"
        code = [t[1] for t in LIS_TESTS if t[0] == key][0]
        line = 2 + next(i for i, L in enumerate(lines)
                        if L[0] == mrn and L[6] == code and L[8] == res)
        trap(fname, f"line {line} (MRN {mrn}, {code}, visit {v + 1})", f"Result '{res}'")


# --------------------------------------------------------------------------- #
# 3. european_semicolon.csv
# --------------------------------------------------------------------------- #
def build_european(out: Path) -> None:
    fname = "european_semicolon.csv"
    n = 20
    cats = ["post_f"] * 12 + ["male"] * 8
    cats = [cats[i] for i in rng.permutation(n)]
    groups = ["Krafttraining"] * 10 + ["Kontrolle"] * 10
    groups = [groups[i] for i in rng.permutation(n)]
    effect = dict(PINP=1.12, CTX=1.00, BALP=1.05, OCN=1.10)
    header = ("Proband;Visite;Datum;Geschlecht;Alter;Gruppe;P1NP (\u00b5g/l);"
              "CTX (ng/ml);BAP (\u00b5g/l);Osteocalcin (\u00b5g/l)")
    lines = [header]
    for i in range(n):
        pid = f"S{201 + i}"
        pop = cats[i]
        true = make_subject(pop)
        if pid == "S214":
            true["CTX"] = 45.0            # very low resorption -> '<0,030' at V2
        age = rint(50, 70) if pop == "post_f" else rint(50, 72)
        sex = "w" if pop == "post_f" else "m"
        v1 = weekday_on_or_after(dt.date(2026, 1, 12) + dt.timedelta(days=rint(0, 45)))
        v2 = weekday_on_or_after(v1 + dt.timedelta(days=84 + rint(-3, 3)))
        eff_i = {m: (e * math.exp(0.08 * rng.standard_normal())
                     if groups[i] == "Krafttraining" else 1.0) for m, e in effect.items()}
        for visit, day in (("V1", v1), ("V2", v2)):
            f = eff_i if visit == "V2" else {m: 1.0 for m in effect}
            pinp = measure(true, "PINP", f["PINP"])
            ctx = measure(true, "CTX", f["CTX"]) / 1000.0
            bap = measure(true, "BALP", f["BALP"])
            ocn = measure(true, "OCN", f["OCN"])
            ctx_txt = "<0,030" if (pid == "S214" and visit == "V2") else comma(ctx, 3)
            lines.append(";".join([pid, visit, day.strftime("%d.%m.%Y"), sex, str(age),
                                   groups[i], comma(pinp, 1), ctx_txt, comma(bap, 1),
                                   comma(ocn, 1)]))
            if ctx_txt.startswith("<"):
                trap(fname, f"line {len(lines)} (S214 V2), column 'CTX (ng/ml)'",
                     "'<0,030' = <0.030 ng/mL = <30 ng/L, decimal comma inside a censored value")
    data = ("\r\n".join(lines) + "\r\n").encode("cp1252")
    (out / fname).write_bytes(data)


# --------------------------------------------------------------------------- #
# 4. research_timepoints.xlsx
# --------------------------------------------------------------------------- #
def build_research(out: Path) -> None:
    fname = "research_timepoints.xlsx"
    subjects = []
    for grp, prefix in (("Jumping", "J"), ("Control", "C")):
        pops = ["pre_f"] * 10 + ["young_male"] * 2
        pops = [pops[i] for i in rng.permutation(12)]
        for k in range(12):
            pop = pops[k]
            subjects.append(dict(id=f"{prefix}{k + 1:02d}", group=grp,
                                 sex="M" if pop == "young_male" else "F",
                                 age=rint(25, 45), true=make_subject(pop)))
    # Illustrative jumping effect at Week 12 (Week 6 = half on the log scale)
    eff12 = dict(PINP=1.10, CTX=0.95, BALP=1.04, TRAP=0.94)
    for s in subjects:
        s["eff"] = {m: (e * math.exp(0.08 * rng.standard_normal())
                        if s["group"] == "Jumping" else 1.0) for m, e in eff12.items()}
        s["d0"] = weekday_on_or_after(dt.date(2026, 2, 2) + dt.timedelta(days=rint(0, 18)))

    wb = new_workbook(out / fname, "Jumping pilot - bone markers (synthetic)")
    bold = wb.add_format({"bold": True})
    f_date = wb.add_format({"num_format": "d mmm yyyy"})
    f1 = wb.add_format({"num_format": "0.0"})
    f2 = wb.add_format({"num_format": "0.00"})
    header = ["Subject", "Group", "Sex", "Age", "Draw date", "PINP (\u00b5g/L)",
              "CTX-1 (ng/L)", "BALP [\u00b5g/L]", "TRAP-5b (U/L)"]
    for sheet, week in (("Baseline", 0), ("Week 6", 6), ("Week 12", 12)):
        ws = wb.add_worksheet(sheet)
        for c, h in enumerate(header):
            ws.write_string(0, c, h, bold)
        r = 1
        for s in subjects:
            if sheet == "Week 12" and s["id"] == "C07":
                continue                   # dropout
            frac = week / 12.0
            f = {m: s["eff"][m] ** frac for m in eff12}
            day = weekday_on_or_after(
                s["d0"] + dt.timedelta(days=7 * week + (rint(-2, 2) if week else 0)))
            ws.write_string(r, 0, s["id"])
            ws.write_string(r, 1, s["group"])
            ws.write_string(r, 2, s["sex"])
            ws.write_number(r, 3, s["age"])
            ws.write_datetime(r, 4, dt.datetime.combine(day, dt.time()), f_date)
            ws.write_number(r, 5, round(measure(s["true"], "PINP", f["PINP"]), 1), f1)
            ws.write_number(r, 6, round(measure(s["true"], "CTX", f["CTX"])))
            ws.write_number(r, 7, round(measure(s["true"], "BALP", f["BALP"]), 1), f1)
            ws.write_number(r, 8, round(measure(s["true"], "TRAP", f["TRAP"]), 2), f2)
            r += 1
        ws.set_column(0, 3, 9)
        ws.set_column(4, 8, 14)
    ws = wb.add_worksheet("Notes")
    notes = [
        "Study notes (synthetic example)",
        "Jumping group: 50 counter-movement jumps, 3 sessions per week for 12 weeks.",
        "Fasting blood drawn 07:30-09:00; serum frozen at -80 \u00b0C and assayed in one batch.",
        "C07 withdrew after Week 6 (moved away): no Week 12 sample.",
        "CTX-1 reported in ng/L (= pg/mL). TRAP-5b is an activity in U/L.",
    ]
    for i, t in enumerate(notes):
        ws.write_string(i, 0, t)
    ws.set_column(0, 0, 90)
    wb.close()
    trap(fname, "sheet 'Week 12'", "C07 missing (dropout): 23 data rows instead of 24")
    trap(fname, "sheet 'Notes'", "free text, no marker columns: must be skipped with a notice")


# --------------------------------------------------------------------------- #
# 5. handtyped_lab_sheet.xlsx
# --------------------------------------------------------------------------- #
def build_handtyped(out: Path) -> None:
    fname = "handtyped_lab_sheet.xlsx"
    d = dt.date
    # id, sex, age, pre date, post date (a str = typed text date; None = no visit)
    people = [
        ("007", "f", 58, d(2026, 2, 2), d(2026, 3, 30)),
        ("012", "f", 63, d(2026, 2, 3), d(2026, 3, 31)),
        ("015", "m", 61, "14/02/2026", d(2026, 4, 11)),
        ("021", "f", 55, d(2026, 2, 18), "18/04/2026"),
        ("023", "f", 67, d(2026, 2, 5), d(2026, 4, 2)),
        ("034", "m", 59, d(2026, 2, 9), None),
        ("038", "f", 52, d(2026, 2, 6), "03/04/2026"),
        ("041", "f", 70, d(2026, 2, 12), d(2026, 4, 9)),
    ]
    rows = []
    for pid, sex, age, pre, post in people:
        true = make_subject("male" if sex == "m" else "post_f")
        if pid == "021":
            true["PINP"] = 8.0             # very low formation -> '< 5' at post
        eff = 1.10 * math.exp(0.08 * rng.standard_normal())
        for visit, day in (("pre", pre), ("post", post)):
            if day is None:
                continue
            f = eff if visit == "post" else 1.0
            rows.append(dict(id=pid, visit=visit, date=day, sex=sex, age=age,
                             pinp=round(measure(true, "PINP", f), 1),
                             ctx=int(round(measure(true, "CTX"))),
                             balp=round(measure(true, "BALP"), 1), comment=""))
    # Overrides: Excel row -> column -> raw typed text (Excel row = index + 4)
    text_cells = {
        (5, "F"): ("52.1", "number stored as text"),
        (8, "F"): (" 48.0 ", "number stored as text with spaces"),
        (11, "F"): ("< 5", "censored with a space after '<' -> <5"),
        (13, "F"): ("4o.2", "typo (letter o): must be rejected"),
        (9, "G"): ("<LOD", "censored without a limit: reject, reason 'no limit'"),
        (15, "G"): ("n/a", "missing"),
        (6, "H"): ("12,5", "decimal comma typed as text -> 12.5"),
        (12, "H"): ("\u226420", "'\u2264' comparator -> <=20"),
        (17, "H"): ("see comment", "not a value"),
    }
    comments = {7: "haemolysed sample", 10: "non-fasting",
                15: "CTX not run - insufficient serum",
                17: "BALP repeat pending (tube cracked)"}
    wb = new_workbook(out / fname, "Bone markers pilot (typed from paper forms)")
    ws = wb.add_worksheet("Sheet1")
    title = wb.add_format({"bold": True, "font_size": 14, "align": "center"})
    bold = wb.add_format({"bold": True, "bottom": 1})
    f_date = wb.add_format({"num_format": "dd/mm/yyyy"})
    ws.merge_range("A1:H1", "Bone markers \u2013 pilot study (typed from paper forms)", title)
    header = ["ID", "Visit", "Date", "sex", "age", "P1NP ng/ml", "CTX, pg/mL",
              "BALP, \u00b5g/L", "Comment"]
    for c, h in enumerate(header):
        ws.write_string(2, c, h, bold)
    colmap = {"F": "pinp", "G": "ctx", "H": "balp"}
    for i, r in enumerate(rows):
        xl = 4 + i                    # Excel row number
        xr = xl - 1
        ws.write_string(xr, 0, r["id"])
        ws.write_string(xr, 1, r["visit"])
        if isinstance(r["date"], str):
            ws.write_string(xr, 2, r["date"])
        else:
            ws.write_datetime(xr, 2, dt.datetime.combine(r["date"], dt.time()), f_date)
        ws.write_string(xr, 3, r["sex"])
        ws.write_number(xr, 4, r["age"])
        for c_letter, key in colmap.items():
            c = ord(c_letter) - 65
            if (xl, c_letter) in text_cells:
                ws.write_string(xr, c, text_cells[(xl, c_letter)][0])
            else:
                ws.write_number(xr, c, r[key])
        if xl in comments:
            ws.write_string(xr, 8, comments[xl])
    for (xl, c_letter), (raw, what) in sorted(text_cells.items(), key=lambda t: (t[0][1], t[0][0])):
        trap(fname, f"{c_letter}{xl}", f"{raw!r}: {what}")
    for xl, typed in ((8, "14/02/2026"), (11, "18/04/2026"), (16, "03/04/2026")):
        kind = "AMBIGUOUS day/month" if typed == "03/04/2026" else "day-first text date"
        trap(fname, f"C{xl}", f"text date {typed!r} ({kind})")
    ws.set_column(0, 1, 7)
    ws.set_column(2, 2, 12)
    ws.set_column(5, 7, 12)
    ws.set_column(8, 8, 36)
    wb.close()


# --------------------------------------------------------------------------- #
# 6. trial_exercise.xlsx
# --------------------------------------------------------------------------- #
ARMS = ("Endurance", "Resistance", "Impact", "Tai Chi", "Control")
TRIAL_MARKERS = ("PINP", "CTX", "BALP", "OCN", "TRAP")
# Week-12 geometric mean ratios vs baseline (see README for the sources).
EFFECT12 = {
    "Endurance": dict(PINP=1.02, CTX=0.98, BALP=1.01, OCN=1.02, TRAP=1.00),
    "Resistance": dict(PINP=1.18, CTX=1.00, BALP=1.07, OCN=1.20, TRAP=1.00),
    "Impact": dict(PINP=1.15, CTX=0.95, BALP=1.08, OCN=1.00, TRAP=1.00),
    "Tai Chi": dict(PINP=1.00, CTX=1.00, BALP=1.08, OCN=1.00, TRAP=0.92),
    "Control": dict(PINP=1.00, CTX=1.00, BALP=1.00, OCN=1.00, TRAP=1.00),
}
EFFECT_SPREAD = {"Endurance": 0.04, "Resistance": 0.08, "Impact": 0.08,
                 "Tai Chi": 0.08, "Control": 0.0}
VISITS = (("Baseline", 0), ("Week 6", 6), ("Week 12", 12))


def build_trial(out: Path) -> None:
    fname = "trial_exercise.xlsx"
    n_arm = 20
    alloc = [ARMS[i // n_arm] for i in rng.permutation(len(ARMS) * n_arm)]
    n_pre = {"Endurance": 2, "Resistance": 2, "Impact": 1, "Tai Chi": 2, "Control": 1}
    subjects = [dict(id=f"S{i + 1:03d}", arm=alloc[i]) for i in range(len(alloc))]
    by_arm = {a: [s for s in subjects if s["arm"] == a] for a in ARMS}
    for a in ARMS:
        kinds = ["pre_f"] * n_pre[a] + ["post_f"] * (14 - n_pre[a]) + ["male"] * 6
        kinds = [kinds[i] for i in rng.permutation(n_arm)]
        for s, k in zip(by_arm[a], kinds, strict=True):
            s["pop"] = k
    for s in subjects:
        pop = s["pop"]
        s["sex"] = "M" if pop == "male" else "F"
        s["meno"] = {"pre_f": "pre", "post_f": "post", "male": ""}[pop]
        s["age"] = {"pre_f": rint(45, 50), "post_f": rint(50, 72), "male": rint(50, 75)}[pop]
        s["true"] = make_subject(pop)
        s["eff12"] = {m: EFFECT12[s["arm"]][m] * math.exp(EFFECT_SPREAD[s["arm"]] *
                                                          rng.standard_normal())
                      for m in TRIAL_MARKERS}
        s["egfr0"] = float(np.clip(105 - 0.7 * (s["age"] - 40) + 10 * rng.standard_normal(),
                                   48, 118))
        s["t0"] = 7 * 60 + 5 * rint(0, 27)            # preferred draw time 07:00-09:15
        s["d0"] = weekday_on_or_after(dt.date(2026, 1, 5) + dt.timedelta(days=rint(0, 52)))

    # ---- quirks (chosen by rule so they are fixed for this seed) -------------
    missing = {  # subject -> visits not attended
        by_arm["Endurance"][4]["id"]: ("Week 12",),
        by_arm["Resistance"][6]["id"]: ("Week 6",),
        by_arm["Impact"][9]["id"]: ("Week 12",),
        by_arm["Tai Chi"][11]["id"]: ("Week 6", "Week 12"),
        by_arm["Control"][14]["id"]: ("Week 12",),
    }
    nonfasting = {(by_arm["Endurance"][1]["id"], "Baseline"): "11:20",
                  (by_arm["Resistance"][3]["id"], "Week 6"): "10:45"}
    late_fasting = {(by_arm["Impact"][2]["id"], "Week 12"): "10:15",
                    (by_arm["Control"][1]["id"], "Baseline"): "10:05"}
    ckd = max(by_arm["Control"], key=lambda s: (s["age"], s["id"]))
    ckd["age"] = max(ckd["age"], 70)
    ckd_egfr = {"Baseline": 28, "Week 6": 29, "Week 12": 27}
    ckd["true"]["PINP"] *= 1.6        # total PINP biased high in CKD 4 (monomer)
    ckd["true"]["CTX"] *= 1.4         # apparent CTX rises as GFR falls
    low_ctx = next(s for s in by_arm["Tai Chi"] if s["pop"] == "pre_f"
                   and s["id"] not in missing)
    low_ctx["true"]["CTX"] = 48.0
    censored = (low_ctx["id"], "Week 6")
    blank_balp = (by_arm["Control"][0]["id"], "Week 12")

    header = ["Subject ID", "Arm", "Sex", "Age", "Menopausal status", "Visit", "Draw date",
              "Draw time", "Fasting", "eGFR (mL/min/1.73m\u00b2)", "PINP (\u00b5g/L)",
              "CTX-1 (ng/L)", "BALP (\u00b5g/L)", "Osteocalcin (\u00b5g/L)", "TRAP-5b (U/L)"]
    rows = []
    for s in subjects:
        for visit, week in VISITS:
            if visit in missing.get(s["id"], ()):
                continue
            key = (s["id"], visit)
            day = s["d0"] if week == 0 else weekday_on_or_after(
                s["d0"] + dt.timedelta(days=7 * week + rint(-3, 3)))
            t = int(np.clip(s["t0"] + 5 * round(2 * rng.standard_normal()), 6 * 60 + 50,
                            9 * 60 + 55))
            time_txt, fasting = hhmm(t), "yes"
            if key in nonfasting:
                time_txt, fasting = nonfasting[key], "no"
            elif key in late_fasting:
                time_txt = late_fasting[key]
            egfr = ckd_egfr[visit] if s is ckd else int(round(s["egfr0"] +
                                                              3 * rng.standard_normal()))
            frac = week / 12.0
            vals = {}
            for m in TRIAL_MARKERS:
                vals[m] = measure(s["true"], m, s["eff12"][m] ** frac)
            if fasting == "no":
                vals["CTX"] *= 0.65   # fed, late-morning draw lowers CTX [Qvist02]
            rows.append(dict(s=s, visit=visit, day=day, time=time_txt, fasting=fasting,
                             egfr=egfr,
                             PINP=round(vals["PINP"], 1), CTX=int(round(vals["CTX"])),
                             BALP=round(vals["BALP"], 1), OCN=round(vals["OCN"], 1),
                             TRAP=round(vals["TRAP"], 2)))

    wb = new_workbook(out / fname, "Bundled sample exercise trial (synthetic)")
    ws = wb.add_worksheet("Data")
    bold = wb.add_format({"bold": True, "text_wrap": True})
    f_date = wb.add_format({"num_format": "yyyy-mm-dd"})
    f1 = wb.add_format({"num_format": "0.0"})
    f2 = wb.add_format({"num_format": "0.00"})
    for c, h in enumerate(header):
        ws.write_string(0, c, h, bold)
    for i, r in enumerate(rows):
        xr, xl = i + 1, i + 2
        s = r["s"]
        key = (s["id"], r["visit"])
        ws.write_string(xr, 0, s["id"])
        ws.write_string(xr, 1, s["arm"])
        ws.write_string(xr, 2, s["sex"])
        ws.write_number(xr, 3, s["age"])
        if s["meno"]:
            ws.write_string(xr, 4, s["meno"])
        ws.write_string(xr, 5, r["visit"])
        ws.write_datetime(xr, 6, dt.datetime.combine(r["day"], dt.time()), f_date)
        ws.write_string(xr, 7, r["time"])
        ws.write_string(xr, 8, r["fasting"])
        ws.write_number(xr, 9, r["egfr"])
        ws.write_number(xr, 10, r["PINP"], f1)
        if key == censored:
            ws.write_string(xr, 11, "<33")
            trap(fname, f"L{xl} ({s['id']} {s['arm']} {r['visit']})",
                 "CTX text '<33' (below LoD 33 ng/L)")
        else:
            ws.write_number(xr, 11, r["CTX"])
        if key == blank_balp:
            trap(fname, f"M{xl} ({s['id']} {s['arm']} {r['visit']})", "blank BALP")
        else:
            ws.write_number(xr, 12, r["BALP"], f1)
        ws.write_number(xr, 13, r["OCN"], f1)
        ws.write_number(xr, 14, r["TRAP"], f2)
        if key in nonfasting:
            trap(fname, f"H{xl}:I{xl} ({s['id']} {s['arm']} {r['visit']})",
                 f"non-fasting, drawn {r['time']} (CTX x0.65 applied)")
        if key in late_fasting:
            trap(fname, f"H{xl} ({s['id']} {s['arm']} {r['visit']})",
                 f"fasting but drawn {r['time']} (after 10:00)")
    trap(fname, f"J ({ckd['id']} {ckd['arm']}, age {ckd['age']})",
         "eGFR 28/29/27 at Baseline/Week 6/Week 12 (PINP x1.6, CTX x1.4 applied)")
    for sid, vis in missing.items():
        s = next(x for x in subjects if x["id"] == sid)
        trap(fname, f"{sid} ({s['arm']})", "no row for " + " and ".join(vis))
    ws.freeze_panes(1, 1)
    ws.set_column(0, 5, 11)
    ws.set_column(6, 14, 13)
    wb.close()


# --------------------------------------------------------------------------- #
def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    build_cobas(out)
    build_lis(out)
    build_european(out)
    build_research(out)
    build_handtyped(out)
    build_trial(out)
    print(f"sample files written to {out} (seed {SEED})")
    for f, where, what in TRAPS:
        print(f"  {f:28s} {where:45s} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
