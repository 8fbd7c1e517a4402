"""The serving app over HTTP (in process): Open Inference Protocol, /predict, errors, metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import tritonclient.http as v2
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


def triton_inputs(
    frame: pd.DataFrame, schema: FeatureSchema, binary_data: bool | None = None
) -> list[v2.InferInput]:
    """One tritonclient input per feature ([n, 1]; NaN or "" when missing). `binary_data` None
    keeps tritonclient's default, which is binary."""
    rows = records(frame, schema)
    inputs = []
    for name, spec in schema.feature_columns.items():
        column = [r[name] for r in rows]
        if spec.kind == "categorical":
            tensor = v2.InferInput(name, [len(rows), 1], "BYTES")
            data = np.array(["" if c is None else c for c in column], dtype=object)
        else:
            tensor = v2.InferInput(name, [len(rows), 1], "FP32")
            data = np.array([np.nan if c is None else c for c in column], dtype=np.float32)
        options = {} if binary_data is None else {"binary_data": binary_data}
        tensor.set_data_from_numpy(data.reshape(-1, 1), **options)
        inputs.append(tensor)
    return inputs


def triton_infer(
    client: TestClient, inputs: list[v2.InferInput], outputs: list | None = None, model: str = NAME
) -> tuple[httpx.Response, v2.InferResult]:
    """POST what tritonclient's `infer` would send, and read the answer as it reads one."""
    body, json_size = v2.InferenceServerClient.generate_request_body(inputs, outputs=outputs)
    headers = {} if json_size is None else {"Inference-Header-Content-Length": str(json_size)}
    response = client.post(f"/v2/models/{model}/infer", content=body, headers=headers)
    assert response.status_code == 200, response.text
    length = response.headers.get("inference-header-content-length")
    result = v2.InferenceServerClient.parse_response_body(
        response.content, header_length=None if length is None else int(length)
    )
    return response, result


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
    log = tmp_path / "predictions"
    with _client(tmp_path, model=exported_model, prediction_log_dir=log, max_batch=500) as c:
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


def test_tritonclient_at_its_defaults_sends_and_gets_binary_tensors(
    client: TestClient, pipeline_run: PipelineRun, test_rows: pd.DataFrame, expected_scores
):
    threshold = io.read_json(pipeline_run.metrics)["threshold"]

    response, result = triton_infer(client, triton_inputs(test_rows, pipeline_run.schema))

    assert response.headers["content-type"] == "application/octet-stream"
    header = result.get_response()
    assert [(o["name"], "data" in o, o["parameters"]) for o in header["outputs"]] == [
        ("decision", False, {"binary_data_size": 8 * len(test_rows)}),
        ("probabilities", False, {"binary_data_size": 4 * 2 * len(test_rows)}),
    ]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.dtype == np.float32 and probabilities.shape == (len(test_rows), 2)
    assert np.allclose(probabilities[:, 1], expected_scores, rtol=0, atol=1e-6)  # 1 ulp: above
    assert result.as_numpy("decision").tolist() == (expected_scores >= threshold).tolist()


def test_each_requested_output_comes_back_as_json_or_binary_as_asked(
    client: TestClient, pipeline_run: PipelineRun, test_rows: pd.DataFrame, expected_scores
):
    inputs = triton_inputs(test_rows.head(4), pipeline_run.schema)
    outputs = [
        v2.InferRequestedOutput("probabilities"),
        v2.InferRequestedOutput("decision", binary_data=False),
    ]

    _, result = triton_infer(client, inputs, outputs)

    decision, probabilities = result.get_response()["outputs"]
    assert "data" in decision and "parameters" not in decision
    assert probabilities["parameters"] == {"binary_data_size": 32} and "data" not in probabilities
    assert np.allclose(result.as_numpy("probabilities")[:, 1], expected_scores[:4], atol=1e-6)


def test_json_in_and_out_stays_json(
    client: TestClient, pipeline_run: PipelineRun, test_rows: pd.DataFrame, expected_scores
):
    inputs = triton_inputs(test_rows.head(3), pipeline_run.schema, binary_data=False)
    outputs = [v2.InferRequestedOutput(n, binary_data=False) for n in ("decision", "probabilities")]

    response, result = triton_infer(client, inputs, outputs)

    assert response.headers["content-type"] == "application/json"
    assert "inference-header-content-length" not in response.headers
    assert np.allclose(result.as_numpy("probabilities")[:, 1], expected_scores[:3], atol=1e-6)


@pytest.mark.parametrize("binary_data", [True, False])
def test_every_output_the_metadata_lists_can_be_requested(
    client: TestClient, pipeline_run: PipelineRun, test_rows: pd.DataFrame, binary_data: bool
):
    listed = client.get(f"/v2/models/{NAME}").json()["outputs"]
    rows = 3
    inputs = triton_inputs(test_rows.head(rows), pipeline_run.schema)

    for output in listed:
        requested = [v2.InferRequestedOutput(output["name"], binary_data=binary_data)]
        _, result = triton_infer(client, inputs, requested)

        (got,) = result.get_response()["outputs"]
        shape = [rows if d == -1 else d for d in output["shape"]]
        assert {key: got[key] for key in output} == output | {"shape": shape}
        assert list(result.as_numpy(output["name"]).shape) == shape
    assert [o["name"] for o in listed] == ["decision", "probabilities"]


