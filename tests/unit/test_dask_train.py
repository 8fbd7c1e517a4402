"""The Dask engine's core (modelgate.dask_train) on real LocalClusters: the features step it
fits from the distinct values equals the local one, the model is the local engine's kind and
as good, partition i trains on worker i mod n, and the same data on a fresh cluster of the same
shape gives the same bytes.

The data is typed as ingest types it and written as 4 Parquet parts: `channel` is a nullable
categorical with a declared category no row holds, `store` one whose every part lacks two of its
values (only their union holds them all), `region` one with more categories than
`train.max_one_hot` (ordinal-coded).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from distributed import Client
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier, XGBRegressor

from modelgate import dask_train, partitions
from modelgate.model import (
    CLASSIFIER_STEP,
    FEATURES_STEP,
    build_pipeline,
    labels,
    model_frame,
    scores,
)
from modelgate.params import IngestParams, TrainParams
from modelgate.schema import FeatureSchema
from modelgate.stages import train as train_stage

PARTS = 4
ROWS_PER_PART = 1000
HELD_OUT_ROWS = 2000
STORES = [f"s{i}" for i in range(6)]
REGIONS = [f"r{i:02d}" for i in range(40)]
CHANNELS = ["web", "app", "pos", "kiosk"]  # kiosk: declared, never in the data
TRAIN = TrainParams(
    seed=3,
    n_jobs=2,
    n_estimators=40,
    learning_rate=0.2,
    max_depth=3,
    min_child_weight=1.0,
    subsample=0.9,
    colsample_bytree=0.9,
    reg_lambda=1.0,
    reg_alpha=0.0,
    engine="dask",
)


def _schema(task: str) -> FeatureSchema:
    binary = {"positive_class": "bad", "target_classes": ["good", "bad"]}
    return FeatureSchema.from_params(
        IngestParams.model_validate(
            {
                "task": task,
                "target": "y",
                **(binary if task == "binary" else {}),
                "columns": {
                    "x": {"kind": "numeric", "nullable": True},
                    "n": {"kind": "integer", "min": 0, "max": 9},
                    "channel": {"kind": "categorical", "categories": CHANNELS, "nullable": True},
                    "store": {"kind": "categorical", "categories": STORES},
                    "region": {"kind": "categorical", "categories": REGIONS},
                },
            }
        )
    )


def _rows(rows: int, seed: int, stores: list[str], schema: FeatureSchema) -> pd.DataFrame:
    """Typed rows as ingest leaves them; the target depends on x, channel, store and region."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    channel = rng.choice(CHANNELS[:3], rows).astype(object)
    store = rng.choice(stores, rows)
    region = rng.choice(REGIONS, rows)
    z = (
        1.5 * x
        + 1.2 * (channel == "web")
        + 0.3 * np.array([STORES.index(s) for s in store])
        + np.sin([REGIONS.index(r) for r in region])
        - 1.5
    )
    x[rng.random(rows) < 0.1] = np.nan
    channel[rng.random(rows) < 0.08] = None
    target: object
    if schema.task == "binary":
        target = pd.Categorical(np.where(rng.random(rows) < 1 / (1 + np.exp(-z)), "bad", "good"))
    else:
        target = 10 * z + rng.normal(size=rows)
    return pd.DataFrame(
        {
            "y": target,
            "x": x,
            "n": rng.integers(0, 10, rows),
            "channel": pd.Categorical(channel, categories=CHANNELS),
            "store": pd.Categorical(store, categories=STORES),
            "region": pd.Categorical(region, categories=REGIONS),
        }
    )


def _part(index: int, schema: FeatureSchema) -> pd.DataFrame:
    lacking = {STORES[index], STORES[(index + 1) % len(STORES)]}
    return _rows(ROWS_PER_PART, index, [s for s in STORES if s not in lacking], schema)


def _dataset(directory: Path, schema: FeatureSchema) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """(the 4-part training directory, its rows concatenated, held-out rows)."""
    parts = [_part(i, schema) for i in range(PARTS)]
    partitions.write_parts(directory, parts)
    held_out = _rows(HELD_OUT_ROWS, 99, STORES, schema)
    return directory, pd.read_parquet(directory), held_out


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    return _dataset(tmp_path_factory.mktemp("binary") / "train.parquet", _schema("binary"))


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with dask_train.connect(dask_train.DaskSettings(workers=2), threads=2) as connected:
        yield connected


