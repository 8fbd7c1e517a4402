"""Benchmark the gate stages against Deepchecks' default `full_suite` on the same data.

Targets (from the issue): all gate stages together take <= 45 s on the bundled sample on
2 cores, and <= 0.25x the time of Deepchecks' default `full_suite` on the same data.

Two measures, both on the outputs of the last `dvc repro`:

- end to end: each gate stage's own command from `dvc.yaml`, in a fresh process, as DVC runs it,
  so interpreter start and imports count (about 5 s per Deepchecks process). The <= 45 s target
  is judged on this. Baseline: a fresh process that imports Deepchecks and runs `full_suite()`.
- work: in one process with everything imported, each gate stage's `main()` (checks, metric
  and segment conditions, HTML report, gate files) against `full_suite().run(...)` with its
  defaults on the same train and test partitions and the same fitted pipeline. The <= 0.25x
  target is judged on this: four gate stages are four processes by design (a failed data gate
  must stop the split; a changed threshold reruns only its gate), so they pay the import four
  times where the single-process baseline pays it once; that fixed cost is shown, not hidden,
  in the end-to-end ratio.

The gates also write their HTML reports and the baseline does not, which only favours the
baseline.

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
from _common import load_average, target_line, write_results

ROOT = Path(__file__).resolve().parents[1]
GATES = ("data_gate", "split_gate", "model_gate", "champion_gate")
TARGET_SECONDS = 45.0
TARGET_RATIO = 0.25

BASELINE = """
import sys, time
from pathlib import Path
import pandas as pd
from deepchecks.tabular.suites import full_suite
from modelgate import io
from modelgate.gates.suites import dataset
from modelgate.model import labels, model_frame
from modelgate.schema import FeatureSchema
from modelgate.model import load_pipeline
schema = FeatureSchema.from_dict(io.read_json(Path("data/processed/schema.json")))
def ds(frame):
    features = model_frame(frame, schema)
    features[schema.target] = labels(frame, schema)
    return dataset(features, schema.target, schema.categorical)
train = pd.read_parquet("data/split/train.parquet")
test = pd.read_parquet("data/split/test.parquet")
model = load_pipeline(Path("models/pipeline.pkl"))
start = time.perf_counter()
full_suite().run(train_dataset=ds(train), test_dataset=ds(test), model=model)
print("work", time.perf_counter() - start, file=sys.stderr)
"""

WORK = """
import importlib, json, shlex, sys, time, warnings
import modelgate.gates  # noqa: F401
warnings.filterwarnings("ignore")
commands = json.loads(sys.argv[1])
modules = {g: importlib.import_module(argv[2]) for g, argv in commands.items()}
times = {}
for gate, argv in commands.items():
    start = time.perf_counter()
    modules[gate].main(argv[3:])
    times[gate] = time.perf_counter() - start
print("work", json.dumps(times), file=sys.stderr)
"""


def _timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True)
    work = [line for line in done.stderr.splitlines() if line.startswith("work ")]
    return time.perf_counter() - start, work[-1].removeprefix("work ") if work else ""


def gate_commands() -> dict[str, list[str]]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    python = str(Path(sys.executable))
    return {g: [python, *shlex.split(stages[g]["cmd"])[1:]] for g in GATES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {load_average()}")
    commands = gate_commands()
    wall = {
        g: statistics.median(_timed(c)[0] for _ in range(args.repeats)) for g, c in commands.items()
    }
    works = [
        json.loads(_timed([sys.executable, "-c", WORK, json.dumps(commands)])[1])
        for _ in range(args.repeats)
    ]
    work = {g: statistics.median(w[g] for w in works) for g in commands}
    baselines = [_timed([sys.executable, "-c", BASELINE]) for _ in range(args.repeats)]
    base_wall = statistics.median(t for t, _ in baselines)
    base_work = statistics.median(float(w) for _, w in baselines)
    total_wall, total_work = sum(wall.values()), sum(work.values())
    print(f"\n{'measure':<24}{'end to end s':>14}{'work s':>10}")
    for gate in commands:
        print(f"{gate:<24}{wall[gate]:>14.1f}{work[gate]:>10.1f}")
    print(f"{'all gates':<24}{total_wall:>14.1f}{total_work:>10.1f}")
    print(f"{'full_suite (baseline)':<24}{base_wall:>14.1f}{base_work:>10.1f}")
    verdicts = {
        "all gates end to end": (total_wall, TARGET_SECONDS, f"{total_wall:.1f} s"),
        "work ratio to full_suite": (
            total_work / base_work,
            TARGET_RATIO,
            f"{total_work / base_work:.2f}",
        ),
    }
    print()
    for name, (value, target, shown) in verdicts.items():
        print(target_line(name, value, shown, target))
    print(f"end-to-end ratio to full_suite (information): {total_wall / base_wall:.2f}")
    print(f"load average at end: {load_average()}")
    if args.json:
        figures = {
            "end_to_end": wall,
            "work": work,
            "baseline": {"end_to_end": base_wall, "work": base_work},
            "ratio_work": total_work / base_work,
            "ratio_end_to_end": total_wall / base_wall,
        }
        write_results("bench_gates", figures)


if __name__ == "__main__":
    main()
