"""The Dask engine reads its training partitions from S3 (moto's server on loopback, reached as
production reaches AWS: AWS_ENDPOINT_URL and the standard credential variables) and trains the
very model it trains from the same parts on local disk: same partitions, same placement, same
bytes. The data is the synthetic generator's, ingested and split by the real stage CLIs; the
train stage runs as `dvc.yaml` runs it, a subprocess with paths as arguments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

from modelgate import partitions
from tests.integration.test_retrain_e2e import _no_ambient_config, s3_endpoint  # noqa: F401
from tests.unit._pipeline import args

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BUCKET = f"training-{uuid.uuid4().hex[:8]}"
PREFIX = "train"
ROWS, PARTS = 20_000, 4
N_ESTIMATORS = 60  # enough trees for a real model, few enough for a quick test


@dataclass(frozen=True)
class Workspace:
    root: Path
    params: Path
    schema: Path
    train: Path  # the split's training partitions: a directory of 4 Parquet parts


def _stage(module: str, cwd: Path, env: dict[str, str] | None = None, **options: object):
    argv = [sys.executable, "-m", module, *args(**options)]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Synthetic raw parts -> ingest -> split in a fresh directory, with `train.engine: dask`."""
    root = tmp_path_factory.mktemp("dask-s3")
    params = root / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    made = _stage(
        "modelgate.synthetic", root, rows=ROWS, parts=PARTS, seed=11, out="raw", params=params
    )
    assert made.returncode == 0, made.stderr
    document = yaml.safe_load(params.read_text())
    document["train"].update(engine="dask", n_estimators=N_ESTIMATORS)
    params.write_text(yaml.safe_dump(document, sort_keys=False))
    contract = {"schema": "processed/schema.json", "params": params}
    steps = [
        ("modelgate.stages.ingest", {"input": "raw", "output": "processed/dataset.parquet",
                                     "gates_dir": "gates", "report": "gates.json"}),
        ("modelgate.stages.split", {"input": "processed/dataset.parquet",
                                    "output_dir": "split", "summary": "split.json"}),
    ]  # fmt: skip
    for module, options in steps:
        done = _stage(module, root, **options, **contract)
        assert done.returncode == 0, done.stderr
    train = root / "split" / "train.parquet"
    assert len(partitions.parts(train)) == PARTS
    return Workspace(root, params, root / "processed" / "schema.json", train)


@pytest.fixture(scope="module")
def bucket(workspace: Workspace, s3_endpoint: str) -> str:  # noqa: F811 (a fixture)
    """The training parts uploaded under s3://BUCKET/PREFIX/, as a data team would publish them."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    for part in partitions.parts(workspace.train):
        client.upload_file(str(part), BUCKET, f"{PREFIX}/{part.name}")
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")["Contents"]
    assert sorted(item["Key"] for item in listed) == [
        f"{PREFIX}/{partitions.part_name(i)}" for i in range(PARTS)
    ]
    return BUCKET


def _train_env(endpoint: str) -> dict[str, str]:
    """This process's sandboxed environment, the store's address and credentials added; no
    MODELGATE_DASK_* of the developer's, so both runs start the same LocalCluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_DASK_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


def _train(workspace: Workspace, source: str, model: str, endpoint: str, **env: str):
    return _stage(
        "modelgate.stages.train",
        workspace.root,
        {**_train_env(endpoint), **env},
        train=source,
        schema=workspace.schema,
        model=model,
        params=workspace.params,
    )


def test_training_from_s3_gives_the_bytes_of_training_from_disk(
    workspace: Workspace,
    bucket: str,
    s3_endpoint: str,  # noqa: F811 (a fixture)
):
    remote = _train(workspace, f"s3://{bucket}/{PREFIX}", "models/s3.pkl", s3_endpoint)
    local = _train(workspace, str(workspace.train), "models/local.pkl", s3_endpoint)

    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    for done in (remote, local):
        assert f"train: dask, 2 workers (LocalCluster), {PARTS} partitions" in done.stderr
        assert f"features, {N_ESTIMATORS} trees" in done.stderr
    from_s3 = (workspace.root / "models" / "s3.pkl").read_bytes()
    from_disk = (workspace.root / "models" / "local.pkl").read_bytes()
    assert len(from_s3) > 10_000  # a model of N_ESTIMATORS trees, not an empty pickle
    assert from_s3 == from_disk


@pytest.mark.parametrize("url", ["s3://no-such-bucket-{id}/train", "s3://{bucket}/no-such-prefix"])
def test_a_missing_bucket_or_prefix_fails_naming_the_url(
    workspace: Workspace,
    bucket: str,
    s3_endpoint: str,  # noqa: F811 (a fixture)
    url: str,
):
    missing = url.format(id=uuid.uuid4().hex[:8], bucket=bucket)

    done = _train(workspace, missing, "models/never.pkl", s3_endpoint)

    assert done.returncode == 1
    assert missing in done.stderr
    assert "Traceback" not in done.stderr
    assert not (workspace.root / "models" / "never.pkl").exists()


def test_a_workspace_split_is_staged_to_s3_once_and_trains_the_same_model(
    workspace: Workspace,
    bucket: str,
    s3_endpoint: str,  # noqa: F811 (a fixture)
):
    """MODELGATE_DASK_STAGING: what a remote cluster needs, since `dvc.yaml` hands the stage a
    path on this machine. The parts are copied under the content's digest, read by the workers
    from there, and not copied again for the same content."""
    staging = {"MODELGATE_DASK_STAGING": f"s3://{bucket}/staging"}
    first = _train(workspace, str(workspace.train), "models/staged.pkl", s3_endpoint, **staging)
    again = _train(workspace, str(workspace.train), "models/again.pkl", s3_endpoint, **staging)
    local = _train(workspace, str(workspace.train), "models/plain.pkl", s3_endpoint)

    for done in (first, again, local):
        assert done.returncode == 0, done.stderr
    url = f"s3://{bucket}/staging/{partitions.digest(workspace.train)}"
    assert f"staged {workspace.train} at {url}" in first.stderr
    assert f"already staged at {url}" in again.stderr
    listed = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    ).list_objects_v2(Bucket=bucket, Prefix="staging/")["Contents"]  # fmt: skip
    names = sorted(item["Key"].rsplit("/", 1)[1] for item in listed)
    assert names == ["_COMPLETE", *(partitions.part_name(i) for i in range(PARTS))]
    models = [(workspace.root / "models" / n).read_bytes() for n in ("staged.pkl", "again.pkl")]
    assert models[0] == models[1] == (workspace.root / "models" / "plain.pkl").read_bytes()