@pytest.fixture(scope="module")
def fitted(binary, client: Client) -> tuple[Pipeline, list]:
    """The pipeline `fit` returns, and every matrix it pinned (as XGBoost then trained on it)."""
    checked: list = []
    original = dask_train._pin

    def spy(matrix, workers):  # records fit's own matrix, then pins it as fit would
        checked.append(matrix)
        original(matrix, workers)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dask_train, "_pin", spy)
        frame = dask_train.read_training(str(binary[0]))
        pipeline = dask_train.fit(frame, _schema("binary"), TRAIN, client)
    return pipeline, checked


def test_the_data_holds_what_the_prototype_must_recover(binary):
    directory, train, _ = binary
    stores_per_part = [
        set(pd.read_parquet(p)["store"].dropna()) for p in partitions.parts(directory)
    ]

    assert len(stores_per_part) == PARTS
    assert all(len(found) == len(STORES) - 2 for found in stores_per_part)
    assert set().union(*stores_per_part) == set(STORES)
    assert train["channel"].isna().any() and "kiosk" not in set(train["channel"].dropna())


def test_features_fitted_from_the_prototype_equal_a_local_fit(binary):
    directory, train, _ = binary
    schema = _schema("binary")
    local = build_pipeline(schema, TRAIN).fit(model_frame(train, schema), labels(train, schema))

    prototype = dask_train._prototype(dask_train.read_training(str(directory)), schema)
    features = build_pipeline(schema, TRAIN).named_steps[FEATURES_STEP].fit(prototype)

    expected = local.named_steps[FEATURES_STEP]
    assert len(prototype) == len(REGIONS)  # as many rows as the most values, not the data
    assert list(features.get_feature_names_out()) == list(expected.get_feature_names_out())
    for name, encoder, columns in expected.transformers_:
        if hasattr(encoder, "categories_"):
            mine = features.named_transformers_[name].categories_
            assert [list(c) for c in mine] == [list(c) for c in encoder.categories_], columns
    one_hot = [list(c) for c in expected.named_transformers_["categorical"].categories_]
    assert one_hot == [["", "app", "pos", "web"], STORES]  # missing is a level; kiosk is not
    assert np.array_equal(
        features.transform(model_frame(train, schema)),
        expected.transform(model_frame(train, schema)),
        equal_nan=True,
    )


