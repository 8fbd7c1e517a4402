"""Helpers for tests that run the real `dvc` CLI in a throwaway copy of this repository.

A copy holds what `git` would commit (tracked files plus untracked, non-ignored ones, so work in
progress is tested too), minus every output `dvc.yaml` declares; the raw data then comes from
the git-committed `bundled` DVC remote, as it would in a fresh clone with no network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# The venv that runs the tests also runs the stages: dvc.yaml calls `python -m modelgate...`.
VENV_BIN = Path(sys.executable).parent
DVC_TIMEOUT_S = 900
RAN_STAGE = re.compile(r"^Running stage '([^']+)'", re.MULTILINE)
UP_TO_DATE = "Data and pipelines are up to date."
# A throwaway identity, so committing in a copy needs no git configuration on the machine.
_GIT_IDENTITY = (
    "-c",
    "user.name=modelgate tests",
    "-c",
    "user.email=tests@example.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
)


def repo_root() -> Path:
    return Path(git(HERE, "rev-parse", "--show-toplevel").strip())


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *_GIT_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return out.stdout


def stage_env(repo: Path) -> dict[str, str]:
    """The environment for `dvc` and the stages it starts.

    The venv's bin comes first so `python` is the test interpreter. `src` of the copy comes
    first on PYTHONPATH because the venv's editable install points at the original checkout:
    without it, the stages would run the original's code while DVC hashes the copy's.
    """
    # MODELGATE_* settings (a CI's base ref, a serving path) describe another checkout.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_")}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["PYTHONPATH"] = str(repo / "src")
    env["DVC_NO_ANALYTICS"] = "1"
    return env


MAKE_TIMEOUT_S = 900


def run_make(
    repo: Path, target: str, *variables: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`make TARGET VARIABLES` in the copy with the checkout's tools and venv (the copy has
    neither); `-o` keeps make from syncing that venv from the copy's lock. `env` is added to
    `stage_env`. stdout and stderr are merged into `.stdout`."""
    venv = VENV_BIN.parent
    command = [
        "make", "--no-print-directory", target, f"TOOLS={repo_root() / '.tools'}",
        f"VENV={venv}", "-o", f"{venv / '.synced'}", *variables,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=repo, env={**stage_env(repo), **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=MAKE_TIMEOUT_S, check=False,
    )  # fmt: skip


def run_dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `dvc ARGS` in `repo`; stdout and stderr are merged into `.stdout`, in order."""
    result = subprocess.run(
        [str(VENV_BIN / "dvc"), *args],
        cwd=repo,
        env=stage_env(repo),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=DVC_TIMEOUT_S,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} exited {result.returncode}:\n{result.stdout}")
    return result


def ran_stages(output: str) -> list[str]:
    """Stages that `dvc repro` actually ran, in order (a run-cache restore does not count)."""
    return RAN_STAGE.findall(output)


@dataclass(frozen=True)
class Stage:
    name: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]  # outs, metrics and plots
    run_cacheable: bool


def _path(entry: str | dict) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def _uncached(entry: str | dict) -> bool:
    return isinstance(entry, dict) and next(iter(entry.values())).get("cache") is False


def pipeline(dvc_yaml: Path) -> dict[str, Stage]:
    """The stages of `dvc_yaml`, in file order.

    DVC 3 saves no run cache for a stage without outputs, or with a `cache: false` entry under
    `outs` (metrics and plots are exempt): see `Stage.run` in dvc/stage/__init__.py. Such a
    stage runs again whenever its inputs change back to a state it has seen.
    """
    stages = {}
    for name, spec in yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"].items():
        outs = [*spec.get("outs", []), *spec.get("metrics", []), *spec.get("plots", [])]
        cacheable = bool(outs) and not any(_uncached(o) for o in spec.get("outs", []))
        stages[name] = Stage(
            name, tuple(map(_path, spec.get("deps", []))), tuple(map(_path, outs)), cacheable
        )
    return stages


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(f"{parent.rstrip('/')}/")


def downstream(stages: dict[str, Stage], start: str) -> set[str]:
    """`start` and every stage that depends on its outputs, directly or not."""
    found, frontier = {start}, [start]
    while frontier:
        outs = stages[frontier.pop()].outs
        for stage in stages.values():
            if stage.name not in found and any(_under(d, o) for d in stage.deps for o in outs):
                found.add(stage.name)
                frontier.append(stage.name)
    return found


def declared_outputs(dvc_yaml: Path) -> set[str]:
    """Every `outs`, `metrics` and `plots` path of every stage in `dvc_yaml`."""
    return {out for stage in pipeline(dvc_yaml).values() for out in stage.outs}


def _is_output(path: str, outputs: set[str]) -> bool:
    return any(_under(path, out) for out in outputs)


def copy_repo(dest: Path, source: Path | None = None) -> Path:
    """Copy what git would commit from `source` to `dest`, minus pipeline outputs, and commit it.

    `.venv`, `.dvc/cache` and data outputs are git-ignored, so `git ls-files` leaves them out;
    outputs kept in git (`cache: false` metrics and plots) are dropped too, so a test sees the
    pipeline write them.
    """
    source = source or repo_root()
    listed = git(source, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    outputs = declared_outputs(source / "dvc.yaml")
    for name in sorted(set(filter(None, listed.split("\0")))):
        origin = source / name
        if not origin.is_file() or _is_output(name, outputs):  # deleted in the work tree, or output
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)
    git(dest, "init", "--quiet")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "--message", "Snapshot of the work tree under test")
    return dest


def pull_bundled(repo: Path) -> None:
    """Fetch every DVC-tracked raw file (`data/raw/*.dvc`) from the `bundled` remote."""
    targets = sorted(str(p.relative_to(repo)) for p in (repo / "data" / "raw").glob("*.dvc"))
    missing = [t.removesuffix(".dvc") for t in targets if (repo / t.removesuffix(".dvc")).exists()]
    assert not missing, f"raw data was copied, not pulled: {missing}"
    run_dvc(repo, "pull", "--remote", "bundled", *targets)
    for target in targets:
        assert (repo / target.removesuffix(".dvc")).is_file(), f"dvc pull did not restore {target}"


def fresh_copy(dest: Path) -> Path:
    """A committed copy of the repository with its raw data pulled from the bundled remote."""
    copy_repo(dest)
    pull_bundled(dest)
    return dest


def reproduced_main(dest: Path) -> Path:
    """A fresh copy whose `main` holds the reproduced pipeline, every git-tracked result
    committed, as the team's main branch would."""
    fresh_copy(dest)
    run_dvc(dest, "repro")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "--message", "main: pipeline reproduced")
    return dest


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` as a new file: DVC may have linked the old one to its cache."""
    path.unlink(missing_ok=True)
    path.write_bytes(data)
