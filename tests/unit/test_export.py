"""Export stage: one self-describing ONNX file, written only when it agrees with the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import yaml

from modelgate import io
from modelgate.model import load_pipeline, model_frame
from modelgate.onnx_export import (
    PROBABILITIES,
    content_version,
    feed,
    onnx_scores,
    parity,
    read_metadata,
    split_point_rows,
)
from modelgate.stages import export
from tests.unit._pipeline import PipelineRun

METADATA_KEYS = {
    "model_name",
    "model_version",
    "feature_schema",
    "threshold",
    "params_digest",
    "training_data_digest",
    "metrics",
}


@pytest.fixture(scope="module")
def exported(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding model.onnx and parity.json from one export of the tiny pipeline."""
    out = tmp_path_factory.mktemp("export")
    export.main(pipeline_run.export_argv(out / "model.onnx", out / "parity.json"))
    return out


@pytest.fixture(scope="module")
def model(exported: Path) -> onnx.ModelProto:
    return onnx.load(exported / "model.onnx")


@pytest.fixture(scope="module")
def session(exported: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def pipeline(pipeline_run: PipelineRun):
    return load_pipeline(pipeline_run.model)


@pytest.fixture(scope="module")
def everything(pipeline_run: PipelineRun) -> pd.DataFrame:
    """Every ingested row as model input: NaN amounts and missing channels included."""
    return model_frame(pd.read_parquet(pipeline_run.dataset), pipeline_run.schema)


def test_writes_a_valid_onnx_file_and_nothing_else(exported: Path, model: onnx.ModelProto):
    assert sorted(p.name for p in exported.iterdir()) == ["model.onnx", "parity.json"]
    onnx.checker.check_model(model, full_check=True)


def test_one_input_per_feature_and_a_probability_output(
    model: onnx.ModelProto, pipeline_run: PipelineRun
):
    elem = onnx.TensorProto
    inputs = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}

    assert inputs == {"amount": elem.FLOAT, "hour": elem.FLOAT, "channel": elem.STRING}
    assert [i.name for i in model.graph.input] == pipeline_run.schema.features
    assert PROBABILITIES in [o.name for o in model.graph.output]


def test_metadata_carries_the_contract(model: onnx.ModelProto, pipeline_run: PipelineRun):
    metadata = read_metadata(model)
    metrics = io.read_json(pipeline_run.metrics)
    params = yaml.safe_load(pipeline_run.params.read_text())

    assert set(metadata) == METADATA_KEYS
    assert json.loads(metadata["feature_schema"]) == io.read_json(pipeline_run.schema_json)
    assert metadata["model_name"] == params["export"]["model_name"]
    assert float(metadata["threshold"]) == metrics["threshold"]
    assert json.loads(metadata["metrics"]) == metrics["test"]
    assert metadata["training_data_digest"] == io.sha256_file(pipeline_run.part("train"))
    sections = {k: params[k] for k in ("ingest", "split", "train", "evaluate")}
    assert metadata["params_digest"] == io.sha256_json(sections)


def test_model_version_is_the_hash_of_the_graph_without_metadata(model: onnx.ModelProto):
    version = read_metadata(model)["model_version"]
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.metadata_props[:]

    assert len(version) == 12
    assert content_version(bare) == version


def test_onnx_scores_equal_the_pipeline_on_every_row(
    pipeline, session, everything: pd.DataFrame, pipeline_run
):
    assert everything["amount"].isna().any() and (everything["channel"] == "").any()

    native = pipeline.predict_proba(everything)[:, 1]
    exported = onnx_scores(session, everything, pipeline_run.schema)

    np.testing.assert_allclose(exported, native, rtol=0, atol=1e-5)


def test_onnx_scores_equal_the_pipeline_for_unseen_categories_and_all_missing(
    pipeline, session, everything: pd.DataFrame, pipeline_run
):
    rows = pd.concat([everything.head(1)] * 4, ignore_index=True)
    rows["channel"] = ["fax", "WEB", "", "web"]
    rows.loc[3, ["amount", "hour"]] = np.nan

    native = pipeline.predict_proba(rows)[:, 1]
    exported = onnx_scores(session, rows, pipeline_run.schema)

    np.testing.assert_allclose(exported, native, rtol=0, atol=1e-5)


def test_feed_shapes_inputs_as_columns(everything: pd.DataFrame, pipeline_run: PipelineRun):
    inputs = feed(everything.head(5), pipeline_run.schema)

    assert {name: (a.shape, a.dtype) for name, a in inputs.items()} == {
        "amount": ((5, 1), np.float32),
        "hour": ((5, 1), np.float32),
        "channel": ((5, 1), object),
    }


def test_parity_report_is_written_and_passed(exported: Path):
    report = io.read_json(exported / "parity.json")

    assert report["passed"] is True
    assert report["max_abs_diff_allowed"] == 1e-5
    assert report["max_flips_allowed"] == 0
    for name in ("test", "split_points"):
        assert report[name]["rows"] > 0, name
        assert report[name]["max_abs_diff"] <= 1e-5, name
        assert report[name]["flips"] == 0, name
    assert report["test"]["rows"] == 100


