"""Split: train / validation / test partitions with their sizes recorded.

Seeded and random by default, stratified on the label for a binary task. With `split.by` (a
date column) the split is out of time, as credit and demand teams validate: the oldest rows
train, the next validate, the newest test, so the test measures the model on a future it
never saw. Rows on the same date never straddle two parts (the same day's demand on both
sides would leak).

A partitioned input (a directory of Parquet parts, issue 13) is split part by part and each
output is a partitioned dataset with one part per input part; `modelgate.splitting` says how,
and why that split is not stratified.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from modelgate import io, partitions
from modelgate.cli import StageError, entry, stage_parser
from modelgate.params import SplitParams, Task, load_section
from modelgate.schema import FeatureSchema
from modelgate.splitting import (
    PARTS,
    Cuts,
    check_dates,
    pieces,
    require_every_class,
    split_parts,
    time_cuts,
    time_labels,
)
from modelgate.tally import Tally, classes_of

logger = logging.getLogger(__name__)


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
        _require_every_class(parts, target, classes_of(frame[target]))
    return parts


def split_by_time(frame: pd.DataFrame, column: str, params: SplitParams) -> dict[str, pd.DataFrame]:
    if column not in frame:
        raise StageError(f"split.by: no column {column!r} in the data")
    check_dates(frame[column], column)
    ordered = frame.iloc[np.argsort(frame[column].to_numpy(), kind="stable")]
    cuts = time_cuts(ordered[column].value_counts(sort=False).sort_index(), column, params)
    return pieces(ordered, time_labels(ordered[column], cuts))


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
    _require_every_class(parts, target, classes_of(labels))
    return parts


def _require_every_class(parts: dict[str, pd.DataFrame], target: str, classes: set[str]) -> None:
    seen = {name: classes_of(part[target]) for name, part in parts.items()}
    require_every_class(seen, target, classes)


def describe(parts: dict[str, pd.DataFrame], schema: FeatureSchema) -> dict[str, dict]:
    return {name: Tally(schema).add(part).summary() for name, part in parts.items()}


def _describe_line(name: str, s: dict) -> str:
    if "positive_rate" in s:
        return f"{name} {s['rows']} rows ({s['positive_rate']:.1%})"
    return f"{name} {s['rows']} rows (mean target {s['target_mean']:.4g})"


def _read_cuts(paths: list[Path], params: SplitParams) -> Cuts | None:
    """The cut dates of an out-of-time split, from the date column alone, part by part."""
    column = params.by
    if column is None:
        return None
    counts: list[pd.Series] = []
    for path in paths:
        try:
            dates = pd.read_parquet(path, columns=[column])[column]
        except (KeyError, ValueError) as exc:  # pyarrow: no such field
            raise StageError(f"split.by: no column {column!r} in {path}") from exc
        check_dates(dates, column, f" in {path.name}")
        counts.append(dates.value_counts(sort=False))
    return time_cuts(pd.concat(counts).groupby(level=0).sum().sort_index(), column, params)


def _split_parts(
    source: Path, output_dir: Path, params: SplitParams, schema: FeatureSchema
) -> dict[str, Tally]:
    """Write the three partitioned outputs; each replaces its old self only if all succeed."""
    try:
        paths = partitions.parts(source)
    except partitions.PartitionError as exc:
        raise StageError(str(exc)) from exc
    cuts = _read_cuts(paths, params)  # before any output exists: a bad date writes nothing
    frames: Iterator[pd.DataFrame] = (pd.read_parquet(p) for p in paths)
    tallies = {name: Tally(schema) for name in PARTS}
    everything = Tally(schema)
    with ExitStack() as stack:
        dirs = {
            n: stack.enter_context(partitions.atomic_dir(output_dir / f"{n}.parquet"))
            for n in PARTS
        }
        for index, split in enumerate(split_parts(frames, params, cuts)):
            for name, piece in split.items():
                partitions.write_part(dirs[name], index, piece)
                tallies[name].add(piece)
                everything.add(piece)
        _check_outputs(tallies, everything, schema)
    return tallies


def _check_outputs(tallies: dict[str, Tally], everything: Tally, schema: FeatureSchema) -> None:
    for name, tally in tallies.items():
        if not tally.rows:
            raise StageError(f"the {name} part is empty: too few rows for these split sizes")
    if schema.task == "binary":
        seen = {name: tally.classes for name, tally in tallies.items()}
        require_every_class(seen, schema.target, everything.classes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument(
        "--input", type=Path, required=True, help="Parquet, or a directory of parts"
    )
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--summary", type=Path, required=True, help="sizes and balance JSON")
    args = parser.parse_args(argv)
    params = load_section(args.params, "split", SplitParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))

    if partitions.is_partitioned(args.input):
        tallies = _split_parts(args.input, args.output_dir, params, schema)
        summary = {name: tally.summary() for name, tally in tallies.items()}
    else:
        parts = split_frame(pd.read_parquet(args.input), schema.target, params, schema.task)
        for name, part in parts.items():
            io.write_parquet(args.output_dir / f"{name}.parquet", part)
        summary = describe(parts, schema)
    io.write_json(args.summary, summary)
    logger.info("split: %s", ", ".join(_describe_line(n, s) for n, s in summary.items()))


if __name__ == "__main__":
    entry(main)
