"""Evaluate stage: threshold from validation, metrics for both parts, predictions and plot data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from modelgate import io
from modelgate.metrics import CostMatrix, choose_threshold, expected_cost
from modelgate.model import labels, load_pipeline
from modelgate.stages import evaluate
from tests.unit._pipeline import PipelineRun, args

METRIC_KEYS = {
    "roc_auc",
    "gini",
    "pr_auc",
    "ks",
    "brier",
    "log_loss",
    "ece",
    "precision",
    "recall",
    "approval_rate",
    "expected_cost",
    "rows",
}
PLOTS = {
    "roc": ["fpr", "tpr"],
    "precision_recall": ["recall", "precision"],
    "calibration": ["bin", "mean_predicted", "fraction_positive", "count"],
    "score_distribution": ["score", "positive", "negative"],
    "feature_importance": ["feature", "importance"],
}


@pytest.fixture(scope="module")
def metrics(pipeline_run: PipelineRun) -> dict:
    return io.read_json(pipeline_run.metrics)


@pytest.fixture(scope="module")
def parts(pipeline_run: PipelineRun) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(pipeline_run.part(name)) for name in ("validation", "test")}


@pytest.fixture(scope="module")
def in_memory(pipeline_run: PipelineRun, parts: dict[str, pd.DataFrame]):
    """The core's own return values, before JSON rounding."""
    return evaluate.evaluate(
        load_pipeline(pipeline_run.model),
        parts["validation"],
        parts["test"],
        pipeline_run.schema,
        pipeline_run.evaluate_params,
    )


def test_metrics_json_has_every_metric_for_test_and_validation(
    metrics: dict, parts: dict[str, pd.DataFrame]
):
    assert set(metrics) == {"threshold", "test", "validation"}
    for name in ("test", "validation"):
        assert set(metrics[name]) == METRIC_KEYS, name
        assert metrics[name]["rows"] == len(parts[name])
        assert all(np.isfinite(v) for v in metrics[name].values()), name


def test_gini_is_twice_auc_minus_one(in_memory, metrics: dict):
    computed, _, _ = in_memory
    for name in ("test", "validation"):
        assert computed[name]["gini"] == pytest.approx(2 * computed[name]["roc_auc"] - 1, abs=1e-12)
        assert metrics[name]["gini"] == pytest.approx(2 * metrics[name]["roc_auc"] - 1, abs=1e-5)


def test_metrics_are_within_their_ranges_and_the_model_learnt_something(metrics: dict):
    test = metrics["test"]
    for key in ("roc_auc", "pr_auc", "ks", "brier", "ece", "precision", "recall", "approval_rate"):
        assert 0.0 <= test[key] <= 1.0, key
    assert test["roc_auc"] > 0.65  # the tiny label depends on the features; chance is 0.5


def test_threshold_minimises_validation_cost(
    pipeline_run: PipelineRun, metrics: dict, parts: dict[str, pd.DataFrame]
):
    pipeline, schema, params = (
        load_pipeline(pipeline_run.model),
        pipeline_run.schema,
        pipeline_run.evaluate_params,
    )
    costs = CostMatrix(params.cost_false_negative, params.cost_false_positive)
    y = labels(parts["validation"], schema)
    s = evaluate.score(pipeline, parts["validation"], schema)

    assert metrics["threshold"] == pytest.approx(choose_threshold(y, s, costs), abs=1e-9)
    chosen = expected_cost(y, s, metrics["threshold"], costs)
    assert chosen == pytest.approx(metrics["validation"]["expected_cost"])
    assert all(chosen <= expected_cost(y, s, t, costs) + 1e-12 for t in np.linspace(0, 1, 501))


def test_predictions_follow_the_threshold(
    pipeline_run: PipelineRun, metrics: dict, parts: dict[str, pd.DataFrame]
):
    predictions = pd.read_csv(pipeline_run.predictions)

    assert list(predictions.columns) == ["actual", "predicted", "score"]
    assert len(predictions) == len(parts["test"])
    assert predictions["actual"].tolist() == parts["test"]["outcome"].astype(str).tolist()
    declined = predictions["score"] >= metrics["threshold"]
    assert (predictions["predicted"] == np.where(declined, "fraud", "legit")).all()
    assert 1 - declined.mean() == pytest.approx(metrics["test"]["approval_rate"], abs=1e-6)
    auc = roc_auc_score(predictions["actual"] == "fraud", predictions["score"])
    assert auc == pytest.approx(metrics["test"]["roc_auc"], abs=1e-4)


def test_plot_csvs_are_written_with_their_columns(pipeline_run: PipelineRun):
    assert sorted(p.name for p in pipeline_run.plots.iterdir()) == sorted(f"{n}.csv" for n in PLOTS)
    for name, columns in PLOTS.items():
        table = pd.read_csv(pipeline_run.plots / f"{name}.csv")
        assert list(table.columns) == columns, name
        assert len(table) > 1, name


def test_plot_tables_describe_the_test_set(
    pipeline_run: PipelineRun, parts: dict[str, pd.DataFrame]
):
    test = parts["test"]
    positives = int((test["outcome"] == "fraud").sum())
    read = {name: pd.read_csv(pipeline_run.plots / f"{name}.csv") for name in PLOTS}

    roc = read["roc"]
    assert (roc.iloc[0].tolist(), roc.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])
    assert roc["fpr"].is_monotonic_increasing and roc["tpr"].is_monotonic_increasing
    assert read["calibration"]["count"].sum() == len(test)
    hist = read["score_distribution"]
    assert len(hist) == pipeline_run.evaluate_params.score_bins
    assert (hist["positive"].sum(), hist["negative"].sum()) == (positives, len(test) - positives)
    importance = read["feature_importance"]
    assert set(importance["feature"]) == {"amount", "hour", "channel"}
    assert importance["importance"].sum() == pytest.approx(1.0, abs=1e-5)
    assert importance["importance"].is_monotonic_decreasing


def test_stage_is_deterministic(pipeline_run: PipelineRun, tmp_path: Path):
    evaluate.main(
        args(
            params=pipeline_run.params,
            model=pipeline_run.model,
            schema=pipeline_run.schema_json,
            validation=pipeline_run.part("validation"),
            test=pipeline_run.part("test"),
            metrics=tmp_path / "metrics.json",
            predictions=tmp_path / "test.csv",
            plots_dir=tmp_path / "plots",
        )
    )

    assert (tmp_path / "metrics.json").read_bytes() == pipeline_run.metrics.read_bytes()
    assert (tmp_path / "test.csv").read_bytes() == pipeline_run.predictions.read_bytes()


def test_stage_exits_1_on_bad_params_and_writes_nothing(
    run_stage, pipeline_run: PipelineRun, tiny_params: dict, tmp_path: Path
):
    tiny_params["evaluate"]["calibration_bins"] = 1
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params))
    out = tmp_path / "reports"

    code, log = run_stage(
        evaluate.main,
        args(
            params=params,
            model=pipeline_run.model,
            schema=pipeline_run.schema_json,
            validation=pipeline_run.part("validation"),
            test=pipeline_run.part("test"),
            metrics=out / "metrics.json",
            predictions=out / "test.csv",
            plots_dir=out / "plots",
        ),
    )

    assert code == 1
    assert "evaluate.calibration_bins: Input should be greater than or equal to 2" in log
    assert not out.exists()
