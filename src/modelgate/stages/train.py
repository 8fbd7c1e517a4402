"""Train: fit the XGBoost pipeline on the training partition, deterministically."""

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="fitted pipeline (pickle)")
    args = parser.parse_args(argv)
    params = load_section(args.params, "train", TrainParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))

    frame = pd.read_parquet(args.train)
    pipeline = train(frame, schema, params)
    save_pipeline(args.model, pipeline)
    logger.info(
        "train: %d rows, %d features, %d trees -> %s",
        len(frame),
        len(schema.features),
        params.n_estimators,
        args.model,
    )


if __name__ == "__main__":
    entry(main)
