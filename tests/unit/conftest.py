"""Unit-test fixtures: a stage runner (the tiny pipeline run is in tests/conftest.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import pytest

from modelgate import cli

StageMain = Callable[[Sequence[str] | None], None]
RunStage = Callable[[StageMain, list[str]], tuple[int, str]]


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
