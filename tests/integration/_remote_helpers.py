"""Helpers for the DVC remote round-trip tests, on top of `repo_copy`'s copy-and-run helpers.

`repo_copy` makes and drives a throwaway copy of the repository; this module adds what a remote
needs: configuring one the way a team would, knowing which outputs travel through it, checking
what comes back by md5 independently of DVC, listing what a remote holds, and a loopback
`sshd`.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.integration.repo_copy import DVC_TIMEOUT_S, VENV_BIN, git, run_dvc, stage_env


@dataclass(frozen=True)
class Remote:
    """A DVC remote as a team configures it: `options` are committed, `secrets` never are."""

    name: str
    url: str
    options: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


def add_remote(repo: Path, remote: Remote) -> None:
    """Write `remote` to the project config (`.dvc/config`, for git), its secrets to `--local`."""
    run_dvc(repo, "remote", "add", remote.name, remote.url)
    for key, value in remote.options.items():
        run_dvc(repo, "remote", "modify", remote.name, key, value)
    add_secrets(repo, remote)


def add_secrets(repo: Path, remote: Remote) -> None:
    """Secrets go to `.dvc/config.local`, which `.dvc/.gitignore` keeps out of git."""
    for key, value in remote.secrets.items():
        run_dvc(repo, "remote", "modify", "--local", remote.name, key, value)


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "--message", message)


def dvc_json(repo: Path, *args: str) -> object:
    """`dvc ARGS --json`, parsed. Unlike `run_dvc`, stderr stays apart: DVC warns there."""
    result = subprocess.run(
        [str(VENV_BIN / "dvc"), *args, "--json"],
        cwd=repo,
        env=stage_env(repo),
        capture_output=True,
        text=True,
        timeout=DVC_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"dvc {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def dvcfiles(repo: Path) -> list[Path]:
    """The committed `.dvc` files; a glob for `*.dvc` would match the `.dvc/` directory too."""
    listing = git(repo, "ls-files", "-z", "--", "*.dvc")
    return [repo / name for name in filter(None, listing.split("\0"))]


def recorded_md5s(repo: Path) -> dict[str, str]:
    """Every output's md5 as `dvc.lock` and the `.dvc` files record it, by repo-relative path."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8"))
    recorded = {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }
    for dvcfile in dvcfiles(repo):
        for out in yaml.safe_load(dvcfile.read_text(encoding="utf-8"))["outs"]:
            recorded[(dvcfile.parent / out["path"]).relative_to(repo).as_posix()] = out["md5"]
    return recorded


def cached_paths(repo: Path) -> set[str]:
    """Outputs kept in DVC's cache, hence in remotes; `cache: false` ones travel in git."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    cached = {path.relative_to(repo).with_suffix("").as_posix() for path in dvcfiles(repo)}
    for stage in stages.values():
        for entry in stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", []):
            path, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
            if options.get("cache", True):
                cached.add(path)
    return cached


def md5_of(path: Path) -> str | None:
    """The md5 DVC records, computed without DVC: a file's digest, or for a directory the digest
    of its sorted JSON listing plus `.dir` (dvc_data's `Tree.as_bytes`). None when missing."""
    if path.is_file():
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "md5").hexdigest()
    if not path.is_dir():
        return None
    entries = sorted(
        (
            {"md5": md5_of(item), "relpath": item.relative_to(path).as_posix()}
            for item in path.rglob("*")
            if item.is_file()
        ),
        key=lambda entry: entry["relpath"],
    )
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def object_key(md5: str) -> str:
    """Where DVC 3 stores an object, relative to the remote's root."""
    return f"files/md5/{md5[:2]}/{md5[2:]}"


def dir_keys(root: Path) -> set[str]:
    """What a local-directory or SSH remote rooted at `root` holds, relative to `root`."""
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def bucket_keys(client, bucket: str, prefix: str) -> set[str]:
    """What an S3 remote at `s3://bucket/prefix` holds, relative to the prefix."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {
        item["Key"].removeprefix(f"{prefix}/")
        for page in pages
        for item in page.get("Contents", [])
    }


def start_sshd(binary: str, home: Path) -> tuple[subprocess.Popen, int, Path]:
    """An `sshd` on a free loopback port, letting this user in with a new key kept in `home`:
    (process, port, client key file). Only sftp is needed: DVC talks sftp."""
    for key in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / key)], check=True
        )
    port = _free_port()
    (home / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {home / 'host_key'}\n"
        f"PidFile {home / 'sshd.pid'}\nAuthorizedKeysFile {home / 'client_key.pub'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        # Without PAM, Debian's sshd refuses accounts whose shadow password is `*` as locked.
        "UsePAM yes\nStrictModes no\nSubsystem sftp internal-sftp\n"
    )
    with (home / "sshd.log").open("w") as log:
        server = subprocess.Popen(
            [binary, "-D", "-e", "-f", str(home / "sshd_config")], stdout=log, stderr=log
        )
    try:
        _wait_for_port(port, server)
    except (RuntimeError, TimeoutError):
        server.kill()
        raise
    return server, port, home / "client_key"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")
