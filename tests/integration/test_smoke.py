"""The deploy's smoke test against a real server process on the tiny pipeline's model."""

from __future__ import annotations

from pathlib import Path

import onnx
import pandas as pd
import pytest

from modelgate import smoke
from modelgate.cli import StageError
from tests.integration.test_serve_process import free_port, start
from tests.unit._pipeline import PipelineRun

pytestmark = pytest.mark.slow


def _argv(run: PipelineRun, url: str, expected: Path, version: str) -> list[str]:
    return [
        "--url", url, "--test", str(run.part("test")), "--schema", str(run.schema_json),
        "--expected", str(expected), "--model-version", version, "--timeout", "2",
    ]  # fmt: skip


def test_smoke_passes_only_for_the_pipelines_model(
    exported_model: Path, pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    meta = {p.key: p.value for p in onnx.load(exported_model).metadata_props}
    server = start(exported_model, tmp_path)
    try:
        smoke.main(_argv(pipeline_run, server.url, pipeline_run.predictions, meta["model_version"]))
        with pytest.raises(StageError, match=r"served model '\w+', expected 'another'"):
            smoke.main(_argv(pipeline_run, server.url, pipeline_run.predictions, "another"))
        shifted = pd.read_csv(pipeline_run.predictions).assign(score=lambda f: f["score"] / 2)
        shifted.to_csv(tmp_path / "shifted.csv", index=False)
        with pytest.raises(StageError, match="/predict scored"):
            smoke.main(_argv(pipeline_run, server.url, tmp_path / "shifted.csv", ""))
    finally:
        server.stop()


def test_a_server_that_never_becomes_ready_fails_the_smoke_test(
    pipeline_run: PipelineRun,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StageError, match=r"was not ready within 2 s"):
        smoke.main(_argv(pipeline_run, url, pipeline_run.predictions, "any"))
