"""Champion gate for a regressor (issue 12.2): the paired bootstrap of the relative MAE change,
calibrated by simulation, and the real demand model against itself, a worse one and a base model
of another task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelgate.gates.champion import Base, ChampionParams, champion_gate, paired_mae_interval
from modelgate.gates.results import Status
from modelgate.metrics import CostMatrix
from tests.unit._demand import Demand, demand_fixture  # noqa: F401  (the module's fixture)

PARAMS = ChampionParams(n_bootstrap=400, confidence=0.95, seed=0, mae_tolerance=0.05)
MAE = "MAE change (paired bootstrap)"


def _forecasts(seed: int, rows: int, worse: float) -> tuple[np.ndarray, ...]:
    """Actuals and two forecasts whose errors share per-row noise; the challenger's error is
    scaled by 1 + `worse`, so its MAE is that much above the champion's in the population."""
    rng = np.random.default_rng(seed)
    actual = rng.gamma(4.0, 25.0, rows)
    shared, own = rng.normal(0, 8, rows), rng.normal(0, 8, (2, rows))
    champion_error = shared + own[0]
    challenger_error = (1 + worse) * (shared + own[1])
    return actual, actual + challenger_error, actual + champion_error


@pytest.mark.parametrize("rows", [200, 1000])
@pytest.mark.parametrize(("worse", "most"), [(0.0, 3), (0.05, 11)])
def test_equal_or_marginal_forecasts_fail_at_most_the_stated_rate(
    rows: int, worse: float, most: int
):
    """The gate fails when the interval's lower bound is above +5%: one-sided, 2.5% of runs at
    the margin itself (a challenger exactly 5% worse), far fewer when nothing changed. `most`
    is the binomial 99.9% bound on 200 runs (11 at 2.5%). Measured: 1 and 0 of 200 at no
    change, 4 and 7 of 200 at the margin (200 and 1,000 rows)."""
    fails = 0
    for seed in range(200):
        y, challenger, champion = _forecasts(seed, rows, worse)
        low, _ = paired_mae_interval(y, challenger, champion, PARAMS)
        fails += low > PARAMS.tolerance("regression")
    assert fails <= most, f"{fails}/200 failed at +{worse:.0%}"


def test_a_30_percent_worse_forecast_is_caught_at_1000_rows():
    caught = 0
    for seed in range(50):
        y, challenger, champion = _forecasts(seed, 1000, worse=0.3)
        low, high = paired_mae_interval(y, challenger, champion, PARAMS)
        assert low < high
        caught += low > PARAMS.tolerance("regression")
    assert caught >= 45, f"caught {caught}/50"


def test_the_interval_contains_the_observed_change():
    y, challenger, champion = _forecasts(7, 800, worse=0.1)
    observed = np.mean(np.abs(challenger - y)) / np.mean(np.abs(champion - y)) - 1
    low, high = paired_mae_interval(y, challenger, champion, PARAMS)
    assert low < observed < high


def test_a_regression_gate_needs_its_tolerance_by_name():
    with pytest.raises(ValueError, match=r"gates\.champion\.mae_tolerance is required"):
        ChampionParams(n_bootstrap=100, confidence=0.95, seed=0).tolerance("regression")


def _gate(demand: Demand, challenger: bytes, base: Base):
    return champion_gate(
        pd.read_parquet(demand.run.part("test")), demand.run.schema, challenger,
        base, PARAMS, CostMatrix(5, 1), 5,
    )  # fmt: skip


def test_the_same_model_passes_with_a_zero_interval_and_the_report_shape(demand: Demand):
    model = demand.onnx.read_bytes()
    result = _gate(demand, model, Base("main", model=model))
    paired = next(c for c in result.conditions if c.name == MAE)
    assert paired.status is Status.PASS
    assert paired.value["delta"] == paired.value["ci_low"] == paired.value["ci_high"] == 0
    assert paired.value["confidence"] == 0.95
    assert {c.name for c in result.conditions} == {MAE}  # no `metrics` configured here


def test_a_base_model_of_another_task_is_no_champion(demand: Demand, exported_model: Path):
    """The first run on adopted data: main's model is the credit classifier."""
    result = _gate(
        demand, demand.onnx.read_bytes(), Base("main", model=exported_model.read_bytes())
    )
    (condition,) = result.conditions
    assert (condition.name, condition.status) == ("champion available", Status.WARN)
    assert "binary model, this one regression" in condition.message
