"""The monitor's result as Prometheus metrics (`modelgate_monitor_*`): text, a Pushgateway push,
or a file for node_exporter's textfile collector.

A run is a batch job, so its metrics are its last verdict: they stay as they are until the next
run replaces them all (a push is a PUT of the whole group; a textfile is renamed over the old
one), and a feature or cohort the new run no longer has disappears with it. Nulls in the result
(a test that could not run, a cohort not yet judged) leave their sample out rather than
exporting a number nobody measured. The alert rules and the Grafana dashboard in `monitoring/`
read these names.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Info, generate_latest, push_to_gateway
from prometheus_client import write_to_textfile as _write_textfile

from modelgate.monitor.status import STATUSES

PREFIX = "modelgate_monitor"
# The run's verdicts, as `run` names them; each gets a 0/1 sample so an alert can tell "ok"
# from "no result at all".
ESTIMATED = {"roc_auc": "ROC-AUC", "default_rate": "default rate"}
REALIZED = {
    "roc_auc": "ROC-AUC",
    "ks": "KS statistic",
    "brier": "Brier score",
    "ece": "expected calibration error",
    "approval_rate": "approval rate",
}
# A regressor's cohorts (modelgate.monitor.realized_error); a binary result has none of them,
# so their families never appear beside a binary model's.
REALIZED_ERROR = {
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "bias": "mean error (prediction minus actual)",
    "wape": "weighted absolute percentage error",
    "mae_increase": "MAE change relative to the test set's",
}
_TEST = ("feature", "test")

# name (without PREFIX) -> (help, label names)
METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "last_run_timestamp_seconds": ("When the monitor last ran (Unix time)", ()),
    "status": ("1 for the run's status (ok, drift, degraded, ...), 0 for the others", ("status",)),
    "drift": ("1 when the run found drift in an input feature or in the score", ()),
    "degraded": ("1 when the run found performance outside the gate's limits", ()),
    "window_rows": ("Logged predictions in the window", ()),
    "window_start_timestamp_seconds": ("Start of the window (Unix time)", ()),
    "window_end_timestamp_seconds": ("End of the window (Unix time)", ()),
    "drift_alpha": ("Family-wise false-alarm rate of the drift tests", ("correction",)),
    "drift_tests": ("Tests in the corrected family", ()),
    "drifted_features": ("Input features that drifted", ()),
    "feature_drift": ("1 when a test is significant and material", ("feature", "kind")),
    "feature_p_value": ("P-value of a drift test, before correction", _TEST),
    "feature_p_adjusted": ("P-value corrected across the family: drift below alpha", _TEST),
    "feature_statistic": ("Statistic of a drift test (KS distance, chi-square, ...)", _TEST),
    "feature_effect": ("Size of the shift, in the measure the label names", (*_TEST, "measure")),
    "feature_effect_floor": ("Smallest effect that counts as material", _TEST),
    "feature_significant": ("1 when the corrected p-value is below alpha", _TEST),
    "feature_material": ("1 when the effect reaches its floor", _TEST),
    "feature_missing_rate": ("Share of missing values, by sample", ("feature", "sample")),
    "feature_new_categories": ("Categories in the window that training never saw", ("feature",)),
    "score_drift": ("1 when the model's score distribution drifted", ()),
    "score_p_value": ("P-value of a score drift test, before correction", ("test",)),
    "score_p_adjusted": ("P-value of a score drift test, corrected across the family", ("test",)),
    "score_effect": ("Size of the score's shift, in the labelled measure", ("test", "measure")),
    "score_effect_floor": ("Smallest score effect that counts as material", ("test",)),
    "estimated_rows": ("Window rows the label-free performance estimate is made on", ()),
    "estimated_degraded": ("1 when the estimated performance is outside the gate's limits", ()),
    "estimated_confidence": ("Confidence level of the estimate's intervals", ()),
    "realized_maturity_seconds": ("How old a decision must be for its outcome to count", ()),
    "realized_immature_rows": ("Window rows whose outcome is not yet mature", ()),
    "realized_unlabelled_rows": ("Mature decisions with no outcome yet", ()),
    "realized_unmatched_outcomes": ("Outcomes that match no logged prediction", ()),
    "realized_duplicate_predictions": ("Predictions logged more than once (retries)", ()),
    "realized_max_error_increase": ("Relative MAE increase over the test set's that is material",
                                    ()),
    "realized_rows": ("Decisions in the cohort", ("cohort",)),
    "realized_labelled": ("Decisions of the cohort whose outcome is known", ("cohort",)),
    "realized_positives": ("Outcomes of the cohort in the positive class", ("cohort",)),
    "realized_judged": ("1 when the cohort is large enough to be judged", ("cohort",)),
    "realized_degraded": ("1 when a metric of the cohort is outside the limits", ("cohort",)),
    "realized_below": ("1 for each metric of the cohort outside the limits", ("cohort", "metric")),
    "realized_worse_than_test": ("1 for each metric worse than at release", ("cohort", "metric")),
    "limit_min": ("The gate's lower limit on a test-set metric", ("metric",)),
    "limit_max": ("The gate's upper limit on a test-set metric", ("metric",)),
    "test_metric": ("The model's metric on the held-out test set, at release", ("metric",)),
}  # fmt: skip


def _intervals(
    kind: str, names: dict[str, str], of: str, labels: tuple[str, ...]
) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Value, low and high gauges of each interval metric."""
    return {
        f"{kind}_{key}{end}": (f"{kind.capitalize()} {name} {of}{what}", labels)
        for key, name in names.items()
        for end, what in (("", ""), ("_low", ": lower end of its interval"),
                          ("_high", ": upper end of its interval"))
    }  # fmt: skip


