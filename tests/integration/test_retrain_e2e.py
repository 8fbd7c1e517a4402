"""The retraining loop for real (issue 11, point 6): `make monitor`, then `make retrain-pr`, in
a throwaway git repository whose `origin` is a bare clone and whose DVC remote is an S3 bucket
served on loopback by moto, with real DVC, real gates and real git. Production serves main's
model (the production revision is main's commit).

The prediction log is written in the server's schema-1 format (as benchmarks/bench_monitor.py
writes it) from the held-out test rows scored by the model, one decision every few hours from
March to August; each row's outcome is its own label, known 60 days after the decision, and
the run is as of 2026-12-01, so every row has matured. Six months keep each monthly cohort
under the 200 labelled rows a realized verdict needs: the monitor says drift, not degradation.

- no drift: decision `none`, no branch on origin;
- Income shifted by 0.5 SD: the monitor exits 3; `make retrain-pr` opens
  `retrain/credit-risk/drift-2026-12-01` on origin with a new raw-data hash, a new dvc.lock and
  the gates' results, its outputs in the bucket, a body naming Income;
- the same run again, the local cache emptied of production's model and fitting rows as on a
  fresh CI runner (they are fetched at the production revision): `update`, the same branch
  force-pushed with the same snapshot and dvc.lock, still one retraining branch;
- no drift again while the branch is open: `drift-passed`, the branch left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import onnxruntime as ort
import orjson
import pandas as pd
import pytest
import yaml
from moto.server import ThreadedMotoServer

from modelgate import metadata
from modelgate.model import model_frame
from modelgate.onnx_export import onnx_scores
from modelgate.schema import FeatureSchema
from modelgate.serve.log_files import PREFIX, SUFFIX, file_label
from tests.integration._remote_helpers import bucket_keys, object_key
from tests.integration.repo_copy import (
    git,
    reproduced_main,
    run_dvc,
    run_make,
)

pytestmark = pytest.mark.slow

AS_OF = "2026-12-01"
FIRST_DECISION = datetime(2026, 3, 1, tzinfo=UTC)
LAST_DECISION = datetime(2026, 8, 31, tzinfo=UTC)
OUTCOME_AFTER = timedelta(days=60)
ROWS_PER_FILE = 300
BRANCH = f"retrain/credit-risk/drift-{AS_OF}"
RAW = "data/raw/credit_data.csv"
# moto accepts any credentials; distinctive ones let a test prove they never reach git.
S3_KEY_ID, S3_SECRET = f"retrain-key-{uuid.uuid4().hex}", f"retrain-secret-{uuid.uuid4().hex}"
BUCKET, PREFIX_S3 = f"team-{uuid.uuid4().hex[:8]}", "dvcstore"


@dataclass(frozen=True)
class World:
    repo: Path
    origin: Path
    production: str  # main's commit
    bucket: object  # a boto3 S3 client on the loopback server
    plain: Path  # log of the test rows as they are
    drifted: Path  # ... with Income shifted
    outcomes: Path


@pytest.fixture(scope="module")
def _no_ambient_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A developer's AWS profile and DVC global config stay out of the subprocesses, as in
    test_remotes: the bucket's credentials come from the remote's `--local` config."""
    sandbox = tmp_path_factory.mktemp("no-ambient-config")
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith(("AWS_", "DVC_"))]:
            patch.delenv(name)
        for name, variable in [("aws-config", "AWS_CONFIG_FILE"),
                               ("aws-credentials", "AWS_SHARED_CREDENTIALS_FILE")]:  # fmt: skip
            (sandbox / name).touch()
            patch.setenv(variable, str(sandbox / name))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("DVC_GLOBAL_CONFIG_DIR", str(sandbox / "global"))
        patch.setenv("DVC_SYSTEM_CONFIG_DIR", str(sandbox / "system"))
        patch.setenv("DVC_SITE_CACHE_DIR", str(sandbox / "site-cache"))
        yield


@pytest.fixture(scope="module")
def s3_endpoint(_no_ambient_config: None) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def write_log(directory: Path, repo: Path, shift_sds: dict[str, float], seed: int) -> list[str]:
    """The test rows (features shifted by `shift_sds` SDs) scored by main's model, logged in
    closed schema-1 files from FIRST_DECISION to LAST_DECISION; the request ids, in row order."""
    schema = FeatureSchema.from_dict(json.loads((repo / "data/processed/schema.json").read_text()))
    test = model_frame(pd.read_parquet(repo / "data/split/test.parquet"), schema)
    for column, sds in shift_sds.items():
        test[column] = test[column] + sds * test[column].std()
    session = ort.InferenceSession(str(repo / "models/model.onnx"))
    meta = metadata.read(session)
    scores = onnx_scores(session, test, schema)
    threshold = float(meta[metadata.THRESHOLD])
    features = test.astype(object).where(test.notna(), None).to_dict("records")
    step = (LAST_DECISION - FIRST_DECISION) / len(test)
    ids = [f"req-{seed}-{i:05d}" for i in range(len(test))]
    directory.mkdir(parents=True)
    for first in range(0, len(test), ROWS_PER_FILE):
        lines = []
        for i in range(first, min(first + ROWS_PER_FILE, len(test))):
            record = {
                "schema": 1, "request_id": ids[i], "row": 0,
                "time": (FIRST_DECISION + i * step).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "model_name": meta[metadata.MODEL_NAME],
                "model_version": meta[metadata.MODEL_VERSION], "features": features[i],
                "score": float(scores[i]), "endpoint": "/predict",
                "decision": "decline" if scores[i] >= threshold else "approve",
            }  # fmt: skip
            lines.append(orjson.dumps(record))
        label = file_label((FIRST_DECISION + first * step).timestamp())
        name = f"{PREFIX}{label}-1-{first // ROWS_PER_FILE + 1:06d}{SUFFIX}"
        (directory / name).write_bytes(b"\n".join(lines) + b"\n")
    return ids


