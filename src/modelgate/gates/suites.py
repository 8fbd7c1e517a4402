"""Run a stock Deepchecks suite with the conditions and severities declared in `params.yaml`.

`params.yaml` names checks by class (`DataDuplicates`), picks one of the check's own
`add_condition_*` methods with its arguments, and says whether a broken condition fails the gate
or only warns. Checks the params do not name keep Deepchecks' default conditions at
`default_on_fail`. A check named in the params but absent from the stock suite is added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from deepchecks.core import ConditionCategory
from deepchecks.core.check_result import CheckFailure, CheckResult
from deepchecks.tabular import Dataset, Suite
from deepchecks.tabular import checks as tabular_checks
from joblib import parallel_config

from modelgate.gates.params import CheckSpec, SuiteParams
from modelgate.gates.results import Condition, Status

logger = logging.getLogger(__name__)


def build_suite(factory: Callable[..., Suite], params: SuiteParams) -> Suite:
    suite = factory(n_samples=params.n_samples, random_state=params.random_state)
    present = {type(check).__name__: index for index, check in suite.checks.items()}
    for name, spec in params.checks.items():
        if spec.on_fail == "off":
            if name in present:
                suite.remove(present[name])
            continue
        if name in present and spec.init is not None:
            suite.remove(present.pop(name))
        if name not in present:
            suite.add(_new_check(name, spec, params))
            present = {type(c).__name__: i for i, c in suite.checks.items()}
        if spec.condition:
            check = suite.checks[present[name]]
            check.clean_conditions()
            getattr(check, spec.condition)(**spec.args)
    return suite


def _new_check(name: str, spec: CheckSpec, params: SuiteParams) -> Any:
    check_class = getattr(tabular_checks, name, None)
    if check_class is None:
        raise ValueError(f"gates: Deepchecks has no tabular check named {name!r}")
    sampling = {"n_samples": params.n_samples, "random_state": params.random_state}
    return check_class(**{**sampling, **(spec.init or {})})


def run_suite(
    suite: Suite,
    params: SuiteParams,
    html: Path | None,
    notes: list[str] | None = None,
    **datasets: Any,
) -> list[Condition]:
    """Run `suite` and translate every condition into a gate condition.

    `datasets` are Suite.run's keyword arguments (train_dataset, test_dataset, model,
    feature_importance, ...). A check Deepchecks calls irrelevant for the task (a classification
    check on a regressor, or the reverse) is appended to `notes` as skipped, not a condition.
    """
    # Deepchecks asks for permutation importance with n_jobs=-1: joblib's default process pool
    # re-imports the world in each worker (about 20 s a gate on 2 cores). Threads share it.
    single = None if params.single_dataset == "both" else params.single_dataset.capitalize()
    with parallel_config(backend="threading"):
        result = suite.run(**datasets, run_single_dataset=single, with_display=params.charts)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.unlink(missing_ok=True)  # Deepchecks would write "name (1).html" beside an old one
        result.save_as_html(str(html), as_widget=False)
    conditions: list[Condition] = []
    for check_result in result.results:
        if _irrelevant(check_result):
            if notes is not None:
                name = type(check_result.check).__name__
                notes.append(f"{name}: skipped ({check_result.exception})")
            continue
        conditions += _conditions(check_result, params)
    return conditions


def _irrelevant(check_result: CheckResult | CheckFailure) -> bool:
    # Deepchecks' context.assert_classification_task / assert_regression_task raise
    # ModelValidationError("Check is irrelevant for regression tasks"); 0.19 has no other flag.
    return isinstance(check_result, CheckFailure) and "irrelevant for" in str(
        check_result.exception
    )


def _severity(check_name: str, params: SuiteParams) -> Status:
    spec = params.checks.get(check_name)
    on_fail = spec.on_fail if spec else params.default_on_fail
    return Status.FAIL if on_fail == "fail" else Status.WARN


def _conditions(check_result: CheckResult | CheckFailure, params: SuiteParams) -> list[Condition]:
    check_name = type(check_result.check).__name__
    spec = params.checks.get(check_name)
    threshold = spec.args if spec and spec.condition else "deepchecks default"
    if isinstance(check_result, CheckFailure):
        status = _severity(check_name, params) if spec else Status.WARN
        return [
            Condition(
                check_name, status, None, threshold, f"check did not run: {check_result.exception}"
            )
        ]
    out = []
    for cond in check_result.conditions_results:
        # The params, not Deepchecks, decide how much a broken condition weighs: some conditions
        # report a breach as WARN (DataDuplicates' ratio does), which must not turn a gate
        # configured to fail into a warning. ERROR (cannot be evaluated) is not a pass either.
        if cond.category == ConditionCategory.PASS:
            status = Status.PASS
        else:
            status = _severity(check_name, params)
        out.append(
            Condition(f"{check_name}: {cond.name}", status, cond.details, threshold, cond.details)
        )
    return out


def dataset(
    frame: pd.DataFrame,
    label: str,
    categorical: list[str],
    task: str = "binary",
    datetime_name: str | None = None,
) -> Dataset:
    """A Deepchecks dataset of the model's features (and label); a date column, when given, is
    Deepchecks' datetime (for the date-leakage checks), never a feature."""
    return Dataset(
        frame,
        label=label,
        cat_features=categorical,
        label_type="regression" if task == "regression" else None,
        datetime_name=datetime_name,
    )
