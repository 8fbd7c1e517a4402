"""Benchmark `dvc repro` of the bundled sample: full runs and a no-op run.

Targets (from the issue): full `dvc repro` <= 60 s; no-op `dvc repro` <= 3 s.

Everything runs in throw-away copies of this repository, never in the checkout itself:

1. A template copy holds the files `git ls-files -co --exclude-standard` lists (tracked plus
   untracked, not ignored: a fresh clone plus your uncommitted work). It gets `git init`, a
   commit, and `dvc pull -r bundled <*.dvc>` for the raw data, like a fresh clone would. Each
   repetition below works in its own copy of that template (no pipeline outputs in DVC's cache,
   empty run-cache).
2. **Full run, every stage**: `dvc repro --force`, after the fresh-clone run below, so every
   stage command runs (`--force` also bypasses the run-cache).
   *Baseline*: every stage command run directly by a shell, without DVC, one after another in
   dependency order, in another fresh copy; the figure is the sum of their wall times. The ratio
   is DVC's own overhead (stage collection, hashing, caching, lock writing) on top of the work
   any runner has to do. Per-stage times are printed below the table.
3. **Fresh-clone run**: plain `dvc repro` in the fresh copy. Stages whose outputs all live in git
   (`cache: false`, such as the gate reports) and whose dependencies come out with the hashes
   `dvc.lock` records are skipped, as DVC would skip them for anyone who clones and reproduces.
   *Baseline*: the direct times of the stages this run did execute (parsed from its output).
4. **No-op run**: `dvc repro` again in that copy, nothing changed (one discarded warm-up, then
   N timed runs).
   *Baseline*: `dvc --version`: the interpreter plus DVC's CLI imports, the fixed cost any DVC
   command pays before it opens the repository. The ratio shows how much of a no-op is DVC
   opening the repository (importing its repository machinery, parsing dvc.yaml, dvc.lock and
   params.yaml, checking hashes). `dvc status` (change detection alone) is an extra row.

Subprocesses get this interpreter's bin directory first on PATH (stage commands call
`python -m modelgate...`) and PYTHONPATH=<copy>/src, so stages import the copy's code rather
than the checkout the editable install points to.

Figures are wall times on a shared machine: anything else running (tests, another benchmark)
inflates them. The load average at start and end is printed; rerun if it is high. A venv
without compiled bytecode (`uv sync` does not compile by default; PYTHONDONTWRITEBYTECODE=1
keeps Python from caching it) pays for compiling every imported module on every command;
`--pycache DIR` compiles the standard library and site-packages into DIR once (untimed), then
runs every subprocess with PYTHONPYCACHEPREFIX=DIR and bytecode writing on: the figures of a
compiled venv, without writing into the venv.

    .venv/bin/python benchmarks/bench_repro.py [--full-runs 2] [--noop-runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FULL_TARGET_S = 60.0
NOOP_TARGET_S = 3.0
RAN_STAGE = re.compile(r"^Running stage '([^']+)':", re.MULTILINE)
GIT = [
    "git",
    "-c",
    "user.name=bench",
    "-c",
    "user.email=bench@localhost",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]


# Every command's output, written to <work>/commands.log when --keep keeps the copies.
COMMAND_LOG: list[str] = []


class BenchError(RuntimeError):
    pass


def run(
    cmd: list[str] | str, cwd: Path, env: dict[str, str], check: bool = True
) -> tuple[float, str]:
    """Run one command to completion; return its wall time in seconds and its stdout."""
    start = time.perf_counter_ns()
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        shell=isinstance(cmd, str),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = (time.perf_counter_ns() - start) / 1e9
    shown = cmd if isinstance(cmd, str) else shlex.join(cmd)
    COMMAND_LOG.append(
        f"$ {shown}  # in {cwd}, {elapsed:.2f} s, exit {proc.returncode}\n"
        f"{proc.stdout}{proc.stderr}"
    )
    if check and proc.returncode != 0:
        raise BenchError(f"`{shown}` failed in {cwd} ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return elapsed, proc.stdout


def timed(cmd: list[str], cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    return [run(cmd, cwd, env)[0] for _ in range(runs)]


def subprocess_env(copy: Path, pycache: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(copy / "src")
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def repo_files(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def make_template(dest: Path, dvc_config: list[str], env: dict[str, str]) -> None:
    """A clone-like copy of the repository with the raw data pulled, not yet reproduced."""
    files = repo_files(ROOT)
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    run([*GIT, "init", "-q"], dest, env)
    run([*GIT, "add", "-A"], dest, env)
    run([*GIT, "commit", "-q", "-m", "benchmark snapshot"], dest, env)
    set_site_cache(dest)
    for setting in dvc_config:
        key, _, value = setting.partition("=")
        run(["dvc", "config", key, value], dest, env)
    dvc_files = [f for f in files if f.endswith(".dvc")]
    run(["dvc", "pull", "-q", "-r", "bundled", *dvc_files], dest, env)


def set_site_cache(copy: Path) -> None:
    # Keep DVC's per-repository site cache (state DB, locks) inside the copy, not /var/tmp.
    (copy / ".dvc" / "config.local").write_text(
        f"[core]\n    site_cache_dir = {copy / '.dvc' / 'site_cache'}\n"
    )


def fresh_copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    set_site_cache(dest)
    return dest


def stage_order(dvc_yaml: Path) -> list[tuple[str, str]]:
    """(name, cmd) of each dvc.yaml stage, dependencies first."""
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]

    def paths(entries: list) -> list[str]:
        return [next(iter(e)) if isinstance(e, dict) else e for e in entries or []]

    producers = {
        out: name
        for name, s in stages.items()
        for out in paths(s.get("outs", [])) + paths(s.get("metrics", []))
    }
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dep in paths(stages[name].get("deps", [])):
            for out, producer in producers.items():
                if producer != name and (dep == out or dep.startswith(f"{out}/")):
                    visit(producer)
        ordered.append(name)

    for name in stages:
        visit(name)
    return [(name, stages[name]["cmd"]) for name in ordered]


def summary(times: list[float]) -> dict[str, float | list[float]]:
    return {"median_s": statistics.median(times), "min_s": min(times), "runs_s": times}


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "MISS"


def print_table(rows: list[dict[str, str]]) -> None:
    headers = list(rows[0])
    widths = [max(len(h), *(len(r[h]) for r in rows)) for h in headers]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(row[h].ljust(w) for h, w in zip(headers, widths, strict=True)))


def row(
    name: str, measured: dict, baseline_name: str, baseline: dict | None, target: float | None
) -> dict[str, str]:
    med = float(measured["median_s"])
    base = float(baseline["median_s"]) if baseline else None
    return {
        "benchmark": name,
        "median": f"{med:.2f} s",
        "min": f"{float(measured['min_s']):.2f} s",
        "runs": str(len(measured["runs_s"])),
        "baseline": baseline_name,
        "baseline median": f"{base:.2f} s" if base is not None else "-",
        "ratio": f"{med / base:.2f}x" if base else "-",
        "target": f"<= {target:g} s" if target else "-",
        "median/target": f"{med / target:.2f}" if target else "-",
        "verdict": verdict(med, target) if target else "-",
    }


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full-runs", type=int, default=2)
    parser.add_argument("--noop-runs", type=int, default=5)
    parser.add_argument(
        "--json",
        nargs="?",
        type=Path,
        const=RESULTS / "bench_repro.json",
        help=f"write results as JSON (default path {RESULTS}/bench_repro.json)",
    )
    parser.add_argument(
        "--pycache",
        type=Path,
        help="PYTHONPYCACHEPREFIX for subprocesses "
        "(bytecode writing on); simulates a venv with compiled bytecode",
    )
    parser.add_argument(
        "--dvc-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="`dvc config KEY VALUE` in the copy first, e.g. core.analytics=false",
    )
    parser.add_argument("--tmp-dir", type=Path, help="parent of the temporary copies")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies")
    args = parser.parse_args(argv)
    if args.full_runs < 1 or args.noop_runs < 1:
        parser.error("--full-runs and --noop-runs must be at least 1")

    load_start = load()
    work = Path(tempfile.mkdtemp(prefix="bench-repro-", dir=args.tmp_dir))
    pycache = args.pycache.resolve() if args.pycache else None
    try:
        template = work / "template"
        template.mkdir()
        make_template(template, args.dvc_config, subprocess_env(template, pycache))
        if pycache is not None:  # compile once, untimed, as `uv sync --compile-bytecode` would
            paths = sysconfig.get_paths()
            dirs = sorted({paths["stdlib"], paths["purelib"], paths["platlib"]})
            compileall = [sys.executable, "-m", "compileall", "-q", "-j", "0", *dirs]
            run(compileall, template, subprocess_env(template, pycache), check=False)

        direct: list[float] = []
        per_stage: dict[str, list[float]] = {}
        forced: list[float] = []
        fresh: list[float] = []
        fresh_direct: list[float] = []
        fresh_ran: list[list[str]] = []
        for i in range(args.full_runs):
            copy = fresh_copy(template, work / f"direct-{i}")
            env = subprocess_env(copy, pycache)
            times = {name: run(cmd, copy, env)[0] for name, cmd in stage_order(copy / "dvc.yaml")}
            for name, elapsed in times.items():
                per_stage.setdefault(name, []).append(elapsed)
            direct.append(sum(times.values()))
            if not args.keep:
                shutil.rmtree(copy)

            copy = fresh_copy(template, work / f"dvc-{i}")
            env = subprocess_env(copy, pycache)
            elapsed, out = run(["dvc", "repro"], copy, env)
            ran = RAN_STAGE.findall(out)
            fresh.append(elapsed)
            fresh_ran.append(ran)
            fresh_direct.append(sum(times[name] for name in ran))
            forced.append(run(["dvc", "repro", "--force"], copy, env)[0])
            if i < args.full_runs - 1 and not args.keep:
                shutil.rmtree(copy)

        first_noop = run(["dvc", "repro"], copy, env)[0]  # warm-up, reported but not counted
        noop = timed(["dvc", "repro"], copy, env, args.noop_runs)
        status = timed(["dvc", "status"], copy, env, args.noop_runs)
        startup = timed(["dvc", "--version"], copy, env, args.noop_runs)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=copy,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        if args.keep:
            (work / "commands.log").write_text("\n".join(COMMAND_LOG))
            print(f"temporary copies and commands.log kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    results = {
        "forced_repro": summary(forced),
        "direct_stage_commands": summary(direct),
        "direct_per_stage": {k: summary(v) for k, v in per_stage.items()},
        "fresh_clone_repro": summary(fresh),
        "fresh_clone_stages_run": fresh_ran,
        "fresh_clone_direct": summary(fresh_direct),
        "noop_repro": summary(noop),
        "noop_repro_first": first_noop,
        "dvc_status": summary(status),
        "dvc_startup": summary(startup),
        "targets_s": {"full_repro": FULL_TARGET_S, "noop_repro": NOOP_TARGET_S},
        "environment": {
            "cpus": os.cpu_count(),
            "load_start": load_start,
            "load_end": load(),
            "python": sys.version.split()[0],
            "pycache": str(pycache) if pycache else None,
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
            "dvc_config": args.dvc_config,
        },
    }

    print(
        f"dvc repro benchmark; {os.cpu_count()} CPUs; load average start {load_start}, "
        f"end {load()}; bytecode cache: {pycache or 'as the environment has it'}"
        + (f"; dvc config {' '.join(args.dvc_config)}" if args.dvc_config else "")
    )
    print()
    startup_name = "dvc --version (startup)"
    print_table(
        [
            row(
                "full: dvc repro --force",
                results["forced_repro"],
                "every stage cmd w/o DVC (sum)",
                results["direct_stage_commands"],
                FULL_TARGET_S,
            ),
            row(
                "fresh clone: dvc repro",
                results["fresh_clone_repro"],
                "its stages' cmds w/o DVC (sum)",
                results["fresh_clone_direct"],
                FULL_TARGET_S,
            ),
            row(
                "no-op dvc repro",
                results["noop_repro"],
                startup_name,
                results["dvc_startup"],
                NOOP_TARGET_S,
            ),
            row(
                "no-op dvc status",
                results["dvc_status"],
                startup_name,
                results["dvc_startup"],
                None,
            ),
        ]
    )
    print()
    print(
        "stage commands without DVC, median per stage: "
        + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in per_stage.items())
    )
    print(f"stages the fresh-clone dvc repro ran: {', '.join(fresh_ran[-1]) or 'none'}")
    print(f"first no-op dvc repro after the full runs (not counted): {first_noop:.2f} s")
    if dirty:
        print(f"note: dvc repro left tracked files modified in the copy:\n{dirty}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
