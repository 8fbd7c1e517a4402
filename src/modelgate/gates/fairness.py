"""Fairness gate: decisions and ranking quality per protected group (issue 12).

Groups are the values of the schema's protected columns (`ingest.protected`): kept in the data
for this gate and the reports, never model features. Per group of a binary model:
- the favourable-decision rate at the evaluation's threshold: the model declines (predicts the
  positive class) when score >= threshold, as `modelgate.metrics.confusion` does, so with
  `favourable: negative` (credit: approval) a row is favoured when score < threshold;
- the adverse impact ratio: the group's rate over the most-favoured group's, with a Katz log
  interval (a ratio of independent proportions). The four-fifths rule fails a group only when
  the ratio is clearly below `min_ratio`: the interval's upper bound, Bonferroni-adjusted over
  every comparison of the gate to family-wise 1 - confidence, is below it. A group whose ratio
  only might be below is reported, not failed;
- the ROC-AUC gap to the whole, judged as a model segment is (`modelgate.gates.segments`):
  fail only when above `max_auc_gap` with confidence, Holm-corrected.
Groups under `min_rows` are noted as too small. A regressor's groups get their MAE and mean
prediction in the table, reported, not gated: a regression has no favourable decision.
The per-group table is the record's `tables.groups` (the PR report shows it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from modelgate import io
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import finish
from modelgate.gates.params import FairnessParams
from modelgate.gates.results import Condition, GateResult, Status
from modelgate.gates.segments import Gap, auc_gap, judge, segment_keys
from modelgate.gates.stats import delong
from modelgate.model import labels, load_pipeline, model_frame, scores
from modelgate.params import load_section
from modelgate.schema import FeatureSchema


def impact_interval(
    favoured: int, rows: int, ref_favoured: int, ref_rows: int, level: float
) -> tuple[float, float, float]:
    """The ratio of two proportions and its two-sided Katz log interval at `level`.

    Counts of zero get half a count (Haldane) so the log stays finite.
    """
    x1, n1, x2, n2 = float(favoured), float(rows), float(ref_favoured), float(ref_rows)
    if min(x1, x2) == 0:
        x1, n1, x2, n2 = x1 + 0.5, n1 + 0.5, x2 + 0.5, n2 + 0.5
    ratio = (x1 / n1) / (x2 / n2)
    se = np.sqrt(max(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2, 0.0))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return float(ratio), float(ratio * np.exp(-z * se)), float(ratio * np.exp(z * se))


def fairness_gate(
    test: pd.DataFrame,
    y: np.ndarray,
    predictions: np.ndarray,
    threshold: float | None,
    schema: FeatureSchema,
    params: FairnessParams,
) -> GateResult:
    result = GateResult("fairness")
    if not schema.protected:
        result.notes.append("no protected columns declared")
        return result
    rows: list[dict[str, Any]] = []
    for column in schema.protected:
        keys = segment_keys(test, column, None)
        for key in sorted(keys.unique(), key=str):
            mask = (keys == key).to_numpy()
            if mask.sum() < params.min_rows:
                result.notes.append(
                    f"group {column}={key}: too small to judge ({mask.sum()} rows < "
                    f"{params.min_rows})"
                )
                continue
            rows.append({"column": column, "group": str(key), "rows": int(mask.sum())})
            rows[-1].update(_group_figures(y[mask], predictions[mask], threshold, schema, params))
    result.tables["groups"] = rows
    if schema.task == "regression" or threshold is None:
        result.notes.append("regression: per-group MAE and mean prediction reported, not gated")
        return result
    result.conditions += _impact_conditions(rows, params)
    result.conditions += _auc_conditions(test, y, predictions, rows, schema, params)
    return result


def _group_figures(
    y: np.ndarray,
    predictions: np.ndarray,
    threshold: float | None,
    schema: FeatureSchema,
    params: FairnessParams,
) -> dict[str, Any]:
    if schema.task == "regression" or threshold is None:
        return {
            "mae": float(np.abs(y - predictions).mean()),
            "mean_prediction": float(predictions.mean()),
            "mean_actual": float(y.mean()),
        }
    positive = predictions >= threshold
    favoured = ~positive if params.favourable == "negative" else positive
    return {
        "positives": int(y.sum()),
        "favoured": int(favoured.sum()),
        "favourable_rate": float(favoured.mean()),
    }


def _impact_conditions(rows: list[dict[str, Any]], params: FairnessParams) -> list[Condition]:
    """Each column's groups against its most-favoured group; fills the rows' ratio columns."""
    out = []
    by_column: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_column.setdefault(row["column"], []).append(row)
    comparisons = sum(max(len(g) - 1, 0) for g in by_column.values())
    alpha = 1.0 - params.confidence
    # Bonferroni over every comparison; one-sided upper bound = two-sided at 1 - 2 * alpha/k.
    level = 1.0 - 2 * alpha / max(comparisons, 1)
    for column, group_rows in by_column.items():
        ref = max(group_rows, key=lambda r: (r["favourable_rate"], r["rows"]))
        for row in group_rows:
            row["reference"] = ref["group"]
            if row is ref:
                row.update(impact_ratio=1.0, ratio_low=1.0, ratio_high=1.0)
                continue
            ratio, low, high = impact_interval(
                row["favoured"], row["rows"], ref["favoured"], ref["rows"], level
            )
            row.update(impact_ratio=ratio, ratio_low=low, ratio_high=high)
            unfair = high < params.min_ratio
            out.append(
                Condition(
                    f"fairness {column}={row['group']} adverse impact ratio",
                    Status.FAIL if unfair else Status.PASS,
                    {"ratio": ratio, "low": low, "high": high, "reference": ref["group"]},
                    f"upper bound >= {params.min_ratio:g}",
                    f"favourable rate {row['favourable_rate']:.3f} vs {ref['favourable_rate']:.3f}"
                    f" ({column}={ref['group']}): ratio {ratio:.3f}, simultaneous interval "
                    f"[{low:.3f}, {high:.3f}]: "
                    + ("clearly below" if unfair else "not clearly below")
                    + f" {params.min_ratio:g}",
                )
            )
    return out


def _auc_conditions(
    test: pd.DataFrame,
    y: np.ndarray,
    predictions: np.ndarray,
    rows: list[dict[str, Any]],
    schema: FeatureSchema,
    params: FairnessParams,
) -> list[Condition]:
    whole = delong(y, predictions)[0]
    gaps: list[Gap] = []
    for row in rows:
        mask = (segment_keys(test, row["column"], None).astype(str) == row["group"]).to_numpy()
        positives = row["positives"]
        if positives < params.min_positives or row["rows"] - positives < params.min_negatives:
            row.update(roc_auc=None, auc_gap=None)
            continue
        gap = auc_gap(row["column"], row["group"], y[mask], predictions[mask], whole)
        row.update(roc_auc=gap.value, auc_gap=gap.gap)
        gaps.append(gap)
    return judge(gaps, params.max_auc_gap, params.confidence, "ROC-AUC gap", prefix="fairness")


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    for name in ("model", "test", "schema", "metrics", "gates-dir", "report"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "gates.fairness", FairnessParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    test = pd.read_parquet(args.test)
    pipeline = load_pipeline(args.model)
    result = fairness_gate(
        test,
        labels(test, schema),
        scores(pipeline, model_frame(test, schema), schema),
        io.read_json(args.metrics).get("threshold"),
        schema,
        params,
    )
    finish(result, args.gates_dir, args.report)


if __name__ == "__main__":
    entry(main)
