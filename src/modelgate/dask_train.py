"""Train on a Dask cluster through XGBoost's own Dask interface (`train.engine: dask`).

The result is the same scikit-learn Pipeline the local engine fits (`modelgate.model`), so the
ONNX export, the parity gate and serving never know which engine trained it:

- The features step is fitted first, on a few rows that hold every category the training data
  holds: one small Dask aggregation (the distinct values of each categorical, per partition),
  never the data itself. Its learned state is then exactly what fitting on all rows learns
  (OneHotEncoder keeps the sorted distinct values), and each partition is encoded where it
  lies.
- The booster is trained by `xgboost.dask.train` on a DaskQuantileDMatrix, with the hyper-
  parameters the local estimator would pass to XGBoost (`get_xgb_params`, one owner), then
  loaded into that estimator.

No process but the workers ever holds training rows: the client reads the distinct values,
the workers read, encode and train on their own partitions.

Where the cluster is, is a runtime setting, not a model parameter (`DaskSettings`:
MODELGATE_DASK_SCHEDULER names a running scheduler; unset, a LocalCluster of
MODELGATE_DASK_WORKERS worker processes starts and stops with the stage). Parquet on S3 is
read through fsspec with the standard AWS variables (AWS_ENDPOINT_URL for a non-AWS store);
MODELGATE_DASK_STAGING=s3://... copies the workspace's split there first, for a remote
cluster whose workers cannot see this machine's disk.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import fsspec
import numpy as np
import pandas as pd
from distributed import Client, Future, LocalCluster
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from xgboost import Booster, XGBModel
from xgboost import dask as dxgb

from modelgate import partitions
from modelgate.cli import StageError
from modelgate.model import (
    CLASSIFIER_STEP,
    FEATURES_STEP,
    build_pipeline,
    categorical_values,
    labels,
    model_frame,
)
from modelgate.params import TrainParams
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)

COMPLETE = "_COMPLETE"  # written last into a staged copy: it is whole


class DaskSettings(BaseSettings):
    """Where training runs: deploy settings, never in params.yaml (they do not make the model,
    only the cluster shape does, and that is logged)."""

    model_config = SettingsConfigDict(env_prefix="MODELGATE_DASK_", frozen=True)

    scheduler: str | None = None  # tcp://host:8786 of a running cluster
    workers: int = Field(default=2, ge=1)  # a LocalCluster's worker processes
    memory_limit: str = "auto"  # per LocalCluster worker; "auto" shares the machine's memory
    # s3://bucket/prefix a remote cluster's workers can read: the workspace's training split
    # (a path dvc.yaml owns, on this machine only) is copied there first (`stage`).
    staging: str | None = None


def stage(path: str, staging: str | None) -> str:
    """Where the workers read `path`: itself, or its copy under `staging`.

    The copy lives at `<staging>/<digest of the parts>/`, so it is uploaded once per content
    and never half-read: the parts go first, then a `_COMPLETE` marker (Parquet readers skip
    `_` files), and a copy without the marker is uploaded again. Files stream to the store;
    no row is parsed.
    """
    if staging is None or "://" in path:
        return path
    local = Path(path)
    target = f"{staging.rstrip('/')}/{partitions.digest(local)}"
    fs, root = fsspec.core.url_to_fs(target)
    if fs.exists(f"{root}/{COMPLETE}"):
        logger.info("train: %s already staged at %s", path, target)
        return target
    for part in partitions.parts(local):
        fs.put_file(str(part), f"{root}/{part.name}")
    fs.pipe_file(f"{root}/{COMPLETE}", b"")
    logger.info("train: staged %s at %s", path, target)
    return target


@contextmanager
def connect(settings: DaskSettings, threads: int) -> Iterator[Client]:
    """A client of the configured scheduler, else of a LocalCluster sharing `threads`."""
    if settings.scheduler:
        with Client(settings.scheduler) as client:
            yield client
        return
    per_worker = max(1, threads // settings.workers)
    with (
        LocalCluster(
            n_workers=settings.workers,
            threads_per_worker=per_worker,
            processes=True,
            memory_limit=settings.memory_limit,
            dashboard_address=None,
            # Arrow's own allocator keeps what a Parquet read freed: a worker would hold a
            # partition's worth of dead buffers per read. The system allocator returns them.
            env={"ARROW_DEFAULT_MEMORY_POOL": "system"},
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(settings.workers)
        yield client


def read_training(path: str) -> dd.DataFrame:
    """A Parquet file or partitioned directory, local or s3://, as a lazy frame (its schema
    is read now, so a missing path fails here, by name)."""
    try:
        return dd.read_parquet(path)
    except FileNotFoundError as exc:  # s3fs raises it for a missing bucket or prefix too
        raise StageError(f"train: no Parquet data at {path} ({exc})") from exc


def fit(
    train: dd.DataFrame, schema: FeatureSchema, params: TrainParams, client: Client
) -> Pipeline:
    """Fit `build_pipeline(schema, params)` on `train`, each partition on its own worker."""
    workers = _workers(client)
    if train.npartitions < len(workers):  # every worker trains on rows of its own
        train = train.repartition(npartitions=len(workers))
    pipeline = build_pipeline(schema, params)
    features: ColumnTransformer = pipeline.named_steps[FEATURES_STEP]
    features.fit(_prototype(train, schema))
    encoded, target = _place(train, features, schema, client, workers)
    estimator: XGBModel = pipeline.named_steps[CLASSIFIER_STEP]
    matrix = dxgb.DaskQuantileDMatrix(client, encoded, target)
    _pin(matrix, workers)
    booster = dxgb.train(
        client,
        _booster_params(estimator),
        matrix,
        num_boost_round=params.n_estimators,
    )["booster"]
    _load_booster(estimator, booster)
    return pipeline


def _workers(client: Client) -> list[str]:
    """Worker addresses in the order of their names: LocalCluster names them 0, 1, ..., an
    operator's `dask worker --name`; addresses (random ports) would reorder between runs."""
    info = client.scheduler_info()["workers"]
    return sorted(info, key=lambda address: str(info[address].get("name", address)))