def write_outcomes(path: Path, repo: Path, ids_by_log: list[list[str]]) -> None:
    """Each logged row's own label, known OUTCOME_AFTER its decision."""
    schema = FeatureSchema.from_dict(json.loads((repo / "data/processed/schema.json").read_text()))
    labels = pd.read_parquet(repo / "data/split/test.parquet")[schema.target].astype(str)
    step = (LAST_DECISION - FIRST_DECISION) / len(labels)
    dates = [(FIRST_DECISION + i * step + OUTCOME_AFTER).date().isoformat()
             for i in range(len(labels))]  # fmt: skip
    outcome = {"row": 0, "outcome": labels.to_numpy(), "outcome_date": dates}
    frames = [pd.DataFrame({"request_id": ids, **outcome}) for ids in ids_by_log]
    pd.concat(frames).to_csv(path, index=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> World:
    root = tmp_path_factory.mktemp("retrain")
    repo = reproduced_main(root / "repo")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET)  # fmt: skip
    client.create_bucket(Bucket=BUCKET)
    # The team's remote as the README sets it: the default, committed; secrets only --local.
    run_dvc(repo, "remote", "add", "--default", "team", f"s3://{BUCKET}/{PREFIX_S3}")
    run_dvc(repo, "remote", "modify", "team", "endpointurl", s3_endpoint)
    run_dvc(repo, "remote", "modify", "--local", "team", "access_key_id", S3_KEY_ID)
    run_dvc(repo, "remote", "modify", "--local", "team", "secret_access_key", S3_SECRET)
    git(repo, "commit", "--quiet", "--message", "Store DVC data in the team bucket", "--",
        ".dvc/config")  # fmt: skip
    run_dvc(repo, "push")  # production's outputs, as the team's remote holds them
    origin = root / "origin.git"
    git(root, "clone", "--quiet", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    plain_ids = write_log(root / "log-plain", repo, {}, seed=0)
    drifted_ids = write_log(root / "log-drifted", repo, {"Income": 0.5}, seed=1)
    write_outcomes(root / "outcomes.csv", repo, [plain_ids, drifted_ids])
    production = git(repo, "rev-parse", "main").strip()
    return World(repo, origin, production, client, root / "log-plain", root / "log-drifted",
                 root / "outcomes.csv")  # fmt: skip


def make(repo: Path, target: str, *variables: str) -> subprocess.CompletedProcess[str]:
    """`make TARGET` in the copy; the retraining commits get an identity of their own, as the
    workflow gives its bot."""
    identity = {"NAME": "retrain tests", "EMAIL": "tests@example.invalid"}
    who = {f"GIT_{role}_{k}": v for role in ("AUTHOR", "COMMITTER") for k, v in identity.items()}
    return run_make(repo, target, *variables, env=who)


def on_main(repo: Path) -> None:
    """Where a scheduled job starts: main checked out, its outputs in the work tree."""
    git(repo, "checkout", "--quiet", "main")
    run_dvc(repo, "checkout", "--force")


def monitor(w: World, log: Path) -> subprocess.CompletedProcess[str]:
    on_main(w.repo)
    return make(w.repo, "monitor", f"LOG={log}", f"OUTCOMES={w.outcomes}", f"AS_OF={AS_OF}")


def retrain(w: World, log: Path) -> dict:
    run = make(w.repo, "retrain-pr", f"PROD={w.production}", f"LOG={log}",
               f"OUTCOMES={w.outcomes}", f"AS_OF={AS_OF}")  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:]
    return json.loads((w.repo / "reports/retrain/decision.json").read_text(encoding="utf-8"))


def retrain_branches(w: World) -> dict[str, str]:
    listing = git(w.origin, "for-each-ref", "--format=%(refname:short) %(objectname)",
                  "refs/heads/retrain/")  # fmt: skip
    return dict(line.split() for line in listing.splitlines())


def show(w: World, ref: str, path: str) -> str:
    return git(w.origin, "show", f"{ref}:{path}")


PRODUCTION_OUTPUTS = ("models/model.onnx", "data/split/train.parquet",
                      "data/split/validation.parquet")  # fmt: skip


