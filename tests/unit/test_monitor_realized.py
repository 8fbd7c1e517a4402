"""Performance after labels: DeLong's interval, the noise-aware bounds, cohorts and maturity,
and the `realized` block on synthetic decisions with known outcomes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from modelgate import io
from modelgate.metrics import CostMatrix, expected_calibration_error, ks_statistic, summarize
from modelgate.monitor.estimate import fit_calibration
from modelgate.monitor.outcomes import Joined
from modelgate.monitor.realized import (
    cohort_names,
    delong,
    ece_lower_bound,
    judge,
    metric_intervals,
    realized,
)
from modelgate.params import PerformanceParams

PARAMS = PerformanceParams(
    maturity_days=90, min_rows=200, min_class_rows=30, confidence=0.95, draws=1000
)
LIMITS = {"roc_auc": {"min": 0.75}, "ks": {"min": 0.35}, "brier": {"max": 0.2}, "ece": {"max": 0.1}}
TEST = {"roc_auc": 0.83, "ks": 0.51, "brier": 0.146, "ece": 0.05}
Z = float(norm.ppf(0.975))


def _calibrated(rows: int, seed: int, spread: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are the true default probabilities, and outcomes drawn from them."""
    rng = np.random.default_rng(seed)
    s = expit(rng.normal(-1.2, spread, rows))
    return s, (rng.random(rows) < s).astype(np.int64)


def _joined(
    months: dict[str, int], seed: int = 0, spread: float = 1.6, label_share: float = 1.0
) -> Joined:
    """Decisions spread over the days of each month (`"2026-07": rows`), outcomes dated 60 days
    after the decision, a share of them known; 90% of decisions approved."""
    rng = np.random.default_rng(seed)
    parts = []
    for month, rows in months.items():
        start = pd.Timestamp(f"{month}-01", tz="UTC")
        days = pd.Timestamp(start + pd.offsets.MonthEnd(0)).day
        times = start + pd.to_timedelta(rng.uniform(0, days, rows), unit="D")
        s, y = _calibrated(rows, seed=int(rng.integers(1 << 30)), spread=spread)
        known = rng.random(rows) < label_share
        parts.append(
            pd.DataFrame(
                {
                    "request_id": [f"{month}-{i}" for i in range(rows)],
                    "row": 0,
                    "time": times,
                    "score": s,
                    "decision": np.where(rng.random(rows) < 0.9, "approve", "decline"),
                    "label": np.where(known, y, np.nan),
                    "outcome_date": (times + pd.Timedelta(days=60)).where(known),
                }
            )
        )
    return Joined(pd.concat(parts, ignore_index=True), unmatched=2, duplicates=1)


# --- intervals and bounds ---------------------------------------------------------------------


