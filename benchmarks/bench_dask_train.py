"""Benchmark training on a Dask LocalCluster against bare `xgboost.train` in one process.

Targets (issue 13), on 2 cores, 1,000,000 rows x 30 features, 300 trees:
- the `dask` engine's training (modelgate.dask_train.fit on a LocalCluster of 2 worker
  processes, 1 thread each) takes <= 1.15x the time of bare `xgboost.train` (nthread 2) on the
  same data in one process;
- the peak RSS of any one process of the Dask run (the client and each worker) stays <= 2x
  the training data's in-memory size (the pandas frame of all rows, float64 as Parquet holds
  it: 1M x 31 x 8 bytes = 248 MB).

The data is a seeded synthetic table (numeric features, a logistic label) written as 20 Parquet
parts; both sides read those same files. Each side runs in its own fresh interpreter, so its
peak RSS is its own, `--repeats` times (default 3, alternating; the median run is reported):
the baseline reads every part into one frame, builds a QuantileDMatrix and trains; the Dask run
starts the cluster (untimed), then times `fit`: the workers read their parts, encode them and
train, the client holds no rows. The baseline's time is the same span: read, matrix, train.
Both use the hyperparameters of params.yaml (`train`), so the tree shape is the pipeline's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import ROOT, load_average, target_line, write_results

TIME_TARGET = 1.15
MEMORY_TARGET = 2.0


def _generate(out: Path, rows: int, features: int, parts: int, seed: int) -> int:
    """Parquet parts of a synthetic binary task; returns the full frame's in-memory bytes."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=features) / np.sqrt(features)
    size = 0
    for index, chunk in enumerate(np.array_split(np.arange(rows), parts)):
        x = rng.normal(size=(len(chunk), features))
        logit = x @ weights + 0.5 * x[:, 0] * x[:, 1] - 1.5
        label = np.where(rng.random(len(chunk)) < 1 / (1 + np.exp(-logit)), "bad", "good")
        frame = pd.DataFrame(x, columns=[f"x{i:02d}" for i in range(features)])
        frame.insert(0, "label", label)
        frame.to_parquet(out / f"part-{index:05d}.parquet", index=False)
        numeric = frame.drop(columns="label")
        size += int(numeric.memory_usage(index=False).sum()) + len(frame) * 8
    return size


def _schema(features: int) -> dict:
    columns = {f"x{i:02d}": {"kind": "numeric"} for i in range(features)}
    return {
        "task": "binary",
        "target": "label",
        "positive_class": "bad",
        "columns": columns,
    }


def _run_baseline(data: Path, features: int) -> dict:
    import xgboost as xgb

    from modelgate.params import TrainParams, load_section

    params = load_section(ROOT / "params.yaml", "train", TrainParams)
    start = time.perf_counter()
    frame = pd.read_parquet(data)
    x = frame[[f"x{i:02d}" for i in range(features)]].to_numpy(dtype=np.float32)
    y = (frame["label"] == "bad").to_numpy(dtype=np.int64)
    boosting = time.perf_counter()
    matrix = xgb.QuantileDMatrix(x, y)
    xgb.train(_xgb_params(params, nthread=2), matrix, num_boost_round=params.n_estimators)
    end = time.perf_counter()
    return {"seconds": end - start, "boosting": end - boosting, "peak_rss": [_self_rss()]}


def _run_dask(data: Path, features: int, workers: int) -> dict:
    from modelgate import dask_train
    from modelgate.params import TrainParams, load_section
    from modelgate.schema import FeatureSchema

    params = load_section(ROOT / "params.yaml", "train", TrainParams)
    schema = FeatureSchema.from_dict(_schema(features))
    boosting: list[float] = []
    train = dask_train.dxgb.train

    def timed_train(*args: object, **kwargs: object) -> object:  # the matrix and the trees
        begin = time.perf_counter()
        result = train(*args, **kwargs)
        boosting.append(time.perf_counter() - begin)
        return result

    dask_train.dxgb.train = timed_train  # this child process only
    with dask_train.connect(dask_train.DaskSettings(workers=workers), threads=2) as client:
        start = time.perf_counter()
        dask_train.fit(dask_train.read_training(str(data)), schema, params, client)
        seconds = time.perf_counter() - start
        workers = list(client.run(_self_rss).values())
    return {"seconds": seconds, "boosting": boosting[0], "peak_rss": [_self_rss(), *workers]}


