"""Performance after labels: realized metrics per cohort of decisions (month or week of the
decision), once every decision of the cohort is `maturity_days` old and its outcomes are in.

Metrics are those of `modelgate.metrics` on the cohort's labelled rows, against the gate's
limits (`gates.model.metrics`) and the model's test metrics. A limit is broken only beyond the
metric's noise: the end of its interval (at `confidence`) most favourable to the model must be
past the limit. For ROC-AUC that is DeLong's interval; for the others a normal interval from a
standard error: KS's is at most 1/2 sqrt(1/defaults + 1/repaid) (each of its two rates has a
variance of at most 1/4 per row, and the maximum over thresholds only biases KS upward), the
Brier score's is that of a mean of squared errors, and the expected calibration error is
lowered by shrinking each bin's gap by its own noise (z standard errors of the bin's observed
rate, were the bin calibrated). A cohort with too few labelled rows or too few of either class
is listed, with the reason, and not judged.

Declined applicants get no loan and so no outcome: the labelled rows are the approved ones
unless the lender reports outcomes for every decision, which the report states.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata
from sklearn.metrics import brier_score_loss

from modelgate.metrics import calibration_table, expected_calibration_error, ks_statistic
from modelgate.monitor.estimate import Calibration, expected_auc, interval, simulate
from modelgate.monitor.outcomes import Joined
from modelgate.params import PerformanceParams
from modelgate.serve.prediction_log import APPROVE

Limits = Mapping[str, Mapping[str, float]]
Interval = dict[str, float | None]
NO_INTERVAL: Interval = {"value": None, "low": None, "high": None}


def delong(y: np.ndarray, scores: np.ndarray, z: float) -> Interval:
    """ROC-AUC with the normal interval of DeLong et al. (1988), z standard errors wide.

    The AUC is the mean, over defaults, of the share of repaid loans they outscore (ties
    half); its variance comes from those per-row shares, from midranks in one sort.
    """
    pos, neg = scores[y == 1], scores[y == 0]
    ranks = rankdata(np.r_[pos, neg])
    above_neg = (ranks[: len(pos)] - rankdata(pos)) / len(neg)  # per default
    below_pos = 1 - (ranks[len(pos) :] - rankdata(neg)) / len(pos)  # per repaid loan
    auc = float(above_neg.mean())
    se = np.sqrt(above_neg.var(ddof=1) / len(pos) + below_pos.var(ddof=1) / len(neg))
    return {"value": auc, "low": max(0.0, auc - z * se), "high": min(1.0, auc + z * se)}


def ece_lower_bound(y: np.ndarray, scores: np.ndarray, bins: int, z: float) -> float:
    """The ECE with each bin's gap shrunk by z standard errors of a calibrated bin's rate."""
    total = 0.0
    for row in calibration_table(y, scores, bins):
        p, n = row["mean_predicted"], row["count"]
        gap = abs(row["fraction_positive"] - p) - z * np.sqrt(p * (1 - p) / n)
        total += n * max(gap, 0.0)
    return total / len(y)


def metric_intervals(
    y: np.ndarray, scores: np.ndarray, bins: int, z: float
) -> tuple[dict[str, object], dict[str, tuple[float, float]]]:
    """The metrics (ROC-AUC with its interval) and each metric's (low, high) at z."""
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    auc = delong(y, scores, z)
    ks = ks_statistic(y, scores)
    ks_se = 0.5 * np.sqrt(1 / positives + 1 / negatives)
    brier = float(brier_score_loss(y, scores))
    brier_se = float(np.std((scores - y) ** 2, ddof=1) / np.sqrt(len(y)))
    ece = expected_calibration_error(y, scores, bins)
    values = {"roc_auc": auc, "ks": ks, "brier": brier, "ece": ece}
    intervals = {
        "roc_auc": (float(auc["low"]), float(auc["high"])),  # type: ignore[arg-type]
        "ks": (ks - z * ks_se, ks + z * ks_se),
        "brier": (brier - z * brier_se, brier + z * brier_se),
        "ece": (ece_lower_bound(y, scores, bins, z), ece),
    }
    return values, intervals


def _value(values: Mapping[str, object], metric: str) -> float:
    value = values[metric]
    return float(value["value"] if isinstance(value, dict) else value)  # type: ignore[arg-type]


def judge(
    values: Mapping[str, object],
    intervals: Mapping[str, tuple[float, float]],
    limits: Limits,
    test_metrics: Mapping[str, float],
) -> dict[str, object]:
    """`bounds`: the interval end most favourable to the model, per limited metric; `below`:
    metrics whose bound is past the gate's limit; `worse_than_test`: those whose bound is worse
    than the model's test value (a drop since release, within the limits or not)."""
    bounds, below, worse = {}, [], []
    for metric, rule in limits.items():
        if metric not in intervals:
            continue
        low, high = intervals[metric]
        higher_is_better = "min" in rule
        bounds[metric] = high if higher_is_better else low
        if ("min" in rule and high < rule["min"]) or ("max" in rule and low > rule["max"]):
            below.append(metric)
        test = test_metrics.get(metric)
        if test is not None and (high < test if higher_is_better else low > test):
            worse.append(metric)
    return {"bounds": bounds, "below": below, "worse_than_test": worse}


def _too_small(labelled: int, positives: int, params: PerformanceParams) -> str | None:
    if labelled < params.min_rows:
        return f"{labelled} labelled rows, fewer than {params.min_rows}"
    fewest = min(positives, labelled - positives)
    if fewest < params.min_class_rows:
        which = "defaults" if positives == fewest else "repaid loans"
        return f"{fewest} {which}, fewer than {params.min_class_rows}"
    return None


