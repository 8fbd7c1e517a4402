"""`modelgate monitor`'s verdict and exit code, and its refusals of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelgate.__main__ import main as modelgate
from modelgate.monitor.status import EXIT_CODES, STATUSES, status

ROOT = Path(__file__).resolve().parents[2]


def _result(drifted: list[str], estimated: bool = False, realized: bool = False, **drift) -> dict:
    return {
        "drift": {"drifted": drifted, **drift},
        "estimated": {"degraded": estimated},
        "realized": {"degraded": realized, "cohorts": []},
    }


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (_result([]), "ok"),
        (_result(["Income"]), "drift"),
        (_result([], estimated=True), "degraded"),
        (_result([], realized=True), "degraded"),
        (_result([], score={"drift": True}), "drift"),  # the score alone
        (_result(["Age"], realized=True), "drift+degraded"),
        (_result([], status="insufficient"), "insufficient"),
        (_result([], realized=True, status="insufficient"), "degraded"),
    ],
)
def test_status_is_drift_and_or_degraded_else_ok_or_insufficient(
    result: dict, expected: str
) -> None:
    assert status(result) == expected


def test_every_status_has_an_exit_code_a_workflow_can_tell_apart() -> None:
    assert set(EXIT_CODES) == set(STATUSES)
    assert [EXIT_CODES[s] for s in ("ok", "drift", "degraded", "drift+degraded")] == [0, 3, 4, 5]


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert modelgate(["monitr"]) == 2
    assert "unknown command 'monitr'" in capsys.readouterr().err


def test_a_missing_reference_is_bad_input_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ROOT / "models/model.onnx"
    if not model.is_file():
        pytest.skip("needs the pipeline's model: make run")
    code = modelgate(
        ["monitor", "--log", str(tmp_path), "--model", str(model),
         "--reference", str(tmp_path / "nope.json"), "--params", str(ROOT / "params.yaml"),
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 1
    assert f"cannot read reference file {tmp_path / 'nope.json'}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_the_reference_of_another_model_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, reference = ROOT / "models/model.onnx", ROOT / "models/reference.json"
    if not reference.is_file():
        pytest.skip("needs the pipeline's model and reference: make run")
    data = json.loads(reference.read_text(encoding="utf-8"))
    data["model_version"] = "0" * 12
    other = tmp_path / "reference.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    shutil.copy(model, tmp_path / "model.onnx")
    code = modelgate(
        ["monitor", "--log", str(tmp_path), "--model", str(tmp_path / "model.onnx"),
         "--reference", str(other), "--params", str(ROOT / "params.yaml"),
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert code == 1
    assert "is the reference of model 000000000000" in capsys.readouterr().err
