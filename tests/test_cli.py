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
