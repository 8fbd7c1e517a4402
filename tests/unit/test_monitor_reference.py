"""The reference: what it keeps per feature, its seeded sample, a file that reads back to the
same bytes, and the errors that name the file and field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelgate.monitor.reference import BadReferenceError, Reference
from modelgate.params import IngestParams
from modelgate.schema import FeatureSchema, enforce_contract
from tests.conftest import TINY_PARAMS, make_tiny_frame

INGEST = IngestParams.model_validate(TINY_PARAMS["ingest"])
SCHEMA = FeatureSchema.from_params(INGEST)


def typed(rows: int, seed: int = 0) -> pd.DataFrame:
    """Contract-typed rows of the tiny data set (amount and channel sometimes missing)."""
    return enforce_contract(make_tiny_frame(rows, seed), INGEST, "tiny")


def build(frame: pd.DataFrame, sample: int = 5000, seed: int = 0) -> Reference:
    scores = np.linspace(0.01, 0.99, 50)
    return Reference.build(frame, SCHEMA, scores, np.arange(50) % 2, "abc123", sample, seed)


def test_it_keeps_sorted_non_missing_values_and_counts_per_category() -> None:
    frame = typed(400)
    ref = build(frame)
    amount = ref.numeric["amount"]
    assert amount.kind == "numeric" and amount.nullable and amount.rows == 400
    assert amount.missing == int(frame["amount"].isna().sum()) > 0
    assert len(amount.values) == 400 - amount.missing
    assert (np.diff(amount.values) >= 0).all()
    assert np.array_equal(amount.values, np.sort(frame["amount"].dropna().to_numpy(np.float32)))
    channel = ref.categorical["channel"]
    assert list(channel.counts) == ["web", "app", "pos"]
    assert channel.counts == frame["channel"].value_counts().to_dict()
    assert channel.missing == int(frame["channel"].isna().sum()) > 0
    assert ref.features == ("amount", "hour", "channel") and ref.rows == 400
    assert ref.model_version == "abc123" and len(ref.scores) == len(ref.labels) == 50


def test_a_declared_category_training_never_saw_is_kept_with_a_zero_count() -> None:
    frame = typed(300)
    frame["channel"] = frame["channel"].where(frame["channel"] != "pos", "web")
    assert build(frame).categorical["channel"].counts["pos"] == 0


def test_the_sample_is_seeded_and_at_most_sample_rows() -> None:
    frame = typed(1000)
    a, b, c = build(frame, 200, 1), build(frame, 200, 1), build(frame, 200, 2)
    assert len(a.numeric["hour"].values) == 200
    assert np.array_equal(a.numeric["amount"].values, b.numeric["amount"].values)
    assert not np.array_equal(a.numeric["hour"].values, c.numeric["hour"].values)
    assert a.numeric["amount"].missing == int(frame["amount"].isna().sum())  # from every row


def test_arrays_are_read_only() -> None:
    ref = build(typed(100))
    with pytest.raises(ValueError, match="read-only"):
        ref.scores[0] = 1.0


def test_save_writes_the_same_bytes_and_load_reads_back_the_same_reference(tmp_path: Path) -> None:
    frame = typed(500)
    build(frame).save(tmp_path / "a.json")
    build(frame).save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    loaded = Reference.load(tmp_path / "a.json")
    loaded.save(tmp_path / "c.json")
    assert (tmp_path / "c.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    original = build(frame)
    assert np.array_equal(loaded.numeric["amount"].values, original.numeric["amount"].values)
    assert np.array_equal(loaded.scores, original.scores)
    assert loaded.categorical["channel"].counts == original.categorical["channel"].counts


def test_a_float32_needing_nine_digits_survives_the_file_exactly(tmp_path: Path) -> None:
    """Six significant digits (modelgate.io.dumps) would move 1234.5679 to 1234.57."""
    frame = typed(50)
    frame["amount"] = 1234.5679
    build(frame).save(tmp_path / "r.json")
    assert Reference.load(tmp_path / "r.json").numeric["amount"].values[0] == np.float32(1234.5679)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        (np.full(3, 0.5), np.array([0, 1]), "scores for"),
        (np.full(2, 0.5), np.array([0, 2]), "labels must be 0 or 1"),
        (np.array([0.5, np.nan]), np.array([0, 1]), "scores finite"),
        (np.array([]), np.array([]), "scores for"),
    ],
)
def test_build_refuses_scores_and_labels_that_do_not_pair_up(
    scores: np.ndarray, labels: np.ndarray, message: str
) -> None:
    with pytest.raises(BadReferenceError, match=message):
        Reference.build(typed(20), SCHEMA, scores, labels, "v", 100, 0)


def test_build_refuses_an_empty_frame() -> None:
    with pytest.raises(BadReferenceError, match="at least one row"):
        build(typed(20).iloc[:0])


def _broken(tmp_path: Path, edit: object) -> Path:
    path = tmp_path / "reference.json"
    build(typed(100)).save(path)
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["numeric"]["amount"].update(values=["12"]), "numeric.amount.values.0"),
        (lambda d: d["numeric"]["amount"].pop("missing"), "numeric.amount.missing"),
        (lambda d: d["numeric"]["hour"].update(values=[3.0, 1.0]), "numeric.hour"),
        (lambda d: d["categorical"]["channel"]["counts"].update(web=-1), "categorical.channel"),
        (lambda d: d.update(labels=[0, 1]), "(file)"),
        (lambda d: d.update(labels=[2] * 50), "labels.0"),
        (lambda d: d.update(format=2), "format"),
        (lambda d: d.update(features=["amount", "hour"]), "(file)"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_load_names_the_file_and_the_field_it_cannot_accept(
    tmp_path: Path, edit: object, field: str
) -> None:
    path = _broken(tmp_path, edit)
    with pytest.raises(BadReferenceError) as caught:
        Reference.load(path)
    assert str(path) in str(caught.value) and f"field `{field}" in str(caught.value)


def test_load_names_a_file_that_is_absent_or_not_json(tmp_path: Path) -> None:
    with pytest.raises(BadReferenceError, match=r"cannot read reference file .*absent\.json"):
        Reference.load(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(BadReferenceError, match=r"bad\.json"):
        Reference.load(tmp_path / "bad.json")


# --- a regressor's reference (issue 12) ---------------------------------------------------------


def _demand_reference() -> tuple[Reference, FeatureSchema]:
    from tests.unit._demand import demand_params, make_demand_frame

    ingest = IngestParams.model_validate(demand_params()["ingest"])
    schema = FeatureSchema.from_params(ingest)
    frame = enforce_contract(make_demand_frame(600), ingest, "demand")
    rng = np.random.default_rng(0)
    actuals = rng.gamma(4.0, 40.0, 80).round(3)
    predictions = actuals + rng.normal(0, 5, 80)
    return Reference.build(frame, schema, predictions, actuals, "d1", 5000, 0), schema


def test_a_regressors_reference_keeps_features_only_predictions_and_actuals(
    tmp_path: Path,
) -> None:
    ref, schema = _demand_reference()
    assert ref.task == "regression" and ref.features == tuple(schema.features)
    assert "region" not in ref.features and "date" not in ref.features  # protected, a date
    assert "date_day_of_week" in ref.numeric  # the date's calendar parts are the inputs
    assert ref.labels.dtype == np.float64 and ref.labels.max() > 1  # actuals, not 0/1
    path = tmp_path / "reference.json"
    ref.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["task"] == "regression" and "labels" not in data and len(data["actuals"]) == 80
    back = Reference.load(path)
    assert back.task == "regression" and np.array_equal(back.labels, ref.labels)
    back.save(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_a_binary_reference_names_no_task_so_its_bytes_stay_as_they_were() -> None:
    assert "task" not in build(typed(100)).to_dict()


def test_a_regressors_reference_refuses_non_finite_actuals_and_a_file_mixing_kinds(
    tmp_path: Path,
) -> None:
    ref, schema = _demand_reference()
    with pytest.raises(BadReferenceError, match="must be finite"):
        Reference.build(
            pd.DataFrame({"x": [1]}), schema, np.ones(2), np.array([1.0, np.inf]), "d", 100, 0
        )
    data = ref.to_dict()
    data["labels"] = [0] * 80
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BadReferenceError, match="a regression reference has actuals, not labels"):
        Reference.load(path)
