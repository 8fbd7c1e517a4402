"""Put the adopted file under `data/raw/` and hand it to DVC (the real CLI, as a user would)."""

from __future__ import annotations

import filecmp
import logging
import shutil
import subprocess
from pathlib import Path

from modelgate import io
from modelgate.adopt.profile import AdoptError

logger = logging.getLogger(__name__)


def copy_in(source: Path, target: Path) -> bool:
    """Copy `source` to `target` (atomically); False when it already is there, unchanged.

    Raw data is immutable: a different file of the same name is refused, not overwritten.
    """
    if target.exists():
        if target.resolve() == source.resolve() or filecmp.cmp(source, target, shallow=False):
            return False
        raise AdoptError(
            f"{target} already exists with other content: raw data is never overwritten; "
            "rename your file (or `dvc remove` the old snapshot first)"
        )
    with io.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return True


def dvc(repo: Path, *args: str) -> None:
    result = subprocess.run(
        ["dvc", *args], cwd=repo, capture_output=True, text=True, check=False, timeout=600
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise AdoptError(f"`dvc {' '.join(args)}` failed in {repo}: {output}")


def track(repo: Path, raw: str, copied: bool) -> None:
    """`dvc add` the new snapshot; a file this run copied in is removed again on failure."""
    try:
        dvc(repo, "add", raw)
    except (AdoptError, OSError) as exc:
        if copied:
            (repo / raw).unlink(missing_ok=True)
        raise AdoptError(str(exc)) from exc


def untrack(repo: Path, old_raw: str | None, new_raw: str) -> str | None:
    """`dvc remove` the snapshot params named before (its data stays in the DVC cache and in
    git history); a note when that did not work, since the adoption itself stands."""
    if old_raw is None or old_raw == new_raw or not (repo / f"{old_raw}.dvc").exists():
        return None
    try:
        dvc(repo, "remove", "--outs", f"{old_raw}.dvc")
    except AdoptError as exc:
        return f"the old snapshot {old_raw} is still tracked: {exc}"
    return f"the old snapshot {old_raw} is no longer tracked (dvc remove; still in the cache)"
