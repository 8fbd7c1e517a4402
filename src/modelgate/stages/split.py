"""Split: train / validation / test partitions with their sizes recorded.

Seeded and random by default, stratified on the label for a binary task. With `split.by` (a
date column) the split is out of time, as credit and demand teams validate: the oldest rows
train, the next validate, the newest test, so the test measures the model on a future it
never saw. Rows on the same date never straddle two parts (the same day's demand on both
sides would leak).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from modelgate import io
from modelgate.cli import StageError, entry, stage_parser
from modelgate.params import SplitParams, Task, load_section
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)

PARTS = ("train", "validation", "test")


def split_frame(
    frame: pd.DataFrame, target: str, params: SplitParams, task: Task = "binary"
) -> dict[str, pd.DataFrame]:
    """Sizes are fractions of all rows; `target` names the label column."""
    if params.by is not None:
        parts = split_by_time(frame, params.by, params)
    elif task == "regression":
        rest, test = train_test_split(frame, test_size=params.test_size, random_state=params.seed)
        val_share = params.validation_size / (1 - params.test_size)
        train, validation = train_test_split(rest, test_size=val_share, random_state=params.seed)
        parts = dict(zip(PARTS, (train, validation, test), strict=True))
    else:
        return _stratified(frame, target, params)
    parts = {name: part.reset_index(drop=True) for name, part in parts.items()}
    if task == "binary":
        _require_every_class(parts, target, set(frame[target].dropna().unique()))
    return parts


def split_by_time(frame: pd.DataFrame, column: str, params: SplitParams) -> dict[str, pd.DataFrame]:
    if column not in frame:
        raise StageError(f"split.by: no column {column!r} in the data")
    dates = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        raise StageError(f"split.by: column {column!r} must be declared `kind: date`")
    if dates.isna().any():
        raise StageError(
            f"split.by: column {column!r} has {int(dates.isna().sum())} missing date(s); "
            "an out-of-time split needs every row dated"
        )
    ordered = frame.iloc[np.argsort(dates.to_numpy(), kind="stable")]
    days = ordered[column].to_numpy()
    # Cut at the first row of a new date at or after each target position.
    cuts = []
    for share in (1 - params.test_size - params.validation_size, 1 - params.test_size):
        position = round(share * len(ordered))
        cuts.append(int(np.searchsorted(days, days[min(position, len(days) - 1)], side="left")))
    bounds = [0, *cuts, len(ordered)]
    parts = {
        name: ordered.iloc[start:stop]
        for name, start, stop in zip(PARTS, bounds, bounds[1:], strict=False)
    }
    for name, part in parts.items():
        if part.empty:
            raise StageError(
                f"split.by: the {name} part is empty: too few distinct dates in {column!r} "
                "for split.test_size / split.validation_size"
            )
    return parts


def _stratified(frame: pd.DataFrame, target: str, params: SplitParams) -> dict[str, pd.DataFrame]:
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
        if schema.task == "regression":
            summary[name] = {"rows": len(part), "target_mean": float(part[schema.target].mean())}
            continue
        positives = int((part[schema.target] == schema.positive_class).sum())
        summary[name] = {
            "rows": len(part),
            "positives": positives,
            "positive_rate": positives / len(part),
        }
    return summary


def _describe_line(name: str, s: dict) -> str:
    if "positive_rate" in s:
        return f"{name} {s['rows']} rows ({s['positive_rate']:.1%})"
    return f"{name} {s['rows']} rows (mean target {s['target_mean']:.4g})"


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--summary", type=Path, required=True, help="sizes and balance JSON")
    args = parser.parse_args(argv)
    params = load_section(args.params, "split", SplitParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))

    parts = split_frame(pd.read_parquet(args.input), schema.target, params, schema.task)
    for name, part in parts.items():
        io.write_parquet(args.output_dir / f"{name}.parquet", part)
    summary = describe(parts, schema)
    io.write_json(args.summary, summary)
    logger.info("split: %s", ", ".join(_describe_line(n, s) for n, s in summary.items()))


if __name__ == "__main__":
    entry(main)
