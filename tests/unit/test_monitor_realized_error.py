"""A regressor's realized error per cohort: t-intervals that cover, no alarm at the stated rate
when nothing changed, an alarm on a real 30% MAE increase, and the cohorts' bookkeeping."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from modelgate.monitor.outcomes import Joined
from modelgate.monitor.realized_error import (
    cohort,
    error_intervals,
    realized,
)
from modelgate.params import PerformanceParams

PARAMS = PerformanceParams(
    maturity_days=7, cohort="month", min_rows=200, min_class_rows=30, confidence=0.95, draws=200
)
SIGMA = 10.0  # the errors' SD: normal errors have MAE SIGMA * sqrt(2 / pi)
TEST = {"mae": SIGMA * np.sqrt(2 / np.pi), "rmse": SIGMA, "bias": 0.0, "wape": 0.1, "r2": 0.8}


def _frame(rows: int, seed: int, scale: float = 1.0, month: str = "2026-07") -> pd.DataFrame:
    """A cohort's predictions and actuals; `scale` multiplies the errors (and so the MAE)."""
    rng = np.random.default_rng(seed)
    actual = rng.gamma(4.0, 25.0, rows)
    start = pd.Timestamp(f"{month}-01", tz="UTC")
    return pd.DataFrame(
        {
            "request_id": [f"r{seed}-{i}" for i in range(rows)],
            "row": 0,
            "time": start + pd.to_timedelta(rng.uniform(0, 28, rows), unit="D"),
            "score": actual + rng.normal(0.0, SIGMA * scale, rows),
            "decision": None,
            "label": actual,
            "outcome_date": start + pd.Timedelta(days=40),
        }
    )


def _alarm_rate(rows: int, scale: float, seeds: int = 400) -> float:
    alarms = [
        cohort("c", _frame(rows, s, scale), PARAMS, {}, TEST)["degraded"] for s in range(seeds)
    ]
    return float(np.mean(alarms))


def test_the_intervals_are_those_of_the_errors_and_cover_the_truth() -> None:
    frame = _frame(500, 0)
    got = error_intervals(frame["label"].to_numpy(), frame["score"].to_numpy(), 0.95)
    error = (frame["score"] - frame["label"]).to_numpy()
    assert got["mae"]["value"] == pytest.approx(np.abs(error).mean())
    assert got["rmse"]["value"] == pytest.approx(np.sqrt((error**2).mean()))
    assert got["bias"]["value"] == pytest.approx(error.mean())
    covered = []
    for seed in range(300):
        f = _frame(300, seed)
        block = error_intervals(f["label"].to_numpy(), f["score"].to_numpy(), 0.95)["mae"]
        covered.append(block["low"] <= TEST["mae"] <= block["high"])
    assert 0.92 <= np.mean(covered) <= 0.98  # a 95% t-interval on the mean absolute error


def test_no_change_gives_no_alarm_at_the_stated_rate() -> None:
    # (1 - confidence) / 2 = 2.5% is the rate at the margin itself; at no change it is ~0.
    assert _alarm_rate(200, 1.0) <= 0.025
    assert _alarm_rate(2000, 1.0) <= 0.025


def test_a_real_30_percent_mae_increase_alarms() -> None:
    assert _alarm_rate(1000, 1.3) >= 0.8
    assert _alarm_rate(2000, 1.3) >= 0.95
    # within the margin: a 10% increase is not material, however many rows show it
    assert _alarm_rate(5000, 1.1, seeds=100) == 0.0


def test_a_degraded_cohort_names_the_mae_and_its_relative_increase() -> None:
    entry = cohort("2026-07", _frame(3000, 1, 1.5), PARAMS, {}, TEST)
    assert entry["judged"] and entry["degraded"] and entry["below"] == ["mae"]
    increase = entry["mae_increase"]
    assert increase["low"] > PARAMS.max_error_increase and increase["value"] == pytest.approx(
        0.5, abs=0.05
    )


def test_gate_limits_on_error_metrics_are_judged_on_the_favourable_bound() -> None:
    healthy = cohort("c", _frame(1000, 2), PARAMS, {"rmse": {"max": 9.0}}, TEST)
    assert healthy["below"] == ["rmse"] and healthy["degraded"]  # RMSE ~10, lower end > 9
    lenient = cohort("c", _frame(1000, 2), PARAMS, {"rmse": {"max": 10.0}}, TEST)
    assert lenient["below"] == [] and not lenient["degraded"]


def test_a_cohort_with_too_few_actuals_is_listed_not_judged() -> None:
    frame = _frame(300, 3, scale=3.0)
    frame.loc[frame.index[150:], "label"] = np.nan
    entry = cohort("2026-07", frame, PARAMS, {}, TEST)
    assert not entry["judged"] and not entry["degraded"] and entry["labelled"] == 150
    assert entry["note"] == "150 rows with actuals, fewer than 200"
    assert entry["mae"] == {"value": None, "low": None, "high": None}


def test_the_block_counts_mature_cohorts_and_states_the_margin() -> None:
    july, august = _frame(400, 4), _frame(400, 5, scale=1.6, month="2026-08")
    frame = pd.concat([july, august], ignore_index=True)
    block = realized(Joined(frame, 0, 0), date(2026, 8, 20), PARAMS, {}, TEST)
    assert [c["cohort"] for c in block["cohorts"]] == ["2026-07"]  # August is not mature
    assert block["immature_rows"] == 400 and not block["degraded"]
    assert (
        block["task"] == "regression" and block["max_error_increase"] == PARAMS.max_error_increase
    )
    assert block["test_mae"] == TEST["mae"]
    later = realized(Joined(frame, 0, 0), date(2026, 10, 1), PARAMS, {}, TEST)
    assert [c["degraded"] for c in later["cohorts"]] == [False, True] and later["degraded"]
