"""Benchmark the pull-request job for a params-only change, and report generation alone.

Targets (from issues 4 and 9), on 2 cores: the PR job's own work for a params-only change
<= 2 minutes, with every stage executed (`make ci-repro`: `dvc repro --force`, so no gate result
is ever taken from a committed file), then the lock check and the report; report generation
alone <= 10 s.

Set-up, untimed, in a clone-like copy (bench_repro's template: the files git lists, committed
in a new repository, raw data pulled from the `bundled` remote): `dvc repro` on main, so the
DVC cache holds main's outputs, as `actions/cache` restores it in CI. Then a branch changes
`train.max_depth` (4 -> 3) and the job's steps run as `pr.yml` runs them:

1. what `make ci-repro` runs: `dvc repro --force`, every stage, then the lock check (`git diff
   --quiet dvc.lock`, the branch's lock having been committed by its author);
2. what `make pr-report BASE=main` runs: the champion gate against main, then the report.

Baselines side by side: for the job, a plain `dvc repro` of the same change from the warm cache
(what the job cost before issue 9: only train, evaluate, model_gate, export and champion_gate
rerun, and a forged gate file would be trusted); for the report, the two DVC calls it cannot
avoid (`dvc params diff` and `dvc metrics diff` against main), DVC start-up plus git reads.

    .venv/bin/python benchmarks/bench_pr.py [--runs 1] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_repro as repro

JOB_TARGET_S = 120.0
REPORT_TARGET_S = 10.0


def params_change(copy: Path) -> None:
    params = copy / "params.yaml"
    text, count = re.subn(r"^(  max_depth:) 4\b", r"\1 3", params.read_text(), flags=re.M)
    if count != 1:
        raise repro.BenchError("params.yaml has no `train.max_depth: 4` to change")
    params.write_text(text)


def one_run(template: Path, workdir: Path, env: dict[str, str]) -> dict[str, float]:
    copy = repro.fresh_copy(template, workdir / "copy")
    git = [*repro.GIT]
    repro.run(["dvc", "repro", "--force"], copy, env)  # main, and warms the cache
    repro.run([*git, "add", "-A"], copy, env)
    repro.run([*git, "commit", "-q", "-m", "main reproduced", "--allow-empty"], copy, env)
    repro.run([*git, "branch", "-M", "main"], copy, env)
    repro.run([*git, "checkout", "-q", "-b", "shallower"], copy, env)
    params_change(copy)
    figures = {}
    # The author's run, which the job's baseline is: a plain repro from the warm cache.
    figures["baseline: dvc repro (warm cache)"], ran = repro.run(["dvc", "repro"], copy, env)
    repro.run([*git, "add", "-A"], copy, env)
    repro.run([*git, "commit", "-q", "-m", "max_depth 3"], copy, env)
    figures["dvc repro --force"], _ = repro.run(["dvc", "repro", "--force"], copy, env)
    figures["lock check"], _ = repro.run([*git, "diff", "--quiet", "dvc.lock"], copy, env)
    # What `make pr-report BASE=main` runs (the copy has no venv of its own for make to check).
    champion, _ = repro.run(
        ["dvc", "repro", "--force", "--single-item", "champion_gate"],
        copy,
        {**env, "MODELGATE_BASE_REF": "main"},
    )
    report, _ = repro.run(
        ["python", "-m", "modelgate.report.pr", "--base", "main", "--out", "reports/pr/report.md"],
        copy,
        env,
    )
    figures["make pr-report BASE=main"] = champion + report
    figures["report alone"] = report
    baseline = 0.0
    for what in (["params", "diff", "main"], ["metrics", "diff", "main"]):
        baseline += repro.run(["dvc", *what], copy, env)[0]
    figures["baseline: dvc params diff + metrics diff"] = baseline
    stages = repro.RAN_STAGE.findall(ran)
    print(f"stages the params change reran: {', '.join(stages)}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {repro.load()}")
    workdir = Path(tempfile.mkdtemp(prefix="bench_pr_"))
    template = workdir / "template"
    template.mkdir()
    env = repro.subprocess_env(template, None)
    repro.make_template(template, [], env)
    runs = []
    for index in range(args.runs):
        run_dir = workdir / f"run{index}"
        run_dir.mkdir()
        runs.append(one_run(template, run_dir, repro.subprocess_env(run_dir / "copy", None)))
    figures = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    job = figures["dvc repro --force"] + figures["lock check"] + figures["make pr-report BASE=main"]
    print(f"\n{'step':<44}{'seconds':>10}")
    for name, seconds in figures.items():
        print(f"{name:<44}{seconds:>10.1f}")
    report = figures["report alone"]
    report_base = figures["baseline: dvc params diff + metrics diff"]
    warm = figures["baseline: dvc repro (warm cache)"] + figures["lock check"]
    warm += figures["make pr-report BASE=main"]
    print(
        f"\nPR job (repro --force + lock check + pr-report): {job:.1f} s, {job / warm:.2f}x the "
        f"same job with a plain repro ({warm:.1f} s) "
        f"(target <= {JOB_TARGET_S:.0f} s) {repro.verdict(job, JOB_TARGET_S)}"
    )
    print(
        f"report generation: {report:.1f} s, {report / report_base:.2f}x its DVC calls "
        f"(target <= {REPORT_TARGET_S:.0f} s) {repro.verdict(report, REPORT_TARGET_S)}"
    )
    print(f"load average at end: {repro.load()}")
    if args.json:
        repro.RESULTS.mkdir(parents=True, exist_ok=True)
        out = {"figures": figures, "job": job, "runs": runs}
        (repro.RESULTS / "bench_pr.json").write_text(json.dumps(out, indent=2))
    if args.keep:
        print(f"kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
