"""The allowed values of the analysis options: one constant per set, imported by the command line's
parser (argparse ``choices``) and by :class:`~btm._options.AnalysisOptions` (which checks them).

Nothing but constants here, so that ``btm --help`` imports nothing else.
"""

__all__ = ["ADJUST_CHOICES", "BETWEEN_CHOICES", "RCV_CHOICES", "TEST_CHOICES"]

#: Paired test within an arm: paired t-test on log values, or Wilcoxon signed-rank on log ratios.
TEST_CHOICES = ("t", "wilcoxon")
#: Multiplicity adjustment across markers: Holm (family-wise) or Benjamini-Hochberg (false discovery rate).
ADJUST_CHOICES = ("holm", "bh")
#: Arm against control: ANCOVA on log values, Welch t-test on log ratios, Mann-Whitney U on % change.
BETWEEN_CHOICES = ("ancova", "welch", "mannwhitney")
#: Individual change criterion: log-normal asymmetric RCV, or the symmetric least significant change.
RCV_CHOICES = ("lognormal", "lsc")