def test_delong_gives_the_roc_auc_sklearn_gives_ties_included() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.random(500) + 0.3 * y, 1)  # heavy ties

    result = delong(y, s, Z)

    assert result["value"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert result["low"] < result["value"] < result["high"]  # type: ignore[operator]


def test_delong_intervals_cover_the_population_auc() -> None:
    """Binormal scores with unit variances and means 0 and d have AUC Phi(d / sqrt 2)."""
    d = 1.2
    truth = norm.cdf(d / np.sqrt(2))
    rng = np.random.default_rng(2)
    covered = 0
    for _ in range(200):
        y = (rng.random(300) < 0.3).astype(int)
        s = rng.normal(d * y, 1.0)
        result = delong(y, s, Z)
        covered += result["low"] <= truth <= result["high"]  # type: ignore[operator]

    assert covered >= 180  # fails a 95% interval with probability 0.001


def test_the_ks_standard_error_bound_holds() -> None:
    rng = np.random.default_rng(3)
    n1, n0 = 60, 240
    draws = []
    for _ in range(500):
        y = np.r_[np.ones(n1), np.zeros(n0)]
        s = rng.normal(0.8 * y, 1.0)
        draws.append(ks_statistic(y, s))

    assert np.std(draws) <= 0.5 * np.sqrt(1 / n1 + 1 / n0)


def test_the_ece_bound_forgives_noise_but_not_a_real_miscalibration() -> None:
    s, y = _calibrated(400, seed=4)
    skewed, y_big = _calibrated(20_000, seed=5)

    noise = ece_lower_bound(y, s, 10, Z)
    shifted = np.clip(skewed + 0.15, 0, 1)  # every applicant looks 15 points riskier
    real = ece_lower_bound(y_big, shifted, 10, Z)

    assert noise < 0.02 < expected_calibration_error(y, s, 10)
    assert 0.1 < real <= expected_calibration_error(y_big, shifted, 10)


def test_metrics_are_those_of_modelgate_metrics() -> None:
    s, y = _calibrated(1000, seed=6)
    values, intervals = metric_intervals(y, s, 10, Z)
    reference = summarize(y, s, 0.5, CostMatrix(1, 1), 10)

    for name in ("ks", "brier", "ece"):
        assert values[name] == pytest.approx(reference[name], abs=1e-12)
        low, high = intervals[name]
        assert low <= values[name] <= high  # type: ignore[operator]
    assert values["roc_auc"]["value"] == pytest.approx(reference["roc_auc"])  # type: ignore[index]


def test_a_limit_is_broken_only_when_the_favourable_bound_is_past_it() -> None:
    values = {"roc_auc": {"value": 0.74}, "ks": 0.33, "brier": 0.21, "ece": 0.12}
    noisy = {"roc_auc": (0.70, 0.78), "ks": (0.28, 0.38), "brier": (0.19, 0.23),
             "ece": (0.08, 0.12)}  # fmt: skip
    clear = {"roc_auc": (0.70, 0.745), "ks": (0.30, 0.34), "brier": (0.205, 0.22),
             "ece": (0.11, 0.12)}  # fmt: skip

    assert judge(values, noisy, LIMITS, TEST)["below"] == []
    verdict = judge(values, clear, LIMITS, TEST)
    assert verdict["below"] == ["roc_auc", "ks", "brier", "ece"]
    assert verdict["bounds"] == {"roc_auc": 0.745, "ks": 0.34, "brier": 0.205, "ece": 0.11}
    assert verdict["worse_than_test"] == ["roc_auc", "ks", "brier", "ece"]
    # Within the limits yet worse than at release:
    assert judge(values, noisy, LIMITS, {"roc_auc": 0.9})["worse_than_test"] == ["roc_auc"]


# --- cohorts ----------------------------------------------------------------------------------


def test_cohorts_are_calendar_months_or_iso_weeks_in_utc() -> None:
    times = pd.Series(
        pd.to_datetime(["2026-07-31T23:30:00-02:00", "2025-12-29T00:00:00Z"], utc=True)
    )

    months, month_ends = cohort_names(times, "month")
    weeks, week_ends = cohort_names(times, "week")

    assert months.tolist() == ["2026-08", "2025-12"]  # 23:30 at UTC-2 is August in UTC
    assert month_ends.tolist() == [pd.Timestamp("2026-09-01"), pd.Timestamp("2026-01-01")]
    assert weeks.tolist() == ["2026-W31", "2026-W01"]  # Monday 2025-12-29 opens ISO 2026-W01
    assert week_ends.tolist() == [pd.Timestamp("2026-08-03"), pd.Timestamp("2026-01-05")]


def test_only_cohorts_whose_every_decision_is_mature_are_listed() -> None:
    joined = _joined({"2026-07": 400, "2026-08": 400, "2026-09": 400})

    # August ends on 2026-09-01; 90 days later is 2026-11-30.
    before = realized(joined, date(2026, 11, 29), PARAMS, LIMITS, TEST, 10)
    on = realized(joined, date(2026, 11, 30), PARAMS, LIMITS, TEST, 10)

    assert [c["cohort"] for c in before["cohorts"]] == ["2026-07"]  # type: ignore[attr-defined]
    assert before["immature_rows"] == 800
    assert [c["cohort"] for c in on["cohorts"]] == ["2026-07", "2026-08"]  # type: ignore[attr-defined]
    assert on["immature_rows"] == 400


def test_a_healthy_model_is_judged_and_not_degraded() -> None:
    block = realized(_joined({"2026-07": 1500}), date(2026, 12, 1), PARAMS, LIMITS, TEST, 10)
    (entry,) = block["cohorts"]  # type: ignore[misc]

    assert entry["judged"] is True and entry["note"] is None
    assert entry["rows"] == entry["labelled"] == 1500
    assert entry["approval_rate"] == pytest.approx(0.9, abs=0.03)
    assert entry["roc_auc"]["low"] < entry["roc_auc"]["value"] < entry["roc_auc"]["high"]
    assert entry["below"] == [] and entry["degraded"] is False
    assert set(entry["bounds"]) == set(LIMITS)
    assert block["degraded"] is False
    assert (block["unmatched_outcomes"], block["duplicate_predictions"]) == (2, 1)
    assert io.dumps(block)  # plain JSON, every float finite


def test_a_weak_model_is_degraded_with_the_limits_it_breaks() -> None:
    weak = _joined({"2026-07": 3000}, spread=0.35)  # AUC ~0.6, KS ~0.15
    block = realized(weak, date(2026, 12, 1), PARAMS, LIMITS, TEST, 10)
    (entry,) = block["cohorts"]  # type: ignore[misc]

    assert entry["judged"] is True
    assert entry["below"] == ["roc_auc", "ks"]  # still calibrated: Brier and ECE hold
    assert entry["degraded"] is True and block["degraded"] is True
    assert entry["roc_auc"]["high"] < 0.75
    assert "roc_auc" in entry["worse_than_test"]


def test_a_small_weak_cohort_is_listed_not_judged() -> None:
    joined = _joined({"2026-07": 150, "2026-08": 400}, spread=0.35)
    block = realized(joined, date(2026, 12, 31), PARAMS, LIMITS, TEST, 10)
    small, other = block["cohorts"]  # type: ignore[misc]

    assert small["judged"] is False and small["degraded"] is False
    assert small["note"] == "150 labelled rows, fewer than 200"
    assert small["roc_auc"] == {"value": None, "low": None, "high": None}
    assert small["ks"] is None and small["below"] == []
    assert small["approval_rate"] is not None  # decisions are known without outcomes
    assert other["judged"] is True


def test_a_cohort_with_too_few_defaults_is_not_judged() -> None:
    joined = _joined({"2026-07": 300}, spread=0.2)  # scores near 0.23: ~70 defaults
    params = PARAMS.model_copy(update={"min_class_rows": 100})
    (entry,) = realized(joined, date(2026, 12, 1), params, LIMITS, TEST, 10)["cohorts"]  # type: ignore[misc]

    assert entry["judged"] is False
    assert entry["note"].endswith("defaults, fewer than 100")


def test_unknown_and_future_outcomes_are_left_out() -> None:
    joined = _joined({"2026-07": 1000}, label_share=0.5)
    # Outcomes are dated 60 days after decisions: as of 2026-09-15 those of July 17th on are
    # still in the future, though July is mature for a maturity of 45 days.
    params = PARAMS.model_copy(update={"maturity_days": 45, "min_rows": 100})
    block = realized(joined, date(2026, 9, 15), params, LIMITS, TEST, 10)
    (entry,) = block["cohorts"]  # type: ignore[misc]
    known = joined.frame["label"].notna()
    future = known & (joined.frame["outcome_date"] > pd.Timestamp("2026-09-15", tz="UTC"))

    assert block["outcomes_after_as_of"] == int(future.sum()) > 0
    assert entry["labelled"] == int((known & ~future).sum())
    assert block["unlabelled_rows"] == 1000 - entry["labelled"]


def test_weekly_cohorts() -> None:
    params = PARAMS.model_copy(update={"cohort": "week", "min_rows": 20, "min_class_rows": 5})
    block = realized(_joined({"2026-07": 700}), date(2026, 12, 1), params, LIMITS, TEST, 10)

    names = [c["cohort"] for c in block["cohorts"]]  # type: ignore[attr-defined]
    assert names == ["2026-W27", "2026-W28", "2026-W29", "2026-W30", "2026-W31"]
    assert block["cohort"] == "week"


def test_with_the_reference_calibration_each_judged_cohort_gets_the_estimate_beside_it() -> None:
    reference = _calibrated(5000, seed=7)
    calibration = fit_calibration(*reference)
    joined = _joined({"2026-07": 1500, "2026-08": 100})

    block = realized(joined, date(2026, 12, 1), PARAMS, LIMITS, TEST, 10, calibration, seed=0)
    judged, small = block["cohorts"]  # type: ignore[misc]

    estimated, auc = judged["estimated_roc_auc"], judged["roc_auc"]
    assert estimated["low"] <= auc["value"] <= estimated["high"]
    assert "estimated_roc_auc" not in small
    without = realized(joined, date(2026, 12, 1), PARAMS, LIMITS, TEST, 10)
    assert "estimated_roc_auc" not in without["cohorts"][0]  # type: ignore[index]
