"""Figures of a trial for a manuscript (optional; needs matplotlib: ``pip install 'btm[figures]'``).

Per marker, two figures, each written as PNG (300 dpi) and SVG:

* ``NN_MARKER_subjects``: each subject's values at every visit of its arm, one panel per arm,
  log y axis (a "spaghetti" plot), the arm's geometric means in bold, and the reference interval
  of most of the arm's subjects as a grey band;
* ``NN_MARKER_trajectory``: the geometric mean % change from baseline with its 95 % CI at every
  visit, one line per arm (:attr:`Summary.trajectory`; arms slightly offset so their CIs do not hide
  each other).

``figures.pdf`` holds every figure, one per page, for a manuscript supplement.

The figures render the :class:`~btm.summary.Summary` and the per-subject values; they compute
only the geometric means they draw. They are reproducible: matplotlib's default style (not the
user's ``matplotlibrc``), the Agg renderer without pyplot, a fixed dpi, no date metadata and a
fixed SVG id salt. Labels from the data are drawn as plain text (a ``$`` is escaped, never
mathtext).
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BTMError
from ..summary import arm_order, marker_order
from ._formats import arm_colours

__all__ = ["DPI", "FIGURES_PDF", "FigureFile", "arm_colours", "arm_order", "write_figures"]

DPI = 300
FIGURES_PDF = "figures.pdf"


@dataclass(frozen=True)
class FigureFile:
    """One figure written by :func:`write_figures` (``path`` is the PNG; ``svg`` the same figure as SVG)."""

    path: Path
    marker: str
    kind: str  # "subjects" or "trajectory"
    title: str
    description: str
    svg: Path | None = None


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise BTMError("figures need matplotlib, which is not installed: pip install 'btm[figures]'") from None
    return matplotlib


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "marker"


def _plain(text: object) -> str:
    """Data text for matplotlib: ``$`` escaped so that it never starts mathtext."""
    return str(text).replace("$", r"\$")


def _fmt(v: float) -> str:
    return "" if not math.isfinite(v) else f"{v:g}"


def _log_axis(ax: Any) -> None:
    """Log y axis with plain-number ticks at 1, 2, 5 × 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _reference_band(rows: pd.DataFrame) -> tuple[float, float, str] | None:
    """The reference interval most of these results were judged against: (low, high, population)."""
    if "ref_high" not in rows or rows["ref_high"].isna().all():
        return None
    iv = rows.dropna(subset=["ref_high"]).groupby(["ref_low", "ref_high", "ref_population"], dropna=False).size()
    if iv.empty:
        return None
    (lo, hi, pop), _n = max(iv.items(), key=lambda kv: kv[1])
    return (float(lo) if pd.notna(lo) else math.nan, float(hi), str(pop))


