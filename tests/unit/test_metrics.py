"""Decision metrics on arrays small enough to check by hand; threshold choice against brute force.

Convention under test: an applicant is declined when score >= threshold.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelgate import io
from modelgate.metrics import (
    CostMatrix,
    calibration_table,
    choose_threshold,
    confusion,
    expected_calibration_error,
    expected_cost,
    ks_statistic,
    summarize,
)

# Two negatives, two positives; one positive (0.35) scores below one negative (0.4).
Y = np.array([0, 0, 1, 1])
S = np.array([0.1, 0.4, 0.35, 0.8])
COSTS = CostMatrix(false_negative=5.0, false_positive=1.0)


def test_ks_by_hand():
    # Declining >= 0.8 catches 1/2 positives and 0/2 negatives: gap 0.5, the largest.
    assert ks_statistic(Y, S) == pytest.approx(0.5)


def test_ks_is_one_for_perfect_separation_and_zero_for_reversed_scores():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.9])

    assert ks_statistic(y, s) == pytest.approx(1.0)
    assert ks_statistic(y, 1 - s) == pytest.approx(0.0)


def test_calibration_table_by_hand():
    y = np.array([0, 1, 1, 0])
    s = np.array([0.1, 0.2, 0.9, 0.7])

    table = calibration_table(y, s, bins=2)

    assert table == [
        {"bin": 0, "mean_predicted": pytest.approx(0.15), "fraction_positive": 0.5, "count": 2},
        {"bin": 1, "mean_predicted": pytest.approx(0.8), "fraction_positive": 0.5, "count": 2},
    ]


def test_calibration_bins_edges_and_empty_bins():
    y = np.array([0, 1, 1, 0])
    s = np.array([0.0, 0.5, 1.0, 0.49])

    table = calibration_table(y, s, bins=4)

    # Bins [0, .25), [.25, .5), [.5, .75), [.75, 1]: 0.49 stays below 0.5, 0.5 opens bin 2,
    # and 1.0 closes the last bin instead of falling off the end.
    assert [(r["bin"], r["count"]) for r in table] == [(0, 1), (1, 1), (2, 1), (3, 1)]
    # Empty bins are left out.
    assert [r["bin"] for r in calibration_table(np.array([1]), np.array([0.95]), bins=10)] == [9]


def test_ece_by_hand():
    y = np.array([0, 1, 1, 0])
    s = np.array([0.1, 0.2, 0.9, 0.7])

    # Bin 0: |0.15 - 0.5| on 2 rows; bin 1: |0.8 - 0.5| on 2 rows; over 4 rows.
    assert expected_calibration_error(y, s, bins=2) == pytest.approx((2 * 0.35 + 2 * 0.3) / 4)


def test_ece_is_zero_when_calibrated():
    y = np.array([0, 1, 0, 1])
    s = np.array([0.5, 0.5, 0.5, 0.5])

    assert expected_calibration_error(y, s, bins=10) == pytest.approx(0.0)


def test_confusion_declines_at_the_threshold_itself():
    y = np.array([1, 1, 0, 0, 1])
    s = np.array([0.9, 0.5, 0.5, 0.2, 0.1])

    assert confusion(y, s, threshold=0.5) == {
        "true_positive": 2,
        "false_positive": 1,
        "true_negative": 1,
        "false_negative": 1,
    }


def test_expected_cost_by_hand():
    y = np.array([1, 1, 0, 0, 1])
    s = np.array([0.9, 0.5, 0.5, 0.2, 0.1])

    # One missed default (5.0) and one refused good applicant (1.0) over 5 applicants.
    assert expected_cost(y, s, 0.5, COSTS) == pytest.approx(6.0 / 5)
    assert expected_cost(y, s, 0.0, COSTS) == pytest.approx(2 * 1.0 / 5)  # decline everyone
    assert expected_cost(y, s, 1.01, COSTS) == pytest.approx(3 * 5.0 / 5)  # approve everyone


def test_choose_threshold_by_hand():
    # Cuts: below 0.1 (cost 2), (0.1, 0.35] (1), (0.35, 0.4] (6), (0.4, 0.8] (5), above (10);
    # per 4 applicants. The threshold is the shortest decimal in the best cut.
    threshold = choose_threshold(Y, S, COSTS)

    assert threshold == 0.2
    assert expected_cost(Y, S, threshold, COSTS) == pytest.approx(1 / 4)


def test_choose_threshold_ties_go_to_the_lowest_threshold():
    # Declining everyone and approving everyone both cost 1: the cautious lender declines.
    y = np.array([1, 0])
    s = np.array([0.2, 0.6])

    threshold = choose_threshold(y, s, CostMatrix(1.0, 1.0))

    assert threshold <= s.min()


def test_choose_threshold_can_approve_everyone():
    y = np.array([0, 0, 0, 1])
    s = np.array([0.1, 0.2, 0.3, 0.25])

    threshold = choose_threshold(y, s, CostMatrix(false_negative=1.0, false_positive=10.0))

    assert threshold <= 1.0
    assert (s >= threshold).sum() == 0


def _grid_costs(y: np.ndarray, s: np.ndarray, grid: np.ndarray, costs: CostMatrix) -> np.ndarray:
    return np.array([expected_cost(y, s, t, costs) for t in grid])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "costs", [CostMatrix(5.0, 1.0), CostMatrix(1.0, 1.0), CostMatrix(1.0, 4.0)]
)
def test_choose_threshold_matches_brute_force_on_a_grid(seed: int, costs: CostMatrix):
    rng = np.random.default_rng(seed)
    # Scores on a 0.01 grid (with ties) so the grid below reaches every possible decision.
    s = rng.beta(2, 5, 300).round(2)
    y = (rng.random(300) < s).astype(int)
    grid = np.append(np.round(np.linspace(0, 1, 101), 2), 1.5)

    threshold = choose_threshold(y, s, costs)

    grid_costs = _grid_costs(y, s, grid, costs)
    best = grid[int(np.argmin(grid_costs))]  # lowest threshold among the cheapest
    assert expected_cost(y, s, threshold, costs) == pytest.approx(grid_costs.min())
    np.testing.assert_array_equal(s >= threshold, s >= best)


@pytest.mark.parametrize("seed", range(3))
def test_choose_threshold_beats_every_grid_threshold_on_continuous_scores(seed: int):
    rng = np.random.default_rng(100 + seed)
    s = rng.random(500)
    y = (rng.random(500) < s**2).astype(int)
    grid = np.linspace(0, 1, 2001)

    threshold = choose_threshold(y, s, COSTS)

    assert expected_cost(y, s, threshold, COSTS) <= _grid_costs(y, s, grid, COSTS).min() + 1e-12


def test_choose_threshold_survives_scores_closer_than_its_rounding():
    y = np.array([0, 1])
    s = np.array([0.1, 0.1000004])

    threshold = choose_threshold(y, s, COSTS)

    assert expected_cost(y, s, threshold, COSTS) == 0.0  # decline only the default
    assert io.rounded(threshold) == threshold  # and metrics.json keeps it exactly


def test_summary_by_hand():
    metrics = summarize(Y, S, threshold=0.375, costs=COSTS, bins=2)

    log_loss = -np.mean(Y * np.log(S) + (1 - Y) * np.log(1 - S))
    assert metrics == {
        "roc_auc": pytest.approx(0.75),  # 3 of 4 positive-negative pairs ordered correctly
        "gini": pytest.approx(0.5),
        "pr_auc": pytest.approx(0.5 * 1 + 0.5 * 2 / 3),  # average precision
        "ks": pytest.approx(0.5),
        "brier": pytest.approx((0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4),
        "log_loss": pytest.approx(log_loss),
        "ece": pytest.approx(expected_calibration_error(Y, S, 2)),
        "precision": pytest.approx(0.5),  # declines 0.4 and 0.8: one default among two
        "recall": pytest.approx(0.5),
        "approval_rate": pytest.approx(0.5),
        "expected_cost": pytest.approx((5.0 + 1.0) / 4),
        "rows": 4,
    }


def test_approval_rate_counts_a_score_equal_to_the_threshold_as_declined():
    y = np.array([0, 1, 0, 1])
    s = np.array([0.2, 0.5, 0.5, 0.9])

    at = summarize(y, s, threshold=0.5, costs=COSTS, bins=2)
    just_above = summarize(y, s, threshold=np.nextafter(0.5, 1.0), costs=COSTS, bins=2)

    assert at["approval_rate"] == pytest.approx(0.25)
    assert at["precision"] == pytest.approx(2 / 3)
    assert at["recall"] == pytest.approx(1.0)
    assert just_above["approval_rate"] == pytest.approx(0.75)


def test_precision_is_zero_when_nobody_is_declined():
    metrics = summarize(Y, S, threshold=1.5, costs=COSTS, bins=2)

    assert metrics["approval_rate"] == 1.0
    assert metrics["precision"] == 0.0
    assert metrics["recall"] == 0.0
    assert metrics["expected_cost"] == pytest.approx(2 * 5.0 / 4)
