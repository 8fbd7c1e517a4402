"""Deepchecks suites as `params.yaml` declares them: which checks run, with which condition and
arguments, and whether a broken condition fails the gate or only warns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from deepchecks.tabular import Suite
from deepchecks.tabular.checks import DataDuplicates, IsSingleValue, TrainTestSamplesMix
from deepchecks.tabular.suites import data_integrity
from pydantic import ValidationError

from modelgate.gates.results import Status
from modelgate.gates.suites import CheckSpec, SuiteParams, build_suite, dataset, run_suite


def _params(default_on_fail: str = "warn", **checks: dict[str, Any]) -> SuiteParams:
    return SuiteParams.model_validate(
        {"n_samples": 500, "random_state": 3, "default_on_fail": default_on_fail, "checks": checks}
    )


def _by_name(suite: Suite) -> dict[str, Any]:
    return {type(check).__name__: check for check in suite.checks.values()}


def _condition_names(check: Any) -> list[str]:
    return [c.name for c in check._conditions.values()]  # Deepchecks has no public accessor


def _tiny_suite(**sampling: Any) -> Suite:
    """A stock-like suite: two checks with their default conditions, one that needs test data."""
    return Suite(
        "tiny",
        DataDuplicates(**sampling).add_condition_ratio_less_or_equal(),
        IsSingleValue(**sampling).add_condition_not_single_value(),
        TrainTestSamplesMix(**sampling),
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """60 distinct rows; every column varies."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "label": rng.choice(["good", "bad"], 60),
            "amount": rng.normal(size=60),
            "channel": rng.choice(["web", "app", "pos"], 60),
        }
    )


def _run(params: SuiteParams, frame: pd.DataFrame) -> dict[str, Any]:
    suite = build_suite(_tiny_suite, params)
    conditions = run_suite(suite, params, None, train_dataset=dataset(frame, "label", ["channel"]))
    return {c.name.split(":")[0]: c for c in conditions}


def test_unlisted_checks_keep_the_stock_suite_and_its_conditions():
    suite = build_suite(data_integrity, _params())

    stock = data_integrity()
    assert list(_by_name(suite)) == [type(c).__name__ for c in stock.checks.values()]
    assert _condition_names(_by_name(suite)["DataDuplicates"]) == [
        "Duplicate data ratio is less or equal to 5%"
    ]


def test_sampling_params_reach_every_check():
    suite = build_suite(data_integrity, _params())

    assert {(c.n_samples, c.random_state) for c in suite.checks.values()} == {(500, 3)}


def test_condition_and_args_replace_the_default_conditions():
    params = _params(
        DataDuplicates={
            "condition": "add_condition_ratio_less_or_equal",
            "args": {"max_ratio": 0.01},
        }
    )

    checks = _by_name(build_suite(data_integrity, params))

    assert _condition_names(checks["DataDuplicates"]) == [
        "Duplicate data ratio is less or equal to 1%"
    ]


def test_off_drops_a_stock_check_and_ignores_an_absent_one():
    params = _params(
        IdentifierLabelCorrelation={"on_fail": "off"}, PercentOfNulls={"on_fail": "off"}
    )

    names = list(_by_name(build_suite(data_integrity, params)))

    assert "IdentifierLabelCorrelation" not in names
    assert "PercentOfNulls" not in names
    assert len(names) == len(data_integrity().checks) - 1


def test_a_listed_check_missing_from_the_suite_is_added_with_the_sampling_params():
    params = _params(
        PercentOfNulls={
            "condition": "add_condition_percent_of_nulls_not_greater_than",
            "args": {"threshold": 0.15},
        }
    )

    check = _by_name(build_suite(data_integrity, params))["PercentOfNulls"]

    assert (check.n_samples, check.random_state) == (500, 3)
    assert _condition_names(check) == [
        "Percent of null values in each column is not greater than 15%"
    ]


def test_init_replaces_the_stock_instance_once():
    params = _params(
        DataDuplicates={
            "init": {"columns": ["amount"]},
            "condition": "add_condition_ratio_less_or_equal",
            "args": {"max_ratio": 0.0},
        }
    )

    suite = build_suite(data_integrity, params)

    duplicates = [c for c in suite.checks.values() if isinstance(c, DataDuplicates)]
    assert len(duplicates) == 1
    assert duplicates[0].columns == ["amount"]
    assert (duplicates[0].n_samples, duplicates[0].random_state) == (500, 3)
    assert _condition_names(duplicates[0]) == ["Duplicate data ratio is less or equal to 0%"]