METRICS |= _intervals("estimated", ESTIMATED, "of the window, from its scores", ())
METRICS |= _intervals("realized", REALIZED, "of the cohort", ("cohort",))
METRICS |= _intervals("realized", REALIZED_ERROR, "of the cohort", ("cohort",))


class _Exporter:
    """Gauges made on first use, so a section the result lacks exports no family at all."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._gauges: dict[str, Gauge] = {}

    def set(self, name: str, value: float | bool | None, **labels: str) -> None:
        if value is None:
            return
        gauge = self._gauges.get(name)
        if gauge is None:
            description, label_names = METRICS[name]
            gauge = Gauge(f"{PREFIX}_{name}", description, label_names, registry=self.registry)
            self._gauges[name] = gauge
        (gauge.labels(**labels) if labels else gauge).set(float(value))

    def interval(self, name: str, value: Any, **labels: str) -> None:
        """A `{"value", "low", "high"}` interval as three gauges, or a plain number as one."""
        if isinstance(value, dict):
            self.set(name, value.get("value"), **labels)
            self.set(f"{name}_low", value.get("low"), **labels)
            self.set(f"{name}_high", value.get("high"), **labels)
        else:
            self.set(name, value, **labels)


def registry(result: dict[str, Any], timestamp: float | None = None) -> CollectorRegistry:
    """A fresh registry holding `result` (the monitor's JSON); `timestamp` defaults to now."""
    out = _Exporter()
    out.set("last_run_timestamp_seconds", time.time() if timestamp is None else timestamp)
    model = Info(f"{PREFIX}_model", "The model the monitor judged", registry=out.registry)
    model.info({"name": str(result["model"]["name"]), "version": str(result["model"]["version"])})
    verdicts = str(result["status"]).split("+")
    for status in dict.fromkeys((*STATUSES, result["status"])):
        out.set("status", status == result["status"], status=status)
    out.set("drift", "drift" in verdicts)
    out.set("degraded", "degraded" in verdicts)
    _window(out, result["window"])
    if result.get("drift"):
        _drift(out, result["drift"])
    if result.get("estimated"):
        _estimated(out, result["estimated"])
    if result.get("realized"):
        _realized(out, result["realized"])
    for metric, bounds in (result.get("limits") or {}).items():
        out.set("limit_min", bounds.get("min"), metric=metric)
        out.set("limit_max", bounds.get("max"), metric=metric)
    for metric, value in (result.get("test_metrics") or {}).items():
        if isinstance(value, int | float):
            out.set("test_metric", value, metric=metric)
    return out.registry


def render(result: dict[str, Any], timestamp: float | None = None) -> str:
    """The Prometheus text exposition format of `result`."""
    return generate_latest(registry(result, timestamp)).decode()


def push(
    result: dict[str, Any], gateway_url: str, job: str, timestamp: float | None = None
) -> None:
    """Replace the `job` group on a Pushgateway with `result`; raises OSError when unreachable."""
    push_to_gateway(gateway_url, job=job, registry=registry(result, timestamp))


def write(result: dict[str, Any], path: Path, timestamp: float | None = None) -> None:
    """Write `result` for node_exporter's textfile collector, atomically (a rename in `path`'s
    directory), so the collector never reads half a file."""
    if path.suffix != ".prom":
        # The collector reads only *.prom: any other name would be silently ignored.
        raise ValueError(f"{path}: the textfile collector reads only files ending in .prom")
    _write_textfile(str(path), registry(result, timestamp))


def _window(out: _Exporter, window: dict[str, Any]) -> None:
    out.set("window_rows", window.get("rows"))
    out.set("window_start_timestamp_seconds", _unix(window.get("start")))
    out.set("window_end_timestamp_seconds", _unix(window.get("end")))


def _drift(out: _Exporter, drift: dict[str, Any]) -> None:
    out.set("drift_alpha", drift.get("alpha"), correction=str(drift.get("correction")))
    out.set("drift_tests", drift.get("tests"))
    out.set("drifted_features", len(drift.get("drifted") or []))
    for feature in drift.get("features") or []:
        name = str(feature["feature"])
        out.set("feature_drift", feature.get("drift"), feature=name, kind=str(feature["kind"]))
        for test in feature.get("tests") or []:
            labels = {"feature": name, "test": str(test["test"])}
            _test(out, "feature", test, labels)
            out.set("feature_statistic", test.get("statistic"), **labels)
            out.set("feature_significant", test.get("significant"), **labels)
            out.set("feature_material", test.get("material"), **labels)
        for sample in ("reference", "window"):
            rate = (feature.get(sample) or {}).get("missing_rate")
            out.set("feature_missing_rate", rate, feature=name, sample=sample)
        new = (feature.get("window") or {}).get("new_categories")
        if new is not None:
            out.set("feature_new_categories", len(new), feature=name)
    score = drift.get("score")
    if score:
        out.set("score_drift", score.get("drift"))
        for test in score.get("tests") or []:
            _test(out, "score", test, {"test": str(test["test"])})


def _test(out: _Exporter, prefix: str, test: dict[str, Any], labels: dict[str, str]) -> None:
    out.set(f"{prefix}_p_value", test.get("p_value"), **labels)
    out.set(f"{prefix}_p_adjusted", test.get("p_adjusted"), **labels)
    measure = str(test.get("effect_measure"))
    out.set(f"{prefix}_effect", test.get("effect"), **labels, measure=measure)
    out.set(f"{prefix}_effect_floor", test.get("floor"), **labels)


def _estimated(out: _Exporter, estimated: dict[str, Any]) -> None:
    out.set("estimated_rows", estimated.get("rows"))
    out.set("estimated_degraded", estimated.get("degraded"))
    out.set("estimated_confidence", estimated.get("confidence"))
    for key in ESTIMATED:
        out.interval(f"estimated_{key}", estimated.get(key))


def _realized(out: _Exporter, realized: dict[str, Any]) -> None:
    days = realized.get("maturity_days")
    out.set("realized_maturity_seconds", None if days is None else days * 86400)
    for key in ("immature_rows", "unlabelled_rows", "unmatched_outcomes", "duplicate_predictions",
                "max_error_increase"):  # fmt: skip
        out.set(f"realized_{key}", realized.get(key))
    for cohort in realized.get("cohorts") or []:
        name = str(cohort["cohort"])
        for key in ("rows", "labelled", "positives", "judged", "degraded"):
            out.set(f"realized_{key}", cohort.get(key), cohort=name)
        for key in (*REALIZED, *REALIZED_ERROR):
            out.interval(f"realized_{key}", cohort.get(key), cohort=name)
        for verdict in ("below", "worse_than_test"):
            for metric in cohort.get(verdict) or []:
                out.set(f"realized_{verdict}", True, cohort=name, metric=str(metric))


def _unix(text: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time; one without a zone is taken as UTC."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
