"""Split of a partitioned dataset: part by part, seeded per part, one output part per input part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelgate import io, partitions
from modelgate.params import SplitParams
from modelgate.splitting import random_labels, time_cuts
from modelgate.stages import ingest, split
from modelgate.stages.split import split_frame
from tests.conftest import make_tiny_frame
from tests.unit._pipeline import args

PARTS = 4
ROWS = 4000
NAMES = ("train", "validation", "test")
PINNED_COUNTS = [477, 257, 266]  # random_labels(1000, 3, seed 7, 0.25 / 0.25)


def _params(tiny_params: dict, by: str | None = None) -> dict:
    params = tiny_params
    params["ingest"]["columns"]["row_id"] = {"kind": "integer", "min": 0}
    params["ingest"]["columns"]["day"] = {"kind": "date"}
    params["split"]["by"] = by
    return params


def _ingest(tmp_path: Path, params: dict, name: str = "data") -> tuple[Path, Path, Path]:
    """A partitioned dataset ingested from raw parts: the params file, the data, its schema."""
    frame = make_tiny_frame(rows=ROWS, seed=11)
    rng = np.random.default_rng(11)
    frame["row_id"] = range(ROWS)
    frame["day"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 90, ROWS), "D")
    frame["day"] = frame["day"].dt.strftime("%Y-%m-%d")  # dates shuffled across parts
    raw = tmp_path / name / "raw"
    raw.mkdir(parents=True)
    size = ROWS // PARTS
    for i in range(PARTS):
        frame.iloc[i * size : (i + 1) * size].to_csv(raw / f"p{i}.csv", index=False)
    params_path = tmp_path / name / "params.yaml"
    params_path.write_text(yaml.safe_dump(params))
    out = tmp_path / name
    ingest.main(args(params=params_path, input=raw, output=out / "ds", schema=out / "schema.json"))
    return params_path, out / "ds", out / "schema.json"


def _argv(params: Path, data: Path, schema: Path, out: Path) -> list[str]:
    return args(
        params=params,
        input=data,
        schema=schema,
        output_dir=out / "split",
        summary=out / "split.json",
    )


def _split(params: Path, data: Path, schema: Path, out: Path) -> dict:
    split.main(_argv(params, data, schema, out))
    return {name: pd.read_parquet(out / "split" / f"{name}.parquet") for name in NAMES}


@pytest.fixture
def random_split(tiny_params: dict, tmp_path: Path) -> tuple[Path, dict[str, pd.DataFrame]]:
    params, data, schema = _ingest(tmp_path, _params(tiny_params))
    return tmp_path / "run", _split(params, data, schema, tmp_path / "run")


def test_fractions_are_within_binomial_tolerance(random_split, tiny_params: dict):
    _, parts = random_split
    shares = {"test": 0.25, "validation": 0.25, "train": 0.5}

    for name, share in shares.items():
        sd = np.sqrt(share * (1 - share) / ROWS)
        assert abs(len(parts[name]) / ROWS - share) < 4 * sd, name


def test_outputs_are_disjoint_complete_and_one_part_per_input_part(random_split):
    out, parts = random_split

    ids = np.concatenate([parts[name]["row_id"].to_numpy() for name in NAMES])
    assert sorted(ids) == list(range(ROWS))
    for name in NAMES:
        files = partitions.parts(out / "split" / f"{name}.parquet")
        assert [f.name for f in files] == [partitions.part_name(i) for i in range(PARTS)]
        for i, file in enumerate(files):  # output part i holds rows of input part i only
            assert set(pd.read_parquet(file)["row_id"] // (ROWS // PARTS)) == {i}
    # Each part draws its own: the test rows do not sit at the same positions in every part.
    positions = parts["test"]["row_id"] % (ROWS // PARTS)
    by_part = [
        set(positions[parts["test"]["row_id"] // (ROWS // PARTS) == i]) for i in range(PARTS)
    ]
    assert all(p != by_part[0] for p in by_part[1:])


def test_the_draws_are_pinned():
    """The seed derivation is part of the data's identity: changing it reshuffles every
    partitioned split (and every dvc.lock hash after it)."""
    params = SplitParams(seed=7, test_size=0.25, validation_size=0.25)

    labels = random_labels(1000, 3, params)

    assert np.bincount(labels).tolist() == PINNED_COUNTS


def _bytes(out: Path) -> dict[str, bytes]:
    return {
        f"{name}/{p.name}": p.read_bytes()
        for name in NAMES
        for p in partitions.parts(out / "split" / f"{name}.parquet")
    }


def test_same_input_same_bytes_and_a_part_does_not_depend_on_the_others(
    tiny_params: dict, tmp_path: Path
):
    params, data, schema = _ingest(tmp_path, _params(tiny_params))
    _split(params, data, schema, tmp_path / "a")
    _split(params, data, schema, tmp_path / "b")
    for extra in partitions.parts(data)[2:]:
        extra.unlink()
    _split(params, data, schema, tmp_path / "c")

    first = _bytes(tmp_path / "a")
    assert first == _bytes(tmp_path / "b")
    assert {k: v for k, v in first.items() if k.endswith(("00000.parquet", "00001.parquet"))} == (
        _bytes(tmp_path / "c")
    )


def test_summary_has_the_shape_of_a_file_split(random_split, pipeline_run):
    out, parts = random_split
    summary = io.read_json(out / "split.json")

    shape = {
        name: sorted(facts) for name, facts in io.read_json(pipeline_run.split_summary).items()
    }
    assert {name: sorted(facts) for name, facts in summary.items()} == shape
    for name, part in parts.items():
        assert summary[name]["rows"] == len(part)
        assert summary[name]["positives"] == int((part["outcome"] == "fraud").sum())


def test_out_of_time_keeps_date_order_and_cuts_as_the_file_split(tiny_params: dict, tmp_path: Path):
    params, data, schema = _ingest(tmp_path, _params(tiny_params, by="day"))

    parts = _split(params, data, schema, tmp_path / "run")

    days = {name: parts[name]["day"] for name in NAMES}
    assert days["train"].max() < days["validation"].min()
    assert days["validation"].max() < days["test"].min()
    # The rule, independently: each cut is the date of the row at its share of the sorted rows.
    ordered = np.sort(pd.read_parquet(data)["day"].to_numpy())
    assert days["validation"].min() == ordered[round(0.5 * ROWS)]
    assert days["test"].min() == ordered[round(0.75 * ROWS)]
    whole = split_frame(
        pd.read_parquet(data),
        "outcome",
        SplitParams(seed=7, test_size=0.25, validation_size=0.25, by="day"),
    )
    for name in NAMES:
        assert sorted(parts[name]["row_id"]) == sorted(whole[name]["row_id"]), name


def test_out_of_time_refuses_an_undated_row_naming_its_part(
    run_stage, tiny_params: dict, tmp_path: Path
):
    params, data, schema = _ingest(tmp_path, _params(tiny_params, by="day"))
    frames = [pd.read_parquet(p) for p in partitions.parts(data)]
    frames[2].loc[5, "day"] = pd.NaT
    partitions.write_parts(data, frames)

    code, log = run_stage(split.main, _argv(params, data, schema, tmp_path / "run"))

    assert code == 1
    assert "column 'day' has 1 missing date(s) in part-00002.parquet" in log
    assert not (tmp_path / "run").exists()


def test_a_failure_while_writing_keeps_every_previous_output(
    monkeypatch: pytest.MonkeyPatch, tiny_params: dict, tmp_path: Path
):
    params, data, schema = _ingest(tmp_path, _params(tiny_params))
    out = tmp_path / "run"
    _split(params, data, schema, out)
    before = _bytes(out)
    calls = []
    real = partitions.write_part

    def failing(directory: Path, index: int, frame: pd.DataFrame) -> Path:
        calls.append(index)
        if len(calls) == 7:  # the first output part of the third input part
            raise OSError("No space left on device")
        return real(directory, index, frame)

    monkeypatch.setattr(partitions, "write_part", failing)
    with pytest.raises(OSError, match="No space left"):
        _split(params, data, schema, out)

    assert _bytes(out) == before
    assert sorted(p.name for p in (out / "split").iterdir()) == [
        f"{n}.parquet" for n in sorted(NAMES)
    ]


def test_a_cut_on_a_date_boundary_starts_the_next_part_at_that_row():
    # 8 rows over 4 dates, 2 each: the validation cut (row 4 of 8) is the first row of day 2,
    # the test cut (row 6) the first of day 3.
    days = pd.date_range("2026-01-01", periods=4)
    counts = pd.Series([2, 2, 2, 2], index=days)
    params = SplitParams(seed=0, test_size=0.25, validation_size=0.25, by="day")

    assert time_cuts(counts, "day", params) == (days[2], days[3])
