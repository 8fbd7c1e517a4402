"""Train stage and the model pipeline: deterministic fits, missing values, unseen categories."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelgate.model import feature_importance, labels, load_pipeline, model_frame, save_pipeline
from modelgate.params import MISSING_CATEGORY
from modelgate.schema import FeatureSchema
from modelgate.stages import train
from tests.unit._pipeline import PipelineRun, args


@pytest.fixture(scope="module")
def train_frame(pipeline_run: PipelineRun) -> pd.DataFrame:
    return pd.read_parquet(pipeline_run.part("train"))


@pytest.fixture(scope="module")
def schema(pipeline_run: PipelineRun) -> FeatureSchema:
    return pipeline_run.schema


@pytest.fixture(scope="module")
def fitted(pipeline_run: PipelineRun):
    return load_pipeline(pipeline_run.model)


def test_model_frame_has_model_order_and_dtypes(train_frame: pd.DataFrame, schema: FeatureSchema):
    frame = model_frame(train_frame, schema)

    assert list(frame.columns) == schema.features == ["amount", "hour", "channel"]
    assert frame.dtypes.astype(str).to_dict() == {
        "amount": "float32",
        "hour": "float32",
        "channel": "object",
    }
    missing = train_frame["channel"].isna()
    assert missing.any()  # the tiny data has gaps, or this test proves nothing
    assert (frame.loc[missing, "channel"] == MISSING_CATEGORY).all()
    assert frame.loc[~missing, "channel"].isin(["web", "app", "pos"]).all()
    assert frame["amount"].isna().sum() == train_frame["amount"].isna().sum() > 0


def test_labels_are_one_for_the_positive_class(train_frame: pd.DataFrame, schema: FeatureSchema):
    y = labels(train_frame, schema)

    assert y.dtype == np.int64
    assert y.tolist() == (train_frame["outcome"] == "fraud").astype(int).tolist()
    assert 0 < y.mean() < 1


def test_two_fits_give_identical_pickles(
    pipeline_run: PipelineRun, train_frame: pd.DataFrame, schema: FeatureSchema
):
    params = pipeline_run.train_params

    first = pickle.dumps(train.train(train_frame, schema, params), protocol=5)
    second = pickle.dumps(train.train(train_frame, schema, params), protocol=5)

    assert first == second


def test_stage_output_matches_a_fresh_fit(pipeline_run: PipelineRun, tmp_path: Path):
    model = tmp_path / "pipeline.pkl"

    train.main(
        args(
            params=pipeline_run.params,
            train=pipeline_run.part("train"),
            schema=pipeline_run.schema_json,
            model=model,
        )
    )

    assert model.read_bytes() == pipeline_run.model.read_bytes()


def test_seed_reaches_the_booster(
    pipeline_run: PipelineRun, train_frame: pd.DataFrame, schema: FeatureSchema
):
    # With row subsampling the seed decides which rows each tree sees.
    params = pipeline_run.train_params.model_copy(update={"subsample": 0.6})
    frame = model_frame(train_frame, schema)

    one = train.train(train_frame, schema, params).predict_proba(frame)[:, 1]
    again = train.train(train_frame, schema, params).predict_proba(frame)[:, 1]
    other = train.train(train_frame, schema, params.model_copy(update={"seed": 2})).predict_proba(
        frame
    )[:, 1]

    np.testing.assert_array_equal(one, again)
    assert np.abs(one - other).max() > 1e-3


def test_missing_numeric_and_missing_category_are_scored(
    fitted, train_frame: pd.DataFrame, schema: FeatureSchema
):
    encoder = fitted.named_steps["features"].named_transformers_["categorical"]
    assert MISSING_CATEGORY in encoder.categories_[0]  # "missing" is a level the model learnt

    rows = model_frame(train_frame.head(4), schema)
    rows.loc[0, "amount"] = np.nan
    rows.loc[1, "channel"] = MISSING_CATEGORY
    rows.loc[2, ["amount", "hour"]] = np.nan
    scores = fitted.predict_proba(rows)[:, 1]

    assert np.isfinite(scores).all()
    assert ((scores > 0) & (scores < 1)).all()


def test_training_rows_with_gaps_are_scored(
    fitted, train_frame: pd.DataFrame, schema: FeatureSchema
):
    gaps = train_frame["amount"].isna() | train_frame["channel"].isna()
    assert gaps.sum() >= 2  # the fit saw NaN amounts and missing channels

    scores = fitted.predict_proba(model_frame(train_frame[gaps], schema))[:, 1]

    assert np.isfinite(scores).all()
    assert ((scores > 0) & (scores < 1)).all()


def test_unknown_category_at_predict_time_is_scored_like_any_other_unknown(
    fitted, train_frame: pd.DataFrame, schema: FeatureSchema
):
    base = model_frame(train_frame.head(1), schema)
    variants = pd.concat([base] * 3, ignore_index=True)
    variants["channel"] = ["fax", "telex", "web"]

    scores = fitted.predict_proba(variants)[:, 1]

    assert np.isfinite(scores).all()
    # Unknown levels all encode to the all-zero one-hot vector: they score the same.
    assert scores[0] == scores[1]


def test_feature_importance_covers_every_feature_and_sums_to_one(fitted, schema: FeatureSchema):
    importance = feature_importance(fitted, schema)

    assert set(importance) == set(schema.features)
    assert sum(importance.values()) == pytest.approx(1.0)
    # The tiny label depends on every feature, channel through its one-hot columns.
    assert all(share > 0 for share in importance.values()), importance


def test_pickle_round_trip_predicts_the_same(
    fitted, tmp_path: Path, train_frame: pd.DataFrame, schema: FeatureSchema
):
    path = tmp_path / "model.pkl"

    save_pipeline(path, fitted)

    frame = model_frame(train_frame, schema)
    np.testing.assert_array_equal(
        load_pipeline(path).predict_proba(frame), fitted.predict_proba(frame)
    )


def test_load_pipeline_rejects_a_pickle_that_is_not_a_pipeline(tmp_path: Path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"not": "a pipeline"}))

    with pytest.raises(TypeError, match="does not hold a scikit-learn Pipeline"):
        load_pipeline(path)


def test_stage_exits_1_on_bad_params_and_writes_no_model(
    run_stage, pipeline_run: PipelineRun, tiny_params: dict, tmp_path: Path
):
    tiny_params["train"]["n_estimators"] = 0
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params))
    model = tmp_path / "models" / "pipeline.pkl"

    code, log = run_stage(
        train.main,
        args(
            params=params,
            train=pipeline_run.part("train"),
            schema=pipeline_run.schema_json,
            model=model,
        ),
    )

    assert code == 1
    assert "train.n_estimators: Input should be greater than or equal to 1" in log
    assert not model.parent.exists()
