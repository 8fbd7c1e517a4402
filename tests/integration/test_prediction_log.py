"""The prediction log of a real server process, on loopback: what the monitor reads back is
exactly what the server answered, and a full, read-only or deleted directory costs rows (counted
in /metrics), never a request.

The full and read-only disks are real tmpfs mounts, so these tests need mount rights (root, as in
CI's container); without them they are skipped, and the unit tests' simulated ENOSPC and
deleted directory still run.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import tritonclient.http as v2
from prometheus_client.parser import text_string_to_metric_families

from modelgate.monitor.log import read_window
from modelgate.serve.prediction_log import DROP_REASONS
from tests.integration.test_serve_process import NAME, Server, start
from tests.unit._pipeline import PipelineRun
from tests.unit.test_serve_app import records, triton_inputs

pytestmark = pytest.mark.slow

MARKER = 987654.321  # an amount no other row has: it must show up in the log and nowhere else
LOST = "modelgate_prediction_log_dropped_total:lost"


@pytest.fixture(scope="module")
def rows(pipeline_run: PipelineRun) -> pd.DataFrame:
    test = pd.read_parquet(pipeline_run.part("test"))
    return pd.concat([test] * 4, ignore_index=True)  # a few hundred rows


def metrics(server: Server) -> dict[str, float]:
    """The prediction log's samples (and rows scored) by name, `reason` folded into the name."""
    text = httpx.get(f"{server.url}/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith(("modelgate_prediction_log", "modelgate_predicted_rows_total")):
                out[s.name + (f":{s.labels['reason']}" if "reason" in s.labels else "")] = s.value
    return out


def dropped(sample: dict[str, float]) -> float:
    return sum(sample[f"modelgate_prediction_log_dropped_total:{r}"] for r in DROP_REASONS)


def settled(server: Server) -> dict[str, float]:
    """Metrics once every row scored is accounted for: written, or dropped (lost rows were
    written first, so they count once)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sample = metrics(server)
        accounted = sample["modelgate_prediction_log_lines_total"] + dropped(sample) - sample[LOST]
        if accounted == sample["modelgate_predicted_rows_total"]:
            return sample
        time.sleep(0.02)
    raise AssertionError(f"rows unaccounted for: {sample}")


def send(server: Server, frame: pd.DataFrame, schema, tag: str) -> dict[tuple[str, int], Any]:
    """Batches of 1-5 rows over /predict, V2 JSON and V2 binary; (request id, row) -> answer."""
    answers: dict[tuple[str, int], Any] = {}
    client = v2.InferenceServerClient(server.url.removeprefix("http://"))
    version = client.get_model_metadata(NAME)["versions"][0]
    with httpx.Client(base_url=server.url) as http:
        start_row, number = 0, 0
        while start_row < len(frame):
            size = 1 + number % 5
            part = frame.iloc[start_row : start_row + size]
            request_id = f"{tag}-{number:04d}"
            if number % 3 == 0:
                response = http.post("/predict", json=records(part, schema),
                                     headers={"x-request-id": request_id})  # fmt: skip
                assert response.status_code == 200, response.text
                for row, p in enumerate(response.json()["predictions"]):
                    answers[request_id, row] = (p["probability"], p["decision"], "/predict")
            else:
                binary, versioned = number % 3 == 2, number % 4 == 1
                result = client.infer(
                    NAME, triton_inputs(part, schema, binary_data=binary),
                    model_version=version if versioned else "",
                    headers={"x-request-id": request_id},
                    outputs=[v2.InferRequestedOutput(o, binary_data=binary)
                             for o in ("probabilities", "decision")],
                )  # fmt: skip
                route = "/versions/{model_version}" if versioned else ""
                endpoint = f"/v2/models/{{model_name}}{route}/infer"
                scores = result.as_numpy("probabilities")[:, 1]
                decisions = result.as_numpy("decision")
                for row, (s, d) in enumerate(zip(scores, decisions, strict=True)):
                    answers[request_id, row] = (float(s), "decline" if d else "approve", endpoint)
            start_row, number = start_row + size, number + 1
    return answers


def test_the_monitor_reads_back_exactly_what_the_server_answered(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun, rows: pd.DataFrame
):
    log = tmp_path / "log"
    frame = rows.copy()
    frame.loc[7, "amount"] = MARKER
    server = start(exported_model, tmp_path, MODELGATE_PREDICTION_LOG_DIR=str(log),
                   MODELGATE_PREDICTION_LOG_MAX_BYTES="16384",
                   MODELGATE_PREDICTION_LOG_FLUSH_SECONDS="0.02")  # fmt: skip
    try:
        answers = send(server, frame, pipeline_run.schema, "req")
        sample = settled(server)
        version = httpx.get(f"{server.url}/v2/models/{NAME}").json()["versions"][0]
    finally:
        assert server.stop() == 0  # SIGTERM: the queue is written out, the open file closed

    logged = read_window(log, None, None, pipeline_run.schema, model_version=version)
    assert len(answers) == len(frame) == len(logged)
    got = {(r.request_id, r.row): (r.score, r.decision, r.endpoint) for r in logged.itertuples()}
    assert got == answers
    assert {e for _, _, e in answers.values()} == {
        "/predict", "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/infer",
    }  # fmt: skip
    assert not list(log.glob("*.open")) and len(list(log.glob("*.jsonl"))) > 3  # rotated
    assert sample["modelgate_prediction_log_lines_total"] == len(frame)
    assert sample["modelgate_prediction_log_rotations_total"] >= 3
    assert dropped(sample) == 0
    # Features as sent, in the window in the order they were scored.
    sent = frame.set_index(logged.index)  # FP32 tensors: the V2 rows' numbers as float32
    assert np.allclose(logged["amount"], sent["amount"].astype(float), rtol=1e-6, equal_nan=True)
    assert (logged["hour"] == sent["hour"]).all()
    assert (logged["channel"] == sent["channel"].astype(object).fillna("")).all()
    # Nothing of the log on stdout or stderr, the access log included (one file holds both).
    output = server.log.read_text()
    assert len([line for line in output.splitlines() if '"status":200' in line]) > 100
    assert "987654.3" not in output and "features" not in output


def test_a_full_disk_drops_and_counts_rows_while_every_request_succeeds(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun, rows: pd.DataFrame
):
    with _tmpfs(tmp_path / "tiny", "size=16k") as disk:
        server = start(exported_model, tmp_path, MODELGATE_PREDICTION_LOG_DIR=str(disk),
                       MODELGATE_PREDICTION_LOG_MAX_BYTES="4096",
                       MODELGATE_PREDICTION_LOG_FLUSH_SECONDS="0.02")  # fmt: skip
        try:
            answers = send(server, rows, pipeline_run.schema, "full")  # asserts every 200
            sample = settled(server)
        finally:
            assert server.stop() == 0
        logged = read_window(disk, None, None, pipeline_run.schema)  # whole lines only

    full = sample["modelgate_prediction_log_dropped_total:disk_full"]
    assert full > 0 and len(logged) > 0
    assert len(logged) + dropped(sample) == len(answers)
    assert len(logged) == sample["modelgate_prediction_log_lines_total"]
    warnings = [line for line in server.log.read_text().splitlines() if "No space" in line]
    assert len(warnings) == 1  # once, not per request or per row


def test_a_read_only_directory_drops_and_counts_rows(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun, rows: pd.DataFrame
):
    with _tmpfs(tmp_path / "ro", "size=64k,ro") as disk:
        server = start(exported_model, tmp_path, MODELGATE_PREDICTION_LOG_DIR=str(disk / "log"),
                       MODELGATE_PREDICTION_LOG_FLUSH_SECONDS="0.02")  # fmt: skip
        try:
            assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
            answers = send(server, rows.head(40), pipeline_run.schema, "ro")
            sample = settled(server)
        finally:
            assert server.stop() == 0

    assert sample["modelgate_prediction_log_dropped_total:io_error"] == len(answers)
    assert sample["modelgate_prediction_log_lines_total"] == 0


def test_a_deleted_directory_loses_its_open_file_and_logging_resumes(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun, rows: pd.DataFrame
):
    log = tmp_path / "log"
    server = start(exported_model, tmp_path, MODELGATE_PREDICTION_LOG_DIR=str(log),
                   MODELGATE_PREDICTION_LOG_FLUSH_SECONDS="0.02")  # fmt: skip
    try:
        before = send(server, rows.head(30), pipeline_run.schema, "before")
        settled(server)
        shutil.rmtree(log)
        after = send(server, rows.head(20), pipeline_run.schema, "after")
        sample = settled(server)
    finally:
        assert server.stop() == 0

    logged = read_window(log, None, None, pipeline_run.schema)
    assert sample[LOST] == len(before)
    assert set(zip(logged["request_id"], logged["row"], strict=True)) == set(after)


@contextlib.contextmanager
def _tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs of `options` mounted at `path` for the block, or the test skipped."""
    path.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)
