"""The model: a scikit-learn Pipeline of stock parts, and the frame it expects.

Numeric features pass through as float32 (XGBoost's own precision, and ONNX's) with missing
values left as NaN for XGBoost's learned default directions. Categorical features are one-hot
encoded; a missing category becomes the explicit level `MISSING_CATEGORY`, because an ONNX
string tensor cannot carry NaN and serving must see exactly what training saw. A categorical
with more declared categories than `train.max_one_hot` (hundreds of SKUs or stores) is
ordinal-coded in the contract's order instead, unknown values as -1: skl2onnx converts
OrdinalEncoder but not OneHotEncoder's infrequent-category grouping, and one column a feature
keeps the model and the ONNX graph small.

The task decides the estimator: XGBClassifier scoring the positive class's probability
(binary), or XGBRegressor predicting the target (regression). `scores` is the one place that
tells them apart at prediction time.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from xgboost import XGBClassifier, XGBRegressor

from modelgate import io
from modelgate.params import MISSING_CATEGORY, TrainParams
from modelgate.schema import FeatureSchema

FEATURES_STEP = "features"
CLASSIFIER_STEP = "classifier"  # the estimator's step, whichever the task (a stable name)


def model_frame(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Features only, in model order, with the dtypes the pipeline (and its ONNX twin) takes."""
    out = pd.DataFrame(index=frame.index)
    for name in schema.numeric:
        out[name] = frame[name].astype("float32")
    for name in schema.categorical:
        out[name] = categorical_values(frame[name])
    return out


def categorical_values(column: pd.Series) -> pd.Series:
    """A categorical as the model sees it: strings, a missing value as `MISSING_CATEGORY`."""
    return column.astype(object).where(column.notna(), MISSING_CATEGORY)


def labels(frame: pd.DataFrame, schema: FeatureSchema) -> np.ndarray:
    """The target as the model learns it: 1 for the positive class (binary), or the value."""
    if schema.task == "regression":
        return frame[schema.target].to_numpy(dtype=np.float64)
    return (frame[schema.target] == schema.positive_class).to_numpy(dtype=np.int64)


def scores(pipeline: Pipeline, features: pd.DataFrame, schema: FeatureSchema) -> np.ndarray:
    """Per row of `model_frame` output: the positive class's probability, or the prediction."""
    if schema.task == "regression":
        return np.asarray(pipeline.predict(features), dtype=np.float64)
    return pipeline.predict_proba(features)[:, 1]


def ordinal_columns(schema: FeatureSchema, max_one_hot: int) -> list[str]:
    """The categoricals too many-valued to one-hot encode."""
    return [n for n in schema.categorical if len(schema.columns[n].categories or ()) > max_one_hot]


def build_pipeline(schema: FeatureSchema, params: TrainParams) -> Pipeline:
    ordinal = ordinal_columns(schema, params.max_one_hot)
    one_hot = [n for n in schema.categorical if n not in ordinal]
    blocks: list[tuple[str, object, list[str]]] = [
        ("numeric", "passthrough", schema.numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore", dtype=np.float32), one_hot),
    ]
    if ordinal:  # only when needed: a model without one keeps its exact former bytes
        declared = [[MISSING_CATEGORY, *(schema.columns[n].categories or ())] for n in ordinal]
        encoder = OrdinalEncoder(
            categories=declared,
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            dtype=np.float32,
        )
        blocks.append(("ordinal", encoder, ordinal))
    # Dense float32: what the ONNX graph computes too.
    features = ColumnTransformer(blocks, sparse_threshold=0.0)
    return Pipeline([(FEATURES_STEP, features), (CLASSIFIER_STEP, _estimator(schema, params))])


def _estimator(schema: FeatureSchema, params: TrainParams) -> XGBClassifier | XGBRegressor:
    common = {
        "n_estimators": params.n_estimators,
        "learning_rate": params.learning_rate,
        "max_depth": params.max_depth,
        "min_child_weight": params.min_child_weight,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "reg_lambda": params.reg_lambda,
        "reg_alpha": params.reg_alpha,
        "tree_method": "hist",
        "n_jobs": params.n_jobs,
        "random_state": params.seed,
    }
    if schema.task == "regression":
        return XGBRegressor(objective=params.objective, **common)
    return XGBClassifier(eval_metric="logloss", **common)


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
    if block in ("numeric", "ordinal"):
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
