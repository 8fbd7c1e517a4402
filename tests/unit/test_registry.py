"""The registry's view of an exported model and of `.gto` (GTO paths run in tests/integration)."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from modelgate.registry import describe, read_stages
from modelgate.release import RegistryError, schema_digest
from tests.conftest import ROOT


def test_describe_reads_the_exported_model(exported_model: Path) -> None:
    meta = {p.key: p.value for p in onnx.load(exported_model).metadata_props}
    assert describe(exported_model) == {
        "name": "tiny-model",
        "model_version": meta["model_version"],
        "schema_digest": schema_digest(meta["feature_schema"]),
    }


def test_describe_refuses_a_model_without_metadata(tmp_path: Path) -> None:
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 1])
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    model = onnx.helper.make_model(
        onnx.helper.make_graph([node], "bare", [x], [y]),
        opset_imports=[onnx.helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    path = tmp_path / "bare.onnx"
    onnx.save(model, path)
    with pytest.raises(RegistryError, match="lacks ONNX metadata model_name, model_version"):
        describe(path)


def test_describe_names_a_file_onnx_runtime_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(RegistryError, match=r"junk.onnx is not a readable ONNX model"):
        describe(path)


def test_the_projects_stages_are_read_from_gto() -> None:
    assert read_stages(ROOT) == ("staging", "prod")


@pytest.mark.parametrize(
    "text",
    ["stages:\n  - staging\n  - prod\n", "# stage list\nstages: [staging, prod]\ntypes: [model]\n"],
)
def test_block_and_flow_lists_read_alike(tmp_path: Path, text: str) -> None:
    (tmp_path / ".gto").write_text(text)
    assert read_stages(tmp_path) == ("staging", "prod")


@pytest.mark.parametrize("text", [None, "", "types: [model]\n", "stages: []\n", "stages: prod\n"])
def test_without_a_stage_list_no_stage_is_trusted(tmp_path: Path, text: str | None) -> None:
    """gto accepts any stage when `.gto` lists none; promotion then accepts no stage."""
    if text is not None:
        (tmp_path / ".gto").write_text(text)
    with pytest.raises(RegistryError, match=r"\.gto lists no stages"):
        read_stages(tmp_path)
