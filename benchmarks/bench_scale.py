"""The scale demo and its benchmark: the whole pipeline on a large synthetic table (`make
scale-demo`).

Target (issue 13): on 2 cores, 1,000,000 rows x 30 features, 300 trees, the full pipeline
finishes in <= 15 minutes; time and peak RSS per stage are reported.

In a copy of this repository (default `build/scale-demo`, replaced on each run; nothing runs
in the checkout), in order:

1. `python -m modelgate.synthetic` writes the seeded credit-like table as raw CSV parts under
   `data/raw/scale/` and points `ingest` in the copy's params.yaml at it (the generator's
   docstring documents the columns and the logistic target).
2. `train.engine` is set to `dask`; the copy is committed (its `main`).
3. Each dvc.yaml stage runs as `dvc repro --single-item STAGE`, dependencies first, exactly as
   `dvc repro` would run it: ingest checks the contract part by part and writes partitioned
   Parquet, split splits part by part, the Deepchecks gates read bounded samples, train runs
   on a LocalCluster of 2 worker processes, evaluate and the parity check score every row.

Per stage: wall time, and the peak RSS of the largest process in its tree (DVC itself, the
stage, a Dask worker), from `wait4`'s resource usage of the `dvc` process: Linux reports the
largest waited-for descendant. DVC's own time (hashing the outputs, writing dvc.lock) is in
each figure, as a user sees it. The baseline column is the stage's share of the total.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import bench_repro as repro
from _common import ROOT, load_average, target_line, write_results

TOTAL_TARGET_S = 15 * 60.0
RAW = "data/raw/scale"


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) of the largest process in the tree, and the output."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise repro.BenchError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n{output[-6000:]}")
    return seconds, usage.ru_maxrss * 1024, output


def _prepare(dest: Path, env: dict[str, str], rows: int, parts: int, seed: int) -> float:
    """The copy, its generated data and params; returns the generator's wall time."""
    if dest.exists():
        shutil.rmtree(dest)
    for name in repro.repo_files(ROOT):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    repro.set_site_cache(dest)
    generate = [sys.executable, "-m", "modelgate.synthetic", "--rows", str(rows)]
    generate += ["--parts", str(parts), "--seed", str(seed), "--out", RAW]
    seconds, _, _ = _run([*generate, "--params", "params.yaml"], dest, env)
    _set_engine(dest / "params.yaml", "dask")
    repro.run([*repro.GIT, "init", "-q"], dest, env)
    repro.run([*repro.GIT, "add", "-A", "--", ".", f":!{RAW}"], dest, env)
    repro.run([*repro.GIT, "commit", "-q", "-m", "scale demo"], dest, env)
    return seconds


def _set_engine(params: Path, engine: str) -> None:
    from modelgate.adopt import params_file, yaml_edit

    document = yaml_edit.load_document(params)
    yaml_edit.assign(document, "train.engine", engine)
    params_file.write(params, yaml_edit.dump_document(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "scale-demo")
    parser.add_argument("--json", nargs="?", const="", default=None)
    args = parser.parse_args()
    env = repro.subprocess_env(args.dir, None)
    sys.stdout.write(f"load average at start: {load_average()}\n")
    generated = _prepare(args.dir, env, args.rows, args.parts, args.seed)
    rows = [("generate (modelgate.synthetic)", generated, 0)]
    for name, _ in repro.stage_order(args.dir / "dvc.yaml"):
        seconds, peak, _ = _run(["dvc", "repro", "--single-item", name], args.dir, env)
        rows.append((name, seconds, peak))
    _, _, summary = _run([sys.executable, "-m", "modelgate.summary"], args.dir, env)
    _report(args, rows, summary)


def _report(args: argparse.Namespace, rows: list[tuple[str, float, int]], summary: str) -> None:
    total = sum(seconds for _, seconds, _ in rows)
    lines = [
        f"{args.rows:,} rows, {args.parts} parts, train.engine dask (LocalCluster, 2 workers); "
        f"the pipeline ran in {args.dir}",
        "| step | seconds | share | peak RSS, largest process (MiB) |",
        "| --- | --- | --- | --- |",
        *(
            f"| {name} | {seconds:.1f} | {seconds / total:.0%} | "
            f"{f'{peak / 2**20:.0f}' if peak else '-'} |"
            for name, seconds, peak in rows
        ),
        target_line(
            "whole pipeline", total / 60, f"{total / 60:.1f} min", TOTAL_TARGET_S / 60, " min"
        ),
        summary.strip(),
        f"load average at end: {load_average()}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json is not None:
        figures = [{"step": n, "seconds": s, "peak_rss": p} for n, s, p in rows]
        write_results("bench_scale", {"rows": args.rows, "steps": figures, "total_s": total})


if __name__ == "__main__":
    main()
