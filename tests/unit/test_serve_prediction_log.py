"""The prediction log's writer without HTTP: lines, files, rotation, and every way it drops.

A failing disk is simulated here by replacing the module's `os.write`; the integration test
(test_prediction_log) fills a real tmpfs and removes a real server's directory.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from modelgate.serve import log_files, prediction_log
from modelgate.serve.app import create_app
from modelgate.serve.prediction_log import Batch, PredictionLog, encode
from modelgate.serve.settings import Settings
from modelgate.serve.telemetry import Metrics
from tests.unit._pipeline import PipelineRun
from tests.unit.test_serve_app import records

NAME = re.compile(r"predictions-(\d{8}T\d{12}Z)-(\d+)-(\d{6})\.jsonl")
WHEN = 1796230800.123456  # 2026-12-02T17:00:00.123456Z


def batch(rows: int = 2, request_id: str = "req-1", when: float = WHEN, **features) -> Batch:
    columns = features or {
        "amount": [12.5, None, *[1.0] * (rows - 2)][:rows],
        "channel": np.array([["web"], [""], *[["app"]] * (rows - 2)][:rows], dtype=object),
    }
    scores = [0.1 * (i % 10) for i in range(rows)]
    return Batch(request_id, when, "/predict", "tiny-model", "v1", columns, scores,
                 [s >= 0.5 for s in scores])  # fmt: skip


def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(f"modelgate_prediction_log_{name}", labels)
    assert value is not None, name
    return value


def lines_in(directory: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def start(tmp_path: Path, metrics: Metrics) -> Iterator[Callable[..., PredictionLog]]:
    """A log under tmp_path/log with fast flushes; closed at the end if the test did not."""
    logs: list[PredictionLog] = []

    def make(**options: float) -> PredictionLog:
        settings = {"max_bytes": 1 << 20, "max_seconds": 3600.0, "queue_rows": 10_000,
                    "flush_seconds": 0.01, "shutdown_seconds": 5.0, **options}  # fmt: skip
        log = PredictionLog(tmp_path / "log", metrics, **settings)  # type: ignore[arg-type]
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close()


def test_a_line_holds_the_documented_schema():
    huge = 10**30  # valid JSON; orjson refuses ints over 64 bits, and the model saw a float
    rows = batch(3, amount=[12.5, float("nan"), huge],
                 channel=np.array([["web"], [""], ["pos"]], dtype=object))  # fmt: skip

    lines = encode(rows)

    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    first = json.loads(lines[0])
    assert list(first) == [
        "schema", "request_id", "row", "time", "model_name", "model_version",
        "features", "score", "decision", "endpoint",
    ]  # fmt: skip
    assert first == {
        "schema": 1, "request_id": "req-1", "row": 0, "time": "2026-12-02T17:00:00.123456Z",
        "model_name": "tiny-model", "model_version": "v1",
        "features": {"amount": 12.5, "channel": "web"},
        "score": 0.0, "decision": "approve", "endpoint": "/predict",
    }  # fmt: skip
    assert [json.loads(line)["features"] for line in lines[1:]] == [
        {"amount": None, "channel": ""},
        {"amount": 1e30, "channel": "pos"},
    ]
    assert [json.loads(line)["row"] for line in lines] == [0, 1, 2]


def test_rows_land_in_one_closed_file_named_by_time_pid_and_sequence(start, tmp_path, metrics):
    log = start()
    log.submit(batch(2, "a"))
    log.submit(batch(1, "b", when=WHEN + 1))
    log.close()

    (path,) = (tmp_path / "log").iterdir()
    assert NAME.fullmatch(path.name).groups() == ("20261202T170000123456Z", str(os.getpid()),
                                                  "000001")  # fmt: skip
    assert [(e["request_id"], e["row"]) for e in lines_in(tmp_path / "log")] == [
        ("a", 0), ("a", 1), ("b", 0)
    ]  # fmt: skip
    assert sample(metrics, "lines_total") == 3
    assert sample(metrics, "bytes_total") == path.stat().st_size
    assert sample(metrics, "rotations_total") == 1
    assert (path.stat().st_mode & 0o777) == 0o640 & ~_umask()


def test_a_file_is_closed_before_a_line_would_take_it_past_max_bytes(start, tmp_path, metrics):
    line_size = len(encode(batch(1))[0])
    log = start(max_bytes=5 * line_size + 10)
    for i in range(23):
        log.submit(batch(1, f"r{i}", when=WHEN + i))
    log.close()

    files = sorted((tmp_path / "log").iterdir())
    assert [len(p.read_bytes().splitlines()) for p in files] == [5, 5, 5, 5, 3]
    assert all(p.stat().st_size <= 5 * line_size + 10 for p in files)
    assert [NAME.fullmatch(p.name).group(3) for p in files] == [f"{i:06d}" for i in range(1, 6)]
    assert [e["request_id"] for e in lines_in(tmp_path / "log")] == [f"r{i}" for i in range(23)]
    assert sample(metrics, "rotations_total") == 5
    # Each file is named by its first row's time.
    assert NAME.fullmatch(files[1].name).group(1) == "20261202T170005123456Z"


def test_a_file_is_closed_once_max_seconds_old_even_when_no_row_comes(start, tmp_path):
    log = start(max_seconds=0.2)
    log.submit(batch(1, "early"))
    wait_for(lambda: [p.suffix for p in (tmp_path / "log").glob("*")] == [".jsonl"])
    log.submit(batch(1, "late"))
    wait_for(lambda: len(list((tmp_path / "log").glob("*.open"))) == 1)

    assert [e["request_id"] for e in lines_in(tmp_path / "log")] == ["early"]
    log.close()
    assert [e["request_id"] for e in lines_in(tmp_path / "log")] == ["early", "late"]


def test_a_full_queue_drops_and_counts_without_waiting(start, tmp_path, metrics, monkeypatch):
    gate = threading.Event()
    write = log_files.LogFiles.write

    def slow(self: log_files.LogFiles, groups: list) -> None:
        gate.wait()
        write(self, groups)

    monkeypatch.setattr(log_files.LogFiles, "write", slow)
    log = start(queue_rows=10)
    log.submit(batch(4, "first"))
    wait_for(lambda: log.queued == 0)  # taken by the writer, which now waits on the gate

    began = time.perf_counter()
    for i in range(6):
        log.submit(batch(4, f"r{i}"))
    took = time.perf_counter() - began

    assert took < 0.05
    assert sample(metrics, "dropped_total", reason="queue_full") == 4 * 4
    assert sample(metrics, "queue_rows") == 8
    assert sample(metrics, "queue_capacity_rows") == 10
    gate.set()
    log.close()
    assert [e["request_id"] for e in lines_in(tmp_path / "log")][::4] == ["first", "r0", "r1"]
    assert sample(metrics, "queue_rows") == 0


def test_a_full_disk_drops_whole_batches_and_cuts_back_half_a_line(
    start, tmp_path, metrics, monkeypatch, caplog
):
    full = threading.Event()
    real_write = os.write

    def write(fd: int, data: memoryview) -> int:
        ours = Path(f"/proc/self/fd/{fd}").readlink().is_relative_to(tmp_path)
        if not (full.is_set() and ours):  # only the log's files fill up
            return real_write(fd, data)
        if len(data) > 7:  # a short write first, as a filling disk gives, then ENOSPC
            return real_write(fd, data[:7])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(log_files.os, "write", write)
    log = start()
    log.submit(batch(2, "before"))
    wait_for(lambda: sample(metrics, "lines_total") == 2)
    full.set()
    log.submit(batch(3, "secret-while-full", amount=[123456.789] * 3,
                     channel=np.array([["web"]] * 3, dtype=object)))  # fmt: skip
    wait_for(lambda: sample(metrics, "dropped_total", reason="disk_full") == 3)
    full.clear()
    log.submit(batch(1, "after"))
    log.close()

    assert [e["request_id"] for e in lines_in(tmp_path / "log")] == ["before"] * 2 + ["after"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert "123456" not in caplog.text and "secret" not in caplog.text
    assert sample(metrics, "lines_total") == 3


def test_rows_written_to_a_deleted_directory_are_counted_lost_and_logging_resumes(
    start, tmp_path, metrics
):
    log = start()
    log.submit(batch(3, "gone"))
    wait_for(lambda: sample(metrics, "lines_total") == 3)
    shutil.rmtree(tmp_path / "log")
    log.submit(batch(2, "kept"))
    wait_for(lambda: sample(metrics, "lines_total") == 5)
    log.close()

    assert sample(metrics, "dropped_total", reason="lost") == 3
    assert [e["request_id"] for e in lines_in(tmp_path / "log")] == ["kept"] * 2


def test_an_unwritable_directory_drops_and_counts_as_io_error(start, tmp_path, metrics):
    (tmp_path / "log").write_text("a file where the directory should be")
    log = start()
    log.submit(batch(2))
    wait_for(lambda: sample(metrics, "dropped_total", reason="io_error") == 2)
    log.close()
    assert sample(metrics, "lines_total") == 0


def test_a_file_left_open_by_a_dead_process_is_closed_at_its_last_whole_line(start, tmp_path):
    directory = tmp_path / "log"
    directory.mkdir()
    name = "predictions-20261201T000000000000Z-7-000003.jsonl"
    whole = b"".join(encode(batch(2, "dead")))
    (directory / f"{name}.open").write_bytes(whole + b'{"schema": 1, "requ')
    (directory / "predictions-20261201T000000000000Z-7-000004.jsonl.open").write_bytes(b"{")

    log = start()
    wait_for(lambda: not list(directory.glob("*.open")))
    log.close()

    assert [p.name for p in directory.iterdir()] == [name]
    assert (directory / name).read_bytes() == whole


def test_shutdown_writes_out_the_queue_and_closes_the_file(start, tmp_path, metrics):
    log = start(flush_seconds=10.0)  # nothing is written before close
    for i in range(50):
        log.submit(batch(20, f"r{i}"))
    log.close()

    assert len(lines_in(tmp_path / "log")) == 1000
    assert not list((tmp_path / "log").glob("*.open"))
    assert sample(metrics, "dropped_total", reason="shutdown") == 0
    log.submit(batch(1))  # after close: dropped, never an error
    assert sample(metrics, "dropped_total", reason="shutdown") == 1


def test_shutdown_is_bounded_when_the_writer_is_stuck(start, metrics, monkeypatch):
    stuck = threading.Event()
    monkeypatch.setattr(log_files.LogFiles, "write", lambda self, groups: stuck.wait(30))
    log = start(shutdown_seconds=0.2)
    log.submit(batch(2))
    wait_for(lambda: log.queued == 0)
    log.submit(batch(3))

    began = time.monotonic()
    log.close()

    assert time.monotonic() - began < 2
    assert sample(metrics, "dropped_total", reason="shutdown") == 3
    stuck.set()


def test_a_row_that_cannot_be_serialised_is_dropped_and_counted_not_raised(start, metrics):
    log = start()
    log.submit(batch(2, amount=[object(), 1.0], channel=np.array([["web"], ["app"]], dtype=object)))
    log.submit(batch(3, amount=[1.0], channel=np.array([["web"]] * 3, dtype=object)))
    log.close()

    assert sample(metrics, "dropped_total", reason="encode") == 5


def test_every_drop_reason_is_exported_at_zero_even_with_the_log_off(metrics: Metrics):
    text = metrics.registry.get_sample_value
    for reason in prediction_log.DROP_REASONS:
        assert text("modelgate_prediction_log_dropped_total", {"reason": reason}) == 0
    assert text("modelgate_prediction_log_queue_capacity_rows", {}) == 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_stalled_sink_drops_rows_while_requests_keep_their_latency(
    exported_model: Path, tmp_path: Path, pipeline_run: PipelineRun, monkeypatch
):
    """The writer blocks on a lock the test holds: the queue fills, rows are dropped and
    counted, and requests take as long as they do with a healthy sink."""
    stall = threading.Lock()
    write = log_files.LogFiles.write

    def stalled(self: log_files.LogFiles, groups: list) -> None:
        with stall:
            write(self, groups)

    monkeypatch.setattr(log_files.LogFiles, "write", stalled)
    rows = records(pd.read_parquet(pipeline_run.part("test")).head(1), pipeline_run.schema)
    settings = Settings(
        model=exported_model, prediction_log_dir=tmp_path / "log",
        prediction_log_queue_rows=50, prediction_log_flush_seconds=0.01,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        metrics = client.app.state.metrics
        healthy = _latencies(client, rows, 200)
        wait_for(lambda: sample(metrics, "lines_total") == 200)
        with stall:
            stalled_latencies = _latencies(client, rows, 300)
            dropped = sample(metrics, "dropped_total", reason="queue_full")
            queued = sample(metrics, "queue_rows")
        wait_for(lambda: sample(metrics, "queue_rows") == 0)

    assert dropped > 200  # all but the queue's 50 and what the writer took before it stalled
    assert queued == 50
    assert np.median(stalled_latencies) < 2 * np.median(healthy) + 0.002
    assert np.percentile(stalled_latencies, 99) < 0.1
    assert len(lines_in(tmp_path / "log")) == 200 + 300 - dropped


def _latencies(client: TestClient, rows: list[dict], count: int) -> list[float]:
    out = []
    for _ in range(count):
        began = time.perf_counter()
        assert client.post("/predict", json=rows).status_code == 200
        out.append(time.perf_counter() - began)
    return out


def test_the_readme_names_every_setting_and_drop_reason_of_the_log():
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    named = set(re.findall(r"MODELGATE_(PREDICTION_LOG_[A-Z_]+)", text))
    fields = {name.upper() for name in Settings.model_fields if name.startswith("prediction_log")}

    assert named == fields
    assert all(f"`{reason}`" in text for reason in prediction_log.DROP_REASONS)
