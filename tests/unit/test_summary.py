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