@pytest.mark.parametrize(
    "spec",
    [
        {"condition": "add_condition_ratio_less_or_equal"},
        {"on_fail": "warn"},
        {"init": {}, "condition": "add_condition_ratio_less_or_equal"},
    ],
    ids=["with a condition", "severity only", "with init"],
)
def test_an_unknown_check_name_raises_naming_it(spec: dict[str, Any]):
    with pytest.raises(ValueError, match="Deepchecks has no tabular check named 'DataDuplicate'"):
        build_suite(data_integrity, _params(DataDuplicate=spec))


@pytest.mark.parametrize(
    "params",
    [
        {"n_samples": 500, "checks": {"DataDuplicates": {"init": {}}}},  # could never fail
        {"n_samples": 500, "checks": {"DataDuplicates": {"on_fail": "error"}}},
        {"n_samples": 500, "checks": {"DataDuplicates": {"conditon": "x"}}},
        {"n_samples": 500, "sample": 3},
        {"n_samples": 50},
    ],
    ids=[
        "init without condition",
        "bad severity",
        "misspelt key",
        "unknown setting",
        "too few samples",
    ],
)
def test_params_reject_what_they_do_not_know(params: dict[str, Any]):
    with pytest.raises(ValidationError):
        SuiteParams.model_validate(params)


def test_clean_frame_passes_and_reports_thresholds(frame: pd.DataFrame):
    params = _params(
        DataDuplicates={
            "condition": "add_condition_ratio_less_or_equal",
            "args": {"max_ratio": 0.0},
        }
    )

    found = _run(params, frame)

    assert found["DataDuplicates"].status is Status.PASS
    assert found["DataDuplicates"].threshold == {"max_ratio": 0.0}
    assert found["DataDuplicates"].value == "Found 0% duplicate data"
    assert found["IsSingleValue"].status is Status.PASS
    assert found["IsSingleValue"].threshold == "deepchecks default"


@pytest.mark.parametrize(("on_fail", "expected"), [("fail", Status.FAIL), ("warn", Status.WARN)])
def test_a_broken_condition_takes_the_severity_of_the_params(
    frame: pd.DataFrame, on_fail: str, expected: Status
):
    # Deepchecks itself rates a broken duplicates ratio only WARN: the params must still win.
    params = _params(
        DataDuplicates={
            "condition": "add_condition_ratio_less_or_equal",
            "args": {"max_ratio": 0.05},
            "on_fail": on_fail,
        }
    )
    duplicated = pd.concat([frame, frame.head(6)], ignore_index=True)  # 6 of 66 rows: 9%

    found = _run(params, duplicated)["DataDuplicates"]

    assert found.status is expected
    assert found.name == "DataDuplicates: Duplicate data ratio is less or equal to 5%"
    assert found.message == "Found 9.09% duplicate data"


@pytest.mark.parametrize(("default", "expected"), [("warn", Status.WARN), ("fail", Status.FAIL)])
def test_unlisted_checks_break_at_the_default_severity(
    frame: pd.DataFrame, default: str, expected: Status
):
    found = _run(_params(default), frame.assign(constant=1.0))

    assert found["IsSingleValue"].status is expected
    assert "['constant']" in found["IsSingleValue"].message


@pytest.mark.parametrize(
    ("checks", "expected"),
    [({}, Status.WARN), ({"TrainTestSamplesMix": {"on_fail": "fail"}}, Status.FAIL)],
    ids=["unlisted", "listed to fail"],
)
def test_a_check_that_cannot_run_is_not_a_pass(
    frame: pd.DataFrame, checks: dict[str, Any], expected: Status
):
    found = _run(_params(**checks), frame)["TrainTestSamplesMix"]  # no test data given

    assert found.status is expected
    assert found.message.startswith("check did not run: ")


def test_check_spec_defaults_to_failing():
    assert CheckSpec().on_fail == "fail"


def test_charts_off_gives_the_same_conditions_and_an_html_report(
    frame: pd.DataFrame, tmp_path: Path
):
    params = _params(DataDuplicates={"condition": "add_condition_ratio_less_or_equal"})
    quiet = params.model_copy(update={"charts": False})
    html = tmp_path / "report.html"

    with_charts = _run(params, frame)
    conditions = run_suite(
        build_suite(_tiny_suite, quiet),
        quiet,
        html,
        train_dataset=dataset(frame, "label", ["channel"]),
    )

    assert {c.name: (c.status, c.value) for c in conditions} == {
        c.name: (c.status, c.value) for c in with_charts.values()
    }
    assert "Duplicate data ratio is less or equal to" in html.read_text(encoding="utf-8")
