"""Split: seeded, stratified train / validation / test partitions with their sizes recorded."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from modelgate import io
from modelgate.cli import StageError, entry, stage_parser
from modelgate.params import SplitParams, load_section
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)

PARTS = ("train", "validation", "test")


def split_frame(frame: pd.DataFrame, target: str, params: SplitParams) -> dict[str, pd.DataFrame]:
    """Stratify on `target`; sizes are fractions of all rows."""
    labels = frame[target]
    if labels.value_counts().min() < 3:
        raise StageError(f"column {target!r}: each class needs at least 3 rows to stratify")
    try:
        rest, test = train_test_split(
            frame, test_size=params.test_size, stratify=labels, random_state=params.seed
        )
        val_share = params.validation_size / (1 - params.test_size)
        train, validation = train_test_split(
            rest, test_size=val_share, stratify=rest[target], random_state=params.seed
        )
    except ValueError as exc:  # scikit-learn: a class too small for these sizes
        raise StageError(f"column {target!r}: cannot stratify at these sizes: {exc}") from exc
    parts = {
        name: part.reset_index(drop=True)
        for name, part in zip(PARTS, (train, validation, test), strict=True)
    }
    _require_every_class(parts, target, set(labels.dropna().unique()))
    return parts


def _require_every_class(parts: dict[str, pd.DataFrame], target: str, classes: set) -> None:
    # Three rows per class do not guarantee it: a rare class can round to zero rows in a part,
    # and training or AUC on such a part fails (or misleads) later.
    for name, part in parts.items():
        missing = sorted(str(c) for c in classes - set(part[target].dropna().unique()))
        if missing:
            raise StageError(
                f"column {target!r}: the {name} part has 0 rows of class(es) {missing}; "
                "add rows of those classes or change split.test_size / split.validation_size"
            )


def describe(parts: dict[str, pd.DataFrame], schema: FeatureSchema) -> dict[str, dict]:
    summary = {}
    for name, part in parts.items():
        positives = int((part[schema.target] == schema.positive_class).sum())
        summary[name] = {
            "rows": len(part),
            "positives": positives,
            "positive_rate": positives / len(part),
        }
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--summary", type=Path, required=True, help="sizes and balance JSON")
    args = parser.parse_args(argv)
    params = load_section(args.params, "split", SplitParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))

    parts = split_frame(pd.read_parquet(args.input), schema.target, params)
    for name, part in parts.items():
        io.write_parquet(args.output_dir / f"{name}.parquet", part)
    summary = describe(parts, schema)
    io.write_json(args.summary, summary)
    logger.info(
        "split: %s",
        ", ".join(f"{n} {s['rows']} rows ({s['positive_rate']:.1%})" for n, s in summary.items()),
    )


if __name__ == "__main__":
    entry(main)
