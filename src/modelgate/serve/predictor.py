"""The model as the server sees it: an ONNX Runtime session plus what its metadata declares.

Knows nothing of HTTP. `Predictor.load` fails with `ModelLoadError`, one readable line, for a
missing, unreadable or foreign file; the app then stays up and not ready.

Its `columns` are the graph's inputs, in the feature schema's order: the model's features only. A
protected column or a date column is in the feature schema but never an input (a date's
calendar parts are), so a request carrying one is refused as an unknown field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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
# The regressor's float32 graph output, as it is: FP32, like the probabilities.
PREDICTION = Output(metadata.PREDICTION_OUTPUT, "FP32", (-1,))
# Every output the server produces, by task: the metadata lists these, infer checks requests
# against them and answers with them (MLServer's runtimes keep one such list for the same
# reason).
OUTPUTS: dict[str, tuple[Output, ...]] = {
    "binary": (DECISION, PROBABILITIES),
    "regression": (PREDICTION,),
}


class ModelLoadError(RuntimeError):
    """The model file cannot be served; the message says which file and why."""


@dataclass(frozen=True)
class Predictor:
    name: str
    version: str
    task: str  # binary | regression, from the feature schema
    threshold: float | None  # a binary model's only
    columns: dict[str, ColumnSpec]
    positive_class: str | None
    negative_class: str | None
    metadata: dict[str, Any]
    session: ort.InferenceSession = field(repr=False, compare=False)

    @classmethod
    def load(cls, path: Path, threads: int = 1) -> Predictor:
        session = _session(path, threads)
        meta = metadata.read(session)
        _require(meta, metadata.REQUIRED, path)
        try:
            schema = json.loads(meta[metadata.FEATURE_SCHEMA])
            declared = {n: ColumnSpec.model_validate(s) for n, s in schema["columns"].items()}
            task = schema.get("task", "binary")
            _require(meta, metadata.required(task), path)
            threshold = float(meta[metadata.THRESHOLD]) if task == "binary" else None
            decoded = metadata.decoded(meta)
        except (ValueError, KeyError, ValidationError, AttributeError) as exc:
            raise ModelLoadError(f"model file {path} has unreadable metadata: {exc}") from None
        columns = _inputs(session, declared, schema.get("protected", ()), path)
        if task not in OUTPUTS or metadata.GRAPH_OUTPUT[task] not in _names(session.get_outputs()):
            raise ModelLoadError(f"model file {path}: no graph output for a {task!r} model")
        return cls(
            name=meta[metadata.MODEL_NAME],
            version=meta[metadata.MODEL_VERSION],
            task=task,
            threshold=threshold,
            columns=columns,
            positive_class=schema.get("positive_class"),
            negative_class=schema.get("negative_class"),
            metadata=decoded,
            session=session,
        )

    @property
    def output_specs(self) -> tuple[Output, ...]:
        return OUTPUTS[self.task]

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's output for validated feeds: rows x 2 class probabilities (negative,
        positive), or rows x 1 predictions."""
        (out,) = self.session.run([metadata.GRAPH_OUTPUT[self.task]], feeds)
        return np.asarray(out)

    def scores(self, output: np.ndarray) -> np.ndarray:
        """One number per row of `run`'s output: P(positive), or the prediction."""
        return output[:, 1] if self.task == "binary" else output[:, 0]

    def decisions(self, scores: np.ndarray) -> list[bool] | None:
        """True where the row is declined: its positive-class score reaches the threshold.
        None for a regressor, which decides nothing."""
        if self.threshold is None:
            return None
        return (scores >= self.threshold).tolist()

    def outputs(self, output: np.ndarray) -> dict[str, np.ndarray]:
        """The value of every output in `output_specs`, by name, for rows `run` scored."""
        if self.task == "regression":
            return {PREDICTION.name: output[:, 0]}
        return {
            DECISION.name: np.array(self.decisions(output[:, 1]), dtype=np.int64),
            PROBABILITIES.name: output,
        }

    def tensor_metadata(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Inputs and outputs as the Open Inference Protocol describes tensors."""
        inputs = [
            {"name": i.name, "datatype": _datatype(i.type), "shape": [-1, 1]}
            for i in self.session.get_inputs()
        ]
        outputs = [
            {"name": o.name, "datatype": o.datatype, "shape": list(o.shape)}
            for o in self.output_specs
        ]
        return inputs, outputs


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for every cause
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"model file {path} cannot be loaded: {reason}") from None


def _require(meta: Mapping[str, str], keys: tuple[str, ...], path: Path) -> None:
    missing = metadata.missing(meta, keys)
    if missing:
        raise ModelLoadError(f"model file {path} lacks metadata {missing}: not a modelgate export")


def _names(args: list[Any]) -> list[str]:
    return [a.name for a in args]


def _inputs(
    session: ort.InferenceSession,
    declared: Mapping[str, ColumnSpec],
    protected: Any,
    path: Path,
) -> dict[str, ColumnSpec]:
    """The graph's inputs with their declared specs, in declared order; a model whose inputs are
    not exactly its schema's features (undeclared, protected, a date, or one missing) is
    refused."""
    inputs = _names(session.get_inputs())
    features = [
        n for n, s in declared.items() if n not in set(protected) and s.kind != "date"
    ]  # FeatureSchema.features' rule; serving cannot import schema (it needs pandas)
    if sorted(inputs) != sorted(features):
        raise ModelLoadError(
            f"model file {path}: graph inputs {sorted(inputs)} differ from its feature schema's"
            f" features {sorted(features)}"
        )
    return {name: spec for name, spec in declared.items() if name in inputs}


def _datatype(onnx_type: str) -> str:
    return {"tensor(float)": "FP32", "tensor(string)": "BYTES"}.get(onnx_type, onnx_type)
