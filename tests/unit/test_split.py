"""Split stage: seeded, stratified, disjoint train / validation / test partitions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from modelgate import io
from modelgate.cli import StageError
from modelgate.params import SplitParams
from modelgate.stages import split
from modelgate.stages.split import split_frame
from tests.unit._pipeline import PipelineRun, args


@pytest.fixture(scope="module")
def dataset(pipeline_run: PipelineRun) -> pd.DataFrame:
    """The ingested tiny data with a row id, so partitions can be traced back to rows."""
    frame = pd.read_parquet(pipeline_run.dataset)
    return frame.assign(row_id=range(len(frame)))


def _params(seed: int = 7, test_size: float = 0.25, validation_size: float = 0.25) -> SplitParams:
    return SplitParams(seed=seed, test_size=test_size, validation_size=validation_size)


def _ids(parts: dict[str, pd.DataFrame]) -> dict[str, list[int]]:
    return {name: sorted(part["row_id"]) for name, part in parts.items()}


def test_parts_are_disjoint_and_cover_every_row(dataset: pd.DataFrame):
    ids = _ids(split_frame(dataset, "outcome", _params()))

    assert set(ids) == {"train", "validation", "test"}
    everything = ids["train"] + ids["validation"] + ids["test"]
    assert sorted(everything) == list(range(len(dataset)))


@pytest.mark.parametrize(("test_size", "validation_size"), [(0.25, 0.25), (0.2, 0.1), (0.1, 0.3)])
def test_sizes_are_fractions_of_all_rows(
    dataset: pd.DataFrame, test_size: float, validation_size: float
):
    parts = split_frame(
        dataset, "outcome", _params(test_size=test_size, validation_size=validation_size)
    )

    rows = len(dataset)
    assert len(parts["test"]) == pytest.approx(test_size * rows, abs=1)
    assert len(parts["validation"]) == pytest.approx(validation_size * rows, abs=1)
    assert len(parts["train"]) == rows - len(parts["test"]) - len(parts["validation"])


@pytest.mark.parametrize("seed", range(10))
def test_class_rates_match_the_whole_data_set(dataset: pd.DataFrame, seed: int):
    overall = (dataset["outcome"] == "fraud").mean()

    parts = split_frame(dataset, "outcome", _params(seed=seed))

    for name, part in parts.items():
        positives = (part["outcome"] == "fraud").sum()
        # Stratified: within a row of the exact share. An unstratified split of 100 rows
        # misses by several rows for most seeds.
        assert abs(positives - overall * len(part)) <= 1, name


def test_same_seed_same_rows(dataset: pd.DataFrame):
    first = split_frame(dataset, "outcome", _params(seed=3))
    second = split_frame(dataset, "outcome", _params(seed=3))

    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])


def test_different_seed_different_rows(dataset: pd.DataFrame):
    ids_a = _ids(split_frame(dataset, "outcome", _params(seed=3)))
    ids_b = _ids(split_frame(dataset, "outcome", _params(seed=4)))

    for name in ids_a:
        assert ids_a[name] != ids_b[name], name


def test_dtypes_survive_the_split(dataset: pd.DataFrame):
    parts = split_frame(dataset, "outcome", _params())

    for part in parts.values():
        assert part.dtypes.to_dict() == dataset.dtypes.to_dict()
        assert list(part.index) == list(range(len(part)))


def _with_rare_class(dataset: pd.DataFrame, rare_rows: int) -> pd.DataFrame:
    legit = dataset[dataset["outcome"] == "legit"]
    fraud = dataset[dataset["outcome"] == "fraud"].head(rare_rows)
    return pd.concat([legit, fraud], ignore_index=True)


@pytest.mark.parametrize("rare_rows", [0, 1, 2])
def test_fewer_than_three_rows_of_a_class_is_an_error(dataset: pd.DataFrame, rare_rows: int):
    with pytest.raises(StageError, match=r"column 'outcome': each class needs at least 3 rows"):
        split_frame(_with_rare_class(dataset, rare_rows), "outcome", _params())


def test_a_part_without_a_class_is_an_error(dataset: pd.DataFrame):
    # 4 fraud rows, 10% validation: stratification rounds the validation share to 0 rows.
    frame = _with_rare_class(dataset, 4)

    with pytest.raises(
        StageError, match=r"the validation part has 0 rows of class\(es\) \['fraud'\]"
    ):
        split_frame(frame, "outcome", _params(seed=0, test_size=0.1, validation_size=0.1))


def test_sizes_scikit_learn_cannot_stratify_are_a_stage_error(dataset: pd.DataFrame):
    frame = _with_rare_class(dataset, 4)

    with pytest.raises(StageError, match=r"column 'outcome': cannot stratify at these sizes"):
        split_frame(frame, "outcome", _params(seed=0, test_size=0.8, validation_size=0.1))


def _argv(run: PipelineRun, params: Path, out: Path, dataset: Path | None = None) -> list[str]:
    return args(
        params=params,
        input=dataset or run.dataset,
        schema=run.schema_json,
        output_dir=out / "split",
        summary=out / "split.json",
    )


def test_stage_writes_parts_and_summary(pipeline_run: PipelineRun, tmp_path: Path):
    split.main(_argv(pipeline_run, pipeline_run.params, tmp_path))

    summary = io.read_json(tmp_path / "split.json")
    assert set(summary) == {"train", "validation", "test"}
    for name, facts in summary.items():
        part = pd.read_parquet(tmp_path / "split" / f"{name}.parquet")
        positives = int((part["outcome"] == "fraud").sum())
        assert facts["rows"] == len(part)
        assert facts["positives"] == positives
        assert facts["positive_rate"] == pytest.approx(positives / len(part), abs=1e-6)
    assert sum(f["rows"] for f in summary.values()) == 400


def test_stage_output_is_byte_identical_across_runs(pipeline_run: PipelineRun, tmp_path: Path):
    split.main(_argv(pipeline_run, pipeline_run.params, tmp_path))

    for name in ("train", "validation", "test"):
        ours = (tmp_path / "split" / f"{name}.parquet").read_bytes()
        assert ours == pipeline_run.part(name).read_bytes(), name


def test_stage_exits_1_and_writes_nothing_when_a_class_is_too_rare(
    run_stage, pipeline_run: PipelineRun, dataset: pd.DataFrame, tmp_path: Path
):
    rare = tmp_path / "rare.parquet"
    io.write_parquet(rare, _with_rare_class(dataset.drop(columns="row_id"), 2))
    out = tmp_path / "out"

    code, log = run_stage(split.main, _argv(pipeline_run, pipeline_run.params, out, dataset=rare))

    assert code == 1
    assert "column 'outcome': each class needs at least 3 rows to stratify" in log
    assert not out.exists()


def test_stage_exits_1_on_impossible_sizes(
    run_stage, pipeline_run: PipelineRun, tiny_params: dict, tmp_path: Path
):
    tiny_params["split"]["test_size"] = 0.7
    tiny_params["split"]["validation_size"] = 0.3
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params))

    code, log = run_stage(split.main, _argv(pipeline_run, params, tmp_path / "out"))

    assert code == 1
    assert "test_size + validation_size must leave rows to train on" in log
    assert not (tmp_path / "out").exists()
