"""Parity gate: the exported ONNX model must score as the native pipeline does.

The export stage calls it before writing the model: on the test set and on synthetic rows at,
just below and just above every tree split threshold, the largest |Δ probability| and the
approve/decline flips at the decision threshold are held to `export.max_abs_diff` and
`export.max_flips`.
"""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pandas as pd
from sklearn.pipeline import Pipeline

from modelgate.gates.results import GateResult, check_max
from modelgate.model import model_frame
from modelgate.onnx_export import onnx_scores, parity, split_point_rows
from modelgate.params import ExportParams
from modelgate.schema import FeatureSchema


def check_parity(
    pipeline: Pipeline,
    model: onnx.ModelProto,
    test: pd.DataFrame,
    schema: FeatureSchema,
    threshold: float,
) -> dict[str, dict]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    frames = {"test": model_frame(test, schema)}
    frames["split_points"] = split_point_rows(pipeline, schema, frames["test"].head(1))
    return {
        name: parity(
            pipeline.predict_proba(frame)[:, 1], onnx_scores(session, frame, schema), threshold
        ).to_dict()
        for name, frame in frames.items()
    }


def parity_gate(results: dict[str, dict], params: ExportParams) -> GateResult:
    conditions = []
    for name, r in results.items():
        conditions.append(
            check_max(f"{name}: max |Δ probability|", r["max_abs_diff"], params.max_abs_diff)
        )
        conditions.append(check_max(f"{name}: decision flips", r["flips"], params.max_flips))
    return GateResult("parity", conditions)
