"""The deploy check's reading of the gate files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelgate.cli import StageError
from modelgate.gates import verdict
from modelgate.gates.results import GATE_ORDER, blocking


def _write_gates(gates_dir: Path, statuses: dict[str, str]) -> None:
    gates_dir.mkdir(parents=True, exist_ok=True)
    for gate, status in statuses.items():
        condition = {"name": f"{gate} check", "status": status, "message": ""}
        report = {"gate": gate, "status": status, "notes": [], "conditions": [condition]}
        (gates_dir / f"{gate}.json").write_text(json.dumps(report))


def _argv(tmp_path: Path) -> list[str]:
    return ["--gates-dir", str(tmp_path / "gates"), "--report", str(tmp_path / "gates.json")]


def test_warnings_pass(tmp_path: Path) -> None:
    _write_gates(tmp_path / "gates", {g: "warn" if g == "data" else "pass" for g in GATE_ORDER})
    verdict.main(_argv(tmp_path))
    assert json.loads((tmp_path / "gates.json").read_text())["status"] == "warn"


def test_a_failed_gate_blocks_naming_its_conditions(tmp_path: Path) -> None:
    _write_gates(tmp_path / "gates", {g: "fail" if g == "model" else "pass" for g in GATE_ORDER})
    with pytest.raises(StageError, match=r"gate 'model' is fail: model check"):
        verdict.main(_argv(tmp_path))


def test_a_gate_that_did_not_run_blocks(tmp_path: Path) -> None:
    _write_gates(tmp_path / "gates", {g: "pass" for g in GATE_ORDER if g != "champion"})
    with pytest.raises(StageError, match=r"gate 'champion' is not run \(no result from this run\)"):
        verdict.main(_argv(tmp_path))


def test_not_run_and_missing_gates_are_each_reported() -> None:
    report = {"gates": [{"gate": "contract", "status": "not run", "conditions": []}]}
    problems = blocking(report)
    assert problems[0] == "gate 'data' did not run"
    assert "gate 'contract' is not run" in problems
    assert len(problems) == len(GATE_ORDER)
