"""The contract an exported model carries: its ONNX metadata keys and its graph's output.

The export stage writes these keys; the server, the registry and the champion gate read them.
Reading goes through ONNX Runtime's session metadata, never the `onnx` package, and ONNX Runtime
is imported only when a model is read: serving stays free of onnx, pandas and scikit-learn, and
a module that only needs the key names (the registry) imports nothing at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnxruntime as ort

MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"  # content hash of the graph
FEATURE_SCHEMA = "feature_schema"  # JSON: task, columns, protected, positive/negative class
THRESHOLD = "threshold"  # decimal text of the decision threshold (a binary model's only)
METRICS = "metrics"  # JSON: the test-set metrics
PARAMS_DIGEST = "params_digest"
TRAINING_DATA_DIGEST = "training_data_digest"
KEYS = (
    MODEL_NAME, MODEL_VERSION, FEATURE_SCHEMA, THRESHOLD, METRICS, PARAMS_DIGEST,
    TRAINING_DATA_DIGEST,
)  # fmt: skip
JSON_KEYS = (FEATURE_SCHEMA, METRICS)
# What a model must carry to be served (a binary one its THRESHOLD too: `required`); the rest
# is provenance.
REQUIRED = (MODEL_NAME, MODEL_VERSION, FEATURE_SCHEMA)

# The graph output holding [n, 2] class probabilities (negative, positive), a classifier's.
PROBABILITIES_OUTPUT = "probabilities"
# The graph output holding a regressor's [n, 1] predictions.
PREDICTION_OUTPUT = "prediction"
# The one output the server and the parity check read, by the feature schema's task.
GRAPH_OUTPUT = {"binary": PROBABILITIES_OUTPUT, "regression": PREDICTION_OUTPUT}


def read(model: str | Path | bytes | ort.InferenceSession) -> dict[str, str]:
    """Every metadata property of an ONNX model (a file, its bytes, or a session), as text.

    A file or bytes are loaded into a CPU session, so a file ONNX Runtime refuses raises here.
    """
    if isinstance(model, str | Path | bytes):
        import onnxruntime as ort  # only when reading: see the module docstring

        source = str(model) if isinstance(model, Path) else model
        model = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return dict(model.get_modelmeta().custom_metadata_map)


def missing(meta: Mapping[str, str], keys: Sequence[str] = REQUIRED) -> list[str]:
    """The keys absent from `meta` or empty there."""
    return [key for key in keys if not meta.get(key)]


def task(meta: Mapping[str, str]) -> str:
    """The model's task as its feature schema states it (exports before tasks were binary)."""
    task: str = json.loads(meta[FEATURE_SCHEMA]).get("task", "binary")
    return task


def required(task: str) -> tuple[str, ...]:
    """The keys a model of `task` must carry to be served."""
    return (*REQUIRED, THRESHOLD) if task == "binary" else REQUIRED


def decoded(meta: Mapping[str, str]) -> dict[str, Any]:
    """The metadata with its JSON values parsed; a JSON value that does not parse raises."""
    return {key: json.loads(value) if key in JSON_KEYS else value for key, value in meta.items()}
