"""Train: fit the XGBoost pipeline on the training partition, deterministically.

`train.engine` chooses where: `local` fits in this process, `dask` on a Dask cluster through
`xgboost.dask` (modelgate.dask_train), reading the partitioned Parquet where the workers are.
Dask is imported only for that engine: the local one never pays its import.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

from modelgate import io
from modelgate.cli import entry, stage_parser
from modelgate.model import build_pipeline, labels, model_frame, save_pipeline
from modelgate.params import TrainParams, load_section
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)


def train(frame: pd.DataFrame, schema: FeatureSchema, params: TrainParams) -> Pipeline:
    pipeline = build_pipeline(schema, params)
    return pipeline.fit(model_frame(frame, schema), labels(frame, schema))


def train_on_dask(path: str, schema: FeatureSchema, params: TrainParams) -> tuple[Pipeline, int]:
    """The fitted pipeline and the number of training rows (counted on the workers)."""
    from modelgate import dask_train

    settings = dask_train.DaskSettings()
    source = dask_train.stage(path, settings.staging)
    frame = dask_train.read_training(source)  # a missing path fails before a cluster starts
    with dask_train.connect(settings, params.n_jobs) as client:
        logger.info(
            "train: dask, %d workers (%s), %d partitions",
            len(client.scheduler_info()["workers"]),
            settings.scheduler or "LocalCluster",
            frame.npartitions,
        )
        return dask_train.fit(frame, schema, params, client), int(frame.shape[0].compute())


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--train", required=True, help="Parquet file or directory (or s3://)")
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="fitted pipeline (pickle)")
    args = parser.parse_args(argv)
    params = load_section(args.params, "train", TrainParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))

    if params.engine == "dask":
        pipeline, rows = train_on_dask(args.train, schema, params)
    else:
        frame = pd.read_parquet(args.train)
        pipeline, rows = train(frame, schema, params), len(frame)
    save_pipeline(args.model, pipeline)
    logger.info(
        "train: %d rows, %d features, %d trees -> %s",
        rows,
        len(schema.features),
        params.n_estimators,
        args.model,
    )


if __name__ == "__main__":
    entry(main)
