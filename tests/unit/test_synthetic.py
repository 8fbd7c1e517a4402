"""The synthetic generator: seeded bytes, a contract its data passes, and the stage CLIs on it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.csv as pa_csv
import pytest

from modelgate import io, partitions, synthetic
from modelgate.params import IngestParams, load_section
from modelgate.schema import FeatureSchema, enforce_contract, read_raw
from modelgate.synthetic import __main__ as cli
from modelgate.synthetic.generate import generate_part
from tests.unit._pipeline import args

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def params(tmp_path: Path) -> Path:
    """A copy of the repository's params.yaml, comments and all."""
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text())
    return path


def _bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in partitions.parts(directory, "csv")}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path):
    cli.write(tmp_path / "a", 3000, 3, seed=1)
    cli.write(tmp_path / "b", 3000, 3, seed=1)
    cli.write(tmp_path / "c", 3000, 3, seed=2)

    assert list(_bytes(tmp_path / "a")) == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert len(set(_bytes(tmp_path / "a").values())) == 3  # each part seeded by its index
    assert _bytes(tmp_path / "a")["part-00001.csv"] != _bytes(tmp_path / "c")["part-00001.csv"]


def test_a_part_depends_only_on_seed_index_and_its_rows(tmp_path: Path):
    cli.write(tmp_path / "out", 1000, 4, seed=9)
    alone = tmp_path / "alone.csv"
    pa_csv.write_csv(generate_part(250, 9, 2), alone)

    assert (tmp_path / "out" / "part-00002.csv").read_bytes() == alone.read_bytes()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """20,000 rows typed by their own contract, as ingest types them."""
    out = tmp_path_factory.mktemp("synthetic") / "raw"
    cli.write(out, 20_000, 4, seed=3)
    params = IngestParams.model_validate(synthetic.ingest_section(str(out)))
    parts = [enforce_contract(read_raw(p), params, str(p)) for p in partitions.parts(out, "csv")]
    return pd.concat(parts, ignore_index=True)


def test_the_data_passes_its_contract_with_thirty_features_of_each_kind(generated: pd.DataFrame):
    schema = FeatureSchema.from_params(IngestParams.model_validate(synthetic.ingest_section("x")))

    kinds = pd.Series([s.kind for s in schema.feature_columns.values()]).value_counts()
    assert kinds.to_dict() == {"numeric": 18, "integer": 6, "categorical": 6}
    assert len(generated) == 20_000
    assert list(generated.columns) == [schema.target, *schema.features]
    nullable = [n for n, s in schema.columns.items() if s.nullable]
    assert all(generated[n].isna().any() for n in nullable)
    assert generated.drop(columns=nullable).notna().all().all()
    assert len(generated["region"].cat.categories) == 40 > 32  # train.max_one_hot


def test_the_target_follows_the_documented_model(generated: pd.DataFrame):
    bad = generated["status"] == "bad"

    assert 0.10 <= bad.mean() <= 0.15
    # The signs of the documented logistic function, each far beyond sampling noise at 20k rows.
    assert (
        generated.loc[bad, "bureau_score"].mean() < generated.loc[~bad, "bureau_score"].mean() - 10
    )
    assert generated.loc[bad, "utilization"].mean() > generated.loc[~bad, "utilization"].mean()
    rent = generated["home"] == "rent"
    assert bad[rent].mean() > bad[~rent & generated["home"].notna()].mean() + 0.02
    missing_income = generated["income"].isna()
    assert bad[missing_income].mean() > bad[~missing_income].mean() + 0.02


def test_params_text_rewrites_what_names_columns_only_and_keeps_the_comments(params: Path):
    """`ingest`, `split.by` and the model gate's segments name the data's columns: they are
    rewritten for the generated table; every other value and comment stays."""
    before = params.read_text()

    text = cli.params_text(params, "data/raw/synthetic")

    assert params.read_text() == before  # text only: nothing written yet
    new = io.load_yaml(text)
    old = io.load_yaml(before)
    assert new["ingest"] == synthetic.ingest_section("data/raw/synthetic")
    assert new["split"]["by"] is None
    assert new["gates"]["model"]["segments"]["by"] == synthetic.SEGMENTS
    assert set(synthetic.SEGMENTS) <= set(synthetic.COLUMNS)
    for section in (new, old):
        del section["ingest"], section["split"]["by"], section["gates"]["model"]["segments"]["by"]
    assert new == old
    assert "# fixed thread count" in text  # a comment of another section survives


def _run(module: str, cwd: Path, **options: object) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", module, *args(**options)]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True)


def _generate(params: Path, cwd: Path, rows: int, parts: int) -> subprocess.CompletedProcess[str]:
    return _run(
        "modelgate.synthetic", cwd, rows=rows, parts=parts, seed=5, out="raw", params=params
    )


def test_generator_then_ingest_then_split_on_the_command_line(params: Path, tmp_path: Path):
    made = _generate(params, tmp_path, rows=6000, parts=3)
    assert made.returncode == 0, made.stderr
    assert load_section(params, "ingest", IngestParams).raw == "raw"

    processed = {"schema": "processed/schema.json", "params": params}
    ingested = _run(
        "modelgate.stages.ingest",
        tmp_path,
        input="raw",
        output="processed/dataset.parquet",
        gates_dir="gates",
        report="gates.json",
        **processed,
    )
    assert ingested.returncode == 0, ingested.stderr
    assert "ingest: 6000 rows, 30 features" in ingested.stderr

    split = _run(
        "modelgate.stages.split",
        tmp_path,
        input="processed/dataset.parquet",
        output_dir="split",
        summary="split.json",
        **processed,
    )
    assert split.returncode == 0, split.stderr
    summary = io.read_json(tmp_path / "split.json")
    assert sum(s["rows"] for s in summary.values()) == 6000
    for name in ("train", "validation", "test"):
        assert len(partitions.parts(tmp_path / "split" / f"{name}.parquet")) == 3
    assert io.read_json(tmp_path / "gates" / "contract.json")["status"] == "pass"


@pytest.mark.parametrize(("rows", "parts"), [(2, 3), (10, 0)])
def test_too_few_rows_for_the_parts_exit_1_writing_nothing(
    params: Path, tmp_path: Path, rows: int, parts: int
):
    before = params.read_text()

    done = _generate(params, tmp_path, rows, parts)

    assert done.returncode == 1
    assert "every part needs at least one row" in done.stderr
    assert not (tmp_path / "raw").exists()
    assert params.read_text() == before


def test_a_missing_params_file_exits_1_before_any_data(tmp_path: Path):
    done = _generate(tmp_path / "nope.yaml", tmp_path, rows=10, parts=1)

    assert done.returncode == 1
    assert "nope.yaml" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "raw").exists()
