"""Evaluate: score the test set and write metrics, test-set predictions and plot data.

Binary: the cost-minimising threshold is chosen on validation first. Regression: MAE, RMSE,
WAPE, bias and R² on validation and test, with predicted-versus-actual and residual plot data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.pipeline import Pipeline

from modelgate import io, metrics_regression
from modelgate.cli import entry, stage_parser
from modelgate.metrics import CostMatrix, calibration_table, choose_threshold, summarize
from modelgate.model import feature_importance, labels, load_pipeline, model_frame, scores
from modelgate.params import EvaluateParams, load_section
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)


def score(pipeline: Pipeline, frame: pd.DataFrame, schema: FeatureSchema) -> np.ndarray:
    return scores(pipeline, model_frame(frame, schema), schema)


def evaluate(
    pipeline: Pipeline,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    schema: FeatureSchema,
    params: EvaluateParams,
) -> tuple[dict, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Return metrics, per-row test predictions and plot tables."""
    if schema.task == "regression":
        return evaluate_regression(pipeline, validation, test, schema, params)
    costs = CostMatrix(params.cost_false_negative, params.cost_false_positive)
    y_val, s_val = labels(validation, schema), score(pipeline, validation, schema)
    threshold = choose_threshold(y_val, s_val, costs)
    y_test, s_test = labels(test, schema), score(pipeline, test, schema)
    metrics = {
        "threshold": threshold,
        "test": summarize(y_test, s_test, threshold, costs, params.calibration_bins),
        "validation": summarize(y_val, s_val, threshold, costs, params.calibration_bins),
    }
    names = {1: schema.positive_class, 0: schema.negative_class}
    predictions = pd.DataFrame(
        {
            "actual": [names[v] for v in y_test],
            "predicted": [names[int(s >= threshold)] for s in s_test],
            "score": s_test,
        }
    )
    return metrics, predictions, _plots(pipeline, schema, y_test, s_test, params)


def evaluate_regression(
    pipeline: Pipeline,
    validation: pd.DataFrame,
    test: pd.DataFrame,
    schema: FeatureSchema,
    params: EvaluateParams,
) -> tuple[dict, pd.DataFrame, dict[str, pd.DataFrame]]:
    y_val, p_val = labels(validation, schema), score(pipeline, validation, schema)
    y_test, p_test = labels(test, schema), score(pipeline, test, schema)
    metrics = {
        "test": metrics_regression.summarize(y_test, p_test),
        "validation": metrics_regression.summarize(y_val, p_val),
    }
    predictions = pd.DataFrame({"actual": y_test, "predicted": p_test})
    importance = feature_importance(pipeline, schema)
    plots = {
        "predicted_vs_actual": predictions,
        "residuals": pd.DataFrame(
            metrics_regression.residual_histogram(y_test, p_test, params.score_bins)
        ),
        "feature_importance": pd.DataFrame(
            sorted(importance.items(), key=lambda kv: -kv[1]), columns=["feature", "importance"]
        ),
    }
    return metrics, predictions, plots


def _plots(
    pipeline: Pipeline, schema: FeatureSchema, y: np.ndarray, s: np.ndarray, params: EvaluateParams
) -> dict[str, pd.DataFrame]:
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    edges = np.linspace(0, 1, params.score_bins + 1)
    hist = {
        "score": (edges[:-1] + edges[1:]) / 2,
        "positive": np.histogram(s[y == 1], bins=edges)[0],
        "negative": np.histogram(s[y == 0], bins=edges)[0],
    }
    importance = feature_importance(pipeline, schema)
    return {
        "roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "precision_recall": pd.DataFrame({"recall": recall, "precision": precision}),
        "calibration": pd.DataFrame(calibration_table(y, s, params.calibration_bins)),
        "score_distribution": pd.DataFrame(hist),
        "feature_importance": pd.DataFrame(
            sorted(importance.items(), key=lambda kv: -kv[1]), columns=["feature", "importance"]
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--validation", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--metrics", type=Path, required=True)
    parser.add_argument("--predictions", type=Path, required=True)
    parser.add_argument("--plots-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "evaluate", EvaluateParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))

    metrics, predictions, plots = evaluate(
        load_pipeline(args.model),
        pd.read_parquet(args.validation),
        pd.read_parquet(args.test),
        schema,
        params,
    )
    io.write_json(args.metrics, metrics)
    io.write_csv(args.predictions, predictions)
    for name, table in plots.items():
        io.write_csv(args.plots_dir / f"{name}.csv", table)
    t = metrics["test"]
    if schema.task == "regression":
        logger.info(
            "evaluate: test MAE %.4g, RMSE %.4g, WAPE %.2f%%, bias %.4g, R² %.4f",
            t["mae"],
            t["rmse"],
            100 * t["wape"],
            t["bias"],
            t["r2"],
        )
        return
    logger.info(
        "evaluate: test ROC-AUC %.4f, KS %.4f, Brier %.4f, threshold %.4f, cost %.4f/applicant",
        t["roc_auc"],
        t["ks"],
        t["brier"],
        metrics["threshold"],
        t["expected_cost"],
    )


if __name__ == "__main__":
    entry(main)
