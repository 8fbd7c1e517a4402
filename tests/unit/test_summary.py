"""`make run`'s closing summary: the gates first, judged by the one gate record."""

from __future__ import annotations

from modelgate.summary import gates_line


def _gate(name: str, status: str) -> dict:
    return {"gate": name, "status": status, "notes": [], "conditions": []}


def test_the_gates_line_names_each_gate_and_the_worst_status() -> None:
    gates = [_gate("contract", "pass"), _gate("data", "warn"), _gate("split", "pass")]
    assert gates_line(gates) == "Gates: contract pass, data warn, split pass -> WARN"


def test_a_gate_that_did_not_run_keeps_the_summary_from_passing() -> None:
    gates = [_gate("contract", "pass"), _gate("data", "not run")]
    assert gates_line(gates).endswith("-> NOT RUN")


def test_a_regressor_summary_shows_error_metrics_and_no_threshold(tmp_path) -> None:
    from modelgate.summary import render

    test = {"mae": 2.1, "rmse": 2.6, "wape": 0.135, "bias": -1.7, "r2": 0.85}
    metrics = {"test": {**test, "mean_actual": 15.9, "rows": 1140}}
    parity = {"passed": True, "test": {"max_abs_diff": 2e-6, "max_rel_diff": 1e-7}}
    split = {"train": {"rows": 3419, "target_mean": 12.41}}
    model = tmp_path / "model.onnx"
    model.write_bytes(b"x" * 2048)

    text = render(metrics, parity, split, [_gate("model", "pass")], model, tmp_path)

    assert "  r2             0.8500" in text
    assert "threshold" not in text and "flips" not in text
    assert "train 3419 (mean target 12.41)" in text
    assert "test max |diff| 2.0e-06, max rel 1.0e-07 -> PASSED" in text
