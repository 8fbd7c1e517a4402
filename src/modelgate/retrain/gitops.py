"""The git and DVC commands a retraining runs, each a thin wrapper with one job.

Nothing here decides anything: `modelgate.retrain.__main__` says which branch, which files and
which revision; these functions run the commands and raise `GitOpsError` (with the command's
own message) when one fails. DVC runs as `python -m dvc` with this interpreter, as in
`modelgate.gitdvc`, so the project's DVC runs whatever is on PATH. `dvc repro` and `dvc push`
print to this process's stdout and stderr: in CI their progress is the job's log.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from modelgate import gitdvc, io

logger = logging.getLogger(__name__)

DVC_TIMEOUT_S = 1800  # a whole `dvc repro --force` on a large snapshot
GIT_TIMEOUT_S = 300


class GitOpsError(RuntimeError):
    """A git or DVC command failed; the message holds its output."""


def _run(
    command: Sequence[str], repo: Path, *, env: Mapping[str, str] | None = None,
    capture: bool = True, timeout: float = GIT_TIMEOUT_S,
) -> str:  # fmt: skip
    out = subprocess.run(
        list(command), cwd=repo, env={**os.environ, **(env or {})}, text=True, check=False,
        capture_output=capture, timeout=timeout,
    )  # fmt: skip
    if out.returncode != 0:
        said = ((out.stderr or "") + (out.stdout or "")).strip() if capture else "see its output"
        raise GitOpsError(f"`{' '.join(command[:4])}...` exited {out.returncode}: {said}")
    return out.stdout or ""


def git(repo: Path, *args: str) -> str:
    return _run(["git", *args], repo)


def dvc(repo: Path, *args: str, env: Mapping[str, str] | None = None, quiet: bool = True) -> str:
    """`dvc ARGS`; with `quiet=False` its output goes to this process's, for the job's log."""
    command = [sys.executable, "-m", "dvc", *args]
    return _run(command, repo, env=env, capture=quiet, timeout=DVC_TIMEOUT_S)


# --- git ---------------------------------------------------------------------------------------


def remote_branches(repo: Path, remote: str, prefix: str) -> dict[str, str]:
    """The branches named `prefix*` on `remote`, with the commit each points at (`git
    ls-remote`: the remote as it is now, not a stale remote-tracking ref)."""
    listing = git(repo, "ls-remote", "--heads", remote, f"refs/heads/{prefix}*")
    heads = (line.split("\t") for line in listing.splitlines() if "\t" in line)
    names = {ref.removeprefix("refs/heads/"): sha for sha, ref in heads}
    # ls-remote matches patterns against the tail of a ref: keep only names that start so.
    return {name: sha for name, sha in sorted(names.items()) if name.startswith(prefix)}


def modified_files(repo: Path) -> list[str]:
    """Tracked files with changes, staged or not (untracked and ignored files do not count)."""
    return git(repo, "status", "--porcelain", "--untracked-files=no").splitlines()


def current_ref(repo: Path) -> str:
    """The checked-out branch, or the commit when HEAD is detached."""
    branch = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    return branch if branch != "HEAD" else git(repo, "rev-parse", "HEAD").strip()


def start_branch(repo: Path, branch: str, start: str) -> None:
    """Check out `branch` reset to `start`: a rerun rebuilds the episode on the current base."""
    git(repo, "checkout", "--quiet", "-B", branch, start)


def checkout(repo: Path, ref: str) -> None:
    git(repo, "checkout", "--quiet", ref)


def commit(repo: Path, message: str, paths: Sequence[str]) -> str | None:
    """Commit exactly `paths` (added first; those neither present nor tracked are skipped, as
    a report a failed gate never wrote); the new commit, or None when none changed."""
    tracked = set(git(repo, "ls-files", "-z", "--", *paths).split("\0"))
    paths = [p for p in paths if (repo / p).exists() or p in tracked]
    if not paths:
        return None
    git(repo, "add", "--all", "--", *paths)
    if not git(repo, "diff", "--cached", "--name-only", "--", *paths).strip():
        return None
    git(repo, "commit", "--quiet", "--no-verify", "--message", message, "--", *paths)
    return git(repo, "rev-parse", "HEAD").strip()


def push_branch(repo: Path, remote: str, branch: str, expected: str | None) -> None:
    """Push `branch` to `remote`, replacing the remote branch only if it still points at
    `expected` (None: only if it does not exist), so two runs never overwrite each other's work
    unseen (`--force-with-lease` with an explicit expectation, not a remote-tracking ref)."""
    lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
    git(repo, "push", "--quiet", lease, remote, f"HEAD:refs/heads/{branch}")


# --- DVC ---------------------------------------------------------------------------------------


def tracked_inputs(repo: Path) -> list[str]:
    """The `.dvc`-tracked files that a stage of `dvc.yaml` reads: the raw snapshot(s).

    Read from the files DVC reads, so the path is written once: in `dvc.yaml`, or in
    `params.yaml` when `dvc.yaml` names it as `${ingest.raw}` (resolved as DVC resolves it)."""
    stages = (io.load_yaml((repo / "dvc.yaml").read_text(encoding="utf-8")) or {})["stages"]
    params = io.load_yaml((repo / "params.yaml").read_text(encoding="utf-8")) or {}
    deps = {_interpolate(d if isinstance(d, str) else next(iter(d)), params)
            for s in stages.values() for d in s.get("deps", [])}  # fmt: skip
    found = []
    for dvcfile in sorted(git(repo, "ls-files", "-z", "--", "*.dvc").split("\0")):
        if not dvcfile:
            continue
        parent = Path(dvcfile).parent
        for out in (io.load_yaml((repo / dvcfile).read_text(encoding="utf-8")) or {})["outs"]:
            path = (parent / out["path"]).as_posix()
            if path in deps:
                found.append(path)
    return found


_PARAM_REF = re.compile(r"\$\{\s*([\w.-]+)\s*\}")


def _interpolate(text: str, params: Mapping[str, object]) -> str:
    """`text` with each `${a.b}` replaced by params.yaml's value at a.b, as `dvc.yaml` does."""

    def value(match: re.Match[str]) -> str:
        node: object = params
        for key in match.group(1).split("."):
            if not isinstance(node, Mapping) or key not in node:
                name = match.group(1)
                raise GitOpsError(f"dvc.yaml names ${{{name}}}; params.yaml has no such key")
            node = node[key]
        return str(node)

    return _PARAM_REF.sub(value, text)


