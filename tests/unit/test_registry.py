"""The registry's view of an exported model (its GTO paths run in tests/integration)."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from modelgate.registry import describe
from modelgate.release import RegistryError, schema_digest


def test_describe_reads_the_exported_model(exported_model: Path) -> None:
    meta = {p.key: p.value for p in onnx.load(exported_model).metadata_props}
    assert describe(exported_model) == {
        "name": "tiny-model",
        "model_version": meta["model_version"],
        "schema_digest": schema_digest(meta["feature_schema"]),
    }


def test_describe_refuses_a_model_without_metadata(tmp_path: Path) -> None:
    graph = onnx.helper.make_graph([], "empty", [], [])
    path = tmp_path / "bare.onnx"
    onnx.save(onnx.helper.make_model(graph), path)
    with pytest.raises(RegistryError, match="lacks ONNX metadata model_name, model_version"):
        describe(path)
