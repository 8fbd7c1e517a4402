"""Benchmark `modelgate monitor` end to end, as a scheduled job runs it: a fresh process that
reads the prediction log, checks the window and writes its report, JSON and metrics.

Targets (issue 10), on 2 cores:
- 100,000 logged predictions read, checked and reported: <= 5 s;
- the monitor's start plus one 2,000-row window: <= 2 s beyond Python's own start-up.

The log is written in the serving app's format (schema 1, closed `.jsonl` files of 10,000 rows
as the writer rotates them) from the held-out test rows scored by the pipeline's model,
resampled with a fixed seed; so the window is what production would log. Baseline side by
side: `python -c pass` (the interpreter's start-up), and `python -c "import modelgate.monitor.
__main__"` (the imports alone). Medians of `--repeats` runs.

    .venv/bin/python benchmarks/bench_monitor.py [--repeats 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import onnxruntime as ort
import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import ROOT, load_average, target_line, write_results

from modelgate import io, metadata
from modelgate.model import model_frame
from modelgate.onnx_export import onnx_scores
from modelgate.schema import FeatureSchema
from modelgate.serve.log_files import PREFIX, SUFFIX, file_label

ROWS_PER_FILE = 10_000
TARGETS = {100_000: 5.0}
START_TARGET_S = 2.0


def write_log(directory: Path, rows: int, seed: int = 0) -> None:
    """`rows` logged predictions of the test rows, one second apart, in closed files."""
    schema = FeatureSchema.from_dict(io.read_json(ROOT / "data/processed/schema.json"))
    test = model_frame(pd.read_parquet(ROOT / "data/split/test.parquet"), schema)
    session = ort.InferenceSession(str(ROOT / "models/model.onnx"))
    meta = metadata.read(session)
    scores = onnx_scores(session, test, schema)
    threshold = float(meta[metadata.THRESHOLD])
    picked = np.random.default_rng(seed).integers(0, len(test), rows)
    features = test.astype(object).where(test.notna(), None).to_dict("records")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    directory.mkdir(parents=True)
    for first in range(0, rows, ROWS_PER_FILE):
        lines = []
        for i in range(first, min(first + ROWS_PER_FILE, rows)):
            moment = start + timedelta(seconds=i)
            lines.append(
                orjson.dumps(
                    {
                        "schema": 1,
                        "request_id": f"bench-{i}",
                        "row": 0,
                        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "model_name": meta[metadata.MODEL_NAME],
                        "model_version": meta[metadata.MODEL_VERSION],
                        "features": features[picked[i]],
                        "score": float(scores[picked[i]]),
                        "decision": "decline" if scores[picked[i]] >= threshold else "approve",
                        "endpoint": "/predict",
                    }
                )
            )
        label = file_label((start + timedelta(seconds=first)).timestamp())
        name = f"{PREFIX}{label}-1-{first // ROWS_PER_FILE + 1:06d}{SUFFIX}"
        (directory / name).write_bytes(b"\n".join(lines) + b"\n")


def timed(command: list[str], repeats: int, expect: set[int]) -> float:
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - began)
        if run.returncode not in expect:
            raise SystemExit(f"{' '.join(command)} exited {run.returncode}:\n{run.stderr}")
    return statistics.median(seconds)


def monitor(log: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "modelgate", "monitor", "--log", str(log), "--out", str(out)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {load_average()}")
    work = Path(tempfile.mkdtemp(prefix="bench_monitor_"))
    figures: dict[str, float] = {
        "python -c pass": timed([sys.executable, "-c", "pass"], args.repeats, {0}),
        "imports alone": timed(
            [sys.executable, "-c", "import modelgate.monitor.__main__"], args.repeats, {0}
        ),
    }
    for rows in (2_000, 100_000):
        write_log(work / f"log-{rows}", rows)
        # 0 healthy or 3 drift: resampled test rows may drift at 100,000 rows (see the
        # calibration benchmark); either way the whole job ran.
        figures[f"monitor, {rows:,} rows"] = timed(
            monitor(work / f"log-{rows}", work / f"out-{rows}"), args.repeats, {0, 3}
        )
    print(f"\n{'run (median of ' + str(args.repeats) + ')':<36}{'seconds':>10}")
    for name, seconds in figures.items():
        print(f"{name:<36}{seconds:>10.2f}")
    start = figures["monitor, 2,000 rows"] - figures["python -c pass"]
    big = figures["monitor, 100,000 rows"]
    print()
    print(target_line("start + 2,000-row window, beyond Python", start, f"{start:.2f} s",
                      START_TARGET_S, " s"))  # fmt: skip
    print(target_line("100,000 rows read, checked, reported", big, f"{big:.2f} s",
                      TARGETS[100_000], " s"))  # fmt: skip
    print(f"load average at end: {load_average()}")
    if args.json:
        write_results("bench_monitor", figures)
    result = json.loads((work / "out-100000/monitor.json").read_text())
    print(f"100,000-row window: status {result['status']}, drifted {result['drift']['drifted']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