def tracked_md5(repo: Path, path: str, ref: str | None = None) -> str | None:
    """The md5 that `path`'s `.dvc` file records, in the work tree or at `ref`."""
    name = f"{path}.dvc"
    text = gitdvc.show_text(ref, name, repo) if ref else (repo / name).read_text(encoding="utf-8")
    outs = (io.load_yaml(text or "") or {}).get("outs", [])
    return next((o.get("md5") for o in outs), None)


def git_tracked_outputs(repo: Path) -> list[str]:
    """The outputs `dvc.yaml` keeps in git (`cache: false`): the reports a retrain commits."""
    stages = (io.load_yaml((repo / "dvc.yaml").read_text(encoding="utf-8")) or {})["stages"]
    found = []
    for spec in stages.values():
        for entry in [*spec.get("outs", []), *spec.get("metrics", []), *spec.get("plots", [])]:
            if isinstance(entry, dict):
                path, options = next(iter(entry.items()))
                if (options or {}).get("cache") is False:
                    found.append(path)
    return sorted(set(found))


def default_remote(repo: Path) -> str | None:
    """DVC's default remote, or None when none is configured."""
    try:
        return dvc(repo, "remote", "default").strip() or None
    except GitOpsError:
        return None


def ensure_cached(repo: Path, rev: str, paths: Sequence[str], remote: str | None) -> bool:
    """Bring the outputs `paths` of commit `rev` into the local DVC cache, fetching only when
    the cache lacks one; True when all of them are there afterwards.

    `dvc fetch` reads the work tree's dvc.lock, and has no `--rev`, so the work tree is checked
    out at `rev` for the fetch and then put back: only the cache changes.
    """
    cache = repo / ".dvc" / "cache"
    lock = gitdvc.show_text(rev, "dvc.lock", repo)
    if all(gitdvc.cached_out(lock, p, cache) for p in paths):
        return True
    back = current_ref(repo)
    checkout(repo, rev)
    try:
        dvc(repo, "fetch", *(["--remote", remote] if remote else []), *paths)
    except GitOpsError as exc:
        logger.warning("cannot fetch %s of %s: %s", ", ".join(paths), rev, exc)
    finally:
        checkout(repo, back)
    return all(gitdvc.cached_out(lock, p, cache) for p in paths)


def restore(repo: Path, targets: Sequence[str], remote: str | None) -> None:
    """The work tree's copy of the DVC-tracked `targets` as the checked-out `.dvc` files say:
    from the cache, else from the remote."""
    dvc_files = [f"{t}.dvc" for t in targets]
    try:
        dvc(repo, "checkout", "--force", *dvc_files)
    except GitOpsError:
        dvc(repo, "pull", "--force", *(["--remote", remote] if remote else []), *dvc_files)


def add(repo: Path, path: str) -> None:
    dvc(repo, "add", "--quiet", path)


def repro(repo: Path, base_ref: str) -> bool:
    """`dvc repro --force` with every gate, the champion gate comparing with `base_ref`;
    False when a stage (a gate, most likely) failed."""
    try:
        dvc(repo, "repro", "--force", env={gitdvc.BASE_REF_ENV: base_ref}, quiet=False)
    except GitOpsError as exc:
        logger.warning("dvc repro stopped: %s", exc)
        return False
    return True


def push_data(repo: Path, remote: str | None) -> None:
    """`dvc push` of the work tree's outputs and raw data, for the PR's CI to pull."""
    dvc(repo, "push", *(["--remote", remote] if remote else []), quiet=False)
