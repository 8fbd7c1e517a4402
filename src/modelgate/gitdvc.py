"""What the pipeline asks git and DVC: files at the base commit, diffs, cached outputs.

DVC runs as `python -m dvc` with this interpreter, so the report and the champion gate use the
DVC of the project's environment whatever is on PATH.

The base ref both compare with has one source, `base_ref()`: `MODELGATE_BASE_REF` (CI sets it to
`origin/<base branch>`; `make pr-report BASE=...` passes it), else `main`. It is a runtime
setting, not a model parameter: `dvc.lock` stays the same on every branch with the same inputs.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from modelgate import io

logger = logging.getLogger(__name__)

DVC_TIMEOUT_S = 300
BASE_REF_ENV = "MODELGATE_BASE_REF"
DEFAULT_BASE_REF = "main"


def base_ref() -> str:
    """The git ref the champion gate and the PR report compare with."""
    return os.environ.get(BASE_REF_ENV) or DEFAULT_BASE_REF


class UnknownRefError(ValueError):
    """The base ref names no commit in this repository."""


class DvcError(RuntimeError):
    """A `dvc` command the report needs failed."""


def verify_ref(ref: str, cwd: Path) -> str:
    """The commit `ref` names; raise UnknownRefError when there is none."""
    out = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 or ref.startswith("-"):
        raise UnknownRefError(f"unknown base ref {ref!r}: no such commit, branch or tag here")
    return out.stdout.strip()


def show_bytes(ref: str, path: str, cwd: Path) -> bytes | None:
    """The file `path` at commit `ref`, or None when the commit has no such file."""
    out = subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=cwd, capture_output=True, check=False
    )
    return out.stdout if out.returncode == 0 else None


def show_text(ref: str, path: str, cwd: Path) -> str | None:
    data = show_bytes(ref, path, cwd)
    return None if data is None else data.decode("utf-8")


def list_files(ref: str, folder: str, cwd: Path) -> list[str]:
    """Paths of the files directly in `folder` at `ref`."""
    out = subprocess.run(
        ["git", "ls-tree", "--name-only", ref, f"{folder.rstrip('/')}/"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.split() if out.returncode == 0 else []


def dvc_json(args: list[str], cwd: Path) -> dict[str, Any]:
    """Run `dvc ARGS --json` and parse its output."""
    out = subprocess.run(
        [sys.executable, "-m", "dvc", *args, "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=DVC_TIMEOUT_S,
    )
    if out.returncode != 0:
        raise DvcError(f"dvc {' '.join(args)} failed: {out.stderr.strip() or out.stdout.strip()}")
    return json.loads(out.stdout or "{}")


def metrics_diff(ref: str, cwd: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """`dvc metrics diff REF --all`: per metrics file, per flattened key, old / new / diff."""
    return dvc_json(["metrics", "diff", ref, "--all"], cwd)


def params_diff(ref: str, cwd: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """`dvc params diff REF`: the changed params only, per params file."""
    return dvc_json(["params", "diff", ref], cwd)


def cache_file(cache_dir: Path, md5: str | None) -> Path | None:
    """The DVC 3 cache file of a file output with this md5, if the cache has it."""
    if not md5 or md5.endswith(".dir") or len(md5) < 3:
        return None
    path = cache_dir / "files" / "md5" / md5[:2] / md5[2:]
    return path if path.is_file() else None


def cached_out(lock_text: str | None, path: str, cache_dir: Path) -> Path | None:
    """The cache file of output `path` as recorded in the text of a dvc.lock."""
    lock = io.load_yaml(lock_text or "") or {}
    for stage in lock.get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("path") == path:
                return cache_file(cache_dir, out.get("md5"))
    return None
