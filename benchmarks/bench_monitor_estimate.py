"""Benchmark the label-free performance estimate (`modelgate.monitor.estimate`) on real data.

Accuracy: the validation and test rows (scored by `models/model.onnx`) are pooled and halved
at random `--halvings` times. One half plays the reference (the calibration is fitted on it),
the other a production window whose labels are hidden: the estimate is compared with the
window's realized ROC-AUC and default rate. Printed per calibration: the mean error of the
estimate (its bias), the spread of the error, and how often the interval held the realized
value (logistic only; it is the one the monitor uses). Isotonic regression (NannyML's choice)
and the raw scores are the baselines.

Speed: `estimate()` on windows of 2,000 and 100,000 rows resampled from the test scores, the
median of `--repeats` calls (the issue's budget for the whole monitor is 2 s and 5 s).

    .venv/bin/python benchmarks/bench_monitor_estimate.py [--halvings 300] [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnxruntime as ort
import pandas as pd
from _common import ROOT, load_average, write_results
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from modelgate import io
from modelgate.model import labels, model_frame
from modelgate.monitor.estimate import estimate, expected_auc, fit_calibration
from modelgate.onnx_export import onnx_scores
from modelgate.params import MonitorParams, load_section
from modelgate.schema import FeatureSchema


def _scored(parts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    schema = FeatureSchema.from_dict(io.read_json(ROOT / "data/processed/schema.json"))
    session = ort.InferenceSession(str(ROOT / "models/model.onnx"))
    frames = [pd.read_parquet(ROOT / f"data/split/{p}.parquet") for p in parts]
    frame = pd.concat(frames, ignore_index=True)
    return onnx_scores(session, model_frame(frame, schema), schema), labels(frame, schema)


def _isotonic(ref_s: np.ndarray, ref_y: np.ndarray, s: np.ndarray) -> np.ndarray:
    fit = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(ref_s, ref_y)
    return np.asarray(fit.predict(s))


def accuracy(halvings: int, params: MonitorParams) -> dict[str, dict[str, float]]:
    scores, y = _scored(["validation", "test"])
    rng = np.random.default_rng(params.seed)
    errors: dict[str, list[float]] = {"logistic": [], "isotonic": [], "raw": []}
    rate_errors: list[float] = []
    covered = {"roc_auc": 0, "default_rate": 0}
    limits: dict[str, dict[str, float]] = {}
    for run in range(halvings):
        order = rng.permutation(len(y))
        ref, win = order[: len(y) // 2], order[len(y) // 2 :]
        realized_auc, realized_rate = roc_auc_score(y[win], scores[win]), y[win].mean()
        cal = fit_calibration(scores[ref], y[ref])
        result = estimate(scores[win], cal, limits, params.performance, seed=run)
        auc, rate = result["roc_auc"], result["default_rate"]
        errors["logistic"].append(auc["value"] - realized_auc)  # type: ignore[index]
        rate_errors.append(rate["value"] - realized_rate)  # type: ignore[index]
        covered["roc_auc"] += auc["low"] <= realized_auc <= auc["high"]  # type: ignore[index]
        covered["default_rate"] += rate["low"] <= realized_rate <= rate["high"]  # type: ignore[index]
        iso = _isotonic(scores[ref], y[ref], scores[win])
        errors["isotonic"].append(expected_auc(scores[win], iso) - realized_auc)
        errors["raw"].append(expected_auc(scores[win], scores[win]) - realized_auc)
    out = {name: {"bias": float(np.mean(e)), "sd": float(np.std(e))} for name, e in errors.items()}
    out["logistic"]["coverage"] = covered["roc_auc"] / halvings
    out["default_rate"] = {
        "bias": float(np.mean(rate_errors)),
        "sd": float(np.std(rate_errors)),
        "coverage": covered["default_rate"] / halvings,
    }
    return out


def speed(repeats: int, params: MonitorParams) -> dict[str, float]:
    ref_s, ref_y = _scored(["validation"])
    test_s, _ = _scored(["test"])
    cal = fit_calibration(ref_s, ref_y)
    limits = {"roc_auc": {"min": 0.75}}
    out = {}
    for rows in (2_000, 100_000):
        window = np.random.default_rng(rows).choice(test_s, rows)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            estimate(window, cal, limits, params.performance, seed=params.seed)
            times.append(time.perf_counter() - start)
        out[f"{rows}_rows_s"] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--halvings", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="write benchmarks/results/")
    args = parser.parse_args()
    params = load_section(ROOT / "params.yaml", "monitor", MonitorParams)
    print(f"load average at start: {load_average()}")
    confidence = params.performance.confidence
    figures = {"accuracy": accuracy(args.halvings, params), "speed": speed(args.repeats, params)}
    print(f"\n{args.halvings} halvings of validation + test; error = estimate - realized\n")
    print("| estimate | calibration | mean error | SD of error | interval held it |")
    print("| --- | --- | --- | --- | --- |")
    for name, row in figures["accuracy"].items():
        what = "default rate" if name == "default_rate" else "ROC-AUC"
        how = "logistic" if name == "default_rate" else name
        held = f"{row['coverage']:.1%} (target {confidence:.0%})" if "coverage" in row else "-"
        print(f"| {what} | {how} | {row['bias']:+.4f} | {row['sd']:.4f} | {held} |")
    print()
    for key, seconds in figures["speed"].items():
        print(f"estimate(), {key.removesuffix('_s').replace('_', ' ')}: {seconds:.3f} s")
    print(f"\nload average at end: {load_average()}")
    if args.json:
        print(f"written: {write_results('bench_monitor_estimate', figures)}")


if __name__ == "__main__":
    main()
