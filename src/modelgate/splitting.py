"""The split's rules, shared by the whole-frame split and the part-by-part one (issue 13).

A partitioned dataset is split one part at a time: each row goes to train, validation or test
by a random draw from a generator seeded with `(split.seed, part index)`, so a part's split
is deterministic and independent of every other part, and the outputs have one part per
input part. Such a split is not stratified: at the sizes that call for parts (100k rows and
more) a random split's class share is already close to exact. With 20% of 100k rows in the
test part and 15% positives, the test share of positives has a binomial SD of
sqrt(0.15 * 0.85 / 20,000) = 0.25 points, so a gap of one point is a 4-SD event.

An out-of-time split (`split.by`) cuts at dates computed from the dates alone (rows per
date, over all parts), by the same rule for a frame and for parts: the oldest rows train, the
next validate, the newest test, and rows of one date never straddle two outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from modelgate.cli import StageError
from modelgate.params import SplitParams

PARTS = ("train", "validation", "test")
Cuts = tuple[pd.Timestamp, pd.Timestamp]


def check_dates(dates: pd.Series, column: str, where: str = "") -> None:
    """An out-of-time split needs a declared date column with every row dated."""
    if not pd.api.types.is_datetime64_any_dtype(dates):
        raise StageError(f"split.by: column {column!r} must be declared `kind: date`")
    if dates.isna().any():
        raise StageError(
            f"split.by: column {column!r} has {int(dates.isna().sum())} missing date(s){where}; "
            "an out-of-time split needs every row dated"
        )


def time_cuts(counts: pd.Series, column: str, params: SplitParams) -> Cuts:
    """The first validation and the first test date, from rows per date (sorted by date).

    Each cut is the date of the row at the target position of the date-ordered rows, so the
    rows of that date all go to the later part.
    """
    ends = counts.to_numpy().cumsum()
    total = int(ends[-1])
    cuts = []
    for share in (1 - params.test_size - params.validation_size, 1 - params.test_size):
        position = min(round(share * total), total - 1)
        cuts.append(counts.index[int(np.searchsorted(ends, position, side="right"))])
    before = [int(counts[counts.index < cut].sum()) for cut in cuts]
    for name, size in zip(PARTS, np.diff([0, *before, total]), strict=True):
        if size == 0:
            raise StageError(
                f"split.by: the {name} part is empty: too few distinct dates in {column!r} "
                "for split.test_size / split.validation_size"
            )
    return cuts[0], cuts[1]


def time_labels(dates: pd.Series, cuts: Cuts) -> np.ndarray:
    """0, 1 or 2 (train, validation, test) per row: before the first cut, before the second,
    or at or after it."""
    return (dates >= cuts[0]).to_numpy(int) + (dates >= cuts[1]).to_numpy(int)


def random_labels(rows: int, index: int, params: SplitParams) -> np.ndarray:
    """0, 1 or 2 (train, validation, test) per row of part `index`, drawn by the fractions."""
    draws = np.random.default_rng([params.seed, index]).random(rows)
    train_share = 1 - params.test_size - params.validation_size
    return np.searchsorted([train_share, 1 - params.test_size], draws, side="right")


def pieces(frame: pd.DataFrame, labels: np.ndarray) -> dict[str, pd.DataFrame]:
    return {name: frame[labels == i].reset_index(drop=True) for i, name in enumerate(PARTS)}


def split_parts(
    frames: Iterable[pd.DataFrame], params: SplitParams, cuts: Cuts | None
) -> Iterator[dict[str, pd.DataFrame]]:
    """Each input part's three pieces, in part order: by date with `cuts`, else at random."""
    for index, frame in enumerate(frames):
        if cuts is None:
            labels = random_labels(len(frame), index, params)
        else:
            labels = time_labels(frame[params.by], cuts)
        yield pieces(frame, labels)


def require_every_class(seen: dict[str, set[str]], target: str, classes: set[str]) -> None:
    """`seen`: the classes each output holds; `classes`: those of the whole dataset."""
    # Three rows per class do not guarantee it: a rare class can round to zero rows in a part,
    # and training or AUC on such a part fails (or misleads) later.
    for name, found in seen.items():
        missing = sorted(classes - found)
        if missing:
            raise StageError(
                f"column {target!r}: the {name} part has 0 rows of class(es) {missing}; "
                "add rows of those classes or change split.test_size / split.validation_size"
            )
