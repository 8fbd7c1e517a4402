"""Ingest of a directory of raw CSV parts: part by part, all checked before anything is written,
violations summed across parts with the part files named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from modelgate import io, partitions
from modelgate.params import IngestParams
from modelgate.schema import DataContractError, Violation, enforce_contract, read_raw
from modelgate.stages import ingest
from tests.conftest import make_tiny_frame
from tests.unit._pipeline import args

PARTS = 4
ROWS = 1000


@pytest.fixture
def raw_frame() -> pd.DataFrame:
    return make_tiny_frame(rows=ROWS, seed=5)


def _write_raw(directory: Path, frame: pd.DataFrame) -> Path:
    directory.mkdir(exist_ok=True)
    size = len(frame) // PARTS
    for i in range(PARTS):
        frame.iloc[i * size : (i + 1) * size].to_csv(directory / f"raw-{i}.csv", index=False)
    return directory


@pytest.fixture
def raw_dir(tmp_path: Path, raw_frame: pd.DataFrame) -> Path:
    return _write_raw(tmp_path / "raw", raw_frame)


def _argv(params: Path, raw: Path, out: Path) -> list[str]:
    return args(
        params=params,
        input=raw,
        output=out / "dataset.parquet",
        schema=out / "schema.json",
        gates_dir=out / "gates",
        report=out / "gates.json",
    )


def _part_bytes(dataset: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in partitions.parts(dataset)}


def test_one_typed_part_per_raw_part_equal_to_the_whole_file_typed(
    params_file: Path, tiny_params: dict, raw_dir: Path, raw_frame: pd.DataFrame, tmp_path: Path
):
    out = tmp_path / "out"
    ingest.main(_argv(params_file, raw_dir, out))

    dataset = out / "dataset.parquet"
    assert [p.name for p in partitions.parts(dataset)] == [
        partitions.part_name(i) for i in range(PARTS)
    ]
    # The same rows and types as ingesting the concatenated CSV in one go.
    params = IngestParams.model_validate(tiny_params["ingest"])
    raw_frame.to_csv(tmp_path / "whole.csv", index=False)
    whole = enforce_contract(read_raw(tmp_path / "whole.csv"), params, "whole.csv")
    pd.testing.assert_frame_equal(pd.read_parquet(dataset), whole)
    gate = io.read_json(out / "gates" / "contract.json")
    assert gate["conditions"][0]["value"] == ROWS
    assert gate["status"] == "pass"


def test_same_raw_parts_give_the_same_bytes(params_file: Path, raw_dir: Path, tmp_path: Path):
    ingest.main(_argv(params_file, raw_dir, tmp_path / "a"))
    ingest.main(_argv(params_file, raw_dir, tmp_path / "b"))

    first = _part_bytes(tmp_path / "a" / "dataset.parquet")
    assert first == _part_bytes(tmp_path / "b" / "dataset.parquet")


def _break(frame: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    broken = frame.copy()
    broken["amount"] = broken["amount"].astype(object)
    broken.loc[rows, "amount"] = "12 EUR"
    return broken


def test_violations_in_two_parts_are_one_per_rule_with_rows_summed_and_files_named(
    run_stage, params_file: Path, raw_frame: pd.DataFrame, tmp_path: Path
):
    # Parts hold rows 0-249, 250-499, 500-749, 750-999: two bad rows in part 1, three in part 3.
    raw = _write_raw(tmp_path / "raw", _break(raw_frame, [260, 300, 760, 800, 900]))
    out = tmp_path / "out"

    code, log = run_stage(ingest.main, _argv(params_file, raw, out))

    assert code == 1
    assert "column 'amount': 5 row(s) break rule `kind: numeric (not a number)`" in log
    assert "in raw-1.csv (2), raw-3.csv (3)" in log
    assert "raw-0.csv" not in log and "raw-2.csv" not in log
    assert "'12 EUR' at line 12 of raw-1.csv" in log  # row 260 is line 12 of its part
    gate = io.read_json(out / "gates" / "contract.json")
    assert [(c["name"], c["value"]) for c in gate["conditions"]] == [
        ("amount: kind: numeric (not a number)", 5)
    ]
    assert not (out / "dataset.parquet").exists()


def test_a_broken_part_keeps_the_previous_dataset(
    run_stage, params_file: Path, raw_dir: Path, raw_frame: pd.DataFrame, tmp_path: Path
):
    out = tmp_path / "out"
    ingest.main(_argv(params_file, raw_dir, out))
    before = _part_bytes(out / "dataset.parquet")
    _write_raw(raw_dir, _break(raw_frame, [999]))  # the last part only

    code, _ = run_stage(ingest.main, _argv(params_file, raw_dir, out))

    assert code == 1
    assert _part_bytes(out / "dataset.parquet") == before
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset.parquet",
        "gates",
        "gates.json",
        "schema.json",
    ]


def test_parts_are_read_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tiny_params: dict, raw_dir: Path
):
    read: list[str] = []
    real = ingest.read_raw
    monkeypatch.setattr(ingest, "read_raw", lambda p: read.append(p.name) or real(p))
    params = IngestParams.model_validate(tiny_params["ingest"])
    tally = ingest.Tally(ingest.FeatureSchema.from_params(params))
    stream = ingest.typed_parts(partitions.parts(raw_dir, "csv"), params, "raw", tally)

    first = next(stream)

    assert read == ["raw-0.csv"]
    assert len(first) == ROWS // PARTS


def test_merge_keeps_three_examples_each_with_its_file():
    found = [
        ("a.csv", [Violation("x", "max: 1", 2, ("'5' at line 2", "'6' at line 3"))]),
        ("b.csv", [Violation("x", "max: 1", 4, ("'7' at line 9", "'8' at line 10"))]),
        ("c.csv", [Violation("y", "r", 1)]),
    ]

    merged = ingest.merge_violations(found)

    assert [(v.column, v.rule, v.rows) for v in merged] == [("x", "max: 1", 6), ("y", "r", 1)]
    assert merged[0].examples == (
        "'5' at line 2 of a.csv",
        "'6' at line 3 of a.csv",
        "'7' at line 9 of b.csv",
    )
    assert str(merged[1]) == "column 'y': 1 row(s) break rule `r` in c.csv (1)"
    assert "in a.csv (2), b.csv (4) (e.g. " in str(merged[0])


def test_a_part_missing_a_column_names_that_part(
    params_file: Path, raw_dir: Path, tiny_params: dict
):
    part = raw_dir / "raw-2.csv"
    pd.read_csv(part).drop(columns="hour").to_csv(part, index=False)
    params = IngestParams.model_validate(tiny_params["ingest"])
    tally = ingest.Tally(ingest.FeatureSchema.from_params(params))

    with pytest.raises(DataContractError, match=r"`required column` in raw-2.csv \(250\)"):
        list(ingest.typed_parts(partitions.parts(raw_dir, "csv"), params, "raw", tally))


def test_a_file_input_still_writes_one_file(params_file: Path, tiny_csv: Path, tmp_path: Path):
    out = tmp_path / "out"
    ingest.main(_argv(params_file, tiny_csv, out))

    assert (out / "dataset.parquet").is_file()
