"""Performance before labels: the calibration map, the expected ROC-AUC against brute force and
simulation, the interval's coverage on synthetic windows and on the real test set."""

from __future__ import annotations

import itertools

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.metrics import roc_auc_score

from modelgate import io
from modelgate.model import labels, model_frame
from modelgate.monitor import estimate
from modelgate.monitor.estimate import (
    Calibration,
    expected_auc,
    fit_calibration,
    interval,
    simulate,
)
from modelgate.onnx_export import onnx_scores
from modelgate.params import PerformanceParams
from modelgate.schema import FeatureSchema
from tests.conftest import ROOT

PARAMS = PerformanceParams(
    maturity_days=90, min_rows=200, min_class_rows=30, confidence=0.95, draws=1000
)
LIMITS = {"roc_auc": {"min": 0.75}, "ks": {"min": 0.35}}


def _scores(rows: int, seed: int, spread: float = 1.5) -> np.ndarray:
    """Scores whose logits are normal: a model of middling strength."""
    return np.asarray(expit(np.random.default_rng(seed).normal(-1.0, spread, rows)))


def _outcomes(p: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(p)) < p).astype(int)


def _identity(rows: int = 5000) -> Calibration:
    """A calibration that leaves scores as they are, fitted on as many rows as `rows` say."""
    return fit_calibration(*_reference(rows, slope=1.0, intercept=0.0, seed=99))


def _reference(rows: int, slope: float, intercept: float, seed: int) -> tuple[np.ndarray, ...]:
    s = _scores(rows, seed)
    return s, _outcomes(expit(slope * logit(s) + intercept), seed + 1)


# --- calibration ------------------------------------------------------------------------------


def test_the_fit_recovers_a_known_slope_and_intercept_within_its_standard_errors() -> None:
    fitted = fit_calibration(*_reference(20_000, slope=0.8, intercept=-0.3, seed=1))

    se = np.sqrt(np.diag(fitted.covariance))
    assert abs(fitted.slope - 0.8) < 3 * se[0]
    assert abs(fitted.intercept + 0.3) < 3 * se[1]
    assert fitted.rows == 20_000
    assert 0 < se[0] < 0.05  # 20,000 rows pin the slope down


def test_calibrated_probabilities_follow_the_fitted_map_and_survive_scores_of_zero_and_one() -> (
    None
):
    cal = Calibration(slope=0.5, intercept=0.0, covariance=np.eye(2), rows=10)
    p = cal.probabilities(np.array([0.0, 0.5, 1.0], dtype=np.float32))

    assert p[1] == pytest.approx(0.5)
    assert 0 < p[0] < 0.5 < p[2] < 1
    assert p[0] == pytest.approx(1 - p[2])
    assert cal.to_dict() == {"method": "logistic", "slope": 0.5, "intercept": 0.0,
                             "reference_rows": 10}  # fmt: skip


