"""Every drift test of one window against the reference, corrected together and judged: the
`drift` block of the monitor's result (issue 10.3).

Per feature: a number gets the Cramér-von Mises test on its non-missing values, a category the
chi-square test on the categories the reference knows and a test of those it never saw; either
gets a missing-rate test when the schema lets it be missing or the window holds missing values
anyway (otherwise both sides hold none and the test could never reject). The score gets the
numeric test against the validation scores. Holm's correction runs across all of them, so the
chance that a window with no drift alarms at all is `alpha` whatever its size; a test alarms
only when it is significant after the correction and its effect reaches its floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelgate.cli import StageError
from modelgate.monitor import drift, effect, multiple
from modelgate.monitor.reference import CategoricalReference, NumericReference, Reference
from modelgate.monitor.status import DRIFT, INSUFFICIENT, OK
from modelgate.params import MISSING_CATEGORY, DriftParams

SCORE = "score"


class WindowError(StageError):
    """The window lacks a feature the reference holds, or a column is not of its feature's type."""


@dataclass(frozen=True)
class _Test:
    test: str
    result: drift.Result
    effect: float
    measure: str
    floor: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Block:
    feature: str
    kind: str
    tests: list[_Test]
    reference: dict[str, Any]
    window: dict[str, Any]


def check_drift(reference: Reference, window: pd.DataFrame, params: DriftParams) -> dict:
    """The `drift` block for `window` (one row per logged prediction: the reference's features,
    typed as `modelgate.monitor.log.read_window` gives them, and `score`).

    A window of fewer than `params.min_rows` rows gets status `insufficient` and no tests.
    Raises WindowError naming the column that is absent or of the wrong type.
    """
    rows = len(window)
    if rows:
        _check_columns(reference, window)
    if rows < params.min_rows:
        return _insufficient(rows, params)
    blocks = [
        _numeric(name, reference.numeric[name], window[name], params)
        if name in reference.numeric
        else _categorical(name, reference.categorical[name], window[name], params)
        for name in reference.features
    ]
    blocks.append(_score(reference.scores, window[SCORE], params))
    tests = [t for b in blocks for t in b.tests]
    adjusted = iter(multiple.holm(np.array([t.result.p_value for t in tests])))
    judged = [_judged(b, [_test(t, next(adjusted), params.alpha) for t in b.tests]) for b in blocks]
    features, score = judged[:-1], judged[-1]
    drifted = [f["feature"] for f in features if f["drift"]]
    return {
        **_header(rows, params),
        "status": DRIFT if drifted or score["drift"] else OK,
        "tests": len(tests),
        "drifted": drifted,
        "features": features,
        "score": score,
    }


def _header(rows: int, params: DriftParams) -> dict[str, Any]:
    return {"alpha": params.alpha, "correction": multiple.METHOD, "rows": rows,
            "min_rows": params.min_rows}  # fmt: skip


def _insufficient(rows: int, params: DriftParams) -> dict[str, Any]:
    return {
        **_header(rows, params),
        "status": INSUFFICIENT,
        "reason": f"{rows} rows, fewer than min_rows ({params.min_rows}): no verdict",
        "tests": 0,
        "drifted": [],
        "features": [],
        "score": None,
    }


def _check_columns(reference: Reference, window: pd.DataFrame) -> None:
    absent = [n for n in (*reference.features, SCORE) if n not in window.columns]
    if absent:
        raise WindowError(f"the window has no column for {', '.join(map(repr, absent))}")


