"""Serving a regressor (in process): one `prediction` output on /predict and the Open Inference
Protocol, inputs that are the model's features only (a protected column or a raw date is an
unknown field), and its prediction logged as the row's score."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import tritonclient.http as v2
from fastapi.testclient import TestClient

from modelgate import io, metadata
from modelgate.cli import StageError
from modelgate.model import model_frame
from modelgate.onnx_export import onnx_scores
from modelgate.serve.app import create_app
from modelgate.serve.predictor import ModelLoadError, Predictor
from modelgate.serve.settings import Settings
from modelgate.smoke import check
from tests.unit._demand import Demand, demand_fixture  # noqa: F401 (a fixture)
from tests.unit._pipeline import PipelineRun
from tests.unit.test_serve_app import records, triton_infer, triton_inputs

NAME = "tiny-demand"


@pytest.fixture(scope="module")
def run(demand: Demand) -> PipelineRun:
    return demand.run


@pytest.fixture(scope="module")
def exported(demand: Demand) -> Path:
    return demand.onnx


@pytest.fixture(scope="module")
def test_rows(run: PipelineRun) -> pd.DataFrame:
    return pd.read_parquet(run.part("test")).head(50)


@pytest.fixture(scope="module")
def expected(exported: Path, run: PipelineRun, test_rows: pd.DataFrame) -> np.ndarray:
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    return onnx_scores(session, model_frame(test_rows, run.schema), run.schema)


@pytest.fixture
def client(exported: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(model=exported, prediction_log_dir=tmp_path / "log", max_batch=500)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def test_predict_answers_one_prediction_per_row(
    client: TestClient, run: PipelineRun, test_rows: pd.DataFrame, expected: np.ndarray
):
    response = client.post("/predict", json=records(test_rows, run.schema))

    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert {tuple(p) for p in predictions} == {("prediction",)}  # no probability, no decision
    got = np.array([p["prediction"] for p in predictions])
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=0)
    evaluated = pd.read_csv(run.predictions)["predicted"].head(len(got))
    np.testing.assert_allclose(got, evaluated, rtol=1e-5)  # the csv keeps 6 digits


def test_infer_has_one_fp32_prediction_output(
    client: TestClient, run: PipelineRun, test_rows: pd.DataFrame, expected: np.ndarray
):
    rows = records(test_rows.head(3), run.schema)
    inputs = [
        {
            "name": name,
            "datatype": "BYTES" if spec.kind == "categorical" else "FP64",
            "shape": [3, 1],
            "data": [r[name] for r in rows],
        }
        for name, spec in run.schema.feature_columns.items()
    ]

    response = client.post(f"/v2/models/{NAME}/infer", json={"inputs": inputs})

    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("prediction", "FP32", [3])
    np.testing.assert_allclose(output["data"], expected[:3], rtol=1e-6)


def test_tritonclient_at_its_defaults_gets_the_prediction_as_binary(
    client: TestClient, run: PipelineRun, test_rows: pd.DataFrame, expected: np.ndarray
):
    response, result = triton_infer(client, triton_inputs(test_rows, run.schema), model=NAME)

    assert response.headers["content-type"] == "application/octet-stream"
    prediction = result.as_numpy("prediction")
    assert prediction.dtype == np.float32 and prediction.shape == (len(test_rows),)
    np.testing.assert_allclose(prediction, expected, rtol=1e-6)


def test_a_classifiers_output_is_unknown_here(client: TestClient, run, test_rows):
    inputs = triton_inputs(test_rows.head(1), run.schema)
    body, size = v2.InferenceServerClient.generate_request_body(
        inputs, outputs=[v2.InferRequestedOutput("probabilities")]
    )

    response = client.post(
        f"/v2/models/{NAME}/infer",
        content=body,
        headers={"Inference-Header-Content-Length": str(size)},
    )

    assert response.status_code == 422
    assert "unknown output(s) ['probabilities']; this model has ['prediction']" in response.text


def test_metadata_lists_the_features_and_the_prediction(client: TestClient, run: PipelineRun):
    meta = client.get(f"/v2/models/{NAME}").json()

    assert [i["name"] for i in meta["inputs"]] == run.schema.features
    assert {"region", "date"}.isdisjoint(i["name"] for i in meta["inputs"])
    assert "date_day_of_week" in [i["name"] for i in meta["inputs"]]
    assert meta["outputs"] == [{"name": "prediction", "datatype": "FP32", "shape": [-1]}]
    assert metadata.THRESHOLD not in meta["parameters"]
    assert meta["parameters"]["feature_schema"]["task"] == "regression"


@pytest.mark.parametrize(
    ("field", "value"), [("region", "a"), ("date", "2025-12-01"), ("units", 10.0)]
)
def test_a_protected_column_a_raw_date_or_the_target_is_an_unknown_field(
    client: TestClient, run: PipelineRun, test_rows: pd.DataFrame, field: str, value: Any
):
    (row,) = records(test_rows.head(1), run.schema)

    response = client.post("/predict", json=[{**row, field: value}])

    assert response.status_code == 422
    assert response.json()["problems"] == [{"row": 0, "field": field, "message": "unknown field"}]


def test_a_protected_input_tensor_is_refused_by_name(client: TestClient, run, test_rows):
    inputs = triton_inputs(test_rows.head(1), run.schema, binary_data=False)
    extra = v2.InferInput("region", [1, 1], "BYTES")
    extra.set_data_from_numpy(np.array([["a"]], dtype=object), binary_data=False)
    body, _ = v2.InferenceServerClient.generate_request_body([*inputs, extra])

    response = client.post(f"/v2/models/{NAME}/infer", content=body)

    assert response.status_code == 422 and "unknown input 'region'" in response.text


def test_the_openapi_document_describes_the_regressor(client: TestClient, run: PipelineRun):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]

    assert list(schemas["Record"]["properties"]) == list(run.schema.feature_columns)
    assert schemas["Prediction"]["required"] == ["prediction"]
    outputs = schemas["InferenceRequest"]["properties"]["outputs"]["items"]["properties"]
    assert outputs["name"]["enum"] == ["prediction"]


def test_the_prediction_is_logged_as_the_score_with_no_decision(
    exported: Path, tmp_path: Path, run: PipelineRun, test_rows: pd.DataFrame
):
    settings = Settings(model=exported, prediction_log_dir=tmp_path / "log")
    with TestClient(create_app(settings)) as client:
        response = client.post("/predict", json=records(test_rows.head(2), run.schema))
        text = client.get("/metrics").text

    (path,) = (tmp_path / "log").iterdir()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["score"] for e in lines] == [p["prediction"] for p in response.json()["predictions"]]
    assert [e["decision"] for e in lines] == [None, None]
    assert set(lines[0]["features"]) == set(run.schema.features)
    # The score histogram holds probabilities; a regressor's rows are counted all the same.
    assert "modelgate_prediction_score_count 0.0" in text
    assert "modelgate_predicted_rows_total 2.0" in text


def test_a_model_whose_inputs_are_not_its_features_is_not_loaded(exported: Path, tmp_path: Path):
    model = onnx.load(exported)
    meta = {p.key: p.value for p in model.metadata_props}
    schema = json.loads(meta[metadata.FEATURE_SCHEMA])
    onnx.helper.set_model_props(
        model, {**meta, metadata.FEATURE_SCHEMA: json.dumps({**schema, "protected": []})}
    )
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())

    with pytest.raises(ModelLoadError, match=r"graph inputs .* differ from its feature schema"):
        Predictor.load(path)


def test_a_binary_model_still_needs_its_threshold(exported_model: Path, tmp_path: Path):
    model = onnx.load(exported_model)
    meta = {p.key: p.value for p in model.metadata_props if p.key != metadata.THRESHOLD}
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, meta)
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())

    with pytest.raises(ModelLoadError, match=r"lacks metadata \['threshold'\]"):
        Predictor.load(path)


def test_the_smoke_check_reads_a_prediction_within_its_relative_tolerance():
    body = {"predictions": [{"prediction": 1000.004}], "model_version": "v"}

    assert check(body, 1000.0, "v", task="regression") == 1000.004  # 6 digits of 1000
    near_zero = {**body, "predictions": [{"prediction": 1e-6}]}
    assert check(near_zero, 0.0, "v", task="regression") == 1e-6
    with pytest.raises(StageError, match=r"scored 1000\.02"):
        check({**body, "predictions": [{"prediction": 1000.02}]}, 1000.0, "v", "regression")


def test_the_export_metrics_and_the_server_agree_on_the_model(client: TestClient, run, exported):
    meta = client.get(f"/v2/models/{NAME}").json()

    assert meta["parameters"]["metrics"] == io.read_json(run.metrics)["test"]
    assert meta["versions"] == [metadata.read(exported)[metadata.MODEL_VERSION]]
