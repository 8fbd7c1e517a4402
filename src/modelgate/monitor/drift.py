"""Two-sample tests of a window against the reference, one per kind of column (issue 10).

Each test returns a statistic and a p-value that is valid (or conservative) at every window
size, so that `multiple.holm` can hold the family's false-alarm rate at `monitor.drift.alpha`:

- numbers: the two-sample Cramér-von Mises test on counts over the distinct values. It sums
  the squared gap between the two ECDFs everywhere, where Kolmogorov-Smirnov looks at the
  largest gap alone, and so finds a location shift with fewer rows (0.98 against 0.94 of
  0.25-SD shifts of an integer feature found in 500 rows; benchmarks/bench_monitor_calibration.py);
- categories: Pearson's chi-square on the 2 x k table, after `pool_rare`;
- missing values: Fisher's exact test, two-sided by doubling the smaller tail;
- categories the reference never saw: Fisher's exact test of a cell the reference holds none of.

Every feature here is full of ties (integers, round incomes, 82% of debts are 0). The textbook
fix, midranks, is what `scipy.stats.cramervonmises_2samp` uses, and with samples of unequal size
it rejected every one of our no-drift windows. Ties are instead broken at random, which makes
the statistic's null distribution the continuous one exactly (under the null the window's rows
are a random subset of the pooled rows, in any order), and the statistic is averaged over all
tie-breaks in closed form, so no random draw is needed and the result is deterministic. The
average is less spread than the randomised statistic, so the continuous tail is conservative for
it; the benchmark measures how much.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

# Smirnov's series for the limiting Cramér-von Mises law W: P(W > x) is a sum over k of
# integrals over u in [(2k-1)pi, 2k pi] of weight(u) exp(-x u^2 / 2), taken by Gauss-Chebyshev
# nodes (the integrand's endpoint singularities are the Chebyshev weight). 20 terms of 256 nodes
# agree with the Csörgő-Faraway series (scipy's) to 1e-13 for x above 0.005 and stay accurate far
# into the tail, where 1 - cdf rounds to 0.
_TERMS, _NODES = 20, 256
_SMALLEST = 0.005  # below this P(W > x) is 1 to within 1e-10


def _smirnov_nodes() -> tuple[np.ndarray, np.ndarray]:
    t = np.cos((2 * np.arange(1, _NODES + 1) - 1) * np.pi / (2 * _NODES))
    k = np.arange(1, _TERMS + 1)[:, None]
    low, high = (2 * k - 1) * np.pi, 2 * k * np.pi
    u = (low + high) / 2 + (high - low) / 2 * t
    smooth = np.sqrt(-u / np.sin(u) * (u - low) * (high - u)) / u
    weight = (-1.0) ** (k + 1) * 2 / _NODES * smooth
    return (u * u / 2).ravel(), weight.ravel()


_HALF_SQUARES, _WEIGHTS = _smirnov_nodes()


@dataclass(frozen=True)
class Result:
    statistic: float
    p_value: float


def on_grid(reference: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct values of both samples, and how often each sample holds each of them.

    `reference` must be sorted; neither may hold NaN.
    """
    ref_values, ref_counts = _runs(reference)
    win_values, win_counts = _runs(np.sort(window))
    grid = np.union1d(ref_values, win_values)
    return grid, _spread(grid, ref_values, ref_counts), _spread(grid, win_values, win_counts)