def cache_object(w: World, ref: str, path: str) -> Path:
    """Where the local DVC cache keeps output `path` of `ref`'s dvc.lock."""
    lock = yaml.safe_load(show(w, ref, "dvc.lock"))
    digest = next(o["md5"] for s in lock["stages"].values() for o in s.get("outs", [])
                  if o["path"] == path)  # fmt: skip
    return w.repo / ".dvc/cache" / object_key(digest)


def md5(dvcfile_text: str) -> str:
    return yaml.safe_load(dvcfile_text)["outs"][0]["md5"]


def test_no_drift_decides_none_and_opens_no_branch(world: World) -> None:
    run = monitor(world, world.plain)
    assert run.returncode == 0, run.stdout[-4000:]

    decision = retrain(world, world.plain)

    assert decision["action"] == "none" and decision["branch"] is None
    assert "monitor status ok" in decision["reason"]
    assert not (world.repo / "reports/retrain/body.md").exists()
    assert retrain_branches(world) == {}
    assert git(world.repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


def test_drift_opens_a_branch_with_a_new_snapshot_lock_and_gates(world: World) -> None:
    run = monitor(world, world.drifted)
    # make exits 2 for any failed recipe; the monitor's own code is in its message.
    assert run.returncode == 2 and "Error 3" in run.stdout, run.stdout[-4000:]

    decision = retrain(world, world.drifted)

    assert decision["action"] == "open" and decision["branch"] == BRANCH, decision
    assert decision["pushed"] and decision["production"] == world.production
    assert decision["gates"] in ("pass", "warn"), decision
    assert retrain_branches(world) == {BRANCH: decision["commit"]}
    changed = git(world.origin, "diff", "--name-only", "main", BRANCH).split()
    assert {f"{RAW}.dvc", "dvc.lock", "reports/gates/data.json"} <= set(changed), changed
    new_md5 = md5(show(world, BRANCH, f"{RAW}.dvc"))
    assert new_md5 != md5(show(world, "main", f"{RAW}.dvc"))
    for gate in ("contract", "data", "split", "model", "parity"):
        record = json.loads(show(world, BRANCH, f"reports/gates/{gate}.json"))
        assert record["status"] in ("pass", "warn"), record
    # The PR's CI pulls what the branch's dvc.lock names: the bucket holds the new snapshot and
    # the retrained model.
    model = cache_object(world, BRANCH, "models/model.onnx").relative_to(world.repo / ".dvc/cache")
    keys = bucket_keys(world.bucket, BUCKET, PREFIX_S3)
    assert {object_key(new_md5), model.as_posix()} <= keys
    body = (world.repo / "reports/retrain/body.md").read_text(encoding="utf-8")
    assert body.startswith("<!-- modelgate:retrain-pr -->\n\n# Retrain credit-risk: drift in")
    assert "**DRIFT** in `Income`" in body
    assert "A human must review and merge this pull request" in body
    assert "## Out-of-time comparison" in body and "most recent matured production rows" in body
    assert "## The PR report, against production" in body
    assert decision["oot"] in ("pass", "warn", "fail")


def test_the_same_run_again_updates_the_same_branch(world: World) -> None:
    before = retrain_branches(world)
    assert list(before) == [BRANCH], "run after the drift test"
    run = monitor(world, world.drifted)
    assert "Error 3" in run.stdout, run.stdout[-4000:]
    # As on a fresh CI runner, the cache lacks production's model and the rows it was fitted
    # on: the run fetches them from the remote at the production revision.
    for path in PRODUCTION_OUTPUTS:
        cache_object(world, "main", path).unlink()

    decision = retrain(world, world.drifted)

    assert all(cache_object(world, "main", path).is_file() for path in PRODUCTION_OUTPUTS)
    body = (world.repo / "reports/retrain/body.md").read_text(encoding="utf-8")
    assert "test rows that the base model did not train on" in body  # its fit data was there
    assert decision["action"] == "update" and decision["branch"] == BRANCH
    assert retrain_branches(world) == {BRANCH: decision["commit"]}
    # Rebuilt on main from the same rows: the same snapshot and the same pipeline results.
    assert show(world, BRANCH, f"{RAW}.dvc") == show(world, before[BRANCH], f"{RAW}.dvc")
    assert show(world, BRANCH, "dvc.lock") == show(world, before[BRANCH], "dvc.lock")
    assert git(world.origin, "merge-base", "main", BRANCH).strip() == world.production


def test_drift_passed_while_the_branch_is_open_is_said_and_the_branch_kept(world: World) -> None:
    before = retrain_branches(world)
    assert monitor(world, world.plain).returncode == 0

    decision = retrain(world, world.plain)

    assert decision["action"] == "drift-passed" and decision["branch"] == BRANCH
    assert retrain_branches(world) == before
    body = (world.repo / "reports/retrain/body.md").read_text(encoding="utf-8")
    assert "the episode of `retrain/credit-risk/drift-2026-12-01` has passed" in body


def test_the_bucket_secrets_never_reached_git(world: World) -> None:
    history = git(world.origin, "log", "--all", "--patch")
    assert S3_SECRET not in history and S3_KEY_ID not in history