def _subjects_figure(fig: Any, a: Any, summary: Any, marker: str, colours: dict[str, str]) -> str | None:
    """Each subject's values at its arm's visits, one panel per arm; returns the unit (None: nothing drawn)."""
    from matplotlib.collections import LineCollection

    r = a.results[(a.results["marker"] == marker) & (a.results["censored"].fillna("") == "")]
    arms = [g for g in summary.arms if (r["group"] == g).any() and len(summary.arm_visits.get(g, ())) > 1]
    if not arms:
        return None
    unit = str(r["unit"].iloc[0])
    axes = fig.subplots(1, len(arms), sharey=True, squeeze=False)[0]
    for ax, g in zip(axes, arms, strict=True):
        visits = list(summary.arm_visits[g])
        sub = r[(r["group"] == g) & r["timepoint"].isin(visits)]
        wide = sub.pivot_table(index="subject_id", columns="timepoint", values="value", aggfunc="mean").reindex(columns=visits)
        y = wide.to_numpy(dtype=float)
        band = _reference_band(sub)
        if band is not None:
            ax.axhspan(band[0] if math.isfinite(band[0]) else np.nanmin(y[y > 0]) / 2, band[1], color="#E5E5E5", zorder=0, linewidth=0)
        x = np.arange(len(visits), dtype=float)
        segs = [np.column_stack([x[np.isfinite(row)], row[np.isfinite(row)]]) for row in y]
        ax.add_collection(LineCollection([s for s in segs if len(s) > 1], colors=colours[g], alpha=0.45, linewidths=0.8))
        gm = np.exp(np.nanmean(np.log(np.where(y > 0, y, np.nan)), axis=0)) if len(y) else np.full(len(visits), np.nan)
        ax.plot(x, gm, color="black", linewidth=2.2, marker="o", markersize=4, zorder=3)
        _log_axis(ax)
        ax.set_xticks(x, [_plain(v) for v in visits])
        ax.set_xlim(-0.3, len(visits) - 0.7)
        ax.set_title(_plain(f"{g} (n = {len(wide)})"), color=colours[g] if g != a.control else "black")
        ax.grid(axis="y", which="both", color="#dddddd", linewidth=0.5)
        if band is not None:
            caption = textwrap.fill(f"grey: reference interval {_fmt(band[0])}–{_fmt(band[1])} ({band[2]})", 34)
            ax.set_xlabel(_plain(caption), fontsize=6, color="#555555")
    axes[0].set_ylabel(_plain(f"{marker} ({unit}), log scale"))
    return unit


def _trajectory_figure(fig: Any, summary: Any, marker: str, colours: dict[str, str]) -> bool:
    t = summary.trajectory[summary.trajectory["marker"] == marker]
    if t.empty:
        return False
    rank = {v: i for i, v in enumerate(summary.timepoints)}
    visits = sorted(pd.unique(t["timepoint"].astype(str)), key=lambda v: rank.get(v, len(rank)))
    pos = {v: i for i, v in enumerate(visits)}
    ax = fig.subplots()
    arms = [g for g in summary.arms if (t["group"] == g).any()]
    for k, g in enumerate(arms):
        sub = t[t["group"] == g]
        x = sub["timepoint"].map(pos).to_numpy(float) + (k - (len(arms) - 1) / 2) * 0.06
        est = sub["gm_pct_change"].to_numpy(float)
        err = np.vstack([est - sub["gm_pct_ci_low"].to_numpy(float), sub["gm_pct_ci_high"].to_numpy(float) - est])
        ax.errorbar(x, est, yerr=np.nan_to_num(err, nan=0.0), color=colours[g], marker="o", markersize=4, capsize=3,
                    linewidth=1.6, label=_plain(g))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(visits)), [_plain(v) for v in visits])
    ax.set_ylabel("geometric mean % change from baseline (95% CI)")
    ax.grid(axis="y", color="#dddddd", linewidth=0.5)
    fig.legend(fontsize=7, frameon=False, ncols=min(len(arms), 6), loc="outside lower center")
    return True


def _lay_out_once(fig: Any) -> None:
    """Run the figure's constrained layout once, then drop the layout engine.

    ``savefig`` otherwise draws each figure twice per format (a dry draw to lay it out, or with
    a placeholder engine just to be sure, then the real one); laid out here, the PNG, the SVG and
    the PDF page are each drawn once, all with the same layout (the one the PNG had before)."""
    from matplotlib.ticker import FixedLocator

    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine(None)  # (matplotlib's default style: None means no engine at all, not the rc's)
    for ax in fig.axes:  # the ticks of the final layout, computed once instead of at every draw
        for axis in (ax.xaxis, ax.yaxis):
            major, minor = axis.get_majorticklocs(), axis.get_minorticklocs()
            axis.set_major_locator(FixedLocator(major))
            axis.set_minor_locator(FixedLocator(minor))


