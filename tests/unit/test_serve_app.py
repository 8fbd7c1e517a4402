"""The serving app over HTTP (in process): Open Inference Protocol, /predict, errors, metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelgate import io
from modelgate.model import model_frame
from modelgate.onnx_export import onnx_scores
from modelgate.schema import FeatureSchema
from modelgate.serve.app import create_app
from modelgate.serve.settings import Settings
from modelgate.smoke import client_records
from tests.unit._pipeline import PipelineRun

NAME = "tiny-model"


def records(frame: pd.DataFrame, schema: FeatureSchema) -> list[dict[str, Any]]:
    """Rows as a client sends them: JSON types, null for a missing value."""
    return client_records(frame, schema.features)


@pytest.fixture(scope="module")
def test_rows(pipeline_run: PipelineRun) -> pd.DataFrame:
    return pd.read_parquet(pipeline_run.part("test"))


@pytest.fixture(scope="module")
def expected_scores(exported_model: Path, pipeline_run: PipelineRun, test_rows: pd.DataFrame):
    """What the export stage's own ONNX scoring gives for the test rows."""
    session = ort.InferenceSession(str(exported_model), providers=["CPUExecutionProvider"])
    return onnx_scores(session, model_frame(test_rows, pipeline_run.schema), pipeline_run.schema)


def _client(tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(**settings)), raise_server_exceptions=False)


@pytest.fixture
def client(exported_model: Path, tmp_path: Path) -> Iterator[TestClient]:
    log = tmp_path / "predictions.jsonl"
    with _client(tmp_path, model=exported_model, prediction_log=log, max_batch=500) as c:
        yield c


def test_predict_returns_the_pipelines_onnx_scores_and_decisions(
    client: TestClient, pipeline_run: PipelineRun, test_rows: pd.DataFrame, expected_scores
):
    threshold = io.read_json(pipeline_run.metrics)["threshold"]

    response = client.post("/predict", json=records(test_rows, pipeline_run.schema))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], len(body["predictions"])) == (NAME, len(test_rows))
    scores = np.array([p["probability"] for p in body["predictions"]], dtype=np.float32)
    # ONNX Runtime's tree ensemble may sum in another order with other thread settings: 1 ulp.
    assert np.allclose(scores, expected_scores, rtol=0, atol=1e-6)
    declined = [p["decision"] == "decline" for p in body["predictions"]]
    assert declined == (expected_scores >= threshold).tolist()
    schema = pipeline_run.schema
    assert [p["label"] for p in body["predictions"]] == [
        schema.positive_class if d else schema.negative_class for d in declined
    ]


def test_infer_speaks_the_open_inference_protocol(
    client: TestClient, pipeline_run: PipelineRun, test_rows: pd.DataFrame, expected_scores
):
    rows = records(test_rows.head(5), pipeline_run.schema)
    inputs = []
    for name, spec in pipeline_run.schema.columns.items():
        datatype = "BYTES" if spec.kind == "categorical" else "FP32"
        inputs.append(
            {"name": name, "datatype": datatype, "shape": [5, 1], "data": [r[name] for r in rows]}
        )

    response = client.post(f"/v2/models/{NAME}/infer", json={"id": "r1", "inputs": inputs})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "r1" and body["model_name"] == NAME
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["probabilities"]["shape"] == [5, 2]
    positive = np.array(outputs["probabilities"]["data"], dtype=np.float32).reshape(5, 2)[:, 1]
    assert np.allclose(positive, expected_scores[:5], atol=1e-7)
    assert outputs["decision"]["datatype"] == "INT64" and outputs["decision"]["shape"] == [5]


def test_health_and_metadata(client: TestClient, pipeline_run: PipelineRun):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["extensions"] == []
    meta = client.get(f"/v2/models/{NAME}").json()
    version = meta["versions"][0]

    assert client.get(f"/v2/models/{NAME}/versions/{version}/ready").json() == {
        "name": NAME,
        "ready": True,
    }
    assert meta["platform"] == "onnxruntime_onnx"
    assert [i["name"] for i in meta["inputs"]] == pipeline_run.schema.features
    assert meta["parameters"]["feature_schema"] == io.read_json(pipeline_run.schema_json)
    assert meta["parameters"]["metrics"] == io.read_json(pipeline_run.metrics)["test"]
    assert {"params_digest", "training_data_digest", "git_revision"} <= set(meta["parameters"])


