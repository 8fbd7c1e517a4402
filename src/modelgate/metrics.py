"""Binary-classification metrics for credit-style decisions, on plain arrays.

Convention: `scores` are probabilities of the positive class (a default); an applicant is
declined when score >= threshold and approved otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
    roc_curve,
)


@dataclass(frozen=True)
class CostMatrix:
    false_negative: float
    false_positive: float


def ks_statistic(y: np.ndarray, scores: np.ndarray) -> float:
    """Largest gap between the score CDFs of the two classes."""
    fpr, tpr, _ = roc_curve(y, scores)
    return float(np.max(tpr - fpr))


def calibration_table(y: np.ndarray, scores: np.ndarray, bins: int) -> list[dict[str, float]]:
    """Equal-width score bins with mean score, observed positive rate and row count."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(scores, edges[1:-1], right=False), 0, bins - 1)
    table = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            table.append(
                {
                    "bin": b,
                    "mean_predicted": float(scores[mask].mean()),
                    "fraction_positive": float(y[mask].mean()),
                    "count": int(mask.sum()),
                }
            )
    return table


def expected_calibration_error(y: np.ndarray, scores: np.ndarray, bins: int) -> float:
    table = calibration_table(y, scores, bins)
    return sum(r["count"] * abs(r["mean_predicted"] - r["fraction_positive"]) for r in table) / len(
        y
    )


def confusion(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, int]:
    declined = scores >= threshold
    return {
        "true_positive": int(np.sum(declined & (y == 1))),
        "false_positive": int(np.sum(declined & (y == 0))),
        "true_negative": int(np.sum(~declined & (y == 0))),
        "false_negative": int(np.sum(~declined & (y == 1))),
    }


def expected_cost(y: np.ndarray, scores: np.ndarray, threshold: float, costs: CostMatrix) -> float:
    """Average cost per applicant of deciding at `threshold`."""
    c = confusion(y, scores, threshold)
    total = c["false_negative"] * costs.false_negative + c["false_positive"] * costs.false_positive
    return total / len(y)


def choose_threshold(y: np.ndarray, scores: np.ndarray, costs: CostMatrix) -> float:
    """The cost-minimising threshold, as the shortest decimal between two adjacent scores.

    A short decimal reads well in params and reports and survives JSON unchanged; sitting
    strictly between scores keeps every validation decision as optimised. Ties in cost resolve
    to the lowest threshold (the more cautious lender).
    """
    distinct = np.unique(scores)
    # Candidate k declines every score >= distinct[k]; k = len(distinct) declines nobody.
    order = np.argsort(scores)
    sorted_scores, sorted_y = scores[order], y[order]
    below = np.searchsorted(sorted_scores, np.append(distinct, np.inf), side="left")
    pos_below = np.concatenate([[0], np.cumsum(sorted_y)])[below]
    false_pos = (len(y) - y.sum()) - (below - pos_below)
    best = int(np.argmin(pos_below * costs.false_negative + false_pos * costs.false_positive))
    low = float(distinct[best - 1]) if best > 0 else 0.0
    high = float(distinct[best]) if best < len(distinct) else 1.0
    return _shortest_decimal_in(low, high, strict_low=best > 0)


def _shortest_decimal_in(low: float, high: float, strict_low: bool) -> float:
    """The decimal with fewest significant digits in (low, high] (or [low, high])."""
    for digits in range(1, 18):
        for candidate in (float(f"{(low + high) / 2:.{digits}g}"), float(f"{high:.{digits}g}")):
            if (low < candidate or (not strict_low and low == candidate)) and candidate <= high:
                return candidate
    return high


def summarize(
    y: np.ndarray, scores: np.ndarray, threshold: float, costs: CostMatrix, bins: int
) -> dict[str, float]:
    auc = float(roc_auc_score(y, scores))
    c = confusion(y, scores, threshold)
    declined = c["true_positive"] + c["false_positive"]
    return {
        "roc_auc": auc,
        "gini": 2 * auc - 1,
        "pr_auc": float(average_precision_score(y, scores)),
        "ks": ks_statistic(y, scores),
        "brier": float(brier_score_loss(y, scores)),
        "log_loss": float(log_loss(y, scores, labels=[0, 1])),
        "ece": expected_calibration_error(y, scores, bins),
        "precision": c["true_positive"] / declined if declined else 0.0,
        "recall": c["true_positive"] / max(c["true_positive"] + c["false_negative"], 1),
        "approval_rate": 1 - declined / len(y),
        "expected_cost": expected_cost(y, scores, threshold, costs),
        "rows": len(y),
    }
