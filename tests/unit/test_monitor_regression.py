"""`modelgate monitor` on a regressor (issue 12.2), end to end on the tiny demand pipeline: the
reference stage, the server's log lines (prediction as score, no decision), numeric outcomes,
drift on the features only, no label-free estimate, realized error per cohort, and the report
and metrics that render it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import yaml

from modelgate.model import labels, model_frame
from modelgate.monitor.__main__ import main as monitor
from modelgate.monitor.outcomes import OutcomesError, read_outcomes
from modelgate.monitor.reference import Reference
from modelgate.onnx_export import onnx_scores
from modelgate.serve.log_files import file_label
from modelgate.serve.prediction_log import Batch, encode
from modelgate.stages import reference as reference_stage
from tests.unit._demand import Demand, demand_fixture, demand_params  # noqa: F401 (fixture)
from tests.unit._pipeline import args

ROOT = Path(__file__).resolve().parents[2]
START = pd.Timestamp("2026-07-01", tz="UTC").timestamp()


def _params(tmp: Path) -> Path:
    params = demand_params()
    project = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["monitor"] = copy.deepcopy(project["monitor"])
    params["monitor"]["performance"].update(min_rows=100, maturity_days=7)
    params["gates"] = {"model": {"metrics": {"r2": {"min": 0.5}}}}
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _log(demand: Demand, directory: Path, error_scale: float) -> pd.DataFrame:
    """One logged row per test row over July, as the server writes it; the outcomes of a
    model whose errors are `error_scale` times its own (the actuals move, not the predictions)."""
    run, schema = demand.run, demand.run.schema
    test = pd.read_parquet(run.part("test"))
    session = ort.InferenceSession(demand.onnx.read_bytes(), providers=["CPUExecutionProvider"])
    features = model_frame(test, schema)
    predictions = onnx_scores(session, features, schema)
    actual = labels(test, schema)
    from modelgate import metadata

    version = metadata.read(session)[metadata.MODEL_VERSION]
    lines, ids = [], []
    for i in range(len(test)):
        moment = START + i * (27 * 86400 / len(test))
        batch = Batch(f"req-{i}", moment, "/predict", "tiny-demand", version,
                      {n: features[n].to_numpy()[i : i + 1] for n in schema.features},
                      [float(predictions[i])], None)  # fmt: skip
        lines += encode(batch)
        ids.append(f"req-{i}")
    directory.mkdir()
    name = f"predictions-{file_label(START)}-1-000001.jsonl"
    (directory / name).write_bytes(b"".join(lines))
    outcome = predictions - (predictions - actual) * error_scale
    return pd.DataFrame({"request_id": ids, "outcome": outcome, "outcome_date": "2026-08-01"})


def _run(demand: Demand, tmp: Path, error_scale: float) -> tuple[int, dict, Path]:
    run, params = demand.run, _params(tmp)
    reference = tmp / "reference.json"
    reference_stage.main(
        args(params=params, train=run.part("train"), validation=run.part("validation"),
             schema=run.schema_json, model=demand.onnx, out=reference)
    )  # fmt: skip
    outcomes = _log(demand, tmp / "log", error_scale)
    outcomes.to_csv(tmp / "outcomes.csv", index=False)
    out = tmp / "out"
    code = monitor(
        ["--log", str(tmp / "log"), "--outcomes", str(tmp / "outcomes.csv"),
         "--as-of", "2026-09-01", "--reference", str(reference), "--model", str(demand.onnx),
         "--params", str(params), "--out", str(out)]
    )  # fmt: skip
    return code, json.loads((out / "monitor.json").read_text(encoding="utf-8")), out


def test_a_healthy_regressor_is_judged_on_its_realized_error(
    demand: Demand, tmp_path: Path
) -> None:
    code, result, out = _run(demand, tmp_path, 1.0)
    assert Reference.load(tmp_path / "reference.json").task == "regression"
    assert result["task"] == "regression" and result["estimated"] is None
    assert "no label-free estimate for regression" in result["estimate_note"]
    features = [f["feature"] for f in result["drift"]["features"]]
    assert "region" not in features and "date" not in features
    assert "date_day_of_week" in features
    (july,) = result["realized"]["cohorts"]
    assert july["judged"] and not july["degraded"] and july["labelled"] == july["rows"]
    assert july["mae"]["value"] == pytest.approx(result["test_metrics"]["mae"], rel=1e-4)
    assert code in (0, 3) and result["status"] in ("ok", "drift")  # July's calendar drifts
    text = (out / "monitor.md").read_text(encoding="utf-8")
    assert "Not estimated: no label-free estimate for regression" in text
    assert "| 2026-07 |" in text and "MAE vs test" in text
    prom = (out / "metrics.prom").read_text(encoding="utf-8")
    assert 'modelgate_monitor_realized_mae{cohort="2026-07"}' in prom
    assert "modelgate_monitor_realized_roc_auc" not in prom
    assert "modelgate_monitor_estimated" not in prom


def test_a_regressor_whose_error_grew_half_again_is_degraded(
    demand: Demand, tmp_path: Path
) -> None:
    code, result, out = _run(demand, tmp_path, 1.6)
    (july,) = result["realized"]["cohorts"]
    assert july["degraded"] and july["below"] == ["mae"]
    assert july["mae_increase"]["value"] == pytest.approx(0.6, abs=0.01)
    assert code in (4, 5) and "degraded" in result["status"]
    text = (out / "monitor.md").read_text(encoding="utf-8")
    assert "**DEGRADED**: cohort 2026-07 MAE" in text and "above the test set's" in text


def test_numeric_outcomes_are_numbers_and_a_class_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text("request_id,outcome,outcome_date\na,12.5,2026-08-01\nb,-3,2026-08-02\n")
    got = read_outcomes(path, None, None)
    assert got["label"].tolist() == [12.5, -3.0] and got["label"].dtype == np.float64
    path.write_text("request_id,outcome,outcome_date\na,high,2026-08-01\nb,inf,2026-08-01\n")
    with pytest.raises(OutcomesError, match="line 2: outcome 'high' is not a finite number; "
                       "line 3: outcome 'inf' is not a finite number"):  # fmt: skip
        read_outcomes(path, None, None)
