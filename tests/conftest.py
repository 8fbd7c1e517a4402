"""Shared fixtures: a tiny synthetic data set with its own contract, unrelated to credit data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelgate.stages import export

ROOT = Path(__file__).resolve().parents[1]

TINY_PARAMS: dict = {
    "ingest": {
        "raw": "data/raw/tiny.csv",
        "task": "binary",
        "target": "outcome",
        "positive_class": "fraud",
        "target_classes": ["legit", "fraud"],
        "target_min": None,
        "target_max": None,
        "protected": (),
        "extra_columns": "error",
        "columns": {
            "amount": {"kind": "numeric", "min": 0, "nullable": True},
            "hour": {"kind": "integer", "min": 0, "max": 23},
            "channel": {
                "kind": "categorical",
                "categories": ["web", "app", "pos"],
                "nullable": True,
            },
        },
    },
    "split": {"seed": 7, "test_size": 0.25, "validation_size": 0.25, "by": None},
    "train": {
        "engine": "local",
        "seed": 1,
        "n_jobs": 1,
        "n_estimators": 20,
        "learning_rate": 0.3,
        "max_depth": 3,
        "min_child_weight": 1.0,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_lambda": 1.0,
        "reg_alpha": 0.0,
        "max_one_hot": 32,
        "objective": "reg:squarederror",
    },
    "evaluate": {
        "cost_false_negative": 5.0,
        "cost_false_positive": 1.0,
        "calibration_bins": 5,
        "score_bins": 10,
    },
    "export": {
        "model_name": "tiny-model",
        "opset": 17,
        "ml_opset": 3,
        "max_abs_diff": 1e-5,
        "max_rel_diff": 1e-5,
        "max_flips": 0,
    },
}


def make_tiny_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Raw-looking rows (strings and gaps) whose label depends on every feature."""
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 50.0, rows).round(2)
    hour = rng.integers(0, 24, rows)
    channel = rng.choice(["web", "app", "pos"], rows)
    risk = 0.02 * amount + 1.5 * (channel == "web") + 1.0 * ((hour < 6) | (hour > 21)) - 3.5
    fraud = rng.random(rows) < 1 / (1 + np.exp(-risk))
    frame = pd.DataFrame(
        {
            "outcome": np.where(fraud, "fraud", "legit"),
            "amount": amount.astype(object),
            "hour": hour,
            "channel": channel.astype(object),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "amount"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "channel"] = np.nan
    return frame


@pytest.fixture
def tiny_params() -> dict:
    return yaml.safe_load(yaml.safe_dump(TINY_PARAMS))  # a deep copy a test may edit


@pytest.fixture
def params_file(tmp_path: Path, tiny_params: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params))
    return path


@pytest.fixture
def tiny_raw() -> pd.DataFrame:
    return make_tiny_frame()


@pytest.fixture
def tiny_csv(tmp_path: Path, tiny_raw: pd.DataFrame) -> Path:
    path = tmp_path / "raw.csv"
    tiny_raw.to_csv(path, index=False)
    return path


from tests.unit._pipeline import PipelineRun, run_pipeline  # noqa: E402  (it imports TINY_PARAMS)


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """ingest -> split -> train -> evaluate on the tiny data, once: later stages start here."""
    return run_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def exported_model(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pipeline exported to ONNX as the export stage does."""
    out = tmp_path_factory.mktemp("export")
    export.main(pipeline_run.export_argv(out / "model.onnx", out / "parity.json"))
    return out / "model.onnx"
