"""The gate vocabulary: a condition's outcome, a gate's outcomes, and the combined report.

Every gate writes its own JSON; `assemble` merges whatever gate files exist into
`gates.json`, in pipeline order, so a failed gate still leaves a complete, readable report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelgate import io

GATE_ORDER = ("contract", "data", "split", "model", "parity", "champion")


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Condition:
    name: str
    status: Status
    value: Any = None
    threshold: Any = None
    message: str = ""


@dataclass
class GateResult:
    gate: str
    conditions: list[Condition] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.conditions}
        if Status.FAIL in statuses:
            return Status.FAIL
        return Status.WARN if Status.WARN in statuses else Status.PASS

    @property
    def failed(self) -> list[Condition]:
        return [c for c in self.conditions if c.status is Status.FAIL]

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "status": self.status.value,
            "notes": self.notes,
            "conditions": [{**asdict(c), "status": c.status.value} for c in self.conditions],
        }


def check_max(name: str, value: float, limit: float, on_fail: Status = Status.FAIL) -> Condition:
    ok = value <= limit
    return Condition(
        name,
        Status.PASS if ok else on_fail,
        value,
        f"<= {limit:g}",
        f"{value:.4g} {'within' if ok else 'above'} the maximum {limit:g}",
    )


def check_min(name: str, value: float, limit: float, on_fail: Status = Status.FAIL) -> Condition:
    ok = value >= limit
    return Condition(
        name,
        Status.PASS if ok else on_fail,
        value,
        f">= {limit:g}",
        f"{value:.4g} {'meets' if ok else 'below'} the minimum {limit:g}",
    )


def write_gate(result: GateResult, gates_dir: Path) -> Path:
    path = gates_dir / f"{result.gate}.json"
    io.write_json(path, result.to_dict())
    return path


def assemble(gates_dir: Path, target: Path, stop_after: str | None = None) -> dict[str, Any]:
    """Merge the gate files in `gates_dir` into `target`; return the merged report.

    `stop_after` names a gate that just failed: the pipeline stops there, so files of later
    gates are from an earlier run and are reported as not run rather than trusted.
    """
    gates: list[dict[str, Any]] = []
    stopped = False
    for name in GATE_ORDER:
        path = gates_dir / f"{name}.json"
        if stopped:
            gates.append(
                {
                    "gate": name,
                    "status": "not run",
                    "notes": [f"stopped after {stop_after}"],
                    "conditions": [],
                }
            )
        elif path.exists():
            gates.append(json.loads(path.read_text(encoding="utf-8")))
        stopped = stopped or name == stop_after
    statuses = {g["status"] for g in gates}
    overall = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    report = {"status": overall, "gates": gates}
    io.write_json(target, report)
    return report


def failure_summary(result: GateResult) -> str:
    lines = [f"gate '{result.gate}' failed {len(result.failed)} condition(s):"]
    lines += [
        f"  - {c.name}: {c.message} (value {c.value}, threshold {c.threshold})"
        for c in result.failed
    ]
    return "\n".join(lines)
