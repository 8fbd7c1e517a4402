"""Which columns the model gate judges by segment (`gates.model.segments.by`), and their bands.

Protected columns first (a model that fails one group matters most there), then up to
MAX_CATEGORICAL categorical columns with few categories, those whose categories differ most in
the label first, then the MAX_NUMERIC numeric columns
most associated with the label (|Spearman|), banded at quartiles rounded to two significant
digits, skipping a near-twin of one already chosen (temp and temp_min); and the split date's
weekday. The first edge sits at or below the sample's minimum and the last above its maximum;
gates.segments cuts with right=False, and a later value outside them is its own segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from modelgate.adopt.profile import Column

MAX_CATEGORICAL = 3
MAX_NUMERIC = 2
MAX_GROUPS = 8  # more categories than this: segments too small to judge
MIN_DISTINCT_TO_BAND = 10
QUANTILES = (0.25, 0.5, 0.75)
TWIN = 0.9  # |Spearman| between two numeric columns above this: bands of one say the other


def segment_by(
    columns: list[Column],
    raw: pd.DataFrame,
    label: pd.Series,
    protected: tuple[str, ...],
    split_by: str | None = None,
) -> dict[str, list[float] | None]:
    kept = {c.name: c for c in columns if c.spec is not None and c.spec.kind != "date"}
    by: dict[str, list[float] | None] = {}
    for name in protected:
        values = pd.to_numeric(raw[name], errors="coerce")
        few = kept[name].distinct <= MAX_GROUPS
        by[name] = None if few or values.isna().all() else bands(values)
    few_categories = [
        c
        for c in kept.values()
        if c.spec is not None
        and c.spec.kind == "categorical"
        and c.name not in by
        and 2 <= c.distinct <= MAX_GROUPS
    ]
    few_categories.sort(key=lambda c: -_spread(raw[c.name], label))
    by.update({c.name: None for c in few_categories[:MAX_CATEGORICAL]})
    for name in _most_associated(kept, raw, label, exclude=set(by)):
        by[name] = bands(pd.to_numeric(raw[name], errors="coerce"))
    if split_by is not None:  # demand differs by weekday more than by anything else
        by[f"{split_by}_day_of_week"] = None
    return by


def _spread(values: pd.Series, label: pd.Series) -> float:
    """How far the label's mean moves across the column's categories, in label SDs."""
    means = label.groupby(values).mean()
    scale = float(label.std()) or 1.0
    return float(means.max() - means.min()) / scale


def _most_associated(
    kept: dict[str, Column], raw: pd.DataFrame, label: pd.Series, exclude: set[str]
) -> list[str]:
    strength = {}
    for name, column in kept.items():
        if column.spec is None or column.spec.kind not in ("numeric", "integer"):
            continue
        if name in exclude or column.distinct < MIN_DISTINCT_TO_BAND:
            continue
        values = pd.to_numeric(raw[name], errors="coerce")
        rho = values.corr(label, method="spearman")
        strength[name] = 0.0 if pd.isna(rho) else abs(float(rho))
    chosen: list[str] = []
    for name in sorted(strength, key=lambda n: -strength[n]):
        values = pd.to_numeric(raw[name], errors="coerce")
        twins = (abs(values.corr(pd.to_numeric(raw[c]), method="spearman")) for c in chosen)
        # One band (a column mostly zero, like snowfall) compares nothing.
        if len(bands(values)) > 2 and all(not rho > TWIN for rho in twins):  # NaN: no twin
            chosen.append(name)
        if len(chosen) == MAX_NUMERIC:
            break
    return chosen


def bands(values: pd.Series) -> list[float]:
    """Edges at rounded quartiles, padded to cover every value seen (cut with right=False)."""
    present = values.dropna().to_numpy(float)
    low, high = float(present.min()), float(present.max())
    inner = sorted({_round(float(q)) for q in np.quantile(present, QUANTILES)})
    first = _round(low, math.floor)
    # Strictly above the maximum, which a right-open last band must hold.
    last = _round(high + abs(high) / 100, math.ceil) if high else 1.0
    edges = [first, *(e for e in inner if first < e < last), last]
    return [int(e) if e.is_integer() else e for e in edges]


def _round(value: float, how: Callable[[float], float] = round) -> float:
    """`value` at two significant digits, rounded by `how` (round, floor or ceil)."""
    if value == 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(abs(value))) - 1)
    return float(f"{how(value / step) * step:.12g}")