def _runs(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(ordered):
        return ordered, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return ordered[starts], np.diff(np.r_[starts, len(ordered)])


def _spread(grid: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(grid), dtype=np.int64)
    out[np.searchsorted(grid, values)] = counts
    return out


def cramer_von_mises(ref_counts: np.ndarray, win_counts: np.ndarray) -> Result:
    """Two-sample Cramér-von Mises from counts over a shared ascending grid of distinct values.

    The statistic is Anderson's (1962) T, averaged over random tie-breaks; the p-value is from
    its limiting law after Anderson's finite-sample standardisation (what scipy does too).
    """
    m, n = int(ref_counts.sum()), int(win_counts.sum())
    if m == 0 or n == 0:
        return Result(0.0, 1.0)
    a, b = ref_counts.astype(np.float64), win_counts.astype(np.float64)
    d = a + b
    keep = d > 0
    a, b, d = a[keep], b[keep], d[keep]
    gap = b / n - a / m  # how far each group of tied rows moves the ECDF difference
    before = np.cumsum(gap) - gap
    step = 1 / n + 1 / m
    # Sum over a group's positions j = 1..d of E[(before + S_j)^2], S_j the partial sums of
    # the group's steps in random order: the mean path, plus the hypergeometric variance.
    total = (
        d * before**2
        + before * gap * (d + 1)
        + gap**2 * (d + 1) * (2 * d + 1) / (6 * d)
        + step**2 * a * b * (d + 1) / (6 * d)
    ).sum()
    size = m + n
    statistic = m * n / size**2 * float(total)
    return Result(statistic, float(cvm_sf(_standardised(statistic, m, n))))


def _standardised(statistic: float, m: int, n: int) -> float:
    """Anderson's (1962) rescaling of T to the mean and variance of the limiting law."""
    size, k = m + n, m * n
    mean = (1 + 1 / size) / 6
    variance = (size + 1) * (4 * k * size - 3 * (m * m + n * n) - 2 * k) / (45 * size**2 * 4 * k)
    return 1 / 6 + (statistic - mean) / np.sqrt(45 * variance)


def cvm_sf(x: np.ndarray | float) -> np.ndarray:
    """P(W > x) for the limiting (one-sample) Cramér-von Mises law W (Smirnov 1937)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    out = np.ones_like(x)
    big = x >= _SMALLEST
    out[big] = np.clip(np.exp(-x[big, None] * _HALF_SQUARES) @ _WEIGHTS, 0.0, 1.0)
    return out


def pool_rare(
    ref_counts: np.ndarray, window_rows: int, min_share: float, min_expected: float
) -> np.ndarray:
    """Bin of each category: those rarer than `min_share` of the reference, or expected fewer
    than `min_expected` times in `window_rows` rows, share one bin; if that bin is itself too
    small it joins the smallest other category. Depends on the reference and the window's size
    only, never on the window's counts, so pooling cannot bias the test.
    """
    share = ref_counts / max(ref_counts.sum(), 1)
    rare = (share < min_share) | (share * window_rows < min_expected)
    bins = np.arange(len(ref_counts))
    if rare.any():
        bins[rare] = len(ref_counts)
        pooled = share[rare].sum()
        if (pooled < min_share or pooled * window_rows < min_expected) and (~rare).any():
            common = np.flatnonzero(~rare)
            bins[rare] = common[np.argmin(share[common])]
    return np.unique(bins, return_inverse=True)[1]


def chi_square(ref_counts: np.ndarray, win_counts: np.ndarray) -> Result:
    """Pearson's chi-square test of homogeneity of two rows of counts over the same bins."""
    table = np.vstack([ref_counts, win_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return Result(0.0, 1.0)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return Result(statistic, float(special.chdtrc(table.shape[1] - 1, statistic)))


def two_proportions(ref_hits: int, ref_rows: int, win_hits: int, win_rows: int) -> Result:
    """Fisher's exact test that two samples share a proportion, twice the smaller tail.

    Exact at any count (missing values of a feature are often a handful of rows), and
    conservative: a discrete test rejects less often than its level. The statistic is the
    window's count.
    """
    total, hits = ref_rows + win_rows, ref_hits + win_hits
    if hits == 0 or hits == total:
        return Result(float(win_hits), 1.0)
    law = (total, hits, win_rows)
    tail = min(stats.hypergeom.cdf(win_hits, *law), stats.hypergeom.sf(win_hits - 1, *law))
    return Result(float(win_hits), float(min(1.0, 2 * tail)))


def unseen(win_hits: int, win_rows: int, ref_rows: int) -> Result:
    """Fisher's one-sided exact test for `win_hits` window rows of categories the reference's
    `ref_rows` rows never held: the chance that all of them fall in the window by luck."""
    if win_hits == 0:
        return Result(0.0, 1.0)
    chance = stats.hypergeom.pmf(win_hits, ref_rows + win_rows, win_hits, win_rows)
    return Result(float(win_hits), float(chance))
