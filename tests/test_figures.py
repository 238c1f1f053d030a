"""The figures' fast path (btm/report/figures.py) writes the very bytes of the plain matplotlib path.

``write_figures`` lays each figure out once, fixes its ticks, draws the PNG's pixels and compresses
them in a worker thread; the reference below is what it did before (``savefig`` per format, each
with its own layout pass), so any difference in a PNG, an SVG or a page of figures.pdf fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from btm.analysis import analyze
from btm.io import read_results
from btm.report import figures as F
from btm.summary import summarize

ROOT = Path(__file__).resolve().parents[1]


def _reference_figures(a, s, out: Path, dpi: int = F.DPI) -> None:
    """The plain path: matplotlib's savefig for every format, the layout engine left to savefig."""
    import matplotlib as mpl
    from matplotlib import style as mpl_style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    colours = F.arm_colours(list(s.arms), s.control)
    rc = {"font.size": 8, "axes.titlesize": 9, "figure.dpi": dpi, "savefig.dpi": dpi, "svg.hashsalt": "btm", "pdf.fonttype": 42}
    markers = [m for m in F.marker_order(s.trajectory["marker"]) if "/" not in m]
    with mpl_style.context("default"), mpl.rc_context(rc), PdfPages(out / F.FIGURES_PDF, metadata={"CreationDate": None}) as pdf:
        def save(fig, stem, title):
            fig.suptitle(F._plain(title), fontsize=9)
            fig.savefig(out / f"{stem}.png", dpi=dpi, metadata={"Software": None})
            fig.set_layout_engine("none")
            fig.savefig(out / f"{stem}.svg", metadata={"Date": None})
            pdf.savefig(fig)

        for k, marker in enumerate(markers, start=1):
            stem = f"{k:02d}_{F._safe_name(marker)}"
            n_arms = int((s.trajectory["marker"] == marker).groupby(s.trajectory["group"]).any().sum())
            fig = Figure(figsize=(max(6.5, 2.1 * n_arms), 3.0), layout="constrained")
            FigureCanvasAgg(fig)
            if F._subjects_figure(fig, a, s, marker, colours) is not None:
                save(fig, f"{stem}_subjects", f"{marker}: each subject at every visit, by arm")
            fig = Figure(figsize=(6.5, 3.6), layout="constrained")
            FigureCanvasAgg(fig)
            if F._trajectory_figure(fig, s, marker, colours):
                save(fig, f"{stem}_trajectory", f"{marker}: % change from baseline at every visit, by arm")


@pytest.mark.parametrize("sample", ["trial_exercise.xlsx", "research_timepoints.xlsx"])
def test_fast_figures_are_byte_identical_to_plain_savefig(sample, tmp_path):
    imported = read_results(ROOT / "sample_data" / sample)
    a = analyze(imported.data)
    s = summarize(a, imported)
    fast, ref = tmp_path / "fast", tmp_path / "ref"
    ref.mkdir()
    files = F.write_figures(a, fast, summary=s, dpi=100)  # (a lower dpi keeps the test quick; the path is the same)
    _reference_figures(a, s, ref, dpi=100)
    names = sorted(p.name for p in ref.iterdir())
    assert names == sorted(p.name for p in fast.iterdir())
    assert len(files) >= 4 and {f.path.name for f in files} | {f.svg.name for f in files} | {F.FIGURES_PDF} == set(names)
    for name in names:
        assert (fast / name).read_bytes() == (ref / name).read_bytes(), name
