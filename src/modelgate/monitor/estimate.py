"""Performance before labels: confidence-based performance estimation (CBPE) from scores alone.

When the model's probabilities are calibrated, each applicant defaults with the probability the
model gives, so the window's expected default rate is the mean probability and its expected
ROC-AUC follows from the scores' order and those probabilities (NannyML's CBPE, "How it works:
performance estimation"). It holds under covariate shift (P(X) moves, P(y|X) stays) and fails
under concept drift, which only labels can reveal: `realized` confirms what this predicts.

The raw scores pass the gates' ECE limit but are too spread for CBPE: XGBoost overfits its
training rows, and the expected ROC-AUC of the raw test scores is 0.879 against a realized
0.828. So scores are recalibrated on the reference's validation rows (unseen by the fit) by a
logistic map of their logit: Cox's calibration slope and intercept. Not isotonic regression
(NannyML's choice): its steps fit the validation rows' noise and make probabilities too extreme.

The interval is Monte-Carlo over the three things that make the realized value differ from the
estimate: the calibration map (its fit's normal approximation), which applicants the window
holds (a bootstrap of rows) and their outcomes (Bernoulli draws).

benchmarks/bench_monitor_estimate.py halves validation + test 300 times (one half calibrates,
the other is the window): the ROC-AUC estimate errs by -0.003 on average (isotonic +0.008, raw
scores +0.039), and the 95% interval held the realized ROC-AUC 95.0% of the time and the default
rate 96.7%.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from modelgate.params import PerformanceParams

EPSILON = 1e-6  # scores of exactly 0 or 1 have an infinite logit
MAX_ITERATIONS = 100
# Beyond this many distinct scores the simulation pools neighbours into equal-count groups:
# pairs inside a group count as ties, about 1/MAX_GROUPS of all pairs, and a window of
# 100,000 rows then costs what one of 1,000 does.
MAX_GROUPS = 1000


@dataclass(frozen=True)
class Calibration:
    """probability = expit(slope * logit(score) + intercept), fitted by maximum likelihood.

    `covariance` is that of (slope, intercept), the inverse of the fit's information matrix:
    how much the map itself is unsure of, given the reference rows it saw.
    """

    slope: float
    intercept: float
    covariance: np.ndarray
    rows: int

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(expit(self.slope * _logit(scores) + self.intercept))

    def to_dict(self) -> dict[str, object]:
        return {
            "method": "logistic",
            "slope": self.slope,
            "intercept": self.intercept,
            "reference_rows": self.rows,
        }


def _logit(scores: np.ndarray) -> np.ndarray:
    # float64 first: ONNX gives float32, whose logit loses the digits a Newton step needs.
    return np.asarray(logit(np.clip(np.asarray(scores, np.float64), EPSILON, 1 - EPSILON)))


def fit_calibration(scores: np.ndarray, labels: np.ndarray) -> Calibration:
    """Newton-Raphson on the logistic likelihood of `labels` (1 = default) given logit(score).

    Raises ValueError when the reference cannot pin a map down: one class only, or classes the
    scores separate perfectly (the slope then grows without bound).
    """
    y = np.asarray(labels, np.float64)
    if len(y) != len(scores):
        raise ValueError(f"{len(scores)} calibration scores but {len(y)} labels")
    if not 0 < y.sum() < len(y):
        raise ValueError("calibration needs both defaults and non-defaults in the reference")
    x = np.column_stack([_logit(scores), np.ones(len(y))])
    w = np.array([1.0, 0.0])  # the identity map: where a calibrated model already is
    for _ in range(MAX_ITERATIONS):
        p = expit(x @ w)
        information = (x * (p * (1 - p))[:, None]).T @ x
        step = np.linalg.solve(information, x.T @ (y - p))
        w = w + step
        if np.max(np.abs(step)) < 1e-10:
            break
    else:
        raise ValueError("calibration did not converge: the reference scores separate the classes")
    p = expit(x @ w)
    covariance = np.linalg.inv((x * (p * (1 - p))[:, None]).T @ x)
    return Calibration(float(w[0]), float(w[1]), covariance, len(y))


def expected_auc(scores: np.ndarray, probabilities: np.ndarray) -> float:
    """The ROC-AUC of `scores` expected when row i defaults with `probabilities[i]`.

    Expected concordant pairs over expected pairs (distinct rows, tied scores count half),
    exactly, in one sort: equal to the expected ROC-AUC up to O(1/rows), and to the area under
    NannyML's estimated ROC curve up to its pairs of a row with itself.
    """
    order = np.argsort(scores, kind="stable")
    ordered, p = np.asarray(scores)[order], np.asarray(probabilities, np.float64)[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    pos, neg = np.add.reduceat(p, starts), np.add.reduceat(1 - p, starts)
    own = np.add.reduceat(p * (1 - p), starts)  # a row is never paired with itself
    below = np.cumsum(neg) - neg
    concordant = np.sum(pos * below) + 0.5 * np.sum(pos * neg - own)
    return float(concordant / (pos.sum() * neg.sum() - own.sum()))


def _groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows in score order as (row counts, mean logit) per group of tied or neighbouring scores."""
    x = np.sort(_logit(scores))
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    if len(starts) > MAX_GROUPS:
        starts = np.unique(np.linspace(0, len(x), MAX_GROUPS, endpoint=False).astype(int))
    counts = np.diff(np.r_[starts, len(x)])
    return counts, np.add.reduceat(x, starts) / counts


