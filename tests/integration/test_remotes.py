"""`dvc push` then `dvc pull` through each kind of remote a team may use, into a fresh clone.

One copy of the repository reproduces the pipeline once (1-6 min) and pushes to a local-directory
remote, an S3 bucket served on loopback by moto, and an SSH server on loopback (when `sshd` is
installed). A `git clone` of it with an empty cache then pulls, and must get back every output
`dvc.lock` records, bit for bit, with nothing left for `dvc repro` to run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.integration._remote_helpers import (
    Remote,
    add_remote,
    add_secrets,
    bucket_keys,
    cached_paths,
    commit_all,
    dir_keys,
    dvc_json,
    md5_of,
    object_key,
    recorded_md5s,
    start_sshd,
)
from tests.integration.repo_copy import UP_TO_DATE, fresh_copy, git, ran_stages, run_dvc

pytestmark = pytest.mark.slow

# moto accepts any credentials; distinctive ones let a test prove they never reach git.
S3_KEY_ID = f"modelgate-test-key-{uuid.uuid4().hex}"
S3_SECRET = f"modelgate-test-secret-{uuid.uuid4().hex}"
S3_PREFIX = "dvcstore"


@dataclass(frozen=True)
class Store:
    """A remote and a way to list what it holds, as keys relative to its root."""

    remote: Remote
    keys: Callable[[], set[str]]


@pytest.fixture(scope="module", autouse=True)
def _no_ambient_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep a developer's AWS profile and DVC global config (a shared cache dir, a default
    remote) out of the subprocesses: credentials come from each remote's `--local` config."""
    sandbox = tmp_path_factory.mktemp("no-ambient-config")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith(("AWS_", "DVC_"))]:
            patch.delenv(name)
        # Empty files, not /dev/null: botocore rejects a config path that is not a regular file.
        for name, variable in [
            ("aws-config", "AWS_CONFIG_FILE"),
            ("aws-credentials", "AWS_SHARED_CREDENTIALS_FILE"),
        ]:
            (sandbox / name).touch()
            patch.setenv(variable, str(sandbox / name))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe 169.254.169.254
        patch.setenv("DVC_GLOBAL_CONFIG_DIR", str(sandbox / "global"))
        patch.setenv("DVC_SYSTEM_CONFIG_DIR", str(sandbox / "system"))
        patch.setenv("DVC_SITE_CACHE_DIR", str(sandbox / "site-cache"))
        yield


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The team's repository: pipeline reproduced, everything but the cache committed."""
    repo = fresh_copy(tmp_path_factory.mktemp("origin") / "repo")
    run_dvc(repo, "repro")
    commit_all(repo, "Reproduce the pipeline")
    return repo


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """An `sshd` on a loopback port that lets this user in with a fresh key: (port, key file)."""
    binary = shutil.which("sshd", path=os.pathsep.join([os.environ["PATH"], "/usr/sbin"]))
    if binary is None:
        pytest.skip("no sshd on PATH or in /usr/sbin: `apt-get install openssh-server` to run")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        pytest.skip("sshd run by root needs its privilege-separation dir: `mkdir /run/sshd`")
    server, port, key = start_sshd(binary, tmp_path_factory.mktemp("sshd"))
    try:
        yield port, key
    finally:
        server.terminate()
        server.wait(timeout=10)


def _make_store(kind: str, root: Path, request: pytest.FixtureRequest) -> Store:
    name = f"{kind}-{uuid.uuid4().hex[:8]}"
    if kind == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
        )
        client.create_bucket(Bucket=name)
        remote = Remote(
            name,
            f"s3://{name}/{S3_PREFIX}",
            options={"endpointurl": endpoint},
            secrets={"access_key_id": S3_KEY_ID, "secret_access_key": S3_SECRET},
        )
        return Store(remote, lambda: bucket_keys(client, name, S3_PREFIX))
    if kind == "ssh":
        port, key = request.getfixturevalue("sshd")
        remote = Remote(
            name,
            f"ssh://127.0.0.1{root}",
            options={"port": str(port), "user": pwd.getpwuid(os.geteuid()).pw_name},
            secrets={"keyfile": str(key)},
        )
        return Store(remote, lambda: dir_keys(root))
    return Store(Remote(name, str(root)), lambda: dir_keys(root))