@pytest.mark.parametrize(
    "path", ["/v2/models/other", f"/v2/models/{NAME}/versions/nope", "/v2/models/other/ready"]
)
def test_unknown_model_or_version_is_404(client: TestClient, path: str):
    response = client.get(path)

    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("headers", "content", "status", "words"),
    [
        ({"content-type": "text/plain"}, b"[]", 415, "content type 'text/plain'"),
        ({"content-type": "application/xml"}, b"<a/>", 415, "content type 'application/xml'"),
        ({}, b"[]", 422, "empty batch"),  # no content type is read as JSON, as V2 clients send
        ({"content-type": "application/json"}, b'[{"amount": 1,', 400, "malformed JSON"),
        ({"content-type": "application/json"}, b"[" + b" " * 5000 + b"]", 413, "over the limit"),
        ({"content-type": "application/json"}, b"[]", 422, "empty batch"),
        (
            {"content-type": "application/json; charset=utf-8"},
            b'[{"amount": NaN, "hour": Infinity, "channel": "web"}]',
            422,
            "row 0, hour: inf is not a finite number",
        ),
    ],
)
def test_bad_requests_get_a_4xx_that_says_why(
    exported_model: Path, tmp_path: Path, headers: dict, content: bytes, status: int, words: str
):
    with _client(tmp_path, model=exported_model, max_body_bytes=4096) as client:
        response = client.post("/predict", content=content, headers=headers)

    assert response.status_code == status
    assert words in response.json()["error"]


def test_a_batch_over_the_limit_is_refused(client: TestClient, pipeline_run, test_rows):
    rows = records(test_rows, pipeline_run.schema)

    response = client.post("/predict", json=rows * (500 // len(rows) + 1))

    assert response.status_code == 422
    assert "over the limit of 500" in response.json()["error"]


def test_a_refused_row_is_named_and_nothing_is_scored(
    client: TestClient, pipeline_run: PipelineRun, test_rows: pd.DataFrame
):
    rows = records(test_rows.head(3), pipeline_run.schema)
    rows[2]["channel"] = "fax"

    response = client.post("/predict", json=rows)
    metrics = client.get("/metrics").text

    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"row": 2, "field": "channel", "message": "unknown category 'fax' (known: web, app, pos)"}
    ]
    assert "modelgate_predicted_rows_total 0.0" in metrics


def test_metrics_count_requests_latency_and_scores(client: TestClient, pipeline_run, test_rows):
    client.post("/predict", json=records(test_rows.head(4), pipeline_run.schema))
    client.post("/predict", content=b"x", headers={"content-type": "application/json"})

    text = client.get("/metrics").text

    assert 'modelgate_requests_total{endpoint="/predict",method="POST",status="200"} 1.0' in text
    assert 'modelgate_requests_total{endpoint="/predict",method="POST",status="400"} 1.0' in text
    assert 'modelgate_request_duration_seconds_count{endpoint="/predict"' in text
    assert "modelgate_prediction_score_count 4.0" in text
    assert "modelgate_ready 1.0" in text
    assert f'modelgate_model_info{{git_revision="unknown",name="{NAME}"' in text


def test_predictions_are_logged_off_the_request_path(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun, test_rows: pd.DataFrame
):
    log = tmp_path / "log" / "predictions.jsonl"
    rows = records(test_rows.head(2), pipeline_run.schema)
    with _client(tmp_path, model=exported_model, prediction_log=log) as client:
        response = client.post("/predict", json=rows, headers={"x-request-id": "req-42"})

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert response.headers["x-request-id"] == "req-42"
    assert [(e["request_id"], e["row"], e["features"]) for e in lines] == [
        ("req-42", 0, rows[0]),
        ("req-42", 1, rows[1]),
    ]
    assert [e["score"] for e in lines] == [p["probability"] for p in response.json()["predictions"]]


@pytest.mark.parametrize("content", [None, b"not an onnx file"])
def test_a_missing_or_corrupt_model_is_not_ready_and_says_why(
    tmp_path: Path, content: bytes | None, caplog: pytest.LogCaptureFixture
):
    model = tmp_path / "model.onnx"
    if content is not None:
        model.write_bytes(content)

    with _client(tmp_path, model=model) as client:
        live, ready = client.get("/v2/health/live"), client.get("/v2/health/ready")
        predict = client.post("/predict", json=[{}])

    assert (live.status_code, ready.status_code, predict.status_code) == (200, 503, 503)
    assert predict.json()["error"].startswith(f"not ready: model file {model} cannot be loaded")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].exc_info is None


def test_serving_imports_no_training_library():
    code = (
        "import sys, modelgate.serve.__main__; "
        "print([m for m in ('pandas', 'sklearn', 'xgboost', 'deepchecks') if m in sys.modules])"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def test_the_benchmark_noop_route_is_off_unless_asked_for(exported_model: Path, tmp_path: Path):
    with _client(tmp_path, model=exported_model) as default:
        assert default.post("/noop", json=[{}]).status_code == 404
    with _client(tmp_path, model=exported_model, noop_route=True) as bench:
        response = bench.post("/noop", json=[{}])
        assert (response.status_code, response.json()["predictions"]) == (200, [])
        assert "/noop" not in bench.get("/openapi.json").json()["paths"]
