"""Contract gate: the data contract of `params.yaml` (`ingest`), as a gate record.

The ingest stage enforces the contract (`modelgate.schema`) and calls this gate with what it
found, so a broken contract is reported like every other gate: each broken rule a failed
condition with its row count.
"""

from __future__ import annotations

from modelgate.gates.results import Condition, GateResult, Status
from modelgate.schema import DataContractError


def contract_gate(error: DataContractError | None, rows: int, columns: int) -> GateResult:
    if error is None:
        ok = Condition(
            "data contract",
            Status.PASS,
            rows,
            "every declared rule",
            f"{rows} rows and {columns} columns obey the contract",
        )
        return GateResult("contract", [ok])
    return GateResult(
        "contract",
        [
            Condition(f"{v.column}: {v.rule}", Status.FAIL, v.rows, v.rule, str(v))
            for v in error.violations
        ],
    )
