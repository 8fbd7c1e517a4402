"""Model gate: the Deepchecks model-evaluation suite, absolute metric thresholds, and
performance by segment (a credit model that fails one group is a regulatory problem)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from deepchecks.tabular.suites import model_evaluation
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from modelgate import io
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import finish
from modelgate.gates.results import Condition, GateResult, Status, check_max, check_min
from modelgate.gates.suites import SuiteParams, build_suite, dataset, run_suite
from modelgate.model import feature_importance, labels, load_pipeline, model_frame
from modelgate.params import load_section
from modelgate.schema import FeatureSchema


class Bound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: float | None = None
    max: float | None = None


class SegmentParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_rows: int = Field(ge=1)
    max_gap: float = Field(ge=0)  # segment ROC-AUC may trail the overall ROC-AUC by this much
    by: dict[str, list[float] | None]  # numeric column -> band edges; categorical -> null


class ModelGateParams(SuiteParams):
    metrics: dict[str, Bound] = Field(default_factory=dict)
    segments: SegmentParams | None = None


def metric_conditions(test_metrics: dict[str, float], bounds: dict[str, Bound]) -> list[Condition]:
    out = []
    for name, bound in bounds.items():
        if name not in test_metrics:
            raise ValueError(f"gates.model.metrics.{name}: no such metric in the evaluation")
        if bound.min is not None:
            out.append(check_min(f"test {name}", test_metrics[name], bound.min))
        if bound.max is not None:
            out.append(check_max(f"test {name}", test_metrics[name], bound.max))
    return out


def _segments(test: pd.DataFrame, column: str, edges: list[float] | None) -> pd.Series:
    if edges is None:
        return test[column].astype(object).where(test[column].notna(), "(missing)")
    bands = pd.cut(test[column], bins=edges, right=False)
    return bands.astype(str).where(bands.notna(), "(outside bands)")


def segment_conditions(
    test: pd.DataFrame, y: np.ndarray, scores: np.ndarray, params: SegmentParams
) -> list[Condition]:
    overall = float(roc_auc_score(y, scores))
    out = []
    for column, edges in params.by.items():
        keys = _segments(test, column, edges)
        for key in sorted(keys.unique(), key=str):
            mask = (keys == key).to_numpy()
            name = f"segment {column}={key} ROC-AUC gap"
            if mask.sum() < params.min_rows or len(np.unique(y[mask])) < 2:
                out.append(
                    Condition(
                        name,
                        Status.WARN,
                        int(mask.sum()),
                        f">= {params.min_rows} rows, both classes",
                        "too few rows (or one class) to judge this segment",
                    )
                )
                continue
            gap = overall - float(roc_auc_score(y[mask], scores[mask]))
            out.append(check_max(name, gap, params.max_gap))
    return out


def model_gate(
    pipeline: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    test_metrics: dict[str, float],
    schema: FeatureSchema,
    params: ModelGateParams,
    html: Path | None,
) -> GateResult:
    def ds(frame: pd.DataFrame):
        features = model_frame(frame, schema)
        features[schema.target] = labels(frame, schema)
        return dataset(features, schema.target, schema.categorical)

    suite = build_suite(model_evaluation, params)
    # The model's own gain importance, so Deepchecks does not spend most of the gate's time
    # on permutation importance.
    importance = pd.Series(feature_importance(pipeline, schema))
    conditions = run_suite(
        suite,
        params,
        html,
        train_dataset=ds(train),
        test_dataset=ds(test),
        model=pipeline,
        feature_importance=importance,
    )
    conditions += metric_conditions(test_metrics, params.metrics)
    if params.segments:
        scores = pipeline.predict_proba(model_frame(test, schema))[:, 1]
        conditions += segment_conditions(test, labels(test, schema), scores, params.segments)
    return GateResult("model", conditions)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    for name in ("model", "train", "test", "schema", "metrics", "gates-dir", "report"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--html", type=Path, default=None)
    args = parser.parse_args(argv)
    params = load_section(args.params, "gates.model", ModelGateParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    result = model_gate(
        load_pipeline(args.model),
        pd.read_parquet(args.train),
        pd.read_parquet(args.test),
        io.read_json(args.metrics)["test"],
        schema,
        params,
        args.html,
    )
    finish(result, args.gates_dir, args.report)


if __name__ == "__main__":
    entry(main)
