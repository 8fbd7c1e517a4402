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

from modelgate import metadata
from modelgate.params import ColumnSpec


@dataclass(frozen=True)
class Output:
    """One output tensor of an inference response, as the model metadata describes it."""

    name: str
    datatype: str
    shape: tuple[int, ...]  # -1: one per row


DECISION = Output("decision", "INT64", (-1,))  # 1: the positive class, at the threshold
PROBABILITIES = Output("probabilities", "FP32", (-1, 2))  # negative, positive
# Every output the server produces: the metadata lists these, infer checks requests against
# them and answers with them (MLServer's runtimes keep one such list for the same reason).
OUTPUTS = (DECISION, PROBABILITIES)


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
        meta = metadata.read(session)
        missing = metadata.missing(meta)
        if missing:
            raise ModelLoadError(
                f"model file {path} lacks metadata {missing}: not a modelgate export"
            )
        try:
            schema = json.loads(meta[metadata.FEATURE_SCHEMA])
            columns = {n: ColumnSpec.model_validate(s) for n, s in schema["columns"].items()}
            threshold = float(meta[metadata.THRESHOLD])
            decoded = metadata.decoded(meta)
        except (ValueError, KeyError, ValidationError) as exc:
            raise ModelLoadError(f"model file {path} has unreadable metadata: {exc}") from None
        inputs = {i.name for i in session.get_inputs()}
        if inputs != set(columns):
            raise ModelLoadError(
                f"model file {path}: graph inputs {sorted(inputs)} differ from its feature schema"
            )
        return cls(
            name=meta[metadata.MODEL_NAME],
            version=meta[metadata.MODEL_VERSION],
            threshold=threshold,
            columns=columns,
            positive_class=schema["positive_class"],
            negative_class=schema["negative_class"],
            metadata=decoded,
            session=session,
        )

    def probabilities(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Rows x 2 class probabilities (negative, positive) for validated feeds."""
        (out,) = self.session.run([metadata.PROBABILITIES_OUTPUT], feeds)
        return np.asarray(out)

    def decisions(self, scores: np.ndarray) -> list[bool]:
        """True where the row is declined: its positive-class score reaches the threshold."""
        return (scores >= self.threshold).tolist()

    def outputs(self, probabilities: np.ndarray) -> dict[str, np.ndarray]:
        """The value of every output in `OUTPUTS`, by name, for rows scored by `probabilities`."""
        return {
            DECISION.name: np.array(self.decisions(probabilities[:, 1]), dtype=np.int64),
            PROBABILITIES.name: probabilities,
        }

    def tensor_metadata(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Inputs and outputs as the Open Inference Protocol describes tensors."""
        inputs = [
            {"name": i.name, "datatype": _datatype(i.type), "shape": [-1, 1]}
            for i in self.session.get_inputs()
        ]
        outputs = [
            {"name": o.name, "datatype": o.datatype, "shape": list(o.shape)} for o in OUTPUTS
        ]
        return inputs, outputs


def _datatype(onnx_type: str) -> str:
    return {"tensor(float)": "FP32", "tensor(string)": "BYTES"}.get(onnx_type, onnx_type)
