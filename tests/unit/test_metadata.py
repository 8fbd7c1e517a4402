"""The exported model's metadata contract: the keys the export stage writes are the ones listed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnxruntime as ort

from modelgate import metadata


def test_the_export_writes_exactly_the_listed_keys(exported_model: Path):
    meta = metadata.read(exported_model)

    assert sorted(meta) == sorted(metadata.KEYS)
    assert set(metadata.REQUIRED) | set(metadata.JSON_KEYS) <= set(metadata.KEYS)
    assert metadata.missing(meta) == []


def test_a_file_its_bytes_and_a_session_read_alike(exported_model: Path):
    session = ort.InferenceSession(str(exported_model), providers=["CPUExecutionProvider"])

    from_path = metadata.read(exported_model)

    assert metadata.read(str(exported_model)) == from_path
    assert metadata.read(exported_model.read_bytes()) == from_path
    assert metadata.read(session) == from_path
    assert metadata.PROBABILITIES_OUTPUT in [o.name for o in session.get_outputs()]


def test_missing_names_absent_or_empty_keys():
    meta = {metadata.MODEL_NAME: "m", metadata.MODEL_VERSION: "", metadata.THRESHOLD: "0.5"}

    assert metadata.missing(meta) == [metadata.MODEL_VERSION, metadata.FEATURE_SCHEMA]


def test_decoded_parses_the_json_values_only():
    meta = {metadata.METRICS: json.dumps({"auc": 0.9}), metadata.MODEL_NAME: "[not json]"}

    assert metadata.decoded(meta) == {
        metadata.METRICS: {"auc": 0.9},
        metadata.MODEL_NAME: "[not json]",
    }


def test_the_key_names_import_nothing_heavy():
    code = (
        "import sys, modelgate.metadata; "
        "print([m for m in ('onnx', 'onnxruntime', 'pandas', 'numpy') if m in sys.modules])"
    )

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def test_a_threshold_is_required_of_a_binary_model_only():
    regressor = {metadata.FEATURE_SCHEMA: json.dumps({"task": "regression", "columns": {}})}
    older = {metadata.FEATURE_SCHEMA: json.dumps({"columns": {}})}  # exported before tasks

    assert (metadata.task(regressor), metadata.task(older)) == ("regression", "binary")
    assert metadata.THRESHOLD not in metadata.required("regression")
    assert metadata.required("binary") == (*metadata.REQUIRED, metadata.THRESHOLD)
    assert metadata.GRAPH_OUTPUT == {"binary": "probabilities", "regression": "prediction"}
