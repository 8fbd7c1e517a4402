"""Interval arithmetic the gates share: ROC-AUC with its DeLong variance, weighted ROC-AUC for
bootstrap replicates, and Holm's step-down correction across a family of tests."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd


def delong(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """ROC-AUC and its variance (DeLong, DeLong & Clarke-Pearson 1988), ties counted half.

    Midrank form (Sun & Xu 2014): each positive's placement is the share of negatives it
    outranks, each negative's the share of positives outranking it; the variance is that of
    the placements over each class. One sort, no resampling: microseconds for a segment.
    """
    pos, neg = scores[y == 1], scores[y == 0]
    m, n = len(pos), len(neg)
    every = _midranks(np.concatenate([pos, neg]))
    v10 = (every[:m] - _midranks(pos)) / n
    v01 = 1.0 - (every[m:] - _midranks(neg)) / m
    auc = float(v10.mean())
    return auc, float(v10.var(ddof=1) / m + v01.var(ddof=1) / n)


def _midranks(values: np.ndarray) -> np.ndarray:
    return pd.Series(values).rank(method="average").to_numpy()


def one_sided_p(excess: float, se: float) -> float:
    """P-value of `excess <= 0` for a normal estimate `excess` with standard error `se`."""
    if se <= 0:
        return 0.0 if excess > 0 else 1.0
    return 1.0 - NormalDist().cdf(excess / se)


def lower_bound(estimate: float, se: float, level: float) -> float:
    """One-sided lower confidence bound at `level` for a normal estimate."""
    return estimate - NormalDist().inv_cdf(level) * se


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Which nulls Holm's step-down rejects at family-wise level `alpha` (any dependence)."""
    order = np.argsort(p_values, kind="stable")
    rejected = [False] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] > alpha / (len(p_values) - rank):
            break
        rejected[index] = True
    return rejected


def weighted_auc(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC of `scores` under each row of `weights` (replicates x rows), ties counted half.

    The Mann-Whitney form on tie groups of the sorted scores: each positive counts the weight of
    negatives below it, plus half of those tied with it. One sort serves every replicate, so a
    thousand bootstrap replicates cost a few matrix passes instead of a thousand sklearn calls.
    A replicate without both classes gives NaN.
    """
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    w = weights[:, order].astype(np.float64)
    is_pos = y[order] == 1
    pos = np.add.reduceat(w * is_pos, starts, axis=1)
    neg = np.add.reduceat(w * ~is_pos, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / pairs, np.nan)


def bootstrap_weights(rows: int, replicates: int, seed: int) -> np.ndarray:
    """How often each row is drawn in each bootstrap replicate (replicates x rows)."""
    draws = np.random.default_rng(seed).integers(0, rows, (replicates, rows))
    flat = draws + rows * np.arange(replicates)[:, None]
    return np.bincount(flat.ravel(), minlength=rows * replicates).reshape(replicates, rows)
