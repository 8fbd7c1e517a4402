"""The task and the label's meaning, inferred from the target column (modelgate.adopt)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from modelgate.adopt.profile import AdoptError
from modelgate.params import Task

# A pair whose positive class is obvious: (positive, negative), compared lower-cased.
OBVIOUS_PAIRS = (
    ("yes", "no"),
    ("y", "n"),
    ("1", "0"),
    ("true", "false"),
    ("bad", "good"),
    ("positive", "negative"),
)


@dataclass(frozen=True)
class Target:
    name: str
    task: Task
    positive_class: str | None = None
    target_classes: tuple[str, str] | None = None  # (negative, positive)
    target_min: float | None = None
    rule: str = ""


def infer_target(raw: pd.Series, task: Task | None, positive: str | None) -> Target:
    """The task and label of `raw`; refuses, naming the column, what cannot be a label."""
    name = str(raw.name)
    missing = int(raw.isna().sum())
    if missing:
        raise AdoptError(f"target {name!r} has {missing} missing value(s): a label cannot be empty")
    values = sorted(raw.unique())
    numbers = pd.to_numeric(raw, errors="coerce")
    if task is None:
        if len(values) == 2:
            task = "binary"
        elif numbers.notna().all():
            task = "regression"
        else:
            raise AdoptError(
                f"target {name!r} has {len(values)} classes ({_listed(values)}): only binary "
                "(two values) and regression (numbers) targets are supported"
            )
    if task == "regression":
        return _regression(name, numbers)
    return _binary(name, values, positive)


def _regression(name: str, numbers: pd.Series) -> Target:
    if numbers.isna().any():
        bad = numbers.index[numbers.isna()][0]
        raise AdoptError(f"target {name!r} is not numeric (line {int(bad) + 2}): not regression")
    floor = 0.0 if bool((numbers >= 0).all()) else None
    rule = "numeric target, no value below 0: target_min 0" if floor == 0 else "numeric target"
    return Target(name, "regression", target_min=floor, rule=rule)


def _binary(name: str, values: list[str], positive: str | None) -> Target:
    if len(values) != 2:
        raise AdoptError(f"target {name!r} has {len(values)} values ({_listed(values)}), not two")
    if positive is None:
        positive = _obvious_positive(values)
        if positive is None:
            raise AdoptError(
                f"target {name!r} has values {_listed(values)}: say which is the positive class "
                "(the one the model scores) with --positive"
            )
        rule = f"two values, {positive!r} the obvious positive"
    elif positive not in values:
        raise AdoptError(f"--positive {positive!r} is not a value of {name!r} ({_listed(values)})")
    else:
        rule = f"two values, {positive!r} positive (--positive)"
    negative = next(v for v in values if v != positive)
    return Target(name, "binary", positive, (negative, positive), rule=rule)


def _obvious_positive(values: list[str]) -> str | None:
    lowered = {v.lower(): v for v in values}
    for pos, neg in OBVIOUS_PAIRS:
        if set(lowered) == {pos, neg}:
            return lowered[pos]
    return None


def _listed(values: list[str], limit: int = 6) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")
