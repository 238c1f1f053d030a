"""Size rules: no module in btm/ over 800 lines, no function over 100 (a design smell to fix, GUIDE).

Every module, ``btm/io/`` included (its split into modules with a per-sheet context object landed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "btm"
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 100
MODULES = sorted(PACKAGE.rglob("*.py"))


def _ids(p: Path) -> str:
    return str(p.relative_to(PACKAGE))


@pytest.mark.parametrize("path", MODULES, ids=_ids)
def test_module_is_at_most_800_lines(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_MODULE_LINES, f"{_ids(path)} has {n} lines; split it by responsibility"


@pytest.mark.parametrize("path", MODULES, ids=_ids)
def test_functions_are_at_most_100_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{_ids(path)}: " + "; ".join(long)


def test_the_rule_sees_every_module():
    assert len(MODULES) >= 20 and any(p.name == "cli.py" for p in MODULES)
