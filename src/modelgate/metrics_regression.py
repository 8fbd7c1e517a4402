"""Regression metrics for demand-style forecasts, on plain arrays.

Convention: `predicted` minus `actual` is the error, so a positive bias over-forecasts (stock
left on the shelf) and a negative one under-forecasts (lost sales).
"""

from __future__ import annotations

import numpy as np

# Each metric and whether a larger value is better: the champion gate and reports read this.
HIGHER_IS_BETTER = {"mae": False, "rmse": False, "wape": False, "r2": True}


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Weighted absolute percentage error: total |error| over total |actual| (defined at zero
    actuals, unlike MAPE, which is why demand teams use it)."""
    scale = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(predicted - actual)) / scale) if scale else float("nan")


def summarize(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    error = predicted - actual
    spread = float(np.sum((actual - actual.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "wape": wape(actual, predicted),
        "bias": float(np.mean(error)),
        "r2": 1 - float(np.sum(error**2)) / spread if spread else float("nan"),
        "mean_actual": float(np.mean(actual)),
        "rows": len(actual),
    }


def residual_histogram(actual: np.ndarray, predicted: np.ndarray, bins: int) -> dict[str, list]:
    """Counts of errors in `bins` equal-width bins spanning the errors, by bin centre."""
    counts, edges = np.histogram(predicted - actual, bins=bins)
    return {"residual": ((edges[:-1] + edges[1:]) / 2).tolist(), "rows": counts.tolist()}
