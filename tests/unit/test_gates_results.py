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
    blocking,
    check_max,
    check_min,
    failure_summary,
    merge,
    overall,
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


def test_write_gate_writes_the_record_and_numbers_only_counts(gates_dir: Path):
    gate = GateResult("model", [check_min("a", 1, 0), Condition("b", Status.WARN)])

    path = write_gate(gate, gates_dir)

    assert path == gates_dir / "model.json"
    assert _read(path) == gate.to_dict()
    # What DVC shows as metrics: numbers under the stage's name, never a string column.
    assert _read(gates_dir / "model.counts.json") == {
        "model_gate": {"failed": 0, "warned": 1, "passed": 1}
    }


def test_merge_lists_every_gate_in_order_and_none_after_a_missing_one(gates_dir: Path):
    for gate in (_gate("model", Status.PASS), _gate("contract", Status.PASS), _gate("data")):
        write_gate(gate, gates_dir)

    gates = merge(gates_dir)

    assert [(g["gate"], g["status"]) for g in gates] == [
        ("contract", "pass"),
        ("data", "pass"),
        ("split", "not run"),
        ("model", "not run"),  # its file cannot be from a run in which split did not run
        ("fairness", "not run"),
        ("parity", "not run"),
        ("champion", "not run"),
    ]
    assert gates[2]["notes"] == ["no result from this run"]
    assert gates[3]["notes"] == ["split did not run"]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({}, "pass"),
        ({"data": Status.WARN}, "warn"),
        ({"data": Status.WARN, "model": Status.FAIL}, "fail"),
        ({"champion": None}, "not run"),
        ({"champion": None, "data": Status.WARN}, "not run"),
        ({"champion": None, "parity": Status.FAIL}, "fail"),
    ],
)
def test_assemble_overall_status_is_the_worst_and_not_run_never_passes(
    gates_dir: Path, tmp_path: Path, statuses: dict[str, Status | None], expected: str
):
    for name in GATE_ORDER:
        status = statuses.get(name, Status.PASS)
        if status is not None:
            write_gate(_gate(name, status), gates_dir)

    report = assemble(gates_dir, tmp_path / "gates.json")

    assert report["status"] == expected
    assert _read(tmp_path / "gates.json") == report


def test_overall_of_nothing_or_an_unknown_status_fails():
    assert overall(None) is Status.FAIL
    assert overall([]) is Status.FAIL
    assert overall([{"gate": "data", "status": "passed!"}]) is Status.FAIL


def test_every_gate_after_a_failed_one_is_not_run_whatever_its_file_says(gates_dir: Path):
    # Files of every gate exist, as after an earlier full run; then the data gate fails.
    for name in GATE_ORDER:
        write_gate(_gate(name, Status.PASS), gates_dir)
    write_gate(_gate("data", Status.FAIL), gates_dir)

    by_name = {g["gate"]: g for g in merge(gates_dir)}

    assert list(by_name) == list(GATE_ORDER)
    assert by_name["contract"]["status"] == "pass"
    assert by_name["data"]["status"] == "fail"
    for name in ("split", "model", "fairness", "parity", "champion"):
        assert by_name[name] == {
            "gate": name,
            "status": "not run",
            "notes": ["stopped after data"],
            "conditions": [],
        }
    assert overall(list(by_name.values())) is Status.FAIL


@pytest.mark.parametrize(
    ("content", "why"),
    [("{not json", "is unreadable"), ('{"gate": "model", "status": "pass"}', "not the record")],
)
def test_a_broken_or_foreign_gate_file_is_a_failed_gate(gates_dir: Path, content: str, why: str):
    write_gate(_gate("contract", Status.PASS), gates_dir)
    (gates_dir / "data.json").write_text(content, encoding="utf-8")

    gates = merge(gates_dir)

    assert gates[1]["status"] == "fail" and why in gates[1]["notes"][0]
    assert {g["status"] for g in gates[2:]} == {"not run"}


def test_blocking_names_failed_conditions_and_why_a_gate_did_not_run(gates_dir: Path):
    write_gate(_gate("contract", Status.PASS), gates_dir)
    write_gate(GateResult("data", [check_max("DataDuplicates", 0.05, 0.01)]), gates_dir)

    problems = blocking({"gates": merge(gates_dir)})

    assert problems[0] == "gate 'data' is fail: DataDuplicates"
    assert problems[1] == "gate 'split' is not run (stopped after data)"
    # The failed data gate, then every gate after it (split, model, ...) as not run.
    assert len(problems) == 1 + len(GATE_ORDER[GATE_ORDER.index("data") + 1 :])


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
    write_gate(_gate("contract", Status.PASS), gates_dir)
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
    write_gate(_gate("contract", Status.PASS), gates_dir)
    write_gate(_gate("split", Status.PASS), gates_dir)

    finish(_gate("data", status), gates_dir, tmp_path / "gates.json")

    report = _read(tmp_path / "gates.json")
    assert [(g["gate"], g["status"]) for g in report["gates"][1:3]] == [
        ("data", status.value),
        ("split", "pass"),
    ]


def test_record_never_raises_on_a_failed_gate(gates_dir: Path, tmp_path: Path):
    record(_gate("contract", Status.FAIL), gates_dir, tmp_path / "gates.json")

    assert _read(tmp_path / "gates.json")["gates"][0]["status"] == "fail"