WEB = b"\x03\x00\x00\x00web"  # one BYTES element: 4-byte little-endian length, then bytes


def _binary_request(channel: bytes = WEB, extra: bytes = b"") -> tuple[bytes, dict[str, str]]:
    """One row of the tiny model's inputs as binary data; `channel` is its raw BYTES data, and
    `extra` bytes follow the last input's."""
    numbers = np.array([10.0], dtype="<f4").tobytes()
    parts = {"amount": ("FP32", numbers), "hour": ("FP32", numbers), "channel": ("BYTES", channel)}
    header = json.dumps({
        "inputs": [
            {"name": n, "datatype": t, "shape": [1, 1], "parameters": {"binary_data_size": len(d)}}
            for n, (t, d) in parts.items()
        ]
    }).encode()  # fmt: skip
    body = header + b"".join(d for _, d in parts.values()) + extra
    return body, {"Inference-Header-Content-Length": str(len(header))}


LENGTH = "Inference-Header-Content-Length"


@pytest.mark.parametrize(
    ("channel", "extra", "headers", "status", "words"),
    [
        (WEB, b"", {LENGTH: "12.5"}, 400, "'12.5' is not a length"),
        (WEB, b"", {LENGTH: "99999"}, 400, "over the body's"),
        (WEB, b"", {"content-type": "text/plain"}, 415, "send application/json or application"),
        (WEB, b"\x00", {}, 400, "1 byte(s) of binary data follow the inputs'"),
        (b"\x09\x00\x00\x00web", b"", {}, 422, "input 'channel': element 0 of 9 bytes runs"),
        (b"\x03\x00\x00\x00fax", b"", {}, 422, "row 0, channel: unknown category 'fax'"),
    ],
)
def test_bad_binary_input_gets_a_4xx_naming_the_input(
    client: TestClient, channel: bytes, extra: bytes, headers: dict, status: int, words: str
):
    body, framing = _binary_request(channel, extra)

    response = client.post(f"/v2/models/{NAME}/infer", content=body, headers=framing | headers)

    assert response.status_code == status, response.text
    assert words in response.json()["error"]


def test_binary_input_is_scored_whatever_its_content_type(client: TestClient):
    body, headers = _binary_request()

    for content_type in ("application/octet-stream", "application/json", None):
        typed = headers if content_type is None else headers | {"content-type": content_type}
        response = client.post(f"/v2/models/{NAME}/infer", content=body, headers=typed)

        assert response.status_code == 200, response.text


def test_the_body_limit_counts_the_binary_data_too(exported_model: Path, tmp_path: Path):
    body, headers = _binary_request(extra=b" " * 5000)
    assert int(headers[LENGTH]) < 4096 < len(body)

    with _client(tmp_path, model=exported_model, max_body_bytes=4096) as client:
        response = client.post(f"/v2/models/{NAME}/infer", content=body, headers=headers)

    assert response.status_code == 413


def test_health_and_metadata(client: TestClient, pipeline_run: PipelineRun):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]
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
    log = tmp_path / "log"
    rows = records(test_rows.head(2), pipeline_run.schema)
    rows[1]["channel"] = None
    with _client(tmp_path, model=exported_model, prediction_log_dir=log) as client:
        response = client.post("/predict", json=rows, headers={"x-request-id": "req-42"})
        inputs = triton_inputs(test_rows.head(1), pipeline_run.schema)
        _, result = triton_infer(client, inputs)

    (path,) = log.iterdir()  # closed at shutdown: no `.open` left
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert response.headers["x-request-id"] == "req-42"
    assert [(e["request_id"], e["row"], e["endpoint"]) for e in lines[:2]] == [
        ("req-42", 0, "/predict"),
        ("req-42", 1, "/predict"),
    ]
    assert [e["features"] for e in lines[:2]] == [rows[0], {**rows[1], "channel": ""}]
    predictions = response.json()["predictions"]
    assert [e["score"] for e in lines[:2]] == [p["probability"] for p in predictions]
    assert [e["decision"] for e in lines[:2]] == [p["decision"] for p in predictions]
    assert lines[2]["endpoint"] == "/v2/models/{model_name}/infer"
    assert lines[2]["score"] == float(result.as_numpy("probabilities")[0, 1])
    assert {(e["schema"], e["model_name"]) for e in lines} == {(1, NAME)}


def test_an_unknown_category_scored_as_missing_is_logged_as_missing(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun, test_rows: pd.DataFrame
):
    rows = records(test_rows.head(1), pipeline_run.schema)
    rows[0]["channel"] = "fax"
    settings = {"prediction_log_dir": tmp_path / "log", "unknown_category": "missing"}
    with _client(tmp_path, model=exported_model, **settings) as client:
        assert client.post("/predict", json=rows).status_code == 200

    (path,) = (tmp_path / "log").iterdir()
    assert json.loads(path.read_text())["features"]["channel"] == ""


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
        "import sys, modelgate.serve.__main__; print([m for m in "
        "('pandas', 'sklearn', 'xgboost', 'deepchecks', 'onnx') if m in sys.modules])"
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
