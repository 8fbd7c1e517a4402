"""The server as it runs in production: `python -m modelgate.serve` on loopback.

Schemathesis's own CLI fuzzes it from its OpenAPI document; a standard Open Inference Protocol
client (Triton's) calls it; SIGTERM in the middle of a request must not lose that request.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from modelgate.smoke import SCORE_TOLERANCE
from tests.unit._pipeline import PipelineRun
from tests.unit.test_serve_app import records, triton_inputs

pytestmark = pytest.mark.slow

NAME = "tiny-model"
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def lines(self) -> list[dict]:
        return [
            json.loads(line) for line in self.log.read_text().split("\n") if line.startswith("{")
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(model: Path, tmp_path: Path, wait_ready: bool = True, **env: str) -> Server:
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    settings = {"MODELGATE_MODEL": str(model), "MODELGATE_PORT": str(port), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "modelgate.serve"],
        env={**os.environ, **settings},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            live = httpx.get(f"{server.url}/v2/health/live", timeout=1)
            ready = httpx.get(f"{server.url}/v2/health/ready", timeout=1)
            if live.status_code == 200 and (ready.status_code == 200 or not wait_ready):
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server did not come up: {log.read_text()}")


@pytest.fixture
def server(exported_model: Path, tmp_path: Path) -> Iterator[Server]:
    running = start(exported_model, tmp_path, MODELGATE_MAX_BATCH="50")
    yield running
    running.stop()


def test_schemathesis_finds_no_failure(server: Server, tmp_path: Path):
    run = subprocess.run(
        [
            str(BIN / "schemathesis"), "--config-file", str(ROOT / "schemathesis.toml"),
            "run", f"{server.url}/openapi.json",
            "--checks", "all",
            "--max-examples", "40",
            "--seed", "1",
            "--generation-database", "none",
            "--report", "junit", "--report-dir", str(tmp_path / "report"),
        ],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout[-6000:]
    assert server.process.poll() is None
    assert not [e for e in server.lines() if e.get("status", 0) >= 500]


def test_a_v2_client_at_its_defaults_gets_the_pipelines_scores(
    server: Server, pipeline_run: PipelineRun
):
    """tritonclient's defaults: binary inputs, and binary outputs (no outputs named)."""
    import tritonclient.http as v2

    test = pd.read_parquet(pipeline_run.part("test")).head(50)
    client = v2.InferenceServerClient(server.url.removeprefix("http://"))

    result = client.infer(NAME, triton_inputs(test, pipeline_run.schema))

    evaluated = pd.read_csv(pipeline_run.predictions)["score"].head(len(test))
    scores = result.as_numpy("probabilities")[:, 1]
    assert all("binary_data_size" in o["parameters"] for o in result.get_response()["outputs"])
    assert np.allclose(scores, evaluated, rtol=0, atol=SCORE_TOLERANCE)
    threshold = client.get_model_metadata(NAME)["parameters"]["threshold"]
    assert result.as_numpy("decision").tolist() == (scores >= float(threshold)).tolist()


def test_a_v2_client_sending_json_gets_the_pipelines_scores(
    server: Server, pipeline_run: PipelineRun
):
    import tritonclient.http as v2

    test = pd.read_parquet(pipeline_run.part("test")).head(20)
    rows = records(test, pipeline_run.schema)
    client = v2.InferenceServerClient(server.url.removeprefix("http://"))
    inputs = triton_inputs(test, pipeline_run.schema, binary_data=False)
    outputs = [v2.InferRequestedOutput("probabilities", binary_data=False)]

    assert client.is_server_live() and client.is_model_ready(NAME)
    result = client.infer(NAME, inputs, outputs=outputs)
    predicted = httpx.post(f"{server.url}/predict", json=rows).json()["predictions"]

    assert client.get_model_metadata(NAME)["platform"] == "onnxruntime_onnx"
    assert "data" in result.get_output("probabilities")
    scores = result.as_numpy("probabilities")[:, 1]
    assert np.allclose(scores, [p["probability"] for p in predicted], rtol=0, atol=1e-6)


def test_sigterm_turns_unready_then_finishes_the_request_in_flight(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun
):
    server = start(exported_model, tmp_path, MODELGATE_DRAIN_SECONDS="1.5")
    body = json.dumps(
        records(pd.read_parquet(pipeline_run.part("test")).head(3), pipeline_run.schema)
    )
    port = int(server.url.rsplit(":", 1)[1])
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", port)) as slow:
        # A request in flight: headers and half of the body sent, then the signal.
        slow.sendall(
            f"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body.encode())}\r\n\r\n".encode()
            + body.encode()[:half]
        )
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        during_drain = httpx.get(f"{server.url}/v2/health/ready", timeout=5)
        served_while_draining = httpx.post(f"{server.url}/predict", content=body, timeout=5)
        time.sleep(1.8)  # the drain is over: the listener is closed, the slow request still open
        refused = _connect_refused(port)
        slow.sendall(body.encode()[half:])
        response = _read_response(slow)

    assert during_drain.status_code == 503 and during_drain.json() == {"ready": False}
    assert served_while_draining.status_code == 200
    assert refused
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert len(json.loads(response.split(b"\r\n\r\n", 1)[1])["predictions"]) == 3
    assert server.process.wait(30) == 0


def test_a_corrupt_model_keeps_the_process_up_and_unready(tmp_path: Path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"\x08\x07garbage")
    server = start(model, tmp_path, wait_ready=False)
    try:
        time.sleep(0.5)
        ready = httpx.get(f"{server.url}/v2/health/ready")
        assert ready.status_code == 503
        assert server.process.poll() is None
    finally:
        assert server.stop() == 0
    errors = [e for e in server.lines() if e["level"] == "ERROR"]
    assert len(errors) == 1 and "cannot be loaded" in errors[0]["message"]
    assert "Traceback" not in server.log.read_text()


def _connect_refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0