def _place(
    train: dd.DataFrame,
    features: ColumnTransformer,
    schema: FeatureSchema,
    client: Client,
    workers: list[str],
) -> tuple[dd.DataFrame, dd.Series]:
    """The encoded features and labels, partition i on worker i mod n (read there, encoded
    there). XGBoost trains each worker on the partitions it holds, so a placement left to the
    scheduler's load balancing would change the model between runs; this one does not.

    `from_graph`, not `from_delayed`: the latter's tasks hold the futures as data, not as
    dependencies, so the scheduler places them by load and moves the partitions."""
    encoded, target = [], []
    for index, part in enumerate(train.to_delayed()):
        where = [workers[index % len(workers)]]
        # One task reads, encodes and labels a partition: its raw rows die with the task,
        # so a worker holds one raw partition at a time, not all of its own.
        pair = client.compute(
            dask.delayed(_encode_and_label)(part, features, schema),
            workers=where,
            allow_other_workers=False,
        )
        encoded.append(client.submit(operator.itemgetter(0), pair, workers=where))
        target.append(client.submit(operator.itemgetter(1), pair, workers=where))
    width = len(features.get_feature_names_out())
    meta = pd.DataFrame(columns=_columns(width), dtype=np.float32)
    label_meta = pd.Series(dtype=_label_dtype(schema))
    return _collection(encoded, meta, "encoded"), _collection(target, label_meta, "labels")


def _collection(futures: list[Future], meta: pd.DataFrame | pd.Series, name: str) -> Any:
    layer = {future.key: future for future in futures}
    divisions = (None,) * (len(futures) + 1)
    return dd.from_graph(layer, meta, divisions, list(layer), name)


def _pin(matrix: dxgb.DaskDMatrix, workers: list[str]) -> None:
    """Train partition i on worker i mod n, wherever XGBoost packed it.

    XGBoost's DaskDMatrix packs each partition's features and labels in a task of its own,
    which the scheduler may run on another worker when the first is busy (about 1 fit in 20 on
    a loaded 2-core machine); the matrix then records that worker in `worker_map`, and each
    worker trains on the parts listed for it. Listing every part under its own worker instead
    makes the training task fetch a moved part back, so the model does not depend on load.
    """
    held: dict[int, Future] = {}
    moved: list[int] = []
    for address, futures in matrix.worker_map.items():
        for future in futures:
            index = matrix.partition_order[future.key]
            held[index] = future
            if workers[index % len(workers)] != address:
                moved.append(index)
    pinned: dict[str, list[Future]] = {address: [] for address in workers}
    for index in sorted(held):
        pinned[workers[index % len(workers)]].append(held[index])
    if moved:
        logger.info(
            "train: partitions %s were packed elsewhere: trained where placed", sorted(moved)
        )
    matrix.worker_map = {address: futures for address, futures in pinned.items() if futures}


def _prototype(train: dd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Model-frame rows holding every categorical value of `train` (and none it lacks)."""
    columns = schema.categorical
    # Only the categorical columns are read (Parquet is columnar), and none without any.
    parts = train[columns].to_delayed() if columns else []
    per_part = dask.compute(*[dask.delayed(_distinct)(p, columns) for p in parts])
    values = [sorted(set().union(*(found[c] for found in per_part))) for c in columns]
    rows = max((len(v) for v in values), default=1)
    frame = pd.DataFrame({name: np.zeros(rows, dtype=np.float32) for name in schema.numeric})
    for name, seen in zip(columns, values, strict=True):
        frame[name] = pd.Series([seen[i % len(seen)] for i in range(rows)], dtype=object)
    return frame[schema.features]


def _distinct(part: pd.DataFrame, columns: list[str]) -> dict[str, set[str]]:
    """The values each categorical takes in `part` as the model sees them (missing included)."""
    return {c: set(categorical_values(part[c]).unique()) for c in columns}


def _encode_and_label(
    part: pd.DataFrame, features: ColumnTransformer, schema: FeatureSchema
) -> tuple[pd.DataFrame, pd.Series]:
    encoded = features.transform(model_frame(part, schema))
    frame = pd.DataFrame(encoded, index=part.index, columns=_columns(encoded.shape[1]))
    return frame, pd.Series(labels(part, schema), index=part.index)


def _columns(width: int) -> list[str]:
    return [f"f{i}" for i in range(width)]


def _label_dtype(schema: FeatureSchema) -> type:
    return np.float64 if schema.task == "regression" else np.int64


def _booster_params(estimator: XGBModel) -> dict[str, Any]:
    """What `estimator.fit` would hand XGBoost, minus the thread count: each worker uses its
    own threads (XGBoost's Dask interface sets them per worker)."""
    params = estimator.get_xgb_params()
    params.pop("n_jobs", None)
    return params


def _load_booster(estimator: XGBModel, booster: Booster) -> None:
    # Feature names as the local engine leaves them (none: the encoder hands XGBoost an array),
    # so the pickled model and its ONNX export do not depend on the engine.
    booster.feature_names = None
    booster.feature_types = None
    estimator.load_model(bytearray(booster.save_raw("ubj")))