def _save_png(fig: Any, path: Path, dpi: int, encoder: ThreadPoolExecutor) -> Future:
    """Draw the figure as pixels here; compress them into the PNG file in the ``encoder`` thread.

    The same steps and arguments as ``fig.savefig(path, dpi=dpi, metadata={"Software": None})``
    (Agg draws the RGBA buffer, :func:`matplotlib.image.imsave` writes it through Pillow), so the
    file is byte-identical; Pillow's zlib compression (about a sixth of the figures' time) runs
    without the GIL while the next formats are drawn."""
    import matplotlib.image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="rgba")
    width, height = int(fig.bbox.width), int(fig.bbox.height)  # (the figure's dpi is ``dpi``: the pixels Agg drew)
    if len(buf.getbuffer()) != width * height * 4:  # (not expected) the plain path, in this thread
        fig.savefig(path, dpi=dpi, metadata={"Software": None})
        done: Future = Future()
        done.set_result(None)
        return done
    rgba = np.frombuffer(buf.getbuffer(), dtype=np.uint8).reshape(height, width, 4)
    return encoder.submit(matplotlib.image.imsave, path, memoryview(rgba), format="png", origin="upper", dpi=dpi,
                          metadata={"Software": None})


def write_figures(a: Any, outdir: str | Path, *, summary: Any = None, dpi: int = DPI) -> list[FigureFile]:
    """Write the figures of an analysis into ``outdir`` (created if needed): PNG, SVG and ``figures.pdf``.

    Parameters
    ----------
    a
        An :class:`~btm.analysis.AnalysisResult`.
    outdir
        Folder for the files.
    summary
        Its :class:`~btm.summary.Summary` (default: computed from ``a``).
    dpi
        Resolution of the PNGs (fixed, so that reruns give identical files).

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
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    from ..summary import summarize

    s = summary if summary is not None else summarize(a)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    colours = arm_colours(list(s.arms), s.control)
    files: list[FigureFile] = []
    rc = {"font.size": 8, "axes.titlesize": 9, "figure.dpi": dpi, "savefig.dpi": dpi, "svg.hashsalt": "btm", "pdf.fonttype": 42}
    markers = [m for m in marker_order(s.trajectory["marker"]) if "/" not in m] if len(s.trajectory) else []
    with (mpl_style.context("default"), mpl.rc_context(rc), PdfPages(out / FIGURES_PDF, metadata={"CreationDate": None}) as pdf,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix="btm-png") as encoder):
        pngs: list[Future] = []

        def save(fig: Any, stem: str, marker: str, kind: str, title: str, description: str) -> None:
            fig.suptitle(_plain(title), fontsize=9)
            png, svg = out / f"{stem}.png", out / f"{stem}.svg"
            _lay_out_once(fig)
            pngs.append(_save_png(fig, png, dpi, encoder))
            fig.savefig(svg, metadata={"Date": None})
            pdf.savefig(fig)
            files.append(FigureFile(png, marker, kind, title, description, svg))

        for k, marker in enumerate(markers, start=1):
            stem = f"{k:02d}_{_safe_name(marker)}"
            n_arms = int((s.trajectory["marker"] == marker).groupby(s.trajectory["group"]).any().sum())
            fig = Figure(figsize=(max(6.5, 2.1 * n_arms), 3.0), layout="constrained")
            FigureCanvasAgg(fig)
            if _subjects_figure(fig, a, s, marker, colours) is not None:
                save(fig, f"{stem}_subjects", marker, "subjects", f"{marker}: each subject at every visit, by arm",
                     f"{marker}: one line per subject across the visits of its arm, panels by arm, log scale; bold line = "
                     "geometric mean; grey band = reference interval")
            fig = Figure(figsize=(6.5, 3.6), layout="constrained")
            FigureCanvasAgg(fig)
            if _trajectory_figure(fig, s, marker, colours):
                save(fig, f"{stem}_trajectory", marker, "trajectory", f"{marker}: % change from baseline at every visit, by arm",
                     f"{marker}: geometric mean % change from each arm's baseline with 95% confidence intervals, one line per arm")
        for done in pngs:
            done.result()  # every PNG written (or its error raised) before the files are returned
    return files
