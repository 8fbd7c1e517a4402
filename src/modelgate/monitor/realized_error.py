"""A regressor's realized error per cohort, once its actual values arrive (issue 12.2).

Per mature cohort (`modelgate.monitor.realized.Matured`): MAE, RMSE and bias, each with a
t-interval at `monitor.performance.confidence` (Student's t on the cohort's rows: the MAE's on
the absolute errors, the bias's on the errors, the RMSE's the square root of the interval on the
squared errors), WAPE and the mean actual beside them. The cohort is degraded when its MAE is
clearly worse than the model's test MAE (`metrics.json`'s, in the model's metadata) by more than
a materiality margin, `monitor.performance.max_error_increase`: the interval's lower end must
exceed `test MAE * (1 + margin)`. A cohort
as good as the test set then alarms far less often than (1 - confidence) / 2, the rate at the
margin itself; tests/unit/test_monitor_realized_error.py measures both that rate and the power
against a 30% MAE increase. The test MAE is taken as known: its own noise (a few percent on a
test set of a few hundred rows) is what the margin absorbs. Gate limits
(`gates.model.metrics`) on mae, rmse or bias are judged as a binary model's are, on the interval
end most favourable to the model. A cohort with fewer than `min_rows` actuals is listed, not
judged. There is no label-free estimate for a regressor: this is its only performance verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd
from scipy.stats import t as student

from modelgate.metrics_regression import wape
from modelgate.monitor.outcomes import Joined
from modelgate.monitor.realized import NO_INTERVAL, Interval, Limits, Matured, judge
from modelgate.params import PerformanceParams

INTERVALS = ("mae", "rmse", "bias")


def _mean_interval(values: np.ndarray, quantile: float) -> Interval:
    mean = float(values.mean())
    half = quantile * float(values.std(ddof=1)) / np.sqrt(len(values))
    return {"value": mean, "low": mean - half, "high": mean + half}


def error_intervals(actual: np.ndarray, predicted: np.ndarray, confidence: float) -> dict:
    """MAE, RMSE and bias with their t-intervals (predicted minus actual is the error)."""
    error = predicted - actual
    quantile = float(student.ppf((1 + confidence) / 2, len(error) - 1))
    mse = _mean_interval(error**2, quantile)
    rmse = {k: None if v is None else float(np.sqrt(max(v, 0.0))) for k, v in mse.items()}
    return {
        "mae": _mean_interval(np.abs(error), quantile),
        "rmse": rmse,
        "bias": _mean_interval(error, quantile),
    }


def _increase(mae: Interval, test_mae: float | None) -> Interval:
    """The MAE's change relative to the test MAE, with the same interval."""
    if not test_mae:
        return NO_INTERVAL
    return {k: None if v is None else v / test_mae - 1 for k, v in mae.items()}


def cohort(
    name: str,
    frame: pd.DataFrame,
    params: PerformanceParams,
    limits: Limits,
    test_metrics: Mapping[str, float],
) -> dict[str, object]:
    """One cohort's entry: `frame` holds all its predictions, `label` the actual (NaN when
    not known)."""
    known = frame[frame["label"].notna()]
    actual, predicted = known["label"].to_numpy(np.float64), known["score"].to_numpy(np.float64)
    out: dict[str, object] = {"cohort": name, "rows": len(frame), "labelled": len(known)}
    if len(known) < max(params.min_rows, 2):
        return {
            **out, **dict.fromkeys(INTERVALS, NO_INTERVAL), "wape": None, "mean_actual": None,
            "mae_increase": NO_INTERVAL, "bounds": {}, "below": [], "worse_than_test": [],
            "judged": False, "degraded": False,
            "note": f"{len(known)} rows with actuals, fewer than {params.min_rows}",
        }  # fmt: skip
    values = error_intervals(actual, predicted, params.confidence)
    intervals = {k: (float(v["low"]), float(v["high"])) for k, v in values.items()}
    verdict = judge(values, intervals, limits, test_metrics)
    test_mae = test_metrics.get("mae")
    increase = _increase(values["mae"], test_mae)
    material = increase["low"] is not None and increase["low"] > params.max_error_increase
    below = list(verdict["below"])  # type: ignore[call-overload]
    if material and "mae" not in below:
        below.append("mae")
    return {
        **out, **values, "wape": wape(actual, predicted), "mean_actual": float(actual.mean()),
        "mae_increase": increase, **verdict, "below": below, "judged": True,
        "degraded": bool(below), "note": None,
    }  # fmt: skip


def realized(
    joined: Joined,
    as_of: date,
    params: PerformanceParams,
    limits: Limits,
    test_metrics: Mapping[str, float],
) -> dict[str, object]:
    """The result's `realized` block for a regressor: the binary block's counts, its cohorts'
    errors, the margin and the test MAE they were judged against."""
    matured = Matured.of(joined, as_of, params)
    cohorts = [
        cohort(str(name), rows, params, limits, test_metrics) for name, rows in matured.cohorts()
    ]
    return {
        **matured.block(cohorts),
        "task": "regression",
        "confidence": params.confidence,
        "max_error_increase": params.max_error_increase,
        "test_mae": test_metrics.get("mae"),
    }
