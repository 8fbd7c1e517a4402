"""The monitor's core: one window of logged predictions (and outcomes, when they exist) judged
against the served model's reference, into the result every writer renders.

Pure: it takes loaded inputs and returns the result dict (its shape is what `report`,
`prometheus` and the JSON file share). `__main__` does the reading and writing.

A regressor (the reference's `task`) gets the same drift tests, its prediction as the score;
no estimate before labels (`estimated` is null and `estimate_note` says why: CBPE needs
calibrated probabilities, and a prediction is not one), and its realized error per cohort
from `realized_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from modelgate.monitor import check, estimate, realized, realized_error
from modelgate.monitor.outcomes import Joined
from modelgate.monitor.reference import Reference
from modelgate.monitor.status import status
from modelgate.params import MonitorParams


@dataclass(frozen=True)
class Model:
    """The served model, from its ONNX metadata."""

    name: str
    version: str
    threshold: float | None  # a binary model's decision threshold; a regressor has none


@dataclass(frozen=True)
class Window:
    """Logged predictions of one model version, and their outcomes where they have arrived."""

    rows: pd.DataFrame  # monitor.log.read_window's frame
    outcomes: Joined | None = None  # the same rows with their outcomes (monitor.outcomes.join)
    other_versions: int = 0  # logged rows of other model versions, left out


def judge(
    reference: Reference,
    window: Window,
    model: Model,
    params: MonitorParams,
    limits: Mapping[str, Mapping[str, float]],
    test_metrics: Mapping[str, float],
    as_of: date,
    calibration_bins: int,
) -> dict[str, Any]:
    """The monitor's result for `window` (see the module docstring). `calibration_bins` are
    the evaluation's (`evaluate.calibration_bins`), so a realized ECE means what the gate's
    limit means."""
    rows = window.rows
    times = pd.to_datetime(rows["time"], utc=True) if len(rows) else pd.Series(dtype="object")
    result: dict[str, Any] = {
        "model": {"name": model.name, "version": model.version},
        "window": {
            "rows": len(rows),
            "start": _iso(times.min()) if len(rows) else None,
            "end": _iso(times.max()) if len(rows) else None,
            "other_versions": window.other_versions,
        },
        "drift": check.check_drift(reference, rows, params.drift),
    }
    if reference.task == "regression":
        result |= _regressor(window, params, limits, test_metrics, as_of)
    else:
        # One fit on the reference's validation rows serves the estimate and each cohort's.
        calibration = estimate.fit_calibration(reference.scores, reference.labels)
        result["estimated"] = _estimated(calibration, rows, params, limits)
        result["realized"] = _realized(
            calibration, window, params, limits, test_metrics, as_of, calibration_bins
        )
    result["limits"] = {k: dict(v) for k, v in limits.items()}
    result["test_metrics"] = dict(test_metrics)
    result["status"] = status(result)
    return result


NO_ESTIMATE = "no label-free estimate for regression: realized error needs the actual values"


def _regressor(
    window: Window,
    params: MonitorParams,
    limits: Mapping[str, Mapping[str, float]],
    test_metrics: Mapping[str, float],
    as_of: date,
) -> dict[str, Any]:
    block = None
    if window.outcomes is not None:
        block = realized_error.realized(
            window.outcomes, as_of, params.performance, limits, test_metrics
        )
    return {"task": "regression", "estimated": None, "estimate_note": NO_ESTIMATE,
            "realized": block}  # fmt: skip


def _estimated(
    calibration: estimate.Calibration,
    rows: pd.DataFrame,
    params: MonitorParams,
    limits: Mapping[str, Mapping[str, float]],
) -> dict[str, Any] | None:
    if len(rows) < params.drift.min_rows:
        return None
    scores = rows["score"].to_numpy(dtype=np.float64)
    return estimate.estimate(scores, calibration, limits, params.performance, params.seed)


def _realized(
    calibration: estimate.Calibration,
    window: Window,
    params: MonitorParams,
    limits: Mapping[str, Mapping[str, float]],
    test_metrics: Mapping[str, float],
    as_of: date,
    calibration_bins: int,
) -> dict[str, Any] | None:
    if window.outcomes is None:
        return None
    return realized.realized(
        window.outcomes, as_of, params.performance, limits, test_metrics, calibration_bins,
        calibration, params.seed,
    )  # fmt: skip


def _iso(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
