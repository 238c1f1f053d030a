"""Reading lab spreadsheets: readers, layout detection, value parsing, mapping files."""

from .load import PROBLEM_COLUMNS, TIDY_COLUMNS, ImportResult, read_results
from .mapping import Mapping, load_mapping
from .readers import Limits

__all__ = ["PROBLEM_COLUMNS", "TIDY_COLUMNS", "ImportResult", "Limits", "Mapping", "load_mapping", "read_results"]
