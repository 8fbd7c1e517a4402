"""Benchmark the gate stages against Deepchecks' default `full_suite` on the same data.

Targets (from the issue): all gate stages together take <= 45 s on the bundled sample on
2 cores, and <= 0.25x the time of Deepchecks' default `full_suite` on the same data.

Measured: each gate stage's own command from `dvc.yaml` (data, split, model, champion), run as
DVC runs it, in a fresh process, so Python and Deepchecks import time counts, on the outputs of
the last `dvc repro`. Baseline: a fresh process that imports Deepchecks and runs
`full_suite()` with its defaults on the same train and test partitions and the same fitted
pipeline. The gates also write their HTML reports and the baseline does not, which only
favours the baseline.

    .venv/bin/python benchmarks/bench_gates.py [--repeats 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
GATES = ("data_gate", "split_gate", "model_gate", "champion_gate")
TARGET_SECONDS = 45.0
TARGET_RATIO = 0.25

BASELINE = """
from pathlib import Path
import pandas as pd
from deepchecks.tabular.suites import full_suite
from modelgate import io
from modelgate.gates.suites import dataset
from modelgate.model import labels, model_frame
from modelgate.schema import FeatureSchema
from modelgate.stages.train import load_pipeline
schema = FeatureSchema.from_dict(io.read_json(Path("data/processed/schema.json")))
def ds(frame):
    features = model_frame(frame, schema)
    features[schema.target] = labels(frame, schema)
    return dataset(features, schema.target, schema.categorical)
train = pd.read_parquet("data/split/train.parquet")
test = pd.read_parquet("data/split/test.parquet")
model = load_pipeline(Path("models/pipeline.pkl"))
full_suite().run(train_dataset=ds(train), test_dataset=ds(test), model=model)
"""


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def gate_commands() -> dict[str, list[str]]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    python = str(Path(sys.executable))
    return {g: [python, *shlex.split(stages[g]["cmd"])[1:]] for g in GATES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    times = {
        g: statistics.median(_timed(c) for _ in range(args.repeats))
        for g, c in gate_commands().items()
    }
    total = sum(times.values())
    baseline = statistics.median(
        _timed([sys.executable, "-c", BASELINE]) for _ in range(args.repeats)
    )
    rows = [(g, t) for g, t in times.items()] + [
        ("all gates", total),
        ("full_suite (baseline)", baseline),
    ]
    print(f"{'measure':<24}{'seconds':>10}")
    for name, seconds in rows:
        print(f"{name:<24}{seconds:>10.1f}")
    ratio = total / baseline
    print(
        f"\nall gates: {total:.1f} s (target <= {TARGET_SECONDS:.0f} s) "
        f"{'PASS' if total <= TARGET_SECONDS else 'MISS'}"
    )
    print(
        f"ratio to full_suite: {ratio:.2f} (target <= {TARGET_RATIO}) "
        f"{'PASS' if ratio <= TARGET_RATIO else 'MISS'}"
    )
    if args.json:
        out = ROOT / "benchmarks" / "results" / "bench_gates.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {"gates": times, "total": total, "baseline": baseline, "ratio": ratio}, indent=2
            )
        )


if __name__ == "__main__":
    main()
