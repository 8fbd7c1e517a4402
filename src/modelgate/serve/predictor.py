"""The model as the server sees it: an ONNX Runtime session plus what its metadata declares.

Knows nothing of HTTP. `Predictor.load` fails with `ModelLoadError`, one readable line, for a
missing, unreadable or foreign file; the app then stays up and not ready.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from pydantic import ValidationError

from modelgate.params import ColumnSpec

PROBABILITIES = "probabilities"
LABEL = "label"
REQUIRED_METADATA = ("model_name", "model_version", "feature_schema", "threshold")


class ModelLoadError(RuntimeError):
    """The model file cannot be served; the message says which file and why."""


@dataclass(frozen=True)
class Predictor:
    name: str
    version: str
    threshold: float
    columns: dict[str, ColumnSpec]
    positive_class: str
    negative_class: str
    metadata: dict[str, Any]
    session: ort.InferenceSession = field(repr=False, compare=False)

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> Predictor:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for every cause
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelLoadError(f"model file {path} cannot be loaded: {reason}") from None
        meta = dict(session.get_modelmeta().custom_metadata_map)
        missing = [k for k in REQUIRED_METADATA if k not in meta]
        if missing:
            raise ModelLoadError(
                f"model file {path} lacks metadata {missing}: not a modelgate export"
            )
        try:
            schema = json.loads(meta["feature_schema"])
            columns = {n: ColumnSpec.model_validate(s) for n, s in schema["columns"].items()}
            threshold = float(meta["threshold"])
        except (ValueError, KeyError, ValidationError) as exc:
            raise ModelLoadError(f"model file {path} has unreadable metadata: {exc}") from None
        inputs = {i.name for i in session.get_inputs()}
        if inputs != set(columns):
            raise ModelLoadError(
                f"model file {path}: graph inputs {sorted(inputs)} differ from its feature schema"
            )
        return cls(
            name=meta["model_name"],
            version=meta["model_version"],
            threshold=threshold,
            columns=columns,
            positive_class=schema["positive_class"],
            negative_class=schema["negative_class"],
            metadata=_decoded(meta),
            session=session,
        )

    def probabilities(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Rows x 2 class probabilities (negative, positive) for validated feeds."""
        (out,) = self.session.run([PROBABILITIES], feeds)
        return np.asarray(out)

    def decisions(self, scores: np.ndarray) -> list[bool]:
        """True where the row is declined: its positive-class score reaches the threshold."""
        return (scores >= self.threshold).tolist()

    def tensor_metadata(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Inputs and outputs as the Open Inference Protocol describes tensors."""
        inputs = [
            {"name": i.name, "datatype": _datatype(i.type), "shape": [-1, 1]}
            for i in self.session.get_inputs()
        ]
        outputs = [
            {"name": LABEL, "datatype": "INT64", "shape": [-1]},
            {"name": PROBABILITIES, "datatype": "FP32", "shape": [-1, 2]},
        ]
        return inputs, outputs


def _datatype(onnx_type: str) -> str:
    return {"tensor(float)": "FP32", "tensor(string)": "BYTES"}.get(onnx_type, onnx_type)


def _decoded(meta: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in meta.items():
        try:
            out[key] = json.loads(value) if value[:1] in "{[" else value
        except ValueError:
            out[key] = value
    return out
