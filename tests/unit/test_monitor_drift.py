"""The drift tests: Cramér-von Mises against scipy and against brute force over tie-breaks, its
limiting law against the published critical values, chi-square, pooling, Fisher's tests."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from modelgate.monitor import drift


def _cvm(reference: np.ndarray, window: np.ndarray) -> drift.Result:
    _, ref_counts, win_counts = drift.on_grid(np.sort(reference), window)
    return drift.cramer_von_mises(ref_counts, win_counts)


def test_on_grid_counts_each_sample_over_the_union_of_their_values() -> None:
    grid, ref, win = drift.on_grid(np.array([1.0, 1.0, 2.0, 5.0]), np.array([5.0, 3.0, 1.0, 5.0]))
    assert grid.tolist() == [1, 2, 3, 5]
    assert ref.tolist() == [2, 1, 0, 1] and win.tolist() == [1, 0, 1, 2]


def test_on_grid_takes_empty_samples() -> None:
    grid, ref, win = drift.on_grid(np.array([]), np.array([2.0]))
    assert grid.tolist() == [2] and ref.tolist() == [0] and win.tolist() == [1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_ties_it_is_scipys_cramer_von_mises(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference, window = rng.normal(size=300), rng.normal(0.2, 1.0, size=120)
    ours = _cvm(reference, window)
    theirs = stats.cramervonmises_2samp(window, reference, method="asymptotic")
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-6)


def test_with_ties_the_statistic_is_its_mean_over_every_tie_break() -> None:
    """Brute force: every order of the tied rows, each sample's rows told apart by a label."""
    reference, window = np.array([0.0, 0.0, 1.0, 2.0, 2.0]), np.array([0.0, 1.0, 1.0, 2.0])
    m, n = len(reference), len(window)
    labels = np.r_[np.zeros(m), np.ones(n)]
    values = np.r_[reference, window]
    groups = [np.flatnonzero(values == v) for v in np.unique(values)]
    statistics = []
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        walk = labels[np.concatenate(orders)]
        gap = np.cumsum(walk) / n - np.cumsum(1 - walk) / m
        statistics.append(m * n / (m + n) ** 2 * np.sum(gap**2))
    assert _cvm(reference, window).statistic == pytest.approx(np.mean(statistics), rel=1e-12)


@pytest.mark.parametrize(
    ("x", "level"), [(0.34730, 0.10), (0.46136, 0.05), (0.58061, 0.025), (0.74346, 0.01),
                     (1.16786, 0.001)],
)  # fmt: skip
def test_the_limiting_law_has_the_published_critical_values(x: float, level: float) -> None:
    """Anderson and Darling (1952), table 1 of the limiting distribution of n W^2."""
    assert drift.cvm_sf(x)[0] == pytest.approx(level, rel=2e-4)


def test_the_limiting_tail_keeps_going_where_one_minus_the_cdf_would_round_to_zero() -> None:
    far = drift.cvm_sf(np.array([5.0, 10.0, 20.0]))
    assert (far > 0).all() and far[0] > far[1] > far[2]
    assert drift.cvm_sf(np.array([0.0, 0.001]))[0] == 1.0


def test_heavily_tied_samples_of_unequal_size_reject_no_more_than_their_level() -> None:
    """The case scipy's midranks get wrong: 2,000 seeded draws of Poisson(1) samples of 100 and
    1,000 rows. The rejections at 5% are Binomial(2000, <= 0.05); 0.065 lies 3 standard errors
    above 0.05, so a calibrated test fails this with chance below 0.2% over seeds."""
    rng = np.random.default_rng(7)
    p = np.array([_cvm(rng.poisson(1, 1000), rng.poisson(1, 100)).p_value for _ in range(2000)])
    assert np.mean(p <= 0.05) <= 0.065
    assert np.mean(p <= 0.01) <= 0.016


def test_a_shift_is_found_and_an_empty_sample_gives_no_evidence() -> None:
    rng = np.random.default_rng(3)
    assert _cvm(rng.normal(size=2000), rng.normal(0.5, 1.0, size=500)).p_value < 1e-10
    assert _cvm(rng.normal(size=50), np.array([])) == drift.Result(0.0, 1.0)


def test_pool_rare_pools_what_the_reference_rarely_holds_or_the_window_would_rarely_see() -> None:
    counts = np.array([500, 300, 150, 40, 8, 2])
    assert drift.pool_rare(counts, 10_000, 0.01, 5).tolist() == [0, 1, 2, 3, 4, 4]
    # 100 rows expect 4 and 0.8 and 0.2 of the last three: pooled, 5 together
    assert drift.pool_rare(counts, 100, 0.01, 5).tolist() == [0, 1, 2, 3, 3, 3]


def test_a_pooled_bin_still_too_small_joins_the_smallest_other_category() -> None:
    counts = np.array([900, 96, 3, 1])
    assert drift.pool_rare(counts, 100, 0.01, 5).tolist() == [0, 1, 1, 1]


def test_chi_square_is_pearsons_test_of_the_two_by_k_table() -> None:
    ref, win = np.array([120, 80, 40]), np.array([30, 35, 10])
    expected = stats.chi2_contingency(np.vstack([ref, win]), correction=False)
    result = drift.chi_square(ref, win)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


def test_chi_square_without_two_bins_or_without_window_rows_gives_no_evidence() -> None:
    assert drift.chi_square(np.array([10]), np.array([4])).p_value == 1.0
    assert drift.chi_square(np.array([10, 0]), np.array([4, 0])).p_value == 1.0
    assert drift.chi_square(np.array([10, 5]), np.array([0, 0])).p_value == 1.0


@pytest.mark.parametrize(("ref_hits", "win_hits"), [(30, 2), (30, 15), (0, 3), (5, 1)])
def test_two_proportions_doubles_the_smaller_one_sided_fisher_p(
    ref_hits: int, win_hits: int
) -> None:
    table = [[win_hits, 200 - win_hits], [ref_hits, 1000 - ref_hits]]
    one_sided = min(stats.fisher_exact(table, alternative=a).pvalue for a in ("less", "greater"))
    assert drift.two_proportions(ref_hits, 1000, win_hits, 200).p_value == pytest.approx(
        min(1.0, 2 * one_sided)
    )


def test_two_proportions_without_any_hit_gives_no_evidence() -> None:
    assert drift.two_proportions(0, 1000, 0, 200) == drift.Result(0.0, 1.0)


def test_unseen_is_the_chance_that_every_such_row_falls_in_the_window() -> None:
    assert drift.unseen(3, 100, 900).p_value == pytest.approx(
        math.comb(100, 3) / math.comb(1000, 3)
    )
    assert drift.unseen(0, 100, 900) == drift.Result(0.0, 1.0)
