"""Reference: what the production monitor compares against, shipped with the model it judges.

Built from the rows the model learned from (train + validation) and from the exported ONNX
model's scores on the validation rows (unseen by the fit, so their distribution and calibration
are what production should look like). A DVC output of the same `dvc.lock` as the model, so
the monitor of a deployed revision uses exactly that revision's reference.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort
import pandas as pd

from modelgate import io, metadata
from modelgate.cli import entry, stage_parser
from modelgate.model import labels, model_frame
from modelgate.monitor.reference import Reference
from modelgate.onnx_export import onnx_scores
from modelgate.params import MonitorParams, load_section
from modelgate.partitions import read_bounded
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)


def build(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    schema: FeatureSchema,
    model: bytes,
    params: MonitorParams,
) -> Reference:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    scores = onnx_scores(session, model_frame(validation, schema), schema)
    return Reference.build(
        pd.concat([train, validation], ignore_index=True),
        schema,
        scores,
        labels(validation, schema),
        model_version=metadata.read(session)[metadata.MODEL_VERSION],
        sample=params.reference_sample,
        seed=params.seed,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    for name in ("train", "validation", "schema", "model", "out"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "monitor", MonitorParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    # The reference keeps a seeded sample anyway: a partitioned split is read as one.
    train = read_bounded(args.train, params.reference_sample, params.seed)
    validation = read_bounded(args.validation, params.reference_sample, params.seed)
    reference = build(train, validation, schema, args.model.read_bytes(), params)
    reference.save(args.out)
    logger.info(
        "reference: %d training rows, %d validation scores, model %s -> %s",
        len(train) + len(validation),
        len(validation),
        reference.model_version,
        args.out,
    )


if __name__ == "__main__":
    entry(main)
