"""Partitioned datasets: parts in name order, written whole or not at all, sampled by streaming."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelgate import io, partitions
from modelgate.partitions import PartitionError


def _frames(parts: int = 4, rows: int = 500) -> list[pd.DataFrame]:
    """Parts with a global row id and a categorical column, as ingest types them."""
    rng = np.random.default_rng(0)
    return [
        pd.DataFrame(
            {
                "row_id": np.arange(i * rows, (i + 1) * rows),
                "x": rng.normal(size=rows),
                "c": pd.Categorical(rng.choice(["a", "b"], rows), categories=["a", "b", "z"]),
            }
        )
        for i in range(parts)
    ]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    target = tmp_path / "dataset.parquet"
    partitions.write_parts(target, _frames())
    return target


def _siblings(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir())


def test_parts_of_a_directory_in_name_order_without_temporary_files(tmp_path: Path):
    for name in ("part-00002.parquet", "part-00000.parquet", "part-00001.parquet", "notes.txt"):
        (tmp_path / name).touch()
    (tmp_path / ".part-00003.parquet.abc.tmp").touch()

    found = partitions.parts(tmp_path)

    assert [p.name for p in found] == [f"part-0000{i}.parquet" for i in range(3)]
    assert partitions.is_partitioned(tmp_path)


def test_a_file_is_its_own_only_part(tmp_path: Path):
    path = tmp_path / "data.parquet"
    io.write_parquet(path, _frames(1)[0])

    assert partitions.parts(path) == [path]
    assert not partitions.is_partitioned(path)


def test_csv_parts_are_any_csv_in_name_order(tmp_path: Path):
    for name in ("b.csv", "a.csv", "part-00000.parquet", ".a.csv.tmp.csv"):
        (tmp_path / name).touch()

    assert [p.name for p in partitions.parts(tmp_path, "csv")] == ["a.csv", "b.csv"]


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()], ids=["missing", "empty"])
def test_a_missing_or_empty_dataset_is_an_error_naming_it(tmp_path: Path, make):
    path = tmp_path / "dataset.parquet"
    make(path)

    with pytest.raises(PartitionError, match=str(path)):
        partitions.parts(path)


def test_write_parts_round_trips_with_one_part_per_frame(dataset: Path):
    expected = pd.concat(_frames(), ignore_index=True)

    assert [p.name for p in partitions.parts(dataset)] == [
        partitions.part_name(i) for i in range(4)
    ]
    pd.testing.assert_frame_equal(pd.read_parquet(dataset), expected)
    assert list(pd.read_parquet(dataset)["c"].cat.categories) == ["a", "b", "z"]


def test_each_part_has_the_bytes_io_write_parquet_gives(dataset: Path, tmp_path: Path):
    for frame, part in zip(_frames(), partitions.parts(dataset), strict=True):
        single = tmp_path / "single.parquet"
        io.write_parquet(single, frame)
        assert part.read_bytes() == single.read_bytes()


def _broken(after: int) -> Iterator[pd.DataFrame]:
    yield from _frames()[:after]
    raise OSError("No space left on device")


def test_a_failure_mid_stream_keeps_the_previous_dataset(dataset: Path):
    before = {p.name: p.read_bytes() for p in partitions.parts(dataset)}

    with pytest.raises(OSError, match="No space left"):
        partitions.write_parts(dataset, _broken(after=2))

    assert {p.name: p.read_bytes() for p in partitions.parts(dataset)} == before
    assert _siblings(dataset) == ["dataset.parquet"]  # no temporary directory left


def test_a_failure_before_any_dataset_leaves_nothing(tmp_path: Path):
    target = tmp_path / "out" / "dataset.parquet"

    with pytest.raises(OSError):
        partitions.write_parts(target, _broken(after=1))

    assert not target.exists()
    assert _siblings(target) == []


def test_no_frames_is_an_error_and_keeps_the_previous_dataset(dataset: Path):
    with pytest.raises(PartitionError, match="no parts"):
        partitions.write_parts(dataset, [])

    assert len(partitions.parts(dataset)) == 4


def test_a_dataset_replaces_a_single_file_and_fewer_parts_leave_no_stale_ones(tmp_path: Path):
    target = tmp_path / "dataset.parquet"
    io.write_parquet(target, _frames(1)[0])
    partitions.write_parts(target, _frames(4))

    partitions.write_parts(target, _frames(2))

    assert [p.name for p in partitions.parts(target)] == [partitions.part_name(i) for i in (0, 1)]
    assert oct(target.stat().st_mode & 0o777) == "0o755"
    assert _siblings(target) == ["dataset.parquet"]


def test_sample_is_bounded_deterministic_and_in_dataset_order(dataset: Path):
    first = partitions.sample(dataset, 300, seed=1)
    again = partitions.sample(dataset, 300, seed=1)
    other = partitions.sample(dataset, 300, seed=2)

    assert len(first) == 300
    pd.testing.assert_frame_equal(first, again)
    assert set(first["row_id"]) != set(other["row_id"])
    assert first["row_id"].is_unique and first["row_id"].is_monotonic_increasing
    assert first["c"].dtype == pd.read_parquet(dataset)["c"].dtype


def test_sample_draws_from_every_part_about_evenly(dataset: Path):
    ids = partitions.sample(dataset, 400, seed=3)["row_id"]

    per_part = np.bincount(ids // 500, minlength=4)
    # Hypergeometric: 100 expected per part, SD about 8; 4 SD either way.
    assert np.all(np.abs(per_part - 100) < 32), per_part
    # Each part draws its own keys: not the same row positions in every part.
    positions = [set(ids[ids // 500 == i] % 500) for i in range(4)]
    assert all(p != positions[0] for p in positions[1:])


def test_sample_of_fewer_rows_than_asked_is_every_row(dataset: Path):
    whole = pd.read_parquet(dataset)

    pd.testing.assert_frame_equal(partitions.sample(dataset, 10_000, seed=0), whole)


def test_sample_of_a_single_file(tmp_path: Path):
    path = tmp_path / "data.parquet"
    io.write_parquet(path, _frames(1)[0])

    sampled = partitions.sample(path, 50, seed=0)

    assert len(sampled) == 50
    assert set(sampled["row_id"]) <= set(range(500))


def test_sample_needs_a_positive_size(dataset: Path):
    with pytest.raises(ValueError, match="max_rows"):
        partitions.sample(dataset, 0, seed=0)