def _numbers(name: str, column: pd.Series) -> np.ndarray:
    """The column at the model's precision (float32), NaN where missing."""
    try:
        values = pd.to_numeric(column, errors="raise").to_numpy(np.float32, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise WindowError(f"column {name!r} must hold numbers: {exc}") from exc
    if np.isinf(values).any():
        raise WindowError(f"column {name!r} holds infinite values")
    return values.astype(np.float64)


def _numeric(name: str, ref: NumericReference, column: pd.Series, params: DriftParams) -> _Block:
    values = _numbers(name, column)
    missing = np.isnan(values)
    tests = [_distribution(ref.values, values[~missing], params.numeric_floor)]
    tests += _missing(ref.nullable, ref.missing, ref.rows, int(missing.sum()), len(values), params)
    return _Block(
        name, "numeric", tests,
        {**_rate(ref.missing, ref.rows), **_moments(ref.values)},
        {**_rate(int(missing.sum()), len(values)), **_moments(values[~missing]),
         "new_categories": {}},
    )  # fmt: skip


def _distribution(reference: np.ndarray, window: np.ndarray, floor: float) -> _Test:
    grid, ref_counts, win_counts = drift.on_grid(reference, window)
    size = effect.wasserstein_sd(
        grid, ref_counts, win_counts, effect.scale(grid, ref_counts, win_counts)
    )
    return _Test("cramer_von_mises", drift.cramer_von_mises(ref_counts, win_counts), size,
                 "wasserstein_sd", floor)  # fmt: skip


def _missing(
    nullable: bool, ref_hits: int, ref_rows: int, win_hits: int, win_rows: int, params: DriftParams
) -> list[_Test]:
    if not (nullable or ref_hits or win_hits):
        return []
    return [_Test("missing_rate", drift.two_proportions(ref_hits, ref_rows, win_hits, win_rows),
                  effect.share_change(ref_hits, ref_rows, win_hits, win_rows), "share_change",
                  params.missing_floor)]  # fmt: skip


def _categorical(
    name: str, ref: CategoricalReference, column: pd.Series, params: DriftParams
) -> _Block:
    counts = _category_counts(name, column)
    missing = counts.pop(MISSING_CATEGORY, 0)
    rows = len(column)
    known = [c for c, k in ref.counts.items() if k > 0]
    ref_counts = np.array([ref.counts[c] for c in known], dtype=np.int64)
    win_counts = np.array([counts.get(c, 0) for c in known], dtype=np.int64)
    bins = drift.pool_rare(
        ref_counts, int(win_counts.sum()), params.rare_share, params.min_expected
    )
    ref_bins, win_bins = np.bincount(bins, ref_counts), np.bincount(bins, win_counts)
    new = {c: k for c, k in sorted(counts.items()) if ref.counts.get(c, 0) == 0}
    unseen = sum(new.values())
    tests = [
        _Test("chi_square", drift.chi_square(ref_bins, win_bins), effect.psi(ref_bins, win_bins),
              "psi", params.categorical_floor, {"bins": len(ref_bins)}),
        _Test("new_categories", drift.unseen(unseen, rows - missing, ref.rows - ref.missing),
              unseen / rows, "share", params.unseen_floor),
    ]  # fmt: skip
    tests += _missing(ref.nullable, ref.missing, ref.rows, missing, rows, params)
    reference = {**_rate(ref.missing, ref.rows), "shares": _shares(ref.counts, ref.rows)}
    window = {**_rate(missing, rows), "shares": _shares(counts, rows),
              "new_categories": {c: k / rows for c, k in new.items()}}  # fmt: skip
    return _Block(name, "categorical", tests, reference, window)


def _category_counts(name: str, column: pd.Series) -> dict[str, int]:
    """Rows per category; None and NaN count as the missing category, like `model_frame`."""
    out: dict[str, int] = {}
    for category, count in column.value_counts(sort=False, dropna=False).items():
        if pd.isna(category):
            category = MISSING_CATEGORY
        if not isinstance(category, str):
            raise WindowError(f"column {name!r} must hold strings, not {category!r}")
        out[category] = out.get(category, 0) + int(count)
    return out


def _score(reference: np.ndarray, column: pd.Series, params: DriftParams) -> _Block:
    values = _numbers(SCORE, column)
    present = values[~np.isnan(values)]
    test = _distribution(np.sort(reference), present, params.score_floor)
    missing = len(values) - len(present)
    return _Block(
        SCORE, SCORE, [test],
        {**_rate(0, len(reference)), **_moments(reference)},
        {**_rate(missing, len(values)), **_moments(present)},
    )  # fmt: skip


def _rate(missing: int, rows: int) -> dict[str, Any]:
    return {"rows": rows, "missing_rate": missing / rows if rows else None}


def _moments(values: np.ndarray) -> dict[str, float | None]:
    if not len(values):
        return {"mean": None, "sd": None}
    return {"mean": float(values.mean()), "sd": float(values.std())}


def _shares(counts: dict[str, int], rows: int) -> dict[str, float]:
    return {c: k / rows for c, k in counts.items()} if rows else {}


def _test(test: _Test, adjusted: float, alpha: float) -> dict[str, Any]:
    significant = bool(adjusted <= alpha)
    material = bool(test.effect >= test.floor)
    return {
        "test": test.test,
        "statistic": test.result.statistic,
        "p_value": test.result.p_value,
        "p_adjusted": float(adjusted),
        "effect": test.effect,
        "effect_measure": test.measure,
        "floor": test.floor,
        "significant": significant,
        "material": material,
        "drift": significant and material,
        **test.extra,
    }


def _judged(block: _Block, tests: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "feature": block.feature,
        "kind": block.kind,
        "tests": tests,
        "reference": block.reference,
        "window": block.window,
        "drift": any(t["drift"] for t in tests),
    }
