"""`train.engine: dask` on a real, separately started cluster (MODELGATE_DASK_SCHEDULER).

A `dask scheduler` and two `dask worker` processes (named 0 and 1, one thread each) run on
loopback, as an operator would start them; the train stage's CLI joins them through the
environment alone. It must train the byte-identical model the stage's own LocalCluster of the
same shape trains: the scheduler's address is a runtime setting, never part of the model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from distributed import Client

from tests.conftest import ROOT
from tests.unit._pipeline import PipelineRun

pytestmark = pytest.mark.slow

DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_S = 60


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELGATE_")}
    return {**env, "PYTHONPATH": str(ROOT / "src"), **extra}


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(DASK), *args], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """The address of a running scheduler with workers `0` and `1` (one thread each)."""
    spec = tmp_path / "scheduler.json"
    common = ["--scheduler-file", str(spec), "--host", "127.0.0.1", "--no-dashboard"]
    processes = [_start("scheduler", "--port", "0", *common)]
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not spec.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        for name in ("0", "1"):
            processes.append(_start("worker", "--name", name, "--nthreads", "1", *common))
        with Client(scheduler_file=str(spec), timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
            yield client.scheduler.address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _train(run: PipelineRun, params: Path, model: Path, **env: str) -> str:
    command = [sys.executable, "-m", "modelgate.stages.train", "--params", str(params)]
    command += ["--train", str(run.part("train")), "--schema", str(run.schema_json)]
    result = subprocess.run(
        [*command, "--model", str(model)], env=_env(**env), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_a_running_cluster_named_in_the_environment_trains_the_local_clusters_model(
    pipeline_run: PipelineRun, cluster: str, tmp_path: Path
) -> None:
    params = yaml.safe_load(pipeline_run.params.read_text())
    params["train"] |= {"engine": "dask", "n_jobs": 2}  # a LocalCluster of 2 x 1 thread
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))

    local_log = _train(pipeline_run, params_file, tmp_path / "local.pkl")
    remote_log = _train(
        pipeline_run, params_file, tmp_path / "remote.pkl", MODELGATE_DASK_SCHEDULER=cluster
    )

    assert "2 workers (LocalCluster)" in local_log
    assert f"2 workers ({cluster})" in remote_log
    assert "packed elsewhere" not in local_log + remote_log  # placed as asked, not repaired
    remote, local = (tmp_path / "remote.pkl").read_bytes(), (tmp_path / "local.pkl").read_bytes()
    assert remote == local
    assert remote != pipeline_run.model.read_bytes()  # not the local engine's model
