"""The public API: the curated names, lazy imports, options validated once, errors that survive pickling."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import btm
import btm.errors as errors
from btm._options import ADJUST_CHOICES, BETWEEN_CHOICES, RCV_CHOICES, TEST_CHOICES, AnalysisOptions
from btm.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ["read_results", "interpret", "analyze", "AnalysisOptions", "load_study", "load_mapping", "write_report", "summarize"]


def test_all_is_exactly_the_curated_api():
    assert btm.__all__ == sorted(btm.__all__)
    assert set(WORKFLOW) <= set(btm.__all__)
    for name in btm.__all__:
        assert getattr(btm, name) is not None, name


def test_workflow_names_are_callable():
    for name in WORKFLOW:
        assert callable(getattr(btm, name)), name
    assert not inspect.ismodule(btm.analyze) and not inspect.ismodule(btm.write_report)


def test_btm_interpret_is_the_module_and_called_is_its_function():
    import btm.interpret as module  # the usual module import still gives the module
    from btm.interpret import FLAGS

    assert module is btm.interpret and "RENAL" in FLAGS and "RENAL" in btm.interpret.FLAGS
    imp = btm.read_results(ROOT / "sample_data/trial_exercise.xlsx")
    via_call, direct = btm.interpret(imp.data), module.interpret(imp.data)
    assert via_call.results.equals(direct.results)


def test_import_btm_is_light():
    code = "import sys, btm; print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'pint', 'xlsxwriter') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_readme_workflow_through_the_front_door(tmp_path):
    imported = btm.read_results(ROOT / "tests/data/mapping_german.xlsx", mapping=ROOT / "tests/data/mapping_german.toml")
    assert len(imported.data) > 0  # read_results(mapping=...) takes a path
    imp = btm.read_results(ROOT / "sample_data/trial_exercise.xlsx")
    a = btm.analyze(imp.data, control="Control", test="wilcoxon")
    assert a.options.test == "wilcoxon" and a.control == "Control"
    path = btm.write_report(a, imp, tmp_path / "r.xlsx")
    assert path.exists()


# ---------------------------------------------------------------------------------------------
# options


@pytest.mark.parametrize(
    ("field", "choices", "flag"),
    [("test", TEST_CHOICES, "--test"), ("adjust", ADJUST_CHOICES, "--adjust"), ("between", BETWEEN_CHOICES, "--between"), ("rcv", RCV_CHOICES, "--rcv")],
    ids=["test", "adjust", "between", "rcv"],
)
def test_argparse_choices_are_the_constants_the_options_check(field, choices, flag):
    report = next(a for a in build_parser()._subparsers._group_actions[0].choices["report"]._actions if flag in a.option_strings)
    assert tuple(report.choices) == choices
    for value in choices:
        assert getattr(AnalysisOptions(**{field: value}), field) == value
    with pytest.raises(btm.OptionError, match=rf"^{field}='nope': must be one of {', '.join(choices)}$"):
        AnalysisOptions(**{field: "nope"})


def test_options_are_frozen_and_replace_validates_again():
    opts = AnalysisOptions(timepoint_order=["Baseline", "Week 12"])
    assert opts.timepoint_order == ("Baseline", "Week 12")
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.test = "wilcoxon"  # type: ignore[misc]
    assert dataclasses.replace(opts, test="wilcoxon").test == "wilcoxon"
    with pytest.raises(btm.OptionError):
        dataclasses.replace(opts, adjust="bonferroni")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timepoint_order": "Baseline"}, "timepoint_order='Baseline': must be a list of texts, not a str"),
        ({"ranges": "lab.csv"}, "ranges='lab.csv': must be a list of texts, not a str"),
        ({"arm_types": {"Yoga": "yoga"}}, "arm_types['Yoga']='yoga': exercise type must be one of"),
        ({"population": "astronauts"}, "population='astronauts': must be one of"),
        ({"control": 5}, "control=5: must be a text, not a int"),
    ],
    ids=["order_string", "ranges_string", "arm_type", "population", "control_number"],
)
def test_invalid_options_name_the_parameter(kwargs, message):
    with pytest.raises(btm.OptionError) as exc:
        AnalysisOptions(**kwargs)
    assert str(exc.value).startswith(message)
    assert "--" not in str(exc.value)  # the library names parameters, not flags


def test_the_command_line_names_the_flag(capsys):
    code = main(["analyze", str(ROOT / "sample_data/trial_exercise.xlsx"), "--arm", "Tai Chi=yoga", "-o", "unused"])
    err = capsys.readouterr().err
    assert code == 1 and "error: --arm 'Tai Chi=yoga': exercise type must be one of" in err


def test_study_file_with_a_string_order_is_refused(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text('[study]\ninputs = ["x.xlsx"]\ntimepoint_order = "Baseline"\n', encoding="utf-8")
    with pytest.raises(btm.MappingError, match="timepoint_order='Baseline': must be a list"):
        btm.load_study(study)


# ---------------------------------------------------------------------------------------------
# errors survive a process boundary


def _examples() -> list[errors.BTMError]:
    return [
        errors.BTMError("plain"),
        errors.UnknownMarkerError("vitD", known=["PINP", "CTX1"]),
        errors.UnitError("bad unit"),
        errors.UnitParseError("ng/xx", "unknown unit"),
        errors.UnitConversionError("BALP", "U/L", "µg/L", "activity is not mass"),
        errors.InputFileError("cannot read", path="a.xlsx", sheet="Data", row=3, column="B"),
        errors.FileTooLargeError("too large", path="b.xlsx"),
        errors.MappingError("bad mapping"),
        errors.RangesError("bad ranges"),
        errors.StrictModeError("rejected"),
        errors.AnalysisError("no data"),
        errors.OptionError("test", "x", ("t", "wilcoxon")),
    ]


def test_every_error_class_has_an_example():
    classes = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.BTMError)}
    assert classes == {type(e) for e in _examples()}


@pytest.mark.parametrize("err", _examples(), ids=lambda e: type(e).__name__)
def test_errors_survive_a_pickle_round_trip(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.args == err.args
    assert vars(back) == vars(err)
    assert isinstance(back, type(err).__mro__[1])


def _raise_in_worker(path: str) -> None:
    btm.read_results(path)


def test_an_error_raised_in_a_worker_process_arrives_whole(tmp_path):
    missing = tmp_path / "empty"
    missing.mkdir()
    with ProcessPoolExecutor(max_workers=1) as pool:
        with pytest.raises(btm.InputFileError) as exc:
            pool.submit(_raise_in_worker, str(missing)).result()
    assert "no spreadsheet files found" in str(exc.value)
