"""Build the report fixtures (seeded; run from the repository root: python tests/data/report/make_fixtures.py).

* ``arms_own_visits.xlsx``: a three-arm trial in which the Yoga arm has its own visit labels
  (pre / mid / post) while Control and Resistance have Baseline / Week 6 / Week 12; one Yoga
  subject misses ``mid``; CTX of one Resistance subject is ``hemolysed`` at Week 6 (rejected,
  subject and visit known from the row's other values).
* ``three_visits_missing.xlsx``: a two-arm, three-visit trial with a missing visit, a censored
  baseline CTX and subjects of both sexes, for Table 1 and Missing visits.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import xlsxwriter

HERE = Path(__file__).resolve().parent
HEADER = ["Subject", "Arm", "Sex", "Age", "Menopausal status", "Visit", "Draw date", "PINP (µg/L)", "CTX-1 (ng/L)", "BALP (µg/L)"]


def _write(path: Path, rows: list[list[object]]) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    for j, h in enumerate(HEADER):
        ws.write_string(0, j, h)
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, dt.date):
                ws.write_datetime(i, j, dt.datetime.combine(v, dt.time()), date)
            elif isinstance(v, str):
                ws.write_string(i, j, v)
            else:
                ws.write_number(i, j, float(v))
    wb.close()


def _trial(arms: dict[str, tuple[str, ...]], n: int, seed: int, effects: dict[str, float]) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for arm, visits in arms.items():
        for i in range(n):
            k += 1
            sid = f"{arm[:1].upper()}{i + 1:02d}"
            sex = "F" if i % 3 else "M"
            age = int(50 + rng.integers(0, 25))
            meno = ("post" if age >= 52 else "pre") if sex == "F" else ""
            level = rng.normal(0, 0.35, 3)
            for v, visit in enumerate(visits):
                eff = np.log(effects.get(arm, 1.0)) * v / (len(visits) - 1)
                vals = np.exp(np.log([45.0, 400.0, 15.0]) + level + eff + rng.normal(0, 0.1, 3))
                rows.append([sid, arm, sex, age, meno, visit, dt.date(2026, 1, 5) + dt.timedelta(days=42 * v + i),
                             round(float(vals[0]), 1), round(float(vals[1])), round(float(vals[2]), 1)])
    return rows


def main() -> None:
    own = _trial({"Control": ("Baseline", "Week 6", "Week 12"), "Resistance": ("Baseline", "Week 6", "Week 12"),
                  "Yoga": ("pre", "mid", "post")}, 8, 20261202, {"Resistance": 1.25, "Yoga": 0.9})
    own = [r for r in own if not (r[0] == "Y03" and r[5] == "mid")]
    for r in own:
        if r[0] == "R02" and r[5] == "Week 6":
            r[8] = "hemolysed"
    _write(HERE / "arms_own_visits.xlsx", own)
    three = _trial({"Control": ("Baseline", "Week 6", "Week 12"), "Impact": ("Baseline", "Week 6", "Week 12")}, 10, 7,
                   {"Impact": 1.15})
    three = [r for r in three if not (r[0] == "I04" and r[5] == "Week 6")]
    for r in three:
        if r[0] == "C02" and r[5] == "Baseline":
            r[8] = "<50"
        if r[0] == "C05" and r[5] == "Week 12":
            r[9] = None  # BALP not measured
    _write(HERE / "three_visits_missing.xlsx", three)


if __name__ == "__main__":
    main()