@pytest.fixture(scope="module", params=["local", "s3", "ssh"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _make_store(request.param, tmp_path_factory.mktemp(f"{request.param}-store"), request)


@pytest.fixture(scope="module")
def pushed(origin: Path, store: Store) -> Store:
    """`store` after the team committed its config and ran `dvc push` to it."""
    add_remote(origin, store.remote)
    commit_all(origin, f"Add DVC remote {store.remote.name}")
    run_dvc(origin, "push", "--remote", store.remote.name)
    return store


@pytest.fixture(scope="module")
def clone(origin: Path, pushed: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh `git clone` of `origin` that got its credentials and ran `dvc pull`."""
    repo = tmp_path_factory.mktemp("clone") / "repo"
    git(origin, "clone", "--quiet", str(origin), str(repo))
    assert not (repo / ".dvc" / "cache").exists(), "a fresh clone starts with an empty cache"
    add_secrets(repo, pushed.remote)
    run_dvc(repo, "pull", "--remote", pushed.remote.name)
    return repo


def test_push_uploads_every_cached_output(origin: Path, pushed: Store) -> None:
    recorded = recorded_md5s(origin)
    expected = {object_key(recorded[path]) for path in cached_paths(origin)}
    assert expected - pushed.keys() == set()
    assert dvc_json(origin, "status", "--cloud", "--remote", pushed.remote.name) == {}


def test_pull_restores_every_recorded_output_bit_for_bit(clone: Path) -> None:
    recorded = recorded_md5s(clone)
    assert "data/raw/credit_data.csv" in recorded
    assert cached_paths(clone) <= recorded.keys()
    assert {path: md5_of(clone / path) for path in recorded} == recorded


def test_clone_is_in_sync_with_workspace_and_remote(clone: Path, pushed: Store) -> None:
    name = pushed.remote.name
    assert dvc_json(clone, "status") == {}
    assert dvc_json(clone, "status", "--cloud", "--remote", name) == {}
    assert dvc_json(clone, "data", "status") == {}
    assert dvc_json(clone, "data", "status", "--not-in-remote", "--remote", name) == {}


def test_repro_after_pull_runs_no_stage(clone: Path) -> None:
    lock = (clone / "dvc.lock").read_bytes()
    result = run_dvc(clone, "repro")
    assert ran_stages(result.stdout) == []
    assert UP_TO_DATE in result.stdout
    assert (clone / "dvc.lock").read_bytes() == lock
    assert git(clone, "status", "--porcelain") == ""


def test_remote_config_comes_with_git_but_secrets_do_not(clone: Path, pushed: Store) -> None:
    committed = git(clone, "show", "HEAD:.dvc/config")
    assert f'remote "{pushed.remote.name}"' in committed
    assert pushed.remote.url in committed
    history = git(clone, "log", "--all", "--patch")
    assert [value for value in pushed.remote.secrets.values() if value in history] == []
    git(clone, "check-ignore", "--quiet", ".dvc/config.local")  # raises if it would be committed


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_pull_from_remote_without_the_data_fails_naming_each_file(
    origin: Path, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "empty-store").mkdir()
    empty = _make_store(kind, tmp_path / "empty-store", request)
    repo = tmp_path / "clone"
    git(origin, "clone", "--quiet", str(origin), str(repo))
    add_remote(repo, empty.remote)
    result = run_dvc(repo, "pull", "--remote", empty.remote.name, check=False)
    assert result.returncode != 0
    assert "failed to pull data from the cloud" in result.stdout
    assert sorted(path for path in cached_paths(repo) if path not in result.stdout) == []
    assert not (repo / "data/raw/credit_data.csv").exists()


def test_bundled_remote_holds_raw_data_only(origin: Path, tmp_path: Path) -> None:
    """A clone with no team remote gets the raw data offline, and a clear list of the rest."""
    repo = tmp_path / "clone"
    git(origin, "clone", "--quiet", str(origin), str(repo))
    result = run_dvc(repo, "pull", "--remote", "bundled", check=False)
    assert result.returncode != 0
    raw = "data/raw/credit_data.csv"
    assert md5_of(repo / raw) == recorded_md5s(repo)[raw]
    _, failed = result.stdout.split("Checkout failed for following targets:")
    assert sorted(path for path in cached_paths(repo) - {raw} if path not in failed) == []
    assert raw not in failed
