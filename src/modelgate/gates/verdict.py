"""Deploy check: fail unless every gate ran and none failed.

The per-gate files are the evidence: git tracks them and `dvc status` ties them to dvc.lock,
whereas gates.json is rebuilt by whichever stage ran last (and by nothing after a `dvc pull`),
so it is assembled here from those files first. A warning passes: `on_fail: warn` in
params.yaml is the team's decision that a condition informs without blocking. A gate that is
missing or "not run" blocks, because the pipeline stopped before it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelgate.cli import StageError, entry, stage_parser
from modelgate.gates.results import GATE_ORDER, Status, assemble

logger = logging.getLogger(__name__)

PASSING = frozenset({Status.PASS.value, Status.WARN.value})


def blocking(report: dict[str, Any]) -> list[str]:
    """One line per gate that stops a deploy, naming its failed conditions."""
    gates = {g["gate"]: g for g in report.get("gates", [])}
    problems = [f"gate '{name}' did not run" for name in GATE_ORDER if name not in gates]
    for name, gate in gates.items():
        if gate["status"] in PASSING:
            continue
        failed = [c["name"] for c in gate.get("conditions", []) if c["status"] == "fail"]
        detail = f": {'; '.join(failed)}" if failed else ""
        problems.append(f"gate '{name}' is {gate['status']}{detail}")
    return problems


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--gates-dir", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True, help="combined gates.json")
    args = parser.parse_args(argv)
    problems = blocking(assemble(args.gates_dir, args.report))
    if problems:
        raise StageError("not deployable:\n  - " + "\n  - ".join(problems))
    logger.info("every gate passed (%s)", ", ".join(GATE_ORDER))


if __name__ == "__main__":
    entry(main)
