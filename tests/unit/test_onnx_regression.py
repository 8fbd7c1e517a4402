"""Export of a regressor: its ONNX inputs, its `prediction` output, parity held to an absolute
plus relative tolerance, and a 300-SKU categorical that stays one small node of the graph."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import yaml

from modelgate import io, metadata
from modelgate.gates.parity import TOLERANCE_RULE, parity_gate
from modelgate.model import build_pipeline, labels, load_pipeline, model_frame, scores
from modelgate.onnx_export import PREDICTION, convert, onnx_scores, regression_parity
from modelgate.params import ColumnSpec, ExportParams, TrainParams
from modelgate.schema import FeatureSchema
from modelgate.stages import export
from tests.unit._demand import SKUS, Demand, demand_fixture, demand_params  # noqa: F401 (a fixture)
from tests.unit._pipeline import PipelineRun


@pytest.fixture(scope="module")
def run(demand: Demand) -> PipelineRun:
    return demand.run


@pytest.fixture(scope="module")
def model(demand: Demand) -> onnx.ModelProto:
    return onnx.load(demand.onnx)


@pytest.fixture(scope="module")
def session(demand: Demand) -> ort.InferenceSession:
    return ort.InferenceSession(str(demand.onnx), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def everything(run: PipelineRun) -> pd.DataFrame:
    return model_frame(pd.read_parquet(run.dataset), run.schema)


def test_inputs_are_the_features_only_and_the_output_is_the_prediction(
    model: onnx.ModelProto, run: PipelineRun
):
    elem = onnx.TensorProto
    inputs = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}

    assert [i.name for i in model.graph.input] == run.schema.features
    assert inputs == {
        "price": elem.FLOAT,
        "date_day_of_week": elem.FLOAT,  # a calendar part: an integer feature, fed as float32
        "date_month": elem.FLOAT,
        "sku": elem.STRING,
        "store": elem.STRING,
    }
    assert "region" not in inputs and "date" not in inputs  # protected; a date itself
    assert [o.name for o in model.graph.output] == [PREDICTION]
    onnx.checker.check_model(model, full_check=True)


def test_metadata_has_the_task_and_no_threshold(model: onnx.ModelProto, run: PipelineRun):
    meta = {p.key: p.value for p in model.metadata_props}

    assert metadata.THRESHOLD not in meta
    assert metadata.task(meta) == "regression"
    assert metadata.missing(meta, metadata.required("regression")) == []
    assert json.loads(meta[metadata.METRICS]) == io.read_json(run.metrics)["test"]
    assert json.loads(meta[metadata.FEATURE_SCHEMA])["protected"] == ["region"]


def test_parity_report_holds_both_tolerances_and_no_flips(run: PipelineRun):
    report = io.read_json(run.root / "reports" / "parity.json")

    assert report["passed"] is True
    assert (report["max_abs_diff_allowed"], report["max_rel_diff_allowed"]) == (1e-5, 1e-5)
    assert "threshold" not in report and "max_flips_allowed" not in report
    for part in ("test", "split_points"):
        assert report[part]["rows"] > 0 and report[part]["outside_tolerance"] == 0
        assert "flips" not in report[part]
        # float32 trees on units in the hundreds: above the absolute tolerance alone, well
        # within the relative one.
        assert report[part]["max_rel_diff"] < 1e-5


def test_onnx_predicts_as_the_pipeline_on_every_row(
    run: PipelineRun, session: ort.InferenceSession, everything: pd.DataFrame
):
    pipeline = load_pipeline(run.model)
    assert everything["price"].isna().any()

    native = scores(pipeline, everything, run.schema)
    exported = onnx_scores(session, everything, run.schema)

    np.testing.assert_allclose(exported, native, rtol=1e-5, atol=1e-5)


def test_an_unseen_sku_is_coded_minus_one_natively_and_in_onnx(
    run: PipelineRun, session: ort.InferenceSession, everything: pd.DataFrame
):
    pipeline = load_pipeline(run.model)
    rows = pd.concat([everything.head(1)] * 4, ignore_index=True)
    rows["sku"] = ["sku-999", "SKU-001", "", SKUS[-1]]

    codes = pipeline.named_steps["features"].transform(rows)[:, -1]
    native = scores(pipeline, rows, run.schema)
    exported = onnx_scores(session, rows, run.schema)

    assert codes.tolist() == [-1, -1, 0, len(SKUS)]  # "" is the declared missing level, 0
    np.testing.assert_allclose(exported, native, rtol=1e-5, atol=1e-5)
    assert native[0] == native[1]  # both unknown: the same code, the same prediction


def test_300_skus_stay_one_label_encoder_and_one_model_column(
    run: PipelineRun, model: onnx.ModelProto
):
    """Ordinal coding's gain is the model's width (7 float32 columns a row, not 300 more). The
    graph stays small either way: ONNX's OneHotEncoder is one node listing the categories too,
    and the trees make up most of the bytes."""
    train = pd.read_parquet(run.part("train"))
    frame, y = model_frame(train, run.schema), labels(train, run.schema)
    params = {**demand_params()["train"], "max_one_hot": len(SKUS)}
    one_hot = build_pipeline(run.schema, TrainParams(**params)).fit(frame, y)

    ops = Counter(n.op_type for n in model.graph.node)
    (encoder,) = [n for n in model.graph.node if n.op_type == "LabelEncoder"]
    keys = next(a for a in encoder.attribute if a.name == "keys_strings").strings
    width = load_pipeline(run.model).named_steps["features"].transform(frame.head(1)).shape[1]

    assert len(model.graph.node) <= 12 and "OneHotEncoder" in ops, ops  # store's 3 only
    assert len(keys) == len(SKUS) + 1  # the declared SKUs and the missing level
    assert width == 3 + 3 + 1  # numerics, store one-hot, one sku code
    # One-hot learns its levels from the training rows: the SKUs sold there.
    sold = train["sku"].nunique()
    assert one_hot.named_steps["features"].transform(frame.head(1)).shape[1] == 3 + 3 + sold > 290
    assert len(model.SerializeToString()) < 64_000  # 40 trees, metadata with 300 SKUs included


def test_regression_parity_adds_the_two_tolerances_as_numpy_isclose():
    native = np.array([1000.0, 1000.0, 0.0, 0.0, 50.0])
    exported = np.array([1000.01, 1000.03, 1e-5, 3e-5, 50.0])

    result = regression_parity(native, exported, max_abs_diff=2e-5, max_rel_diff=1e-5)

    # 1000 allows 2e-5 + 1e-2; 0 allows 2e-5 only.
    assert result.outside == 2
    assert result.max_abs_diff == pytest.approx(0.03)
    assert result.max_rel_diff == pytest.approx(3e-5)  # rows predicted 0 have no relative diff
    assert regression_parity(np.array([]), np.array([]), 1e-5, 1e-5).to_dict() == {
        "rows": 0,
        "max_abs_diff": 0.0,
        "max_rel_diff": 0.0,
        "outside_tolerance": 0,
    }


def test_the_parity_gate_counts_rows_outside_and_notes_the_diffs():
    params = ExportParams(**demand_params()["export"])
    results = {"test": regression_parity(np.array([100.0]), np.array([100.5]), 1e-5, 1e-5)}

    gate = parity_gate({k: v.to_dict() for k, v in results.items()}, params)

    assert [(c.name, c.value) for c in gate.failed] == [(f"test: {TOLERANCE_RULE}", 1)]
    assert gate.notes == ["test: max |Δ prediction| 0.5, max relative 0.005 over 1 rows"]


def test_a_tolerance_below_float32_fails_the_export_and_writes_no_model(
    run_stage, run: PipelineRun, tmp_path: Path
):
    params = demand_params()
    params["export"].update(max_abs_diff=1e-12, max_rel_diff=0.0)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    models = tmp_path / "models"

    code, log = run_stage(
        export.main, run.export_argv(models / "model.onnx", tmp_path / "parity.json", params=path)
    )

    report = io.read_json(tmp_path / "parity.json")
    assert code == 1 and "ONNX parity failed, model not exported" in log
    assert report["passed"] is False and report["test"]["outside_tolerance"] > 0
    assert not models.exists()


def test_two_exports_are_byte_identical(run: PipelineRun, demand: Demand, tmp_path: Path):
    export.main(run.export_argv(tmp_path / "model.onnx", tmp_path / "parity.json"))

    assert (tmp_path / "model.onnx").read_bytes() == demand.onnx.read_bytes()


def test_a_feature_named_like_the_output_is_refused_with_its_name():
    columns = {n: ColumnSpec(kind="numeric") for n in ("prediction", "x")}
    schema = FeatureSchema("y", None, None, columns, "regression")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((40, 2)), columns=list(columns)).astype("float32")
    pipeline = build_pipeline(schema, TrainParams(**demand_params()["train"]))
    pipeline.fit(frame, rng.random(40))

    with pytest.raises(ValueError, match="a feature is named 'prediction'"):
        convert(pipeline, schema, opset=17, ml_opset=3)
