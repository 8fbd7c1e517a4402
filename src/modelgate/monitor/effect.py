"""Effect sizes: how large a difference is, whatever the evidence for it (issue 10's
materiality). A test alarms only when its effect reaches the floor `monitor.drift` sets, so a
window of 100,000 rows does not alarm on a shift too small to matter; each measure is chosen to
mean the same at every window size.

- numbers: the Wasserstein distance between the two distributions in reference standard
  deviations. For a pure shift it is the shift itself (0.25 for a 0.25-SD shift, the unit the
  issue states its targets in, like a standardised mean difference), yet it also grows when the
  spread or the shape changes with the mean unchanged, where a mean difference stays 0. It is
  never below the standardised mean difference.
- categories: the population stability index (PSI) on the tested bins, the credit industry's
  measure; it depends on the two distributions, not on the sample sizes (Cramér's V does).
- missing values and unseen categories: a change in the share of rows, in absolute terms.
"""

from __future__ import annotations

import numpy as np

# Jeffreys' pseudo-count: a bin the window left empty would give PSI an infinite log ratio.
PSEUDO_COUNT = 0.5


def wasserstein_sd(
    grid: np.ndarray, ref_counts: np.ndarray, win_counts: np.ndarray, scale: float
) -> float:
    """W1 between the two samples given as counts over `grid` (ascending), divided by `scale`.

    0 when `scale` is 0 (both samples are the same constant) or a sample is empty.
    """
    m, n = ref_counts.sum(), win_counts.sum()
    if m == 0 or n == 0 or scale <= 0 or len(grid) < 2:
        return 0.0
    gap = np.cumsum(win_counts)[:-1] / n - np.cumsum(ref_counts)[:-1] / m
    return float(np.sum(np.abs(gap) * np.diff(grid)) / scale)


def scale(grid: np.ndarray, ref_counts: np.ndarray, win_counts: np.ndarray) -> float:
    """The reference's standard deviation; the pooled samples' when the reference is constant,
    so that a constant feature which starts to vary still has a finite, nonzero effect."""
    for weights in (ref_counts, ref_counts + win_counts):
        if weights.sum() > 0:
            mean = np.average(grid, weights=weights)
            sd = float(np.sqrt(np.average((grid - mean) ** 2, weights=weights)))
            if sd > 0:
                return sd
    return 0.0


def psi(ref_counts: np.ndarray, win_counts: np.ndarray) -> float:
    """sum (q - p) ln(q / p) over bins, p and q the reference's and the window's shares."""
    if ref_counts.sum() == 0 or win_counts.sum() == 0:
        return 0.0
    p = _shares(ref_counts)
    q = _shares(win_counts)
    return float(np.sum((q - p) * np.log(q / p)))


def _shares(counts: np.ndarray) -> np.ndarray:
    smoothed = counts + PSEUDO_COUNT
    return np.asarray(smoothed / smoothed.sum(), dtype=np.float64)


def share_change(ref_hits: int, ref_rows: int, win_hits: int, win_rows: int) -> float:
    """|window share - reference share|; 0 for an empty sample."""
    if ref_rows == 0 or win_rows == 0:
        return 0.0
    return abs(win_hits / win_rows - ref_hits / ref_rows)
