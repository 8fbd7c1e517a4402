"""Deploy check: fail unless every gate ran and none failed.

The per-gate files are the evidence: git tracks them and `dvc status` ties them to dvc.lock,
whereas gates.json is rebuilt by whichever stage ran last (and by nothing after a `dvc pull`),
so it is assembled here from those files first (`modelgate.gates.results`, which the PR report
uses too). A warning passes: `on_fail: warn` in params.yaml is the team's decision that a
condition informs without blocking. A gate that is missing or "not run" blocks, because the
pipeline stopped before it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from modelgate.cli import StageError, entry, stage_parser
from modelgate.gates.results import GATE_ORDER, assemble, blocking

logger = logging.getLogger(__name__)


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
