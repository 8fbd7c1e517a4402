"""The monitor's verdict vocabulary, owned once: the statuses, how a result earns one, and the
exit code each gives `modelgate monitor` (the JSON, the report and the metrics use the same).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OK, DRIFT, DEGRADED, BOTH, INSUFFICIENT = (
    "ok",
    "drift",
    "degraded",
    "drift+degraded",
    "insufficient",
)
STATUSES = (OK, DRIFT, DEGRADED, BOTH, INSUFFICIENT)
# 1 is bad input and 2 a usage error, as for every command; a window too small for a verdict
# is no alarm, and says so in its report and metrics.
EXIT_CODES = {OK: 0, INSUFFICIENT: 0, DRIFT: 3, DEGRADED: 4, BOTH: 5}


def degraded(result: Mapping[str, Any]) -> bool:
    """Performance below the gate's limits: estimated before labels or realized after."""
    estimated = result.get("estimated") or {}
    realized = result.get("realized") or {}
    return bool(estimated.get("degraded")) or bool(realized.get("degraded"))


def drifted(result: Mapping[str, Any]) -> bool:
    """Any input feature, or the score, drifted (`drifted` lists input features only)."""
    block = result["drift"]
    return bool(block.get("drifted")) or bool((block.get("score") or {}).get("drift"))


def status(result: Mapping[str, Any]) -> str:
    drift = drifted(result)
    if degraded(result):
        return BOTH if drift else DEGRADED
    if drift:
        return DRIFT
    return INSUFFICIENT if result["drift"].get("status") == INSUFFICIENT else OK
