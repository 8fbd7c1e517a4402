"""What a retraining run does about the monitor's verdict, and the record it leaves behind.

One owner for the action words, the branch naming and `decision.json`, which the GitHub step
(`modelgate.ci.retrain_pr`, run by `.github/workflows/monitor.yml`) reads:

- `open`: a verdict in `retrain.triggers` and no retraining branch of the model on the remote;
- `update`: the same, with a branch there: one episode has one branch and one PR;
- `drift-passed`: no such verdict, but a retraining branch is still on the remote;
- `none`: nothing to do (or too few matured rows to retrain on: the reason says which).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from modelgate import io
from modelgate.monitor.status import BOTH, DEGRADED, DRIFT, degraded, drifted
from modelgate.retrain import pr

logger = logging.getLogger(__name__)

OPEN, UPDATE, NONE, DRIFT_PASSED = "open", "update", "none", "drift-passed"
ACTIONS = (OPEN, UPDATE, NONE, DRIFT_PASSED)
BRANCH_ROOT = "retrain"  # branches retrain/<model>/<episode>
MATERIAL = (DRIFT, DEGRADED, BOTH)
DECISION_FILE, BODY_FILE = "decision.json", "body.md"


@dataclass(frozen=True)
class Decision:
    """What the run decided, as `decision.json` carries it."""

    action: str
    branch: str | None
    title: str
    reason: str
    model: str
    status: str  # the monitor's
    base: str  # the branch the PR merges into
    production: str | None = None  # the production revision's commit
    gates: str | None = None  # overall status of the retrained pipeline's gates
    oot: str | None = None  # the out-of-time comparison's status
    commit: str | None = None  # the branch's head
    pushed: bool = False
    body: str | None = None  # the body file, when there is one


def branch_prefix(model: str) -> str:
    return f"{BRANCH_ROOT}/{model}/"


def triggered(result: Mapping[str, Any], triggers: Sequence[str]) -> bool:
    """Whether the monitor's verdict is one `retrain.triggers` acts on."""
    return ("drift" in triggers and drifted(result)) or (
        "degraded" in triggers and degraded(result)
    )


def episode(result: Mapping[str, Any], as_of: date) -> str:
    """A new episode's name: what the monitor found, and the day it was first found."""
    kinds = [k for k, hit in (("drift", drifted(result)), ("degraded", degraded(result))) if hit]
    return f"{'-'.join(kinds)}-{as_of.isoformat()}"


def decide(
    result: Mapping[str, Any], existing: Sequence[str], triggers: Sequence[str], as_of: date,
    base: str,
) -> Decision:  # fmt: skip
    """What to do about the monitor's `result`, given the model's retraining branches on the
    remote (`existing`, sorted; the newest episode is the last)."""
    model, status = result["model"]["name"], result["status"]
    current = existing[-1] if existing else None
    if len(existing) > 1:
        logger.warning("several retraining branches of %s: %s; using %s", model, existing, current)
    found = pr.what_happened(result).replace("`", "")
    if not triggered(result, triggers):
        why = "not one of retrain.triggers" if status in MATERIAL else "no retraining"
        reason = f"monitor status {status}: {found}; {why}"
        if current is None:
            return Decision(NONE, None, f"No retraining of {model}", reason, model, status, base)
        reason += f", and {current} is still on the remote"
        return Decision(DRIFT_PASSED, current, f"Drift has passed for {model}", reason,
                        model, status, base)  # fmt: skip
    branch = current or branch_prefix(model) + episode(result, as_of)
    reason = f"monitor status {status}: {found}"
    return Decision(UPDATE if current else OPEN, branch, pr.title(model, result), reason,
                    model, status, base)  # fmt: skip


def not_retrained(decision: Decision, why: str) -> Decision:
    """A triggered decision that could not retrain (too few matured rows, nothing new)."""
    return replace(decision, action=NONE, reason=f"{decision.reason}; not retrained: {why}")


def clear(out: Path) -> None:
    for name in (DECISION_FILE, BODY_FILE):
        (out / name).unlink(missing_ok=True)


def write(out: Path, decision: Decision, body: str | None) -> Decision:
    """`out/decision.json`, and `out/body.md` when there is a body; an older body is removed,
    so no workflow can post a stale one."""
    body_file = out / BODY_FILE
    if body is None:
        body_file.unlink(missing_ok=True)
    else:
        io.write_bytes(body_file, body.encode("utf-8"))
        decision = replace(decision, body=str(body_file))
    io.write_json(out / DECISION_FILE, asdict(decision))
    return decision
