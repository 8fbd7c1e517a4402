"""Partitioned datasets: a directory of `part-NNNNN.parquet` files read in name order.

At scale (issue 13) a dataset path such as `data/processed/dataset.parquet` is a directory of
parts instead of one file; `pd.read_parquet` and `dask.dataframe.read_parquet` read either. A
stage that streams reads and writes one part at a time, so memory is bounded by a part, not by
the data set. Light on purpose (pandas and pyarrow, no dask): ingest, split and the gates
import it, and only training needs a cluster.

A directory is written whole or not at all: parts go into a temporary directory beside the
target, which replaces the target only once every part is written, as `modelgate.io` does
for a single file.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from modelgate import io

Kind = Literal["parquet", "csv"]
# Raw CSV parts come from elsewhere (an export, a generator), so any `*.csv` name counts; the
# parts this package writes are always `part-NNNNN.parquet`.
PATTERNS: dict[Kind, str] = {"parquet": "part-*.parquet", "csv": "*.csv"}


class PartitionError(ValueError):
    """A dataset path that is neither a file nor a directory holding parts."""


def part_name(index: int, kind: Kind = "parquet") -> str:
    """The name of part `index`: five digits, so name order is part order."""
    return f"part-{index:05d}.{kind}"


def is_partitioned(path: Path) -> bool:
    return path.is_dir()


def parts(path: Path, kind: Kind = "parquet") -> list[Path]:
    """The files of a dataset in reading order: a file is its own only part."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise PartitionError(f"dataset {path} does not exist")
    # Dot-files are the temporary parts of a write in progress, never data.
    found = sorted(p for p in path.glob(PATTERNS[kind]) if not p.name.startswith("."))
    if not found:
        raise PartitionError(f"dataset directory {path} holds no {PATTERNS[kind]} parts")
    return found


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces `target` (a directory or a file) only
    if the block succeeds; on an exception the old target stays and the temporary goes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes it 0o700: others could not read the data
        _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(new: Path, target: Path) -> None:
    # A non-empty directory cannot be replaced in one rename: the old one is moved aside first,
    # and put back if the second rename fails. Between the two, `target` is briefly absent.
    if not target.exists() and not target.is_symlink():
        new.rename(target)
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
    target.replace(old / target.name)
    try:
        new.rename(target)
    except OSError:
        (old / target.name).replace(target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def write_part(directory: Path, index: int, frame: pd.DataFrame) -> Path:
    """Write part `index` into `directory` with `io.write_parquet`: byte-deterministic."""
    path = directory / part_name(index)
    io.write_parquet(path, frame)
    return path


def write_parts(target: Path, frames: Iterable[pd.DataFrame]) -> int:
    """Write each frame as one part of `target`, atomically; returns the number of parts.

    `frames` may be a generator: one frame is in memory at a time, and an exception it raises
    leaves the previous `target` in place.
    """
    with atomic_dir(target) as tmp:
        count = 0
        for index, frame in enumerate(frames):
            write_part(tmp, index, frame)
            count += 1
        if not count:
            raise PartitionError(f"no parts to write to {target}")
    return count


def sample(path: Path, max_rows: int, seed: int) -> pd.DataFrame:
    """A uniform random sample of at most `max_rows` rows of a dataset, read part by part.

    Every row draws a random key (part `i` from the generator seeded with `(seed, i)`); the
    rows with the smallest keys are kept. That is a uniform sample without replacement, the same
    for the same data and seed, and memory holds at most `max_rows` rows plus one part. Rows
    come back in dataset order. A part's keys do not depend on the other parts.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, not {max_rows}")
    kept: pd.DataFrame | None = None
    keys = np.empty(0)
    for index, part in enumerate(parts(path)):
        frame = pd.read_parquet(part)
        drawn = np.random.default_rng([seed, index]).random(len(frame))
        # Earlier rows first, so positions in the concatenation are dataset order.
        kept = frame if kept is None else pd.concat([kept, frame], ignore_index=True)
        keys = np.concatenate([keys, drawn])
        chosen = np.sort(np.argsort(keys, kind="stable")[:max_rows])
        kept, keys = kept.iloc[chosen].reset_index(drop=True), keys[chosen]
    assert kept is not None  # parts() returns at least one part
    return kept


def read_bounded(path: Path, max_rows: int, seed: int) -> pd.DataFrame:
    """What a sampling check (Deepchecks, the monitoring reference) reads: a single file whole,
    as the small-data layout always has (the check samples it itself, so its results stay
    what they were); a partitioned dataset as a seeded sample of at most `max_rows` rows, so
    the check's memory does not grow with the data."""
    if not is_partitioned(path):
        return pd.read_parquet(path)
    return sample(path, max_rows, seed)


def digest(path: Path) -> str:
    """SHA-256 of a dataset: a file's bytes; a directory's part names and their digests."""
    if not is_partitioned(path):
        return io.sha256_file(path)
    lines = "".join(f"{p.name}\0{io.sha256_file(p)}\n" for p in parts(path))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()
