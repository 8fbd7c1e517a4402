"""The same model, whichever engine (issue 13): `train.engine: dask` against `local`.

A copy of the repository reproduces main with the local engine; then the data scientist's own
command, `dvc exp run -S train.engine=dask`, retrains on a real LocalCluster (two worker
processes, XGBoost's Dask interface) and every stage after train runs unchanged: evaluate,
the gates, the ONNX export and its parity check. The test ROC-AUC of the two models differs by
at most 0.005 and the ONNX twin of the Dask model flips no decision. Retraining on the same
cluster shape rewrites the same model bytes, so `dvc.lock` is reproduced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.repo_copy import git, ran_stages, reproduced_main, run_dvc

pytestmark = pytest.mark.slow

AUC_TOLERANCE = 0.005  # the bound on |ROC-AUC(dask) - ROC-AUC(local)|


def _json(repo: Path, name: str) -> dict:
    return json.loads((repo / name).read_text())


def _model_md5(repo: Path) -> str:
    from modelgate.io import load_yaml

    lock = load_yaml((repo / "dvc.lock").read_text())
    outs = lock["stages"]["train"]["outs"]
    return next(o["md5"] for o in outs if o["path"] == "models/pipeline.pkl")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict:
    repo = reproduced_main(tmp_path_factory.mktemp("engines") / "repo")
    local = {"metrics": _json(repo, "reports/metrics.json"), "model": _model_md5(repo)}
    result = run_dvc(repo, "exp", "run", "-S", "train.engine=dask")
    return {"repo": repo, "local": local, "exp_output": result.stdout}


def test_dask_on_a_local_cluster_trains_the_same_model_as_local(engines: dict) -> None:
    repo = engines["repo"]
    assert "train: dask, 2 workers (LocalCluster)" in engines["exp_output"]
    assert _model_md5(repo) != engines["local"]["model"], "the Dask engine did not train"
    local_auc = engines["local"]["metrics"]["test"]["roc_auc"]
    dask_auc = _json(repo, "reports/metrics.json")["test"]["roc_auc"]
    assert abs(dask_auc - local_auc) <= AUC_TOLERANCE, (local_auc, dask_auc)
    parity = _json(repo, "reports/parity.json")
    assert parity["passed"] and parity["test"]["flips"] == 0 == parity["split_points"]["flips"]
    verdicts = {g: _json(repo, f"reports/gates/{g}.json")["status"] for g in ("model", "parity")}
    assert verdicts == {"model": "pass", "parity": "pass"}


def test_retraining_on_the_same_cluster_shape_reproduces_dvc_lock(engines: dict) -> None:
    repo = engines["repo"]
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "experiment: train.engine=dask")
    result = run_dvc(repo, "repro", "--force", "--single-item", "train")
    assert ran_stages(result.stdout) == ["train"]
    assert git(repo, "status", "--porcelain", "--", "dvc.lock", "models") == ""
    assert git(repo, "diff", "HEAD", "--", "dvc.lock") == ""
