"""Unit-test fixtures: the tiny pipeline run once per session, and a stage runner."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from modelgate import cli
from modelgate.stages import export
from tests.unit._pipeline import PipelineRun, run_pipeline

StageMain = Callable[[Sequence[str] | None], None]
RunStage = Callable[[StageMain, list[str]], tuple[int, str]]


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """ingest -> split -> train -> evaluate on the tiny data, once: later stages start here."""
    return run_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def exported_model(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pipeline exported to ONNX as the export stage does."""
    out = tmp_path_factory.mktemp("export")
    export.main(pipeline_run.export_argv(out / "model.onnx", out / "parity.json"))
    return out / "model.onnx"


@pytest.fixture
def run_stage(capsys: pytest.CaptureFixture[str]) -> Iterator[RunStage]:
    """Run a stage as its `__main__` does (`cli.run`); return the exit code and what it logged.

    `cli.run` points the root logger at the captured stderr (basicConfig(force=True)); the
    previous handlers come back afterwards so later tests do not log into a closed stream.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def _run(main: StageMain, argv: list[str]) -> tuple[int, str]:
        code = cli.run(main, argv)
        return code, capsys.readouterr().err

    yield _run
    root.handlers[:] = handlers
    root.setLevel(level)
