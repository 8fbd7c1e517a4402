"""The family-wise correction across every test of a window (issue 10).

A window runs some 25 tests (each feature, each missing rate, the score). Judged each at 5%,
a window with no drift at all would alarm most of the time: the issue measured 20 alarms in 20
no-drift windows for a tool without a correction. Holm's step-down method keeps the chance of
any false alarm in the window at `alpha`, whatever the dependence between the tests (features
are correlated, and the score depends on all of them), and rejects at least what Bonferroni
does.
"""

from __future__ import annotations

import numpy as np

METHOD = "holm"


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values, in the input's order: a test is rejected at family-wise level
    alpha exactly when its adjusted p-value is at most alpha."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    factors = p.size - np.arange(p.size)  # m, m - 1, ..., 1 for the sorted p-values
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    out = np.empty_like(p)
    out[order] = stepped
    return out
