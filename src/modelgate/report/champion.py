"""The champion gate's paired comparison in one sentence, for either task's metric."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from modelgate.gates import paired


@dataclass(frozen=True)
class Metric:
    """How one task's paired condition reads: `ROC-AUC` as a difference, `MAE` as a change."""

    label: str
    condition: str
    number: str  # format spec of the delta and its interval
    reading: Callable[[float, float], str]  # (low, high) -> "significant improvement" ...
    relative: bool = False


def sentence(champion: Mapping[str, Any] | None, metric: Metric) -> str:
    """The champion gate record's paired interval of `metric`, or why there is none."""
    if champion is None:
        return (
            f"{metric.label} against the base model: "
            "the champion gate did not run in this pipeline."
        )
    value = paired.interval(champion, metric.condition)
    if value is None:
        notes = "; ".join(champion.get("notes", [])) or "no reason given"
        return f"{metric.label} against the base model: no bootstrap interval ({notes})."
    low, high, spec = float(value["ci_low"]), float(value["ci_high"]), metric.number
    rows = "".join(f" ({n})" for n in champion.get("notes", []) if n.startswith("scored on"))
    return (
        f"{metric.label} against the base model on the same test rows: "
        f"{float(value['delta']):{spec}}{' (relative)' if metric.relative else ''}, "
        f"{float(value['confidence']):.0%} paired bootstrap interval "
        f"[{low:{spec}}, {high:{spec}}]: **{metric.reading(low, high)}**{rows}."
    )