def estimated_auc(
    scores: np.ndarray, calibration: Calibration, params: PerformanceParams, seed: int
) -> Interval:
    """What `estimate` would have said of these rows: set beside the realized ROC-AUC, it
    shows in production whether the estimate can be trusted for the windows still unlabelled."""
    p = calibration.probabilities(scores)
    draws, _ = simulate(scores, calibration, params.draws, seed)
    return interval(expected_auc(scores, p), draws, params.confidence)


def cohort(
    name: str,
    frame: pd.DataFrame,
    params: PerformanceParams,
    limits: Limits,
    test_metrics: Mapping[str, float],
    bins: int,
    calibration: Calibration | None = None,
    seed: int = 0,
) -> dict[str, object]:
    """One cohort's entry: `frame` holds all its decisions, `label` NaN where unknown."""
    known = frame[frame["label"].notna()]
    y, scores = known["label"].to_numpy(np.int64), known["score"].to_numpy(np.float64)
    out: dict[str, object] = {
        "cohort": name,
        "rows": len(frame),
        "labelled": len(known),
        "positives": int(y.sum()),
        "approval_rate": float((frame["decision"] == APPROVE).mean()),
    }
    reason = _too_small(len(known), int(y.sum()), params)
    if reason is not None:
        empty = {"roc_auc": NO_INTERVAL, "ks": None, "brier": None, "ece": None}
        unjudged: dict[str, object] = {"bounds": {}, "below": [], "worse_than_test": []}
        return {**out, **empty, **unjudged, "judged": False, "degraded": False, "note": reason}
    z = float(norm.ppf((1 + params.confidence) / 2))
    values, intervals = metric_intervals(y, scores, bins, z)
    verdict = judge(values, intervals, limits, test_metrics)
    if calibration is not None:
        verdict["estimated_roc_auc"] = estimated_auc(scores, calibration, params, seed)
    degraded = bool(verdict["below"])
    return {**out, **values, **verdict, "judged": True, "degraded": degraded, "note": None}


def _name(period: pd.Period, unit: str) -> str:
    if unit == "month":
        return period.strftime("%Y-%m")
    year, week, _ = period.start_time.isocalendar()
    return f"{year}-W{week:02d}"


def cohort_names(times: pd.Series, unit: str) -> tuple[pd.Series, pd.Series]:
    """Each decision's cohort name ("2026-07", or ISO week "2026-W27") and the cohort's end
    (exclusive, naive UTC). Names are formatted once per cohort, not once per row."""
    naive = times.dt.tz_convert("UTC").dt.tz_localize(None)
    periods = naive.dt.to_period("M" if unit == "month" else "W-SUN")  # weeks start on Monday
    codes, unique = pd.factorize(periods)
    names = np.array([_name(p, unit) for p in unique], dtype=object)
    ends = pd.DatetimeIndex([(p + 1).start_time for p in unique])
    return (
        pd.Series(names[codes], index=times.index),
        pd.Series(ends[codes], index=times.index),
    )


def realized(
    joined: Joined,
    as_of: date,
    params: PerformanceParams,
    limits: Limits,
    test_metrics: Mapping[str, float],
    bins: int,
    calibration: Calibration | None = None,
    seed: int = 0,
) -> dict[str, object]:
    """The result's `realized` block. `bins` are the evaluation's calibration bins
    (`evaluate.calibration_bins`), so the ECE means what the gate's ECE limit means. With the
    reference's `calibration`, each judged cohort also gets `estimated_roc_auc`.

    Outcomes dated after `as_of` are treated as not yet known: a past `as_of` reproduces the
    report as it stood that day.
    """
    matured = Matured.of(joined, as_of, params)
    cohorts = [
        cohort(str(name), rows, params, limits, test_metrics, bins, calibration, seed)
        for name, rows in matured.cohorts()
    ]
    return matured.block(cohorts)


@dataclass(frozen=True)
class Matured:
    """A joined window split into cohorts, outcomes after `as_of` blanked: what the binary
    and the regression `realized` blocks share (`modelgate.monitor.realized_error`)."""

    joined: Joined
    as_of: date
    params: PerformanceParams
    frame: pd.DataFrame
    names: pd.Series
    mature: pd.Series
    late: pd.Series

    @classmethod
    def of(cls, joined: Joined, as_of: date, params: PerformanceParams) -> Matured:
        frame = joined.frame.copy()
        cutoff = pd.Timestamp(as_of)
        late = frame["outcome_date"].dt.tz_convert("UTC").dt.tz_localize(None) > cutoff
        frame.loc[late, "label"] = np.nan
        names, ends = cohort_names(frame["time"], params.cohort)
        mature = ends + pd.Timedelta(days=params.maturity_days) <= cutoff
        return cls(joined, as_of, params, frame, names, mature, late)

    def cohorts(self) -> Iterator[tuple[object, pd.DataFrame]]:
        """(name, rows) of each mature cohort, in name order."""
        yield from self.frame[self.mature].groupby(self.names[self.mature], sort=True)

    def block(self, cohorts: list[dict[str, object]]) -> dict[str, object]:
        return {
            "maturity_days": self.params.maturity_days,
            "as_of": self.as_of.isoformat(),
            "cohort": self.params.cohort,
            "cohorts": cohorts,
            "degraded": any(c["degraded"] for c in cohorts),
            "immature_rows": int((~self.mature).sum()),
            "unlabelled_rows": int(self.frame.loc[self.mature, "label"].isna().sum()),
            "outcomes_after_as_of": int(self.late.sum()),
            "unmatched_outcomes": self.joined.unmatched,
            "duplicate_predictions": self.joined.duplicates,
        }