@pytest.mark.slow  # a LocalCluster of worker processes
def test_fit_returns_the_local_engines_kind_of_pipeline_and_as_good(binary, fitted):
    _, train, held_out = binary
    schema = _schema("binary")
    pipeline, _ = fitted
    local = train_stage.train(train, schema, TRAIN)

    assert isinstance(pipeline, Pipeline)
    assert list(pipeline.named_steps) == [FEATURES_STEP, CLASSIFIER_STEP]
    estimator = pipeline.named_steps[CLASSIFIER_STEP]
    assert isinstance(estimator, XGBClassifier)
    assert estimator.get_booster().num_boosted_rounds() == TRAIN.n_estimators
    probabilities = pipeline.predict_proba(model_frame(held_out, schema))
    assert probabilities.shape == (HELD_OUT_ROWS, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    truth = labels(held_out, schema)
    dask_auc = roc_auc_score(truth, scores(pipeline, model_frame(held_out, schema), schema))
    local_auc = roc_auc_score(truth, scores(local, model_frame(held_out, schema), schema))
    assert dask_auc > 0.75  # it learned: the label is far from noise
    assert abs(dask_auc - local_auc) <= 0.02, (dask_auc, local_auc)


@pytest.mark.slow  # a LocalCluster of worker processes
def test_partition_i_trains_on_the_worker_named_i_mod_n(fitted, client: Client):
    _, checked = fitted
    names = {a: int(w["name"]) for a, w in client.scheduler_info()["workers"].items()}

    [matrix] = checked
    held = {
        names[address]: sorted(matrix.partition_order[f.key] for f in futures)
        for address, futures in matrix.worker_map.items()
    }
    assert held == {0: [0, 2], 1: [1, 3]}


@pytest.mark.slow  # two LocalClusters
def test_two_fresh_clusters_of_one_shape_give_the_same_bytes(
    binary, caplog: pytest.LogCaptureFixture
):
    schema = _schema("binary")
    pickles = []
    for _ in range(2):
        with dask_train.connect(dask_train.DaskSettings(workers=2), threads=2) as fresh:
            frame = dask_train.read_training(str(binary[0]))
            pickles.append(pickle.dumps(dask_train.fit(frame, schema, TRAIN, fresh), protocol=5))

    # XGBoost's own packing tasks are not pinned: on a loaded machine the scheduler runs one
    # elsewhere now and then, and `_pin` trains it where it was placed (logged when it does).
    moved = [r.getMessage() for r in caplog.records if "packed elsewhere" in r.getMessage()]
    assert pickles[0] == pickles[1], moved


@pytest.mark.slow  # a LocalCluster of worker processes
def test_parts_held_by_the_wrong_workers_still_train_the_placed_model(
    binary, fitted, client: Client, caplog: pytest.LogCaptureFixture
):
    """Every partition deliberately read and encoded on the first worker (what a busy scheduler
    does to one now and then): XGBoost packs them there, `_pin` lists each under its own
    worker, the training tasks fetch them over, and the model is the placed one, byte for byte.
    (Which worker holds which group does not change the model; how the parts are grouped
    does: one worker training on everything is another model.)"""
    original = dask_train._place

    def crowded(train, features, schema, client, workers):
        return original(train, features, schema, client, workers[:1])

    with pytest.MonkeyPatch.context() as patch, caplog.at_level(logging.INFO):
        patch.setattr(dask_train, "_place", crowded)
        frame = dask_train.read_training(str(binary[0]))
        pipeline = dask_train.fit(frame, _schema("binary"), TRAIN, client)

    assert any("were packed elsewhere" in r.getMessage() for r in caplog.records)
    assert pickle.dumps(pipeline, protocol=5) == pickle.dumps(fitted[0], protocol=5)


@pytest.mark.slow  # a LocalCluster of worker processes
def test_a_regression_target_trains_through_fit(tmp_path: Path, client: Client):
    schema = _schema("regression")
    directory, train, held_out = _dataset(tmp_path / "train.parquet", schema)

    pipeline = dask_train.fit(dask_train.read_training(str(directory)), schema, TRAIN, client)

    estimator = pipeline.named_steps[CLASSIFIER_STEP]
    assert isinstance(estimator, XGBRegressor)
    assert estimator.get_xgb_params()["objective"] == TRAIN.objective
    predicted = scores(pipeline, model_frame(held_out, schema), schema)
    truth = labels(held_out, schema)
    error, baseline = np.abs(predicted - truth).mean(), np.abs(truth - train["y"].mean()).mean()
    assert error < 0.5 * baseline, (error, baseline)


def _matrix(held: dict[str, list[int]]) -> SimpleNamespace:
    """A stand-in for a DaskDMatrix: `_pin` reads only `worker_map` (futures, of which only
    `.key`) and `partition_order` (key -> partition index), and rewrites `worker_map`."""
    worker_map = {
        address: [SimpleNamespace(key=f"part-{i}") for i in parts]
        for address, parts in held.items()
    }
    order = {f"part-{i}": i for parts in held.values() for i in parts}
    return SimpleNamespace(worker_map=worker_map, partition_order=order)


def _held(matrix: SimpleNamespace) -> dict[str, list[str]]:
    return {address: [f.key for f in futures] for address, futures in matrix.worker_map.items()}


def test_pin_trains_a_part_packed_on_another_worker_where_it_was_placed(
    caplog: pytest.LogCaptureFixture,
):
    workers = ["tcp://a:1", "tcp://b:2"]
    placed = {"tcp://a:1": ["part-0", "part-2"], "tcp://b:2": ["part-1", "part-3"]}
    in_place = _matrix({"tcp://a:1": [0, 2], "tcp://b:2": [1, 3]})
    moved = _matrix({"tcp://a:1": [0, 3, 2], "tcp://b:2": [1]})

    with caplog.at_level(logging.INFO, logger=dask_train.__name__):
        dask_train._pin(in_place, workers)
        assert caplog.records == []
        dask_train._pin(moved, workers)

    assert _held(in_place) == placed == _held(moved)
    [record] = caplog.records
    assert "partitions [3] were packed elsewhere" in record.getMessage()


def test_dask_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELGATE_DASK_SCHEDULER", "tcp://scheduler:8786")
    monkeypatch.setenv("MODELGATE_DASK_WORKERS", "5")
    monkeypatch.setenv("MODELGATE_DASK_MEMORY_LIMIT", "3GiB")

    settings = dask_train.DaskSettings()

    assert (settings.scheduler, settings.workers, settings.memory_limit) == (
        "tcp://scheduler:8786",
        5,
        "3GiB",
    )


def test_dask_settings_default_to_a_two_worker_local_cluster(monkeypatch: pytest.MonkeyPatch):
    for name in ("SCHEDULER", "WORKERS", "MEMORY_LIMIT"):
        monkeypatch.delenv(f"MODELGATE_DASK_{name}", raising=False)

    settings = dask_train.DaskSettings()

    assert (settings.scheduler, settings.workers, settings.memory_limit) == (None, 2, "auto")


def test_zero_workers_is_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELGATE_DASK_WORKERS", "0")

    with pytest.raises(ValidationError, match=r"(?s)workers.*greater than or equal to 1"):
        dask_train.DaskSettings()
