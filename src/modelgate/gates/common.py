"""What gate stages share: params loading, the gate's exit, and the combined report."""

from __future__ import annotations

import logging
from pathlib import Path

from modelgate.cli import StageError
from modelgate.gates.results import GateResult, assemble, failure_summary, write_gate

logger = logging.getLogger(__name__)


class GateFailedError(StageError):
    """A gate condition configured to fail did; the message lists each one."""


def finish(result: GateResult, gates_dir: Path, report: Path) -> None:
    """Record the gate, then fail the stage if the gate failed."""
    record(result, gates_dir, report)
    if result.failed:
        raise GateFailedError(failure_summary(result))


def record(result: GateResult, gates_dir: Path, report: Path) -> None:
    """Write the gate's file and re-assemble the combined report."""
    write_gate(result, gates_dir)
    combined = assemble(gates_dir, report)
    logger.info(
        "gate %s: %s (%d conditions, %d failed); all gates so far: %s -> %s",
        result.gate,
        result.status.value,
        len(result.conditions),
        len(result.failed),
        combined["status"],
        report,
    )
