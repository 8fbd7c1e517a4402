"""Convert the fitted pipeline, preprocessing included, to one self-contained ONNX graph, and
prove it agrees with the native pipeline.

One ONNX input per model feature (`FeatureSchema.features`: never a protected or a date column;
a date's calendar parts are integer inputs of their own), [N, 1] float32 for numerics and [N, 1]
string for categoricals, so a server needs only onnxruntime and numpy. XGBoost is converted by
onnxmltools' converter, which skl2onnx does not know of until it is registered (skl2onnx docs,
"Convert a pipeline with a XGBoost model"). The graph's output is the class probabilities of a
classifier, or the regressor's `prediction` ([N, 1] float32). A many-valued categorical's
ordinal code is one ai.onnx.ml LabelEncoder node (unknown values -1, as natively), not a column
per category.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from skl2onnx.common.shape_calculator import (
    calculate_linear_classifier_output_shapes,
    calculate_linear_regressor_output_shapes,
)
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier, XGBRegressor

from modelgate import metadata
from modelgate.model import CLASSIFIER_STEP, model_frame
from modelgate.schema import FeatureSchema

PROBABILITIES = metadata.PROBABILITIES_OUTPUT
PREDICTION = metadata.PREDICTION_OUTPUT

update_registered_converter(
    XGBClassifier,
    "XGBoostXGBClassifier",
    calculate_linear_classifier_output_shapes,
    convert_xgboost,
    options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
)
update_registered_converter(
    XGBRegressor, "XGBoostXGBRegressor", calculate_linear_regressor_output_shapes, convert_xgboost
)


def convert(
    pipeline: Pipeline, schema: FeatureSchema, opset: int, ml_opset: int
) -> onnx.ModelProto:
    inputs = [(n, FloatTensorType([None, 1])) for n in schema.numeric]
    inputs += [(n, StringTensorType([None, 1])) for n in schema.categorical]
    options = {} if schema.task == "regression" else {id(pipeline): {"zipmap": False}}
    model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        target_opset={"": opset, "ai.onnx.ml": ml_opset},
        options=options,
        naming="modelgate_",
    )
    if schema.task == "regression":
        _rename_output(model, PREDICTION)
    model.graph.name = "modelgate"
    # skl2onnx collects opsets in a set, so their order follows PYTHONHASHSEED; sort for
    # byte-identical files across runs.
    imports = sorted(model.opset_import, key=lambda o: o.domain)
    del model.opset_import[:]
    model.opset_import.extend(imports)
    return model


def _rename_output(model: onnx.ModelProto, name: str) -> None:
    """Give a regressor's one output (skl2onnx calls it `variable`) its contract name.

    Renamed after conversion: skl2onnx's `final_types` clashes with the `naming` prefix that
    keeps internal names apart from the inputs' (skl2onnx 1.20, "Unable to add duplicated
    output").
    """
    if name in [i.name for i in model.graph.input]:
        raise ValueError(f"a feature is named {name!r}, the regressor's output: rename it")
    (output,) = model.graph.output
    for node in model.graph.node:
        node.output[:] = [name if o == output.name else o for o in node.output]
    output.name = name


def content_version(model: onnx.ModelProto) -> str:
    """A version derived from the graph itself: same model, same version, on any machine."""
    return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()[:12]


def attach_metadata(model: onnx.ModelProto, properties: dict[str, object]) -> None:
    texts = {k: v if isinstance(v, str) else json.dumps(v) for k, v in properties.items()}
    onnx.helper.set_model_props(model, {**read_metadata(model), **texts})


def read_metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def feed(frame: pd.DataFrame, schema: FeatureSchema) -> dict[str, np.ndarray]:
    """ONNX inputs for rows of `model_frame` output."""
    out = {n: frame[n].to_numpy(np.float32).reshape(-1, 1) for n in schema.numeric}
    out.update(
        {n: frame[n].astype(str).to_numpy(object).reshape(-1, 1) for n in schema.categorical}
    )
    return out


def onnx_scores(
    session: ort.InferenceSession, frame: pd.DataFrame, schema: FeatureSchema
) -> np.ndarray:
    """Per row, what `model.scores` gives natively: P(positive), or the prediction."""
    if schema.task == "regression":
        (prediction,) = session.run([PREDICTION], feed(frame, schema))
        return np.asarray(prediction, dtype=np.float64).ravel()
    (probabilities,) = session.run([PROBABILITIES], feed(frame, schema))
    return np.asarray(probabilities)[:, 1]


def split_point_rows(pipeline: Pipeline, schema: FeatureSchema, base: pd.DataFrame) -> pd.DataFrame:
    """Rows whose numeric feature sits exactly at, just below and just above each tree split.

    These are where float rounding or a `<` versus `<=` mismatch would flip a tree branch.
    `base` is one model-frame row that supplies the other feature values.
    """
    trees = pipeline.named_steps[CLASSIFIER_STEP].get_booster().trees_to_dataframe()
    splits = trees.dropna(subset=["Split"])[["Feature", "Split"]].drop_duplicates()
    rows = []
    for feature, value in splits.itertuples(index=False):
        position = int(str(feature).removeprefix("f"))
        if position >= len(schema.numeric):
            continue  # a one-hot column: only 0 and 1 reach it
        at = np.float32(value)
        for candidate in (
            np.nextafter(at, np.float32(-np.inf)),
            at,
            np.nextafter(at, np.float32(np.inf)),
        ):
            row = base.iloc[0].copy()
            row[schema.numeric[position]] = candidate
            rows.append(row)
    return model_frame(pd.DataFrame(rows).reset_index(drop=True), schema) if rows else base.iloc[:0]


@dataclass(frozen=True)
class Parity:
    rows: int
    max_abs_diff: float
    flips: int

    def to_dict(self) -> dict[str, float | int]:
        return {"rows": self.rows, "max_abs_diff": self.max_abs_diff, "flips": self.flips}


def parity(native: np.ndarray, exported: np.ndarray, threshold: float) -> Parity:
    flips = int(np.sum((native >= threshold) != (exported >= threshold)))
    diff = float(np.max(np.abs(native - exported))) if len(native) else 0.0
    return Parity(len(native), diff, flips)


@dataclass(frozen=True)
class RegressionParity:
    """A regressor has no decision to flip: its rows are held to a tolerance instead."""

    rows: int
    max_abs_diff: float
    max_rel_diff: float  # |Δ| / |native| over the rows whose native prediction is not 0
    outside: int  # rows where |Δ| > max_abs_diff + max_rel_diff * |native|

    def to_dict(self) -> dict[str, float | int]:
        return {
            "rows": self.rows,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "outside_tolerance": self.outside,
        }


def regression_parity(
    native: np.ndarray, exported: np.ndarray, max_abs_diff: float, max_rel_diff: float
) -> RegressionParity:
    """`numpy.isclose(exported, native, rtol=max_rel_diff, atol=max_abs_diff)` per row: the
    tolerances add, so a target in the thousands (float32 keeps ~7 digits) passes on its
    relative error and one near 0 on its absolute error."""
    diff = np.abs(native - exported)
    scale = np.abs(native)
    if not len(native):
        return RegressionParity(0, 0.0, 0.0, 0)
    relative = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
    outside = int(np.sum(~np.isclose(exported, native, rtol=max_rel_diff, atol=max_abs_diff)))
    return RegressionParity(len(native), float(diff.max()), float(relative.max()), outside)
