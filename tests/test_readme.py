"""The README stays true: its Python example runs, every output column and flag is documented."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from btm.analysis import AnalysisOptions
from btm.change import CHANGE_COLUMNS
from btm.evidence import EVIDENCE_COLUMNS
from btm.interpret import BALANCE_COLUMNS, FLAGS, INTERPRETED_COLUMNS
from btm.io import TIDY_COLUMNS
from btm.io.load import OPTIONAL_COLUMNS
from btm.stats import BETWEEN_COLUMNS, COHORT_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(marker: str) -> str:
    m = re.search(rf"<!-- {re.escape(marker)} -->\s*```\w*\n(.*?)```", README, re.S)
    assert m, marker
    return m.group(1)


def test_readme_python_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    exec(compile(_block("test: readme-api"), "README.md", "exec"), {})
    assert "Week 12" in capsys.readouterr().out


@pytest.mark.parametrize(
    "columns",
    [TIDY_COLUMNS + OPTIONAL_COLUMNS, INTERPRETED_COLUMNS, BALANCE_COLUMNS, CHANGE_COLUMNS, COHORT_COLUMNS, BETWEEN_COLUMNS, EVIDENCE_COLUMNS],
    ids=["tidy", "interpreted", "balance", "changes", "cohort", "between", "evidence"],
)
def test_every_output_column_is_documented(columns):
    for c in columns:
        assert f"`{c}`" in README or re.search(rf"[\s`(,]{re.escape(c)}[,`\s)]", README), c


def test_every_flag_is_documented():
    for code in FLAGS:
        assert f"| `{code}` |" in README, code


def test_ci_reads_the_two_commands_from_the_readme():
    main = _block("ci: main").strip()
    tests = _block("ci: tests").strip()
    assert "btm report sample_data/trial_exercise.xlsx" in main
    assert tests.endswith("python -m pytest")
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command main" in script and "readme_command tests" in script
    out = subprocess.run(
        ["bash", "-c", "source <(sed -n '/^readme_command()/,/^}/p' .ci/run); readme_command main; readme_command tests"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert out == [main, tests]


def test_documented_options_exist():
    opts = AnalysisOptions()
    for name in ("control", "baseline", "test", "adjust", "between", "rcv", "ranges", "biovar", "population"):
        assert hasattr(opts, name)
        assert f"--{name}" in README
