"""The btm command line: exit codes, one-line errors, subcommands."""

from __future__ import annotations

import subprocess
import sys

import pytest

import btm
from btm.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"btm {btm.__version__}"


def test_version_read_from_the_metadata_file_is_what_importlib_metadata_says(tmp_path, monkeypatch):
    from importlib.metadata import version

    assert btm._installed_version() == version("btm")
    # a dist-info without METADATA, then none at all: importlib.metadata answers
    (tmp_path / "btm-9.9.dist-info").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert btm._installed_version() == version("btm")
    (tmp_path / "btm-9.9.dist-info" / "METADATA").write_text("Metadata-Version: 2.3\nName: btm\nVersion: 9.9\n\nVersion: 0\n")
    assert btm._installed_version() == "9.9"


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage: btm" in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["convert", "12"])
    assert exc.value.code == 2


def test_markers_table(capsys):
    assert main(["markers"]) == 0
    out = capsys.readouterr().out
    for mid in ("PINP", "CTX1", "BALP", "OCN", "NTX", "TRAP5B", "PYD", "DPD", "ALP"):
        assert f"\n{mid} " in out
    assert "nmol BCE/mmol creatinine" in out


def test_markers_csv(capsys):
    assert main(["markers", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("id,class,specimen,kind,canonical unit")
    assert len(lines) == 1 + sum(len(m.measures) for m in btm.catalog().values())


def test_convert_to_canonical(capsys):
    assert main(["convert", "0.45", "ng/mL", "--marker", "CTX1"]) == 0
    assert capsys.readouterr().out.strip() == "0.45 ng/mL CTX1 = 450 ng/L"


def test_convert_decimal_comma_and_synonym(capsys):
    assert main(["convert", "0,45", "ng/mL", "--marker", "β-CrossLaps"]) == 0
    assert "= 450 ng/L" in capsys.readouterr().out


def test_refused_conversion_is_one_line_and_exit_1(capsys):
    assert main(["convert", "20", "U/L", "--marker", "BALP", "--to", "µg/L"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: BALP: cannot convert 'U/L' to 'µg/L'")
    assert "Traceback" not in err


def test_unknown_marker_exit_1(capsys):
    assert main(["convert", "1", "ng/mL", "--marker", "vitD"]) == 1
    assert capsys.readouterr().err.startswith("error: unknown marker 'vitD'")


def test_debug_shows_the_traceback():
    with pytest.raises(btm.UnitConversionError):
        main(["--debug", "convert", "20", "U/L", "--marker", "BALP", "--to", "µg/L"])


def test_python_dash_m_runs_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "btm", "convert", "50", "ng/mL", "--marker", "PINP"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "50 ng/mL PINP = 50 µg/L"


def test_public_api_is_exactly_all():
    # as in httpx's tests/test_exported_members.py
    # a submodule is public only when __all__ names it (btm.interpret is the function)
    public = {name for name in dir(btm) if not name.startswith("_")} - (_submodules() - set(btm.__all__))
    assert sorted(btm.__all__) == btm.__all__
    assert public == set(btm.__all__) - {"__version__"}


def _submodules():
    import pkgutil

    return {m.name for m in pkgutil.iter_modules(btm.__path__)}



#: what answering --help, --version or a usage error must never load (issue #15): the scientific stack,
#: the unit registry, the workbook and figure writers, and btm's own modules that import them
HEAVY = ("pandas", "numpy", "scipy", "pint", "xlsxwriter", "openpyxl", "matplotlib", "btm.report", "btm.analysis", "btm.io",
         "btm.units", "btm.summary", "btm.interpret", "btm.stats")
_PROBE = """
import sys
from btm.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("EXIT", code, sorted(m for m in sys.modules if m in HEAVY or m.startswith(tuple(h + "." for h in HEAVY))), file=sys.stderr)
"""
_COMMANDS = ("markers", "convert", "import", "interpret", "ranges", "analyze", "report", "init-study", "serve")


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--help"], 0), (["--version"], 0), ([], 2),
        *(([c, "--help"], 0) for c in _COMMANDS),
        (["report", "trial.xlsx", "--bogus"], 2),  # unknown option
        (["report"], 2),  # missing argument
        (["convert", "1", "ng/mL"], 2),  # missing required option
        (["analyze", "trial.xlsx", "--test", "anova"], 2),  # bad choice
        (["import", "x.csv", "--max-size", "-3"], 2),  # bad value
        (["frobnicate"], 2),  # unknown command
    ],
    ids=lambda v: " ".join(v) or "(none)" if isinstance(v, list) else str(v),
)
def test_help_version_and_usage_errors_load_nothing_heavy(argv, code):
    # a fresh process: what the user's `btm --help` imports, whatever this test session loaded before
    r = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{_PROBE}", *argv], capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert lines[-1] == f"EXIT {code} []", r.stderr
    if code == 2 and argv:  # argparse's usage error: one line "btm ...: error: ..." (then the probe's line)
        assert lines[-2].startswith("btm") and ": error: " in lines[-2], r.stderr
