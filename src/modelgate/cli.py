"""What every stage entry point shares: logging set-up and clean failure.

A stage that fails on bad input or bad params prints one readable message and exits 1; a
traceback is kept for bugs, not for a broken CSV.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from modelgate.params import ParamsError
from modelgate.schema import DataContractError, RawFileError

logger = logging.getLogger("modelgate")


class StageError(RuntimeError):
    """A stage cannot produce a trustworthy output (unreadable input, failed parity, ...)."""


EXPECTED_FAILURES = (StageError, DataContractError, RawFileError, ParamsError)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    # Third-party chatter (deepchecks, skl2onnx) stays out of the stage summary.
    for noisy in ("deepchecks", "skl2onnx", "matplotlib", "numexpr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def stage_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file")
    return parser


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    configure_logging()
    try:
        main(argv)
    except EXPECTED_FAILURES as exc:
        logger.error("%s", exc)
        return 1
    return 0


def entry(main: Callable[[Sequence[str] | None], None]) -> None:
    sys.exit(run(main))
