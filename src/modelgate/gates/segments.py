"""Performance by segment that respects sample size: a segment fails only when its gap to the
whole is material and statistically clear across every segment judged (issue 12).

Each segment is one value of a column in `by` (a band of `edges` for a numeric column). Its gap:
- binary: ROC-AUC points the segment trails the whole by (whole - segment);
- regression: relative MAE excess (segment MAE / whole MAE - 1).

The null of each test is "gap <= max_gap": within tolerance. A segment FAILS only when its
one-sided test rejects that null after Holm's correction across all judged segments at
family-wise level 1 - confidence, so a model with no segment effect fails with probability at
most 1 - confidence however many segments are cut (tests/unit/test_segments.py simulates it),
and a significant but immaterial gap never fails.

Standard errors: binary uses DeLong's variance of the segment's ROC-AUC; regression the
standard error of the segment's mean absolute error (a mean: the CLT holds from min_rows).
The whole's estimate is treated as fixed. It is computed on rows that include the segment's and
moves with it: Var(whole - segment) is about Var(segment) - Var(whole), never more than
Var(segment), so the test is conservative; and it costs no resampling (microseconds a segment,
where a bootstrap over 30 segments and 200 simulated runs would take minutes).

Segments with fewer than min_rows rows (binary: min_positives positives or min_negatives
negatives) are too small to judge: they are listed in the gate's notes, not as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelgate.gates.params import SegmentParams
from modelgate.gates.results import Condition, Status
from modelgate.gates.stats import delong, holm, lower_bound, one_sided_p


@dataclass(frozen=True)
class Gap:
    """One judged segment (or group): its gap to the whole and the gap's standard error."""

    column: str
    key: str
    rows: int
    value: float  # the segment's own ROC-AUC or MAE
    gap: float
    se: float


@dataclass
class Judged:
    conditions: list[Condition] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def segment_keys(frame: pd.DataFrame, column: str, edges: list[float] | None) -> pd.Series:
    if edges is None:
        return frame[column].astype(object).where(frame[column].notna(), "(missing)")
    bands = pd.cut(frame[column], bins=edges, right=False)
    return bands.astype(str).where(bands.notna(), "(outside bands)")


def too_small(y: np.ndarray, binary: bool, params: SegmentParams) -> str | None:
    """Why a segment with labels `y` is too small to judge, or None."""
    positives = int((y == 1).sum()) if binary else 0
    negatives = len(y) - positives
    if len(y) < params.min_rows:
        return f"{len(y)} rows < {params.min_rows}"
    if binary and positives < params.min_positives:
        return f"{positives} positives < {params.min_positives}"
    if binary and negatives < params.min_negatives:
        return f"{negatives} negatives < {params.min_negatives}"
    return None


def auc_gap(column: str, key: str, y: np.ndarray, scores: np.ndarray, whole: float) -> Gap:
    auc, variance = delong(y, scores)
    return Gap(column, key, len(y), auc, whole - auc, float(np.sqrt(variance)))


def mae_gap(column: str, key: str, errors: np.ndarray, whole: float) -> Gap:
    mae = float(errors.mean())
    se = float(errors.std(ddof=1) / np.sqrt(len(errors)))
    if whole <= 0:  # a perfect model overall: any error in a segment is an infinite excess
        return Gap(column, key, len(errors), mae, np.inf if mae > 0 else 0.0, 0.0)
    return Gap(column, key, len(errors), mae, mae / whole - 1.0, se / whole)


def judge(
    gaps: list[Gap], max_gap: float, confidence: float, what: str, prefix: str = "segment"
) -> list[Condition]:
    """A condition per gap: FAIL when gap > max_gap is significant after Holm (see module)."""
    alpha = 1.0 - confidence
    p_values = [one_sided_p(g.gap - max_gap, g.se) for g in gaps]
    rejected = holm(p_values, alpha)
    # Bonferroni's level for the reported bound: simultaneous across the family, and Holm
    # rejects whenever this bound is above max_gap.
    level = 1.0 - alpha / max(len(gaps), 1)
    out = []
    for g, p, fail in zip(gaps, p_values, rejected, strict=True):
        low = lower_bound(g.gap, g.se, level)
        out.append(
            Condition(
                f"{prefix} {g.column}={g.key} {what}",
                Status.FAIL if fail else Status.PASS,
                {"gap": g.gap, "lower": low, "p_value": p, "rows": g.rows, "value": g.value},
                f"<= {max_gap:g} unless significant (Holm, family-wise {alpha:g})",
                f"gap {g.gap:+.4f}, simultaneous lower bound {low:+.4f}: "
                + ("above the maximum with confidence" if fail else "not clearly above the maximum")
                + f" {max_gap:g}",
            )
        )
    return out


def segment_conditions(
    test: pd.DataFrame,
    y: np.ndarray,
    predictions: np.ndarray,
    params: SegmentParams,
    binary: bool,
) -> Judged:
    """Judge every segment of `test` (labels `y`, scores or predictions) per the module."""
    if binary:
        whole = delong(y, predictions)[0]
    else:
        errors = np.abs(y - predictions)
        whole = float(errors.mean())
    gaps: list[Gap] = []
    result = Judged()
    for column, edges in params.by.items():
        keys = segment_keys(test, column, edges)
        for key in sorted(keys.unique(), key=str):
            mask = (keys == key).to_numpy()
            why = too_small(y[mask], binary, params)
            if why is not None:
                result.notes.append(f"segment {column}={key}: too small to judge ({why})")
            elif binary:
                gaps.append(auc_gap(column, str(key), y[mask], predictions[mask], whole))
            else:
                gaps.append(mae_gap(column, str(key), errors[mask], whole))
    what = "ROC-AUC gap" if binary else "relative MAE excess"
    result.conditions = judge(gaps, params.max_gap, params.confidence, what)
    return result
