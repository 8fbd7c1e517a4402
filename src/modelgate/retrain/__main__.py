"""`modelgate retrain-pr` (`make retrain-pr`): everything a retraining PR needs but the GitHub call.

    modelgate retrain-pr --production REV --log DIR_OR_S3 --outcomes FILE
        [--monitor reports/monitoring/monitor.json] [--as-of DATE] [--base main]
        [--git-remote origin] [--dvc-remote NAME] [--no-push] [--out reports/retrain]

Reads the monitor's result (`make monitor`). Without a verdict in `retrain.triggers` it does
nothing and says so: `none`, or `drift-passed` when a retraining branch of the model is still
on the git remote. Otherwise, on the episode's branch `retrain/<model>/<episode>` (one on the
remote is reused: one episode, one branch), reset to BASE, it builds the next raw snapshot
from the production rows whose outcomes matured, `dvc add`s and commits it, runs `dvc repro
--force` with every gate (the champion gate against the production revision), commits
`dvc.lock` and the git-tracked reports, compares production with the retrained model out of
time, writes the PR report against production, pushes the outputs to the DVC remote and the
branch to the git remote (`--force-with-lease`). A failed gate is committed and pushed too: the
PR shows it. The work tree is left on the branch.

Writes `OUT/decision.json` (`action`: open | update | none | drift-passed, `branch`, `title`,
`reason`, `gates`, `oot`, `commit`, `pushed`, `body`, ...) and, when there is a PR to open,
update or tell, `OUT/body.md`. Exit 0 with a decision (a failed gate included: the decision
says so), 1 when something could not be done, 2 usage. Every policy is in params.yaml's
`retrain:` section, read from BASE.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from modelgate import gitdvc, io
from modelgate.cli import EXPECTED_FAILURES, configure_logging
from modelgate.retrain import decision as decisions
from modelgate.retrain import gitops, pr
from modelgate.retrain.branch import Options, RetrainError, load_params, retrain
from modelgate.retrain.decision import DRIFT_PASSED, OPEN, UPDATE, Decision

logger = logging.getLogger("modelgate.retrain")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelgate retrain-pr", description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )  # fmt: skip
    add = parser.add_argument
    add("--production", help="the revision production serves (a git ref); needed to retrain")
    add("--log", help="the prediction log, a directory or s3://...; needed to retrain")
    add("--outcomes", type=Path, help="CSV request_id[,row],outcome,outcome_date; needed too")
    add("--monitor", type=Path, default=Path("reports/monitoring/monitor.json"))
    add("--as-of", type=date.fromisoformat, help="maturity date (default: the monitor's, or today)")
    add("--base", default="main", help="the branch the PR merges into and the retrain starts from")
    add("--git-remote", default="origin")
    add("--dvc-remote", help="the DVC remote to push to (default: DVC's default remote)")
    add("--no-push", action="store_true", help="build and commit the branch; push nothing")
    add("--out", type=Path, default=Path("reports/retrain"))
    return parser


def _as_of(args: argparse.Namespace, result: dict[str, Any]) -> date:
    """The day outcomes count as known: the monitor's own, so both judge the same rows."""
    monitored = (result.get("realized") or {}).get("as_of")
    if args.as_of:
        return args.as_of
    return date.fromisoformat(monitored) if monitored else datetime.now(UTC).date()


def _options(args: argparse.Namespace, repo: Path) -> Options:
    """Checked before the work tree changes: tracked edits would ride along into the commits,
    and the PR's CI can only pull what was pushed."""
    missing = [f"--{n}" for n in ("production", "log", "outcomes") if not getattr(args, n)]
    if missing:
        raise RetrainError(f"retraining needs {', '.join(missing)}")
    dirty = gitops.modified_files(repo)
    if dirty:
        raise RetrainError(f"the work tree has changes; commit or stash them first: {dirty[:5]}")
    remote = args.dvc_remote or gitops.default_remote(repo)
    if remote is None and not args.no_push:
        raise RetrainError("no DVC remote to push to: configure one, --dvc-remote, or --no-push")
    return Options(args.production, args.log, args.outcomes, args.base, args.git_remote, remote,
                   push=not args.no_push)  # fmt: skip


def run(args: argparse.Namespace, repo: Path) -> Decision:
    decisions.clear(args.out)  # a failed run leaves no earlier decision for a workflow to act on
    result = io.read_json(args.monitor)
    params = load_params(repo, args.base)
    model = result["model"]["name"]
    existing = gitops.remote_branches(repo, args.git_remote, decisions.branch_prefix(model))
    as_of = _as_of(args, result)
    decision = decisions.decide(result, sorted(existing), params.retrain.triggers, as_of,
                                args.base)  # fmt: skip
    body = None
    if decision.action in (OPEN, UPDATE):
        options = _options(args, repo)
        head = existing.get(str(decision.branch))
        decision, body = retrain(repo, options, result, params, as_of, decision, head)
    elif decision.action == DRIFT_PASSED:
        body = pr.drift_passed(model, str(decision.branch), result)
    return decisions.write(args.out, decision, body)


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = _parser().parse_args(argv)
    try:
        decision = run(args, Path())
    except (*EXPECTED_FAILURES, RetrainError, gitops.GitOpsError, gitdvc.UnknownRefError,
            ValueError, OSError) as exc:  # fmt: skip
        logger.error("%s", exc)
        return 1
    logger.info("retrain-pr: %s %s (%s) -> %s", decision.action, decision.branch or "-",
                decision.reason, args.out / decisions.DECISION_FILE)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