def test_two_exports_are_byte_identical(exported: Path, pipeline_run: PipelineRun, tmp_path: Path):
    export.main(pipeline_run.export_argv(tmp_path / "model.onnx", tmp_path / "parity.json"))

    assert (tmp_path / "model.onnx").read_bytes() == (exported / "model.onnx").read_bytes()
    assert (tmp_path / "parity.json").read_bytes() == (exported / "parity.json").read_bytes()


def test_params_digest_covers_model_sections_only(
    model: onnx.ModelProto, pipeline_run: PipelineRun, tiny_params: dict, tmp_path: Path
):
    def digest_with(section: str, key: str, value: object) -> str:
        edited = yaml.safe_load(yaml.safe_dump(tiny_params))
        edited[section][key] = value
        params = tmp_path / f"{section}.yaml"
        params.write_text(yaml.safe_dump(edited))
        out = tmp_path / section
        export.main(
            pipeline_run.export_argv(out / "model.onnx", out / "parity.json", params=params)
        )
        return read_metadata(onnx.load(out / "model.onnx"))["params_digest"]

    original = read_metadata(model)["params_digest"]

    assert digest_with("export", "max_flips", 3) == original  # a gate setting, not the model
    assert digest_with("train", "n_estimators", 21) != original


def test_impossible_parity_tolerance_exits_1_and_writes_no_model(
    run_stage, pipeline_run: PipelineRun, tiny_params: dict, tmp_path: Path
):
    # Real float32 rounding: ONNX and XGBoost differ by ~1e-7 here, far above 1e-12.
    tiny_params["export"]["max_abs_diff"] = 1e-12
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params))
    models, reports = tmp_path / "models", tmp_path / "reports"

    code, log = run_stage(
        export.main,
        pipeline_run.export_argv(models / "model.onnx", reports / "parity.json", params=params),
    )

    report = io.read_json(reports / "parity.json")
    worst = max(report["test"]["max_abs_diff"], report["split_points"]["max_abs_diff"])
    assert worst > 1e-12, "ONNX matched the pipeline exactly: pick another failing condition"
    assert code == 1
    assert "ONNX parity failed, model not exported" in log
    assert report["passed"] is False
    assert report["max_abs_diff_allowed"] == 1e-12
    assert not models.exists() or list(models.iterdir()) == []


def test_bad_export_params_exit_1(
    run_stage, pipeline_run: PipelineRun, tiny_params: dict, tmp_path: Path
):
    tiny_params["export"]["opset"] = 9
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params))

    code, log = run_stage(
        export.main,
        pipeline_run.export_argv(tmp_path / "model.onnx", tmp_path / "parity.json", params=params),
    )

    assert code == 1
    assert "export.opset: Input should be greater than or equal to 13" in log
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def _numeric_splits(pipeline, n_numeric: int) -> set[tuple[int, float]]:
    trees = pipeline.named_steps["classifier"].get_booster().trees_to_dataframe()
    splits = trees.dropna(subset=["Split"])
    return {
        (int(f.removeprefix("f")), float(v))
        for f, v in zip(splits["Feature"], splits["Split"], strict=True)
        if int(f.removeprefix("f")) < n_numeric
    }


def test_split_point_rows_sit_at_and_around_every_numeric_split(
    pipeline, everything: pd.DataFrame, pipeline_run
):
    schema = pipeline_run.schema
    base = everything.head(1)
    splits = _numeric_splits(pipeline, len(schema.numeric))
    assert splits  # the tiny model does split on numeric features

    rows = split_point_rows(pipeline, schema, base)

    assert len(rows) == 3 * len(splits)
    assert list(rows.columns) == schema.features
    for position, value in splits:
        name = schema.numeric[position]
        at = np.float32(value)
        below, above = np.nextafter(at, np.float32(-np.inf)), np.nextafter(at, np.float32(np.inf))
        column = rows[name].to_numpy(np.float32)
        assert {below, at, above} <= set(column), (name, value)
    # Only the split feature moves; every other value is the base row's.
    for name in schema.numeric:
        moved = rows[name].to_numpy(np.float32) != base[name].to_numpy(np.float32)[0]
        others = [n for n in schema.numeric if n != name]
        assert (
            rows.loc[moved, others].to_numpy(np.float32) == base[others].to_numpy(np.float32)
        ).all()
    assert (rows["channel"] == base["channel"].iloc[0]).all()


def test_split_point_rows_straddle_a_decision(pipeline, everything: pd.DataFrame, pipeline_run):
    # At some split the branch taken changes between just below and at the split value:
    # these rows really probe the `<` boundary.
    rows = split_point_rows(pipeline, pipeline_run.schema, everything.head(1))
    scores = pipeline.predict_proba(rows)[:, 1].reshape(-1, 3)

    assert (scores[:, 0] != scores[:, 1]).any()
    np.testing.assert_array_equal(scores[:, 1], scores[:, 2])  # at and above: same side


def test_parity_counts_flips_at_the_threshold():
    native = np.array([0.49, 0.51, 0.2, 0.5])
    exported = np.array([0.51, 0.51, 0.2, 0.4999999])

    result = parity(native, exported, threshold=0.5)

    assert (result.rows, result.flips) == (4, 2)
    assert result.max_abs_diff == pytest.approx(0.02)
    assert parity(np.array([]), np.array([]), 0.5).to_dict() == {
        "rows": 0,
        "max_abs_diff": 0.0,
        "flips": 0,
    }