def _xgb_params(params: object, nthread: int) -> dict:
    from modelgate.model import CLASSIFIER_STEP, build_pipeline
    from modelgate.schema import FeatureSchema

    schema = FeatureSchema.from_dict(_schema(1))
    estimator = build_pipeline(schema, params).named_steps[CLASSIFIER_STEP]  # type: ignore[arg-type]
    xgb_params = estimator.get_xgb_params()
    xgb_params["n_jobs"] = nthread
    return xgb_params


def _self_rss() -> int:
    """This process's peak RSS: VmHWM, the high-water mark of its own address space.
    `ru_maxrss` would not do: it survives exec, so a spawned worker starts at its parent's."""
    with Path("/proc/self/status").open() as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _child(side: str, data: Path, features: int, workers: int) -> dict:
    """Run one side in a fresh interpreter; its figures come back as JSON on stdout."""
    command = [sys.executable, __file__, "--side", side, "--data", str(data)]
    command += ["--features", str(features), "--workers", str(workers)]
    result = subprocess.run(
        command, capture_output=True, text=True, check=True, env={"PYTHONPATH": str(ROOT / "src")}
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--repeats", type=int, default=3, help="runs per side, alternating")
    parser.add_argument(
        "--workers", type=int, default=2, help="LocalCluster workers, sharing 2 threads"
    )
    parser.add_argument("--json", nargs="?", const="", default=None)
    parser.add_argument("--side", choices=["baseline", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child run
        if args.side == "baseline":
            figures = _run_baseline(args.data, args.features)
        else:
            figures = _run_dask(args.data, args.features, args.workers)
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    _report(args)


def _median(runs: list[dict]) -> dict:
    """The run of median time (its own peak RSS with it), of an odd number of runs."""
    return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]


def _report(args: argparse.Namespace) -> None:
    sys.stdout.write(f"load average at start: {load_average()}\n")
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        data = Path(tmp)
        size = _generate(data, args.rows, args.features, args.parts, args.seed)
        runs = [
            (_child("baseline", data, args.features, args.workers),
             _child("dask", data, args.features, args.workers))
            for _ in range(args.repeats)
        ]  # fmt: skip
    baseline, dask = (_median([run[side] for run in runs]) for side in (0, 1))
    ratio = dask["seconds"] / baseline["seconds"]
    peak = max(dask["peak_rss"])
    sys.stdout.write(
        "runs (baseline s, dask s): "
        + ", ".join(f"({b['seconds']:.1f}, {d['seconds']:.1f})" for b, d in runs)
        + "\n"
    )
    lines = [
        f"{args.rows:,} rows x {args.features} features, {args.parts} parts; "
        f"training data in memory {size / 2**20:.0f} MiB",
        "| measured | seconds | peak RSS per process (MiB) |",
        "| --- | --- | --- |",
        f"| xgboost.train, one process (baseline) | {baseline['seconds']:.1f} | "
        f"{', '.join(f'{b / 2**20:.0f}' for b in baseline['peak_rss'])} |",
        f"| dask engine, LocalCluster {args.workers} workers (client, workers) | "
        f"{dask['seconds']:.1f} | "
        f"{', '.join(f'{b / 2**20:.0f}' for b in dask['peak_rss'])} |",
        target_line("time ratio dask / baseline", ratio, f"{ratio:.2f}x", TIME_TARGET, "x"),
        f"of which XGBoost's own part (QuantileDMatrix and boosting): "
        f"dask {dask['boosting']:.1f} s, baseline {baseline['boosting']:.1f} s, "
        f"{dask['boosting'] / baseline['boosting']:.2f}x",
        target_line(
            "largest process / data size", peak / size, f"{peak / size:.2f}x", MEMORY_TARGET, "x"
        ),
        f"load average at end: {load_average()}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json is not None:
        figures = {"rows": args.rows, "data_bytes": size, "baseline": baseline, "dask": dask}
        write_results("bench_dask_train", {**figures, "ratio": ratio})


if __name__ == "__main__":
    main()
