"""The report: one Excel workbook of a trial (:func:`write_report`) and optional figures.

This is the only part of btm that rounds or formats numbers, and it does so with Excel number
formats: the cells hold the values exactly as computed. It renders the
:class:`~btm.summary.Summary` and the analysis tables; it computes no statistic.
"""

from .excel import SHEETS, write_report
from .figures import FigureFile, write_figures

__all__ = ["SHEETS", "FigureFile", "write_figures", "write_report"]
