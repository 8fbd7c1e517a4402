"""The model: a scikit-learn Pipeline of stock parts, and the frame it expects.

Numeric features pass through as float32 (XGBoost's own precision, and ONNX's) with missing
values left as NaN for XGBoost's learned default directions. Categorical features are one-hot
encoded; a missing category becomes the explicit level `MISSING_CATEGORY`, because an ONNX
string tensor cannot carry NaN and serving must see exactly what training saw.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from xgboost import XGBClassifier

from modelgate import io
from modelgate.params import MISSING_CATEGORY, TrainParams
from modelgate.schema import FeatureSchema

FEATURES_STEP = "features"
CLASSIFIER_STEP = "classifier"


def model_frame(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Features only, in model order, with the dtypes the pipeline (and its ONNX twin) takes."""
    out = pd.DataFrame(index=frame.index)
    for name in schema.numeric:
        out[name] = frame[name].astype("float32")
    for name in schema.categorical:
        out[name] = frame[name].astype(object).where(frame[name].notna(), MISSING_CATEGORY)
    return out


def labels(frame: pd.DataFrame, schema: FeatureSchema) -> np.ndarray:
    return (frame[schema.target] == schema.positive_class).to_numpy(dtype=np.int64)


def build_pipeline(schema: FeatureSchema, params: TrainParams) -> Pipeline:
    features = ColumnTransformer(
        [
            ("numeric", "passthrough", schema.numeric),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", dtype=np.float32),
                schema.categorical,
            ),
        ],
        sparse_threshold=0.0,  # dense float32: what the ONNX graph computes too
    )
    classifier = XGBClassifier(
        n_estimators=params.n_estimators,
        learning_rate=params.learning_rate,
        max_depth=params.max_depth,
        min_child_weight=params.min_child_weight,
        subsample=params.subsample,
        colsample_bytree=params.colsample_bytree,
        reg_lambda=params.reg_lambda,
        reg_alpha=params.reg_alpha,
        tree_method="hist",
        n_jobs=params.n_jobs,
        random_state=params.seed,
        eval_metric="logloss",
    )
    return Pipeline([(FEATURES_STEP, features), (CLASSIFIER_STEP, classifier)])


def feature_importance(pipeline: Pipeline, schema: FeatureSchema) -> dict[str, float]:
    """Total gain per input feature, one-hot columns summed back to their source column."""
    encoded = pipeline.named_steps[FEATURES_STEP].get_feature_names_out()
    booster = pipeline.named_steps[CLASSIFIER_STEP].get_booster()
    gains = booster.get_score(importance_type="total_gain")  # keys f0, f1, ... by position
    totals = dict.fromkeys(schema.features, 0.0)
    for index, name in enumerate(encoded):
        source = _source_feature(str(name), schema)
        totals[source] += float(gains.get(f"f{index}", 0.0))
    grand = sum(totals.values()) or 1.0
    return {name: gain / grand for name, gain in totals.items()}


def _source_feature(encoded_name: str, schema: FeatureSchema) -> str:
    block, _, rest = encoded_name.partition("__")
    if block == "numeric":
        return rest
    # OneHotEncoder names are "<feature>_<category>"; match the longest declared feature prefix.
    return max((f for f in schema.categorical if rest.startswith(f"{f}_")), key=len)


def save_pipeline(path: Path, pipeline: Pipeline) -> None:
    # Pickle, not joblib: one stream, same bytes for the same fitted objects.
    io.write_bytes(path, pickle.dumps(pipeline, protocol=5))


def load_pipeline(path: Path) -> Pipeline:
    with path.open("rb") as handle:
        pipeline = pickle.load(handle)
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"{path} does not hold a scikit-learn Pipeline")
    return pipeline
