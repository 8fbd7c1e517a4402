"""The champion gate's paired-bootstrap conditions as its record holds them: a light module,
so the PR report and the retraining PR read the names the gate writes without importing the
gate (and ONNX Runtime with it).

The condition's value is `{delta, ci_low, ci_high, confidence}`: ROC-AUC challenger minus
champion for a classifier, relative MAE change (challenger over champion, minus 1) for a
regressor, on the same test rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUC_CONDITION = "ROC-AUC difference (paired bootstrap)"
MAE_CONDITION = "MAE change (paired bootstrap)"
VALUE_KEYS = frozenset({"delta", "ci_low", "ci_high", "confidence"})


def interval(record: Mapping[str, Any] | None, name: str) -> Mapping[str, Any] | None:
    """The value of condition `name` in a gate record, when it holds a paired interval."""
    for condition in (record or {}).get("conditions", []):
        value = condition.get("value")
        if condition.get("name") != name or not isinstance(value, Mapping):
            continue
        if value.keys() >= VALUE_KEYS:
            return value
    return None
