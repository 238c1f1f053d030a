"""PNG figures of a trial (optional; needs matplotlib: ``pip install 'btm[figures]'``).

Per marker, two figures:

* ``NN_MARKER_subjects.png``: each subject's value at baseline and at the last timepoint, one
  panel per arm, log y axis (a "spaghetti" plot), with the arm's geometric means in bold;
* ``NN_MARKER_change.png``: the geometric mean % change with its 95 % CI by arm
  (``a.cohort``), with the value printed beside each estimate.

The figures are reproducible: matplotlib's default style (not the user's ``matplotlibrc``), the
Agg renderer without pyplot (no global backend switch), a fixed dpi and no ``Software`` or date
metadata in the PNG. Labels from the data are drawn as plain text (a ``$`` in an arm name is
escaped, so it is a dollar sign and not mathtext).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BTMError

__all__ = ["FigureFile", "figure_markers", "write_figures"]

DPI = 100
#: Arm colours (control is always grey); colour-blind safe (Okabe & Ito 2008).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
CONTROL_COLOUR = "#7F7F7F"


@dataclass(frozen=True)
class FigureFile:
    """One PNG written by :func:`write_figures`."""

    path: Path
    marker: str
    kind: str  # "subjects" or "change"
    title: str
    description: str


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise BTMError("figures need matplotlib, which is not installed: pip install 'btm[figures]'") from None
    return matplotlib


def arm_order(a: Any) -> list[str]:
    """Arms in report order: the control arm first, then the others as in the group statistics."""
    seen: list[str] = []
    for frame in (a.cohort, a.results):
        if len(frame) and "group" in frame:
            for g in pd.unique(frame["group"].astype(str)):
                if g not in seen:
                    seen.append(g)
    if a.control in seen:
        seen.remove(a.control)
        seen.insert(0, a.control)
    return seen


def arm_colours(arms: Sequence[str], control: str | None) -> dict[str, str]:
    out, k = {}, 0
    for g in arms:
        if g == control:
            out[g] = CONTROL_COLOUR
        else:
            out[g] = PALETTE[k % len(PALETTE)]
            k += 1
    return out


def figure_markers(a: Any) -> list[str]:
    """Markers with a baseline -> follow-up change (no ratios), in catalog order."""
    from ..markers import catalog

    if a.cohort.empty:
        return []
    present = {str(m) for m in a.cohort["marker"] if "/" not in str(m)}
    ordered = [m for m in catalog() if m in present]
    return ordered + sorted(present - set(ordered))


def last_followup(a: Any, frame: pd.DataFrame) -> str | None:
    """The latest timepoint (in the analysis order) that ``frame`` has as ``timepoint_to``."""
    rank = a.order.rank()
    tps = [t for t in pd.unique(frame["timepoint_to"].astype(str)) if t in rank] if len(frame) else []
    return max(tps, key=rank.__getitem__) if tps else None


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "marker"


def _plain(text: object) -> str:
    """Data text for matplotlib: ``$`` escaped so that it never starts mathtext."""
    return str(text).replace("$", r"\$")


def _log_axis(ax: Any) -> None:
    """Log y axis with plain-number ticks at 1, 2, 5 × 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _fmt_pct(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:+.1f}"


