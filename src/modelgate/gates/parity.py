"""Parity gate: the exported ONNX model must score as the native pipeline does.

The export stage calls it before writing the model, on the test set and on synthetic rows at,
just below and just above every tree split threshold:

- binary: the largest |Δ probability| and the approve/decline flips at the decision threshold
  are held to `export.max_abs_diff` and `export.max_flips`;
- regression: no decision can flip, so every row must be within
  `max_abs_diff + max_rel_diff * |native prediction|` (`numpy.isclose` semantics: the two
  tolerances add); the largest absolute and relative differences are reported beside it.
"""

from __future__ import annotations

import onnx
import onnxruntime as ort
import pandas as pd
from sklearn.pipeline import Pipeline

from modelgate.gates.results import GateResult, check_max
from modelgate.model import model_frame, scores
from modelgate.onnx_export import onnx_scores, parity, regression_parity, split_point_rows
from modelgate.params import ExportParams
from modelgate.schema import FeatureSchema

# The regression condition's name: it counts the rows that break this.
TOLERANCE_RULE = "rows off by more than max_abs_diff + max_rel_diff * |prediction|"


def check_parity(
    pipeline: Pipeline,
    model: onnx.ModelProto,
    test: pd.DataFrame,
    schema: FeatureSchema,
    threshold: float | None,
    params: ExportParams,
) -> dict[str, dict]:
    """Per row set, what `parity_gate` judges; `threshold` is a binary model's only."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    frames = {"test": model_frame(test, schema)}
    frames["split_points"] = split_point_rows(pipeline, schema, frames["test"].head(1))
    results = {}
    for name, frame in frames.items():
        native, exported = scores(pipeline, frame, schema), onnx_scores(session, frame, schema)
        if threshold is None:
            found = regression_parity(native, exported, params.max_abs_diff, params.max_rel_diff)
            results[name] = found.to_dict()
        else:
            results[name] = parity(native, exported, threshold).to_dict()
    return results


def parity_gate(results: dict[str, dict], params: ExportParams) -> GateResult:
    conditions = []
    for name, r in results.items():
        if "flips" in r:
            conditions.append(
                check_max(f"{name}: max |Δ probability|", r["max_abs_diff"], params.max_abs_diff)
            )
            conditions.append(check_max(f"{name}: decision flips", r["flips"], params.max_flips))
        else:
            conditions.append(check_max(f"{name}: {TOLERANCE_RULE}", r["outside_tolerance"], 0))
    return GateResult("parity", conditions, notes=_regression_notes(results))


def _regression_notes(results: dict[str, dict]) -> list[str]:
    return [
        f"{name}: max |Δ prediction| {r['max_abs_diff']:.3g}, max relative {r['max_rel_diff']:.3g}"
        f" over {r['rows']} rows"
        for name, r in results.items()
        if "max_rel_diff" in r
    ]
