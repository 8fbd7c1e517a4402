"""Benchmark scoring latency: the ONNX twin (onnxruntime) against the native pipeline.

Target (from the issue): a single-row ONNX `session.run` takes <= 0.1x the time of the native
pipeline's `predict_proba` on the same row.

Both sides start from the same rows of the test partition, put in model form by
`modelgate.model.model_frame` once, before timing:

* native (the baseline): `pipeline.predict_proba(frame)` on a one-row pandas frame, the
  scikit-learn Pipeline (ColumnTransformer + OneHotEncoder + XGBClassifier) as trained;
* ONNX: `session.run(["probabilities"], feed)` with `feed` from `modelgate.onnx_export.feed`,
  built once per row before timing. An extra row times `feed(frame) + session.run`, what a caller
  holding a pandas frame pays.

Each call is timed on its own with `time.perf_counter_ns`, after warm-up calls, cycling through
different rows; native and ONNX calls alternate in blocks so a burst of load elsewhere on the
machine hits both. The garbage collector is off while timing (as in `timeit`). Reported: median
and p99 per call in microseconds, and ONNX / native ratios. The batch figure scores 1000 rows
per call (the test rows repeated when there are fewer).

Threads: onnxruntime runs with `intra_op_num_threads=1` and `inter_op_num_threads=1`, so it
cannot win by using more cores. The native pipeline is measured twice: as trained (XGBoost
`n_jobs` from params.yaml, printed) and with `n_jobs=1`, the like-for-like baseline. On a small
or busy machine the as-trained figure can be far slower than the single-thread one (OpenMP
threads waiting on each other for a one-row prediction), so the `n_jobs=1` row is the one to
quote; both carry a verdict.

    .venv/bin/python benchmarks/bench_inference.py [--pipeline models/pipeline.pkl]
        [--onnx models/model.onnx] [--repeats 2000] [--json]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import sklearn
import xgboost
from sklearn.pipeline import Pipeline

from modelgate import io
from modelgate.model import CLASSIFIER_STEP, load_pipeline, model_frame
from modelgate.onnx_export import PROBABILITIES, feed
from modelgate.schema import FeatureSchema

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SINGLE_ROW_TARGET = 0.1  # ONNX / native, single row
BLOCK = 100  # calls per side before switching to the other side


def timed_calls(calls: list[Callable[[], object]], repeats: int, warmup: int) -> np.ndarray:
    """Per-call wall time in ns of `calls[i % len(calls)]()`, after `warmup` untimed calls."""
    for i in range(warmup):
        calls[i % len(calls)]()
    out = np.empty(repeats, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(repeats):
        call = calls[i % len(calls)]
        start = clock()
        call()
        out[i] = clock() - start
    return out


def interleaved(
    sides: dict[str, list[Callable[[], object]]], repeats: int, warmup: int
) -> dict[str, np.ndarray]:
    """Time each side `repeats` times, alternating blocks of BLOCK calls between sides."""
    for calls in sides.values():
        timed_calls(calls, 0, warmup)
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in sides}
    done = 0
    gc.collect()
    gc.disable()
    try:
        while done < repeats:
            n = min(BLOCK, repeats - done)
            for name, calls in sides.items():
                rotated = calls[done % len(calls) :] + calls[: done % len(calls)]
                chunks[name].append(timed_calls(rotated, n, 0))
            done += n
    finally:
        gc.enable()
    return {name: np.concatenate(parts) for name, parts in chunks.items()}


def stats_us(ns: np.ndarray) -> dict[str, float]:
    return {
        "median_us": float(np.median(ns)) / 1e3,
        "p99_us": float(np.percentile(ns, 99)) / 1e3,
        "mean_us": float(np.mean(ns)) / 1e3,
        "min_us": float(np.min(ns)) / 1e3,
        "calls": len(ns),
    }


def fmt_us(value: float) -> str:
    return f"{value:,.1f} us" if value < 10_000 else f"{value / 1e3:,.2f} ms"


def print_table(rows: list[dict[str, str]]) -> None:
    headers = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(row[h].ljust(w) for h, w in zip(headers, widths, strict=True)))


def table_row(
    name: str,
    onnx: dict[str, float],
    baseline: str,
    native: dict[str, float],
    target: float | None,
) -> dict[str, str]:
    ratio = onnx["median_us"] / native["median_us"]
    return {
        "measured (ONNX)": name,
        "median": fmt_us(onnx["median_us"]),
        "p99": fmt_us(onnx["p99_us"]),
        "baseline (native)": baseline,
        "base median": fmt_us(native["median_us"]),
        "base p99": fmt_us(native["p99_us"]),
        "ratio median": f"{ratio:.3f}x",
        "ratio p99": f"{onnx['p99_us'] / native['p99_us']:.3f}x",
        "target": f"<= {target:g}x" if target else "-",
        "verdict": ("PASS" if ratio <= target else "MISS") if target else "-",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", type=Path, default=ROOT / "models" / "pipeline.pkl")
    parser.add_argument("--onnx", type=Path, default=ROOT / "models" / "model.onnx")
    parser.add_argument("--schema", type=Path, default=ROOT / "data" / "processed" / "schema.json")
    parser.add_argument(
        "--rows",
        type=Path,
        default=ROOT / "data" / "split" / "test.parquet",
        help="rows to score (default: the test partition)",
    )
    parser.add_argument("--repeats", type=int, default=2000, help="timed single-row calls per side")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls per side first")
    parser.add_argument("--batch", type=int, default=1000, help="rows per batch call")
    parser.add_argument("--batch-repeats", type=int, default=100)
    parser.add_argument(
        "--json",
        nargs="?",
        type=Path,
        const=RESULTS / "bench_inference.json",
        help=f"write results as JSON (default path {RESULTS}/bench_inference.json)",
    )
    args = parser.parse_args(argv)

    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    pipeline = load_pipeline(args.pipeline)
    native_threads = pipeline.named_steps[CLASSIFIER_STEP].get_params()["n_jobs"]
    pipeline_1 = copy.deepcopy(pipeline).set_params(**{f"{CLASSIFIER_STEP}__n_jobs": 1})
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(
        str(args.onnx), sess_options=options, providers=["CPUExecutionProvider"]
    )

    frame = model_frame(pd.read_parquet(args.rows), schema).reset_index(drop=True)
    singles = [frame.iloc[[i]] for i in range(len(frame))]
    feeds = [feed(row, schema) for row in singles]
    batch = frame.iloc[np.arange(args.batch) % len(frame)].reset_index(drop=True)
    batch_feed = feed(batch, schema)

    # Same model on both sides? Scores must agree before their speeds are compared.
    native_scores = pipeline.predict_proba(batch)[:, 1]
    onnx_scores = np.asarray(session.run([PROBABILITIES], batch_feed)[0])[:, 1]
    max_diff = float(np.max(np.abs(native_scores - onnx_scores)))

    def native_call(row: pd.DataFrame, model: Pipeline = pipeline) -> Callable[[], object]:
        return lambda: model.predict_proba(row)

    def onnx_call(inputs: dict[str, np.ndarray]) -> Callable[[], object]:
        return lambda: session.run([PROBABILITIES], inputs)

    def onnx_feed_call(row: pd.DataFrame) -> Callable[[], object]:
        return lambda: session.run([PROBABILITIES], feed(row, schema))

    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    single = interleaved(
        {
            "native": [native_call(r) for r in singles],
            "native_1_thread": [native_call(r, pipeline_1) for r in singles],
            "onnx": [onnx_call(f) for f in feeds],
            "onnx_with_feed": [onnx_feed_call(r) for r in singles],
        },
        args.repeats,
        args.warmup,
    )
    batched = interleaved(
        {
            "native": [native_call(batch)],
            "native_1_thread": [native_call(batch, pipeline_1)],
            "onnx": [onnx_call(batch_feed)],
        },
        args.batch_repeats,
        max(3, args.batch_repeats // 20),
    )
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())

    s, b = (
        {k: stats_us(v) for k, v in single.items()},
        {k: stats_us(v) for k, v in batched.items()},
    )
    trained = f"n_jobs={native_threads}, as trained"
    rows = [
        ("single row: session.run", s["onnx"], f"predict_proba ({trained})", s["native"], True),
        (
            "single row: session.run",
            s["onnx"],
            "predict_proba (n_jobs=1)",
            s["native_1_thread"],
            True,
        ),
        (
            "single row: feed()+session.run",
            s["onnx_with_feed"],
            "predict_proba (n_jobs=1)",
            s["native_1_thread"],
            False,
        ),
        (
            f"batch {args.batch}: session.run",
            b["onnx"],
            f"predict_proba ({trained})",
            b["native"],
            False,
        ),
        (
            f"batch {args.batch}: session.run",
            b["onnx"],
            "predict_proba (n_jobs=1)",
            b["native_1_thread"],
            False,
        ),
    ]
    if native_threads == 1:  # the as-trained rows would repeat the n_jobs=1 ones
        rows = [r for r in rows if trained not in r[2]]

    results = {
        "single_row": s,
        f"batch_{args.batch}": b,
        "comparisons": [
            {
                "onnx": name,
                "native": base_name,
                "ratio_median": onnx["median_us"] / native["median_us"],
                "ratio_p99": onnx["p99_us"] / native["p99_us"],
                "target": SINGLE_ROW_TARGET if targeted else None,
            }
            for name, onnx, base_name, native, targeted in rows
        ],
        "max_abs_diff": max_diff,
        "environment": {
            "cpus": os.cpu_count(),
            "load_start": load_start,
            "load_end": load_end,
            "python": sys.version.split()[0],
            "onnxruntime": ort.__version__,
            "xgboost": xgboost.__version__,
            "scikit_learn": sklearn.__version__,
            "onnx_threads": 1,
            "native_xgboost_n_jobs": native_threads,
            "rows": len(frame),
            "pipeline": str(args.pipeline),
            "onnx": str(args.onnx),
        },
    }

    print(
        f"inference benchmark; {os.cpu_count()} CPUs; load average start {load_start}, end "
        f"{load_end}; onnxruntime {ort.__version__} with 1 intra-op and 1 inter-op thread; "
        f"{len(frame)} distinct rows; max |ONNX - native| = {max_diff:.2e}"
    )
    print(
        f"{args.repeats} timed single-row calls and {args.batch_repeats} batch calls per side, "
        "after warm-up; ratio = ONNX / native"
    )
    print()
    print_table(
        [
            table_row(name, onnx, base_name, native, SINGLE_ROW_TARGET if targeted else None)
            for name, onnx, base_name, native, targeted in rows
        ]
    )
    print()
    print(
        "batch, median per row: "
        + ", ".join(f"{k} {v['median_us'] / args.batch:.2f} us" for k, v in b.items())
        + f" (native = n_jobs={native_threads})"
    )

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
