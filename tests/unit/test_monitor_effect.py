"""Effect sizes: the standardised Wasserstein distance, its scale, PSI, the change of a share."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from modelgate.monitor import drift, effect


def _wasserstein(reference: np.ndarray, window: np.ndarray) -> float:
    grid, ref, win = drift.on_grid(np.sort(reference), window)
    return effect.wasserstein_sd(grid, ref, win, effect.scale(grid, ref, win))


def test_it_is_scipys_wasserstein_distance_in_reference_standard_deviations() -> None:
    rng = np.random.default_rng(0)
    reference, window = rng.gamma(2.0, 3.0, 400).round(), rng.gamma(2.5, 3.0, 150).round()
    expected = stats.wasserstein_distance(reference, window) / reference.std()
    assert _wasserstein(reference, window) == pytest.approx(expected, rel=1e-9)


def test_a_pure_shift_measures_the_shift_and_a_change_of_spread_alone_shows_too() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(10.0, 2.0, 1000)
    assert _wasserstein(reference, reference + 0.5) == pytest.approx(0.5 / reference.std())
    wider = 10.0 + 2.0 * (reference - 10.0)  # the same mean, twice the spread
    assert _wasserstein(reference, wider) > 0.5


def test_a_constant_reference_is_measured_in_the_pooled_spread() -> None:
    grid, ref, win = drift.on_grid(np.full(100, 5.0), np.full(100, 6.0))
    assert effect.scale(grid, ref, win) == pytest.approx(0.5)
    assert effect.wasserstein_sd(grid, ref, win, 0.5) == pytest.approx(2.0)


def test_the_same_constant_on_both_sides_or_an_empty_sample_measures_zero() -> None:
    assert _wasserstein(np.full(10, 3.0), np.full(4, 3.0)) == 0.0
    grid, ref, win = drift.on_grid(np.array([1.0, 2.0]), np.array([]))
    assert effect.wasserstein_sd(grid, ref, win, 1.0) == 0.0
    assert effect.scale(np.array([]), np.array([]), np.array([])) == 0.0


def test_psi_is_zero_for_equal_shares_and_symmetric() -> None:
    assert effect.psi(np.array([50, 30, 20]), np.array([500, 300, 200])) < 1e-3
    a, b = np.array([60, 30, 10]), np.array([40, 40, 20])
    assert effect.psi(a, b) == pytest.approx(effect.psi(b, a))


def test_psi_smooths_an_empty_bin_instead_of_going_infinite() -> None:
    p = (np.array([50, 50]) + 0.5) / 101
    q = (np.array([100, 0]) + 0.5) / 101
    assert effect.psi(np.array([50, 50]), np.array([100, 0])) == pytest.approx(
        np.sum((q - p) * np.log(q / p))
    )
    assert effect.psi(np.array([5, 5]), np.array([0, 0])) == 0.0


def test_share_change_is_the_absolute_difference_of_shares() -> None:
    assert effect.share_change(10, 1000, 30, 1000) == pytest.approx(0.02)
    assert effect.share_change(30, 1000, 10, 1000) == pytest.approx(0.02)
    assert effect.share_change(1, 10, 0, 0) == 0.0