def simulate(
    scores: np.ndarray, calibration: Calibration, draws: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Realized ROC-AUC and default rate of `draws` simulated windows like this one.

    Each draw takes a calibration map from its fit's normal approximation, a bootstrap of the
    rows and an outcome per row; a draw without both classes gives a NaN ROC-AUC.
    """
    rng = np.random.default_rng(seed)
    counts, x = _groups(scores)
    params = rng.multivariate_normal(
        [calibration.slope, calibration.intercept], calibration.covariance, size=draws
    )
    p = expit(params[:, :1] * x + params[:, 1:])
    # The Poisson bootstrap (each row drawn Poisson(1) times) rather than the multinomial:
    # the same to O(1/rows) for these ratios, and a third of the cost on large windows.
    drawn = rng.poisson(counts, size=(draws, len(counts)))
    pos = rng.binomial(drawn, p)
    neg = drawn - pos
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / pairs, np.nan)
        rate = pos.sum(axis=1) / drawn.sum(axis=1)
    return auc, rate


def interval(value: float | None, draws: np.ndarray, confidence: float) -> dict[str, float | None]:
    """`value` with the central `confidence` range of `draws` (NaN draws left out); no
    bounds for no value."""
    kept = draws[~np.isnan(draws)]
    if value is None or not len(kept):
        return {"value": value, "low": None, "high": None}
    tail = (1 - confidence) / 2
    low, high = np.quantile(kept, [tail, 1 - tail])
    return {"value": value, "low": float(low), "high": float(high)}


def estimate(
    scores: np.ndarray,
    calibration: Calibration,
    limits: Mapping[str, Mapping[str, float]],
    params: PerformanceParams,
    seed: int,
) -> dict[str, object]:
    """The result's `estimated` block for a window's `scores`.

    `limits` are the gate's absolute limits on test metrics (`gates.model.metrics`). The
    window is `degraded` when even the interval's upper bound of its ROC-AUC is below the
    gate's minimum: most windows like it would fail the gate once their outcomes arrive.
    """
    scores = np.asarray(scores)
    if not len(scores):
        raise ValueError("no scores to estimate performance from")
    p = calibration.probabilities(scores)
    auc_draws, rate_draws = simulate(scores, calibration, params.draws, seed)
    value = expected_auc(scores, p) if len(scores) > 1 else None  # one row has no pairs
    auc = interval(value, auc_draws, params.confidence)
    high, floor = auc["high"], limits.get("roc_auc", {}).get("min")
    return {
        "rows": len(scores),
        "roc_auc": auc,
        "default_rate": interval(float(p.mean()), rate_draws, params.confidence),
        "confidence": params.confidence,
        "calibration": calibration.to_dict(),
        "degraded": high is not None and floor is not None and high < floor,
    }
