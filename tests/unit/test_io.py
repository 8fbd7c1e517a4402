"""Atomic writes leave the old file or the new one, never half of one; JSON is canonical."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelgate import io


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_path_replaces_the_target_on_success(tmp_path: Path):
    target = tmp_path / "deep" / "out.txt"

    with io.atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert not target.exists()  # nothing visible until the block succeeds
        tmp.write_text("new")

    assert target.read_text() == "new"
    assert _files(target.parent) == ["out.txt"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_atomic_path_keeps_the_previous_file_and_no_temp_file_on_failure(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("previous")

    with pytest.raises(OSError, match="disk full"), io.atomic_path(target) as tmp:
        tmp.write_text("half a fi")
        raise OSError("disk full")

    assert target.read_text() == "previous"
    assert _files(tmp_path) == ["out.txt"]


def test_failed_first_write_leaves_nothing(tmp_path: Path):
    target = tmp_path / "out.parquet"

    def crash(frame: pd.DataFrame, path: Path) -> None:
        path.write_bytes(b"PAR1 partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        io.write_frame(target, pd.DataFrame({"a": [1]}), crash)

    assert _files(tmp_path) == []


def test_write_json_with_nan_fails_and_writes_nothing(tmp_path: Path):
    target = tmp_path / "metrics.json"

    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        io.write_json(target, {"auc": math.nan})

    assert _files(tmp_path) == []


def test_json_floats_are_rounded_to_significant_digits(tmp_path: Path):
    target = tmp_path / "m.json"

    io.write_json(
        target,
        {"auc": 0.123456789, "diff": 4.123456789e-7, "nested": [1 / 3], "n": 3, "cut": 0.1000004},
    )

    assert io.read_json(target) == {
        "auc": 0.123457,
        "diff": 4.12346e-7,
        "nested": [0.333333],
        "n": 3,
        "cut": 0.1000004,  # already a short decimal: kept exactly
    }
    assert target.read_text().endswith("}\n")


def test_rounded_handles_numpy_scalars():
    assert io.rounded({"x": np.float32(0.1)}) == {"x": 0.1}
    assert io.rounded(np.int64(7)) == 7
    assert isinstance(io.rounded(np.int64(7)), int)


def test_parquet_round_trip_has_no_index_and_stable_bytes(tmp_path: Path):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": pd.Categorical(["x", "y", "x"])}, index=[5, 6, 7])

    io.write_parquet(tmp_path / "one.parquet", frame)
    io.write_parquet(tmp_path / "two.parquet", frame)

    back = pd.read_parquet(tmp_path / "one.parquet")
    assert list(back.columns) == ["a", "b"]
    assert list(back.index) == [0, 1, 2]
    assert back["b"].dtype == "category"
    assert io.sha256_file(tmp_path / "one.parquet") == io.sha256_file(tmp_path / "two.parquet")


def test_sha256_json_ignores_key_order_but_not_values():
    assert io.sha256_json({"a": 1, "b": [1, 2]}) == io.sha256_json({"b": [1, 2], "a": 1})
    assert io.sha256_json({"a": 1}) != io.sha256_json({"a": 2})


def test_sha256_file_matches_hashlib(tmp_path: Path):
    path = tmp_path / "blob"
    data = bytes(range(256)) * 5000  # more than one 1 MiB read block
    path.write_bytes(data)

    assert io.sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_dumps_keeps_key_order_and_is_valid_json():
    text = io.dumps({"z": 1, "a": 2})

    assert list(json.loads(text)) == ["z", "a"]
