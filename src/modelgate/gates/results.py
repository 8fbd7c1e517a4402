"""The gate record: a condition's outcome, a gate's outcomes, and the merged record of them all.

This module is the one owner of what a gate result means. Every gate writes its own file
(`<gate>.json`, the full record, and `<gate>.counts.json`, numbers only, which DVC shows as
metrics without filling `dvc exp show` with string columns). `merge` reads those files in
pipeline order into the record that the PR report and the deploy check both judge with
`overall` and `blocking`:

- a gate with no file did not run;
- after the first gate that failed or did not run, every later gate is "not run": the
  pipeline stops at a failed gate and runs in order, so a later gate's file is left over from
  an earlier run and is not trusted;
- the overall status is the worst: fail, then not run, then warn, then pass. A record with a
  gate that did not run never passes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelgate import io

GATE_ORDER = ("contract", "data", "split", "model", "fairness", "parity", "champion")


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    NOT_RUN = "not run"


PASSING = frozenset({Status.PASS, Status.WARN})
# Worst first: the overall status of a record is the first of these any gate has.
SEVERITY = (Status.FAIL, Status.NOT_RUN, Status.WARN, Status.PASS)


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
    # Named tables a report shows beside the conditions (the fairness gate's per-group rows);
    # written only when present, so other gates' records stay as they were.
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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
        out: dict[str, Any] = {
            "gate": self.gate,
            "status": self.status.value,
            "notes": self.notes,
            "conditions": [{**asdict(c), "status": c.status.value} for c in self.conditions],
        }
        if self.tables:
            out["tables"] = self.tables
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """Numbers only, keyed `<gate>_gate` like the stage, for `dvc exp show` columns."""
        tally = {s: sum(c.status is s for c in self.conditions) for s in Status}
        return {
            f"{self.gate}_gate": {
                "failed": tally[Status.FAIL],
                "warned": tally[Status.WARN],
                "passed": tally[Status.PASS],
            }
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


def gate_path(gates_dir: Path, gate: str) -> Path:
    return gates_dir / f"{gate}.json"


def counts_path(gates_dir: Path, gate: str) -> Path:
    return gates_dir / f"{gate}.counts.json"


def write_gate(result: GateResult, gates_dir: Path) -> Path:
    path = gate_path(gates_dir, result.gate)
    io.write_json(path, result.to_dict())
    io.write_json(counts_path(gates_dir, result.gate), result.counts())
    return path


def not_run(gate: str, why: str) -> dict[str, Any]:
    return {"gate": gate, "status": Status.NOT_RUN.value, "notes": [why], "conditions": []}


def merge(gates_dir: Path) -> list[dict[str, Any]]:
    """Every gate in pipeline order, from its file, with the rules in the module docstring."""
    gates: list[dict[str, Any]] = []
    stopped: str | None = None  # why every later gate cannot be from this run
    for name in GATE_ORDER:
        path = gate_path(gates_dir, name)
        if stopped is not None:
            gates.append(not_run(name, stopped))
        elif not path.is_file():
            gates.append(not_run(name, "no result from this run"))
            stopped = f"{name} did not run"
        else:
            gates.append(_read_gate(path, name))
            if gates[-1].get("status") == Status.FAIL:
                stopped = f"stopped after {name}"
    return gates


def _read_gate(path: Path, name: str) -> dict[str, Any]:
    """The gate's record; an unreadable or foreign file is a failed gate, never a pass."""
    try:
        gate = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return _broken(name, f"{path} is unreadable: {exc}")
    if not isinstance(gate, dict) or gate.get("gate") != name:
        return _broken(name, f"{path} is not the record of gate {name!r}")
    return gate


def _broken(name: str, why: str) -> dict[str, Any]:
    return {"gate": name, "status": Status.FAIL.value, "notes": [why], "conditions": []}


def overall(gates: Sequence[Mapping[str, Any]] | None) -> Status:
    """The worst status of any gate; no gates at all is a failure to verify."""
    if not gates:
        return Status.FAIL
    statuses = {g.get("status") for g in gates}
    unknown = statuses - set(Status)
    if unknown:
        return Status.FAIL  # a status nobody wrote: not evidence of anything
    return next(s for s in SEVERITY if s in statuses)


def assemble(gates_dir: Path, target: Path) -> dict[str, Any]:
    """Merge the gate files into `target` (gates.json) and return the record."""
    gates = merge(gates_dir)
    record = {"status": overall(gates).value, "gates": gates}
    io.write_json(target, record)
    return record


def blocking(record: Mapping[str, Any]) -> list[str]:
    """One line per gate that stops a deploy, naming its failed conditions."""
    gates = {g["gate"]: g for g in record.get("gates", [])}
    problems = [f"gate '{name}' did not run" for name in GATE_ORDER if name not in gates]
    for name, gate in gates.items():
        if gate["status"] in PASSING:
            continue
        failed = [c["name"] for c in gate.get("conditions", []) if c["status"] == Status.FAIL]
        detail = f": {'; '.join(failed)}" if failed else ""
        notes = gate.get("notes") or []
        why = f" ({notes[0]})" if gate["status"] == Status.NOT_RUN and notes else ""
        problems.append(f"gate '{name}' is {gate['status']}{detail}{why}")
    return problems


def failure_summary(result: GateResult) -> str:
    lines = [f"gate '{result.gate}' failed {len(result.failed)} condition(s):"]
    lines += [
        f"  - {c.name}: {c.message} (value {c.value}, threshold {c.threshold})"
        for c in result.failed
    ]
    return "\n".join(lines)