@pytest.mark.parametrize(
    ("scores", "y", "message"),
    [
        (np.array([0.1, 0.2, 0.3]), np.array([0, 0, 0]), "both defaults and non-defaults"),
        (np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]), "separate the classes"),
        (np.array([0.1, 0.2]), np.array([0, 1, 1]), "2 calibration scores but 3 labels"),
    ],
)
def test_a_reference_that_cannot_pin_a_map_down_is_refused(
    scores: np.ndarray, y: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_calibration(scores, y)


# --- the expected ROC-AUC ---------------------------------------------------------------------


def _brute_force(scores: np.ndarray, p: np.ndarray) -> float:
    """Expected concordant pairs over expected pairs, pair by pair."""
    concordant = pairs = 0.0
    for i, j in itertools.permutations(range(len(scores)), 2):
        weight = p[i] * (1 - p[j])  # i defaults, j does not
        pairs += weight
        if scores[i] > scores[j]:
            concordant += weight
        elif scores[i] == scores[j]:
            concordant += 0.5 * weight
    return concordant / pairs


def test_expected_auc_matches_brute_force_with_ties() -> None:
    scores = np.array([0.1, 0.4, 0.4, 0.35, 0.8, 0.1, 0.6])
    p = np.array([0.05, 0.3, 0.5, 0.2, 0.9, 0.1, 0.4])

    assert expected_auc(scores, p) == pytest.approx(_brute_force(scores, p), abs=1e-12)


def test_expected_auc_is_the_mean_auc_of_simulated_outcomes() -> None:
    s = _scores(300, seed=2)
    rng = np.random.default_rng(3)
    simulated = [roc_auc_score(rng.random(300) < s, s) for _ in range(2000)]

    assert expected_auc(s, s) == pytest.approx(np.mean(simulated), abs=0.003)


def test_uninformative_scores_expect_one_half() -> None:
    assert expected_auc(np.full(50, 0.3), np.full(50, 0.3)) == pytest.approx(0.5)


# --- the simulation and the interval ----------------------------------------------------------


def test_simulation_is_seeded_and_centred_on_the_estimate() -> None:
    s = _scores(2000, seed=4)
    cal = _identity()

    auc, rate = simulate(s, cal, 500, seed=5)
    again, _ = simulate(s, cal, 500, seed=5)

    np.testing.assert_array_equal(auc, again)
    assert np.median(auc) == pytest.approx(expected_auc(s, cal.probabilities(s)), abs=0.005)
    assert np.mean(rate) == pytest.approx(cal.probabilities(s).mean(), abs=0.003)


def test_pooling_many_distinct_scores_barely_moves_the_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s, cal = _scores(3000, seed=6), _identity()
    exact = interval(0.0, simulate(s, cal, 2000, seed=7)[0], 0.95)
    monkeypatch.setattr(estimate, "MAX_GROUPS", 300)
    pooled = interval(0.0, simulate(s, cal, 2000, seed=7)[0], 0.95)

    assert pooled["low"] == pytest.approx(exact["low"], abs=0.005)
    assert pooled["high"] == pytest.approx(exact["high"], abs=0.005)


def test_interval_leaves_out_nan_draws_and_has_no_bounds_without_any() -> None:
    draws = np.r_[np.linspace(0, 1, 101), np.nan]

    assert interval(0.5, draws, 0.9) == pytest.approx({"value": 0.5, "low": 0.05, "high": 0.95})
    assert interval(0.5, np.full(3, np.nan), 0.9) == {"value": 0.5, "low": None, "high": None}
    assert interval(None, draws, 0.9) == {"value": None, "low": None, "high": None}


def test_the_interval_covers_realized_performance_of_calibrated_windows() -> None:
    """A small twin of the benchmark: reference and window drawn from one calibrated model,
    the window's realized ROC-AUC and default rate inside their 95% intervals. At least 180 of
    200 fails a true coverage of 95% with probability 0.001 and passes one of 85% with 0.025."""
    params = PARAMS.model_copy(update={"draws": 300})
    covered_auc = covered_rate = 0
    for run in range(200):
        cal = fit_calibration(*_reference(800, slope=1.0, intercept=0.0, seed=1000 + run))
        s = _scores(500, seed=2000 + run)
        y = _outcomes(s, seed=3000 + run)
        result = estimate.estimate(s, cal, LIMITS, params, seed=run)
        auc, rate = result["roc_auc"], result["default_rate"]
        covered_auc += auc["low"] <= roc_auc_score(y, s) <= auc["high"]  # type: ignore[index]
        covered_rate += rate["low"] <= y.mean() <= rate["high"]  # type: ignore[index]

    assert covered_auc >= 180, covered_auc
    assert covered_rate >= 180, covered_rate


# --- the block --------------------------------------------------------------------------------


def test_the_block_holds_both_estimates_with_their_intervals_and_the_calibration() -> None:
    s = _scores(1000, seed=8)
    result = estimate.estimate(s, _identity(), LIMITS, PARAMS, seed=0)

    assert result["rows"] == 1000
    assert result["confidence"] == 0.95
    assert result["degraded"] is False
    for key in ("roc_auc", "default_rate"):
        block = result[key]
        assert block["low"] < block["value"] < block["high"]  # type: ignore[index]
    assert result["calibration"]["method"] == "logistic"  # type: ignore[index]
    assert io.dumps(result)  # plain JSON, every float finite


def test_a_window_is_degraded_only_when_even_the_upper_bound_is_below_the_gate() -> None:
    weak = _scores(3000, seed=9, spread=0.3)  # a nearly uninformative model: AUC ~0.58
    strong = _scores(3000, seed=9)

    assert estimate.estimate(weak, _identity(), LIMITS, PARAMS, seed=0)["degraded"] is True
    assert estimate.estimate(strong, _identity(), LIMITS, PARAMS, seed=0)["degraded"] is False
    assert estimate.estimate(weak, _identity(), {}, PARAMS, seed=0)["degraded"] is False


def test_a_small_window_is_not_degraded_on_noise() -> None:
    weak = _scores(20, seed=10, spread=0.8)
    result = estimate.estimate(weak, _identity(), {"roc_auc": {"min": 0.75}}, PARAMS, seed=0)

    assert result["roc_auc"]["high"] >= 0.75  # type: ignore[index]
    assert result["degraded"] is False


def test_one_row_has_a_default_rate_but_no_roc_auc_and_no_rows_is_an_error() -> None:
    one = estimate.estimate(np.array([0.2]), _identity(), LIMITS, PARAMS, seed=0)

    assert one["roc_auc"] == {"value": None, "low": None, "high": None}
    assert one["default_rate"]["value"] == pytest.approx(0.2, abs=0.02)  # type: ignore[index]
    assert one["degraded"] is False
    with pytest.raises(ValueError, match="no scores"):
        estimate.estimate(np.array([]), _identity(), LIMITS, PARAMS, seed=0)


# --- the real model on the real test set ------------------------------------------------------

REAL = {
    "schema": ROOT / "data/processed/schema.json",
    "model": ROOT / "models/model.onnx",
    "validation": ROOT / "data/split/validation.parquet",
    "test": ROOT / "data/split/test.parquet",
    "metrics": ROOT / "reports/metrics.json",
}


@pytest.mark.skipif(
    not all(p.exists() for p in REAL.values()), reason="the pipeline is not reproduced here"
)
def test_on_the_real_test_set_the_interval_covers_the_realized_roc_auc() -> None:
    """Calibrated on validation (as the reference is), estimated from the test scores alone."""
    schema = FeatureSchema.from_dict(io.read_json(REAL["schema"]))
    session = ort.InferenceSession(str(REAL["model"]), providers=["CPUExecutionProvider"])
    validation, test = pd.read_parquet(REAL["validation"]), pd.read_parquet(REAL["test"])
    cal = fit_calibration(
        onnx_scores(session, model_frame(validation, schema), schema), labels(validation, schema)
    )
    scores = onnx_scores(session, model_frame(test, schema), schema)

    result = estimate.estimate(scores, cal, LIMITS, PARAMS, seed=0)

    realized = io.read_json(REAL["metrics"])["test"]
    auc, rate = result["roc_auc"], result["default_rate"]
    assert auc["low"] <= realized["roc_auc"] <= auc["high"]  # type: ignore[index]
    assert rate["low"] <= labels(test, schema).mean() <= rate["high"]  # type: ignore[index]
    assert result["degraded"] is False