def write_figures(a: Any, outdir: str | Path, *, dpi: int = DPI) -> list[FigureFile]:
    """Write the PNG figures of an analysis into ``outdir`` (created if needed).

    Parameters
    ----------
    a
        An :class:`~btm.analysis.AnalysisResult`.
    outdir
        Folder for the PNG files.
    dpi
        Resolution (fixed, so that reruns give identical files).

    Returns
    -------
    list of FigureFile, in the order they should be shown.

    Raises
    ------
    BTMError
        When matplotlib is not installed.
    """
    mpl = _matplotlib()
    from matplotlib import style as mpl_style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    arms = arm_order(a)
    colours = arm_colours(arms, a.control)
    base = a.order.baseline
    files: list[FigureFile] = []
    rc = {"font.size": 9, "axes.titlesize": 10, "figure.dpi": dpi, "savefig.dpi": dpi}
    with mpl_style.context("default"), mpl.rc_context(rc):
        for k, marker in enumerate(figure_markers(a), start=1):
            ch = a.changes[(a.changes["marker"] == marker) & (a.changes["timepoint_from"] == base)]
            last = last_followup(a, ch)
            if last is None:
                continue
            ch = ch[ch["timepoint_to"] == last]
            unit = str(ch["unit"].iloc[0]) if len(ch) else ""
            stem = f"{k:02d}_{_safe_name(marker)}"

            # 1. each subject's baseline -> last line, one panel per arm
            panel_arms = [g for g in arms if (ch["group"] == g).any()]
            if panel_arms:
                fig = Figure(figsize=(max(6.0, 2.0 * len(panel_arms)), 2.9), dpi=dpi, layout="constrained")
                FigureCanvasAgg(fig)
                axes = fig.subplots(1, len(panel_arms), sharey=True, squeeze=False)[0]
                for ax, g in zip(axes, panel_arms, strict=True):
                    sub = ch[ch["group"] == g]
                    v0 = sub["value_from"].to_numpy(dtype=float)
                    v1 = sub["value_to"].to_numpy(dtype=float)
                    cens = (
                        (sub["censored_from"].astype(str) != "") | (sub["censored_to"].astype(str) != "")
                    ).to_numpy()
                    ok = np.isfinite(v0) & np.isfinite(v1) & (v0 > 0) & (v1 > 0)
                    for y0, y1, c in zip(v0[ok], v1[ok], cens[ok], strict=True):
                        ax.plot(
                            [0, 1], [y0, y1], color=colours[g], alpha=0.45, linewidth=0.9, linestyle=":" if c else "-"
                        )
                    good = ok & ~cens
                    if good.sum() >= 1:
                        gm0, gm1 = math.exp(np.log(v0[good]).mean()), math.exp(np.log(v1[good]).mean())
                        ax.plot([0, 1], [gm0, gm1], color="black", linewidth=2.4, marker="o", markersize=4)
                    _log_axis(ax)
                    ax.set_xticks([0, 1], [_plain(base), _plain(last)])
                    ax.set_xlim(-0.25, 1.25)
                    ax.set_title(_plain(f"{g} (n = {int(ok.sum())})"), color=colours[g] if g != a.control else "black")
                    ax.grid(axis="y", which="both", color="#dddddd", linewidth=0.5)
                axes[0].set_ylabel(_plain(f"{marker} ({unit}), log scale"))
                title = f"{marker}: each subject, {base} → {last}"
                fig.suptitle(_plain(title) + "   (black: geometric mean; dotted: censored value)", fontsize=10)
                path = out / f"{stem}_subjects.png"
                fig.savefig(path, dpi=dpi, metadata={"Software": None})
                files.append(
                    FigureFile(
                        path,
                        marker,
                        "subjects",
                        title,
                        f"{marker}: one line per subject from {base} to {last}, panels by arm, log scale; bold line = geometric mean",
                    )
                )

            # 2. geometric mean % change with 95% CI by arm
            co = a.cohort[
                (a.cohort["marker"] == marker)
                & (a.cohort["timepoint_from"] == base)
                & (a.cohort["timepoint_to"] == last)
            ]
            rows = [(g, co[co["group"] == g].iloc[0]) for g in arms if (co["group"] == g).any()]
            if rows:
                fig = Figure(figsize=(8.0, max(2.0, 0.36 * len(rows) + 1.0)), dpi=dpi, layout="constrained")
                FigureCanvasAgg(fig)
                ax = fig.subplots()
                ys = np.arange(len(rows))[::-1]
                for y, (g, r) in zip(ys, rows, strict=True):
                    est, lo, hi = float(r["gm_pct_change"]), float(r["gm_pct_ci_low"]), float(r["gm_pct_ci_high"])
                    if math.isfinite(est):
                        xerr = [[est - lo], [hi - est]] if math.isfinite(lo) and math.isfinite(hi) else None
                        ax.errorbar([est], [y], xerr=xerr, fmt="o", color=colours[g], capsize=4, markersize=6)
                        ax.annotate(
                            f"{_fmt_pct(est)} % ({_fmt_pct(lo)}, {_fmt_pct(hi)}), n = {int(r['n'])}",
                            (hi if math.isfinite(hi) else est, y),
                            xytext=(8, 0),
                            textcoords="offset points",
                            va="center",
                            fontsize=8,
                        )
                ax.axvline(0, color="black", linewidth=0.8)
                ax.set_yticks(ys, [_plain(g) for g, _ in rows])
                ax.set_ylim(-0.7, len(rows) - 0.3)
                lo_all = np.nanmin([float(r["gm_pct_ci_low"]) for _, r in rows] + [0.0])
                hi_all = np.nanmax([float(r["gm_pct_ci_high"]) for _, r in rows] + [0.0])
                span = max(hi_all - lo_all, 1.0)
                ax.set_xlim(lo_all - 0.08 * span, hi_all + 0.55 * span)
                ax.set_xlabel(_plain(f"geometric mean % change {base} → {last} (95% CI)"))
                ax.grid(axis="x", color="#dddddd", linewidth=0.5)
                title = f"{marker}: % change {base} → {last} by arm"
                ax.set_title(_plain(title))
                path = out / f"{stem}_change.png"
                fig.savefig(path, dpi=dpi, metadata={"Software": None})
                files.append(
                    FigureFile(
                        path,
                        marker,
                        "change",
                        title,
                        f"{marker}: geometric mean % change from {base} to {last} with 95% confidence interval, one row per arm",
                    )
                )
    return files
