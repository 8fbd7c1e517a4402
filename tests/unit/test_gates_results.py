"""The gate vocabulary: condition checks, a gate's status, the combined report and how a failed
gate stops it, and the summary a failed stage prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelgate.gates.common import GateFailedError, finish, record
from modelgate.gates.results import (
    GATE_ORDER,
    Condition,
    GateResult,
    Status,
    assemble,
    check_max,
    check_min,
    failure_summary,
    write_gate,
)


def _gate(name: str, *statuses: Status) -> GateResult:
    return GateResult(name, [Condition(f"c{i}", s, i, "t") for i, s in enumerate(statuses)])


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def gates_dir(tmp_path: Path) -> Path:
    return tmp_path / "gates"


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), Status.PASS),
        ((Status.PASS, Status.PASS), Status.PASS),
        ((Status.PASS, Status.WARN), Status.WARN),
        ((Status.WARN, Status.FAIL, Status.PASS), Status.FAIL),
    ],
)
def test_gate_status_is_its_worst_condition(statuses: tuple[Status, ...], expected: Status):
    assert _gate("data", *statuses).status is expected


def test_failed_lists_only_failed_conditions_in_order():
    gate = _gate("data", Status.FAIL, Status.WARN, Status.PASS, Status.FAIL)

    assert [c.name for c in gate.failed] == ["c0", "c3"]


def test_to_dict_is_plain_json():
    gate = GateResult("split", [Condition("x", Status.WARN, 0.3, "<= 0.2", "m")], ["a note"])

    assert json.loads(json.dumps(gate.to_dict())) == {
        "gate": "split",
        "status": "warn",
        "notes": ["a note"],
        "conditions": [
            {"name": "x", "status": "warn", "value": 0.3, "threshold": "<= 0.2", "message": "m"}
        ],
    }


@pytest.mark.parametrize(
    ("value", "status", "word"),
    [(0.5, Status.PASS, "within"), (0.75, Status.PASS, "within"), (0.875, Status.FAIL, "above")],
)
def test_check_max_passes_up_to_and_including_the_limit(value: float, status: Status, word: str):
    condition = check_max("test brier", value, 0.75)

    assert condition == Condition(
        "test brier", status, value, "<= 0.75", f"{value:.4g} {word} the maximum 0.75"
    )


@pytest.mark.parametrize(
    ("value", "status", "word"),
    [(0.875, Status.PASS, "meets"), (0.75, Status.PASS, "meets"), (0.5, Status.FAIL, "below")],
)
def test_check_min_passes_down_to_and_including_the_limit(value: float, status: Status, word: str):
    condition = check_min("test roc_auc", value, 0.75)

    assert condition == Condition(
        "test roc_auc", status, value, ">= 0.75", f"{value:.4g} {word} the minimum 0.75"
    )


def test_a_broken_check_takes_the_given_severity():
    assert check_max("x", 2.0, 1.0, on_fail=Status.WARN).status is Status.WARN
    assert check_min("x", 0.0, 1.0, on_fail=Status.WARN).status is Status.WARN
    assert check_max("x", 0.5, 1.0, on_fail=Status.WARN).status is Status.PASS


def test_write_gate_writes_one_file_named_after_the_gate(gates_dir: Path):
    gate = _gate("model", Status.PASS)

    path = write_gate(gate, gates_dir)

    assert path == gates_dir / "model.json"
    assert _read(path) == gate.to_dict()


def test_assemble_orders_gates_as_the_pipeline_and_skips_missing_ones(
    gates_dir: Path, tmp_path: Path
):
    for gate in (_gate("model", Status.PASS), _gate("contract", Status.PASS), _gate("data")):
        write_gate(gate, gates_dir)

    report = assemble(gates_dir, tmp_path / "gates.json")

    assert [g["gate"] for g in report["gates"]] == ["contract", "data", "model"]
    assert report["status"] == "pass"
    assert _read(tmp_path / "gates.json") == report


@pytest.mark.parametrize(
    ("statuses", "overall"),
    [
        ((Status.PASS, Status.PASS), "pass"),
        ((Status.WARN, Status.PASS), "warn"),
        ((Status.WARN, Status.FAIL), "fail"),
    ],
)
def test_assemble_overall_status_is_the_worst_gate(
    gates_dir: Path, tmp_path: Path, statuses: tuple[Status, Status], overall: str
):
    write_gate(_gate("contract", statuses[0]), gates_dir)
    write_gate(_gate("data", statuses[1]), gates_dir)

    assert assemble(gates_dir, tmp_path / "gates.json")["status"] == overall


def test_stop_after_reports_every_later_gate_as_not_run(gates_dir: Path, tmp_path: Path):
    # Files of every gate exist, as after an earlier full run; then the data gate fails.
    for name in GATE_ORDER:
        write_gate(_gate(name, Status.PASS), gates_dir)
    write_gate(_gate("data", Status.FAIL), gates_dir)

    report = assemble(gates_dir, tmp_path / "gates.json", stop_after="data")

    by_name = {g["gate"]: g for g in report["gates"]}
    assert list(by_name) == list(GATE_ORDER)
    assert by_name["contract"]["status"] == "pass"
    assert by_name["data"]["status"] == "fail"
    for name in ("split", "model", "parity", "champion"):
        assert by_name[name] == {
            "gate": name,
            "status": "not run",
            "notes": ["stopped after data"],
            "conditions": [],
        }
    assert report["status"] == "fail"


def test_stop_after_lists_later_gates_even_without_files(gates_dir: Path, tmp_path: Path):
    write_gate(_gate("contract", Status.FAIL), gates_dir)

    report = assemble(gates_dir, tmp_path / "gates.json", stop_after="contract")

    assert [(g["gate"], g["status"]) for g in report["gates"]] == [
        ("contract", "fail"),
        *((name, "not run") for name in GATE_ORDER[1:]),
    ]


def test_stop_after_the_last_gate_leaves_nothing_not_run(gates_dir: Path, tmp_path: Path):
    for name in GATE_ORDER:
        write_gate(_gate(name, Status.PASS), gates_dir)

    report = assemble(gates_dir, tmp_path / "gates.json", stop_after=GATE_ORDER[-1])

    assert "not run" not in {g["status"] for g in report["gates"]}


def test_failure_summary_names_each_failed_condition_with_value_and_threshold():
    gate = GateResult(
        "model",
        [
            check_min("test roc_auc", 0.5, 0.75),
            check_max("test brier", 0.125, 0.25),
            Condition("Weak", Status.WARN, 0.1, "t", "only a warning"),
            check_min("test ks", 0.25, 0.375),
        ],
    )

    assert failure_summary(gate).splitlines() == [
        "gate 'model' failed 2 condition(s):",
        "  - test roc_auc: 0.5 below the minimum 0.75 (value 0.5, threshold >= 0.75)",
        "  - test ks: 0.25 below the minimum 0.375 (value 0.25, threshold >= 0.375)",
    ]


def test_finish_records_a_failed_gate_then_raises_its_summary(gates_dir: Path, tmp_path: Path):
    write_gate(_gate("split", Status.PASS), gates_dir)  # stale, from an earlier run
    gate = GateResult("data", [check_max("DataDuplicates", 0.05, 0.01)])

    with pytest.raises(GateFailedError) as err:
        finish(gate, gates_dir, tmp_path / "gates.json")

    assert str(err.value) == failure_summary(gate)
    assert _read(gates_dir / "data.json") == gate.to_dict()
    statuses = {g["gate"]: g["status"] for g in _read(tmp_path / "gates.json")["gates"]}
    assert statuses["data"] == "fail"
    assert statuses["split"] == "not run"


@pytest.mark.parametrize("status", [Status.PASS, Status.WARN])
def test_finish_lets_a_passing_or_warning_gate_through(
    gates_dir: Path, tmp_path: Path, status: Status
):
    write_gate(_gate("split", Status.PASS), gates_dir)

    finish(_gate("data", status), gates_dir, tmp_path / "gates.json")

    report = _read(tmp_path / "gates.json")
    assert [(g["gate"], g["status"]) for g in report["gates"]] == [
        ("data", status.value),
        ("split", "pass"),
    ]


def test_record_never_raises_on_a_failed_gate(gates_dir: Path, tmp_path: Path):
    record(_gate("contract", Status.FAIL), gates_dir, tmp_path / "gates.json")

    assert _read(tmp_path / "gates.json")["gates"][0]["status"] == "fail"
