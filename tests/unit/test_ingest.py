"""Ingest stage: raw CSV -> typed Parquet + schema.json, or exit 1 with a readable message and
no output at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelgate import io
from modelgate.params import IngestParams
from modelgate.schema import DataContractError, FeatureSchema
from modelgate.stages import ingest
from tests.unit._pipeline import args


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """Where the stage writes; nothing else lives here, so a listing shows any leftover."""
    return tmp_path / "out"


def _argv(params: Path, raw: Path, out: Path) -> list[str]:
    return args(
        params=params, input=raw, output=out / "dataset.parquet", schema=out / "schema.json"
    )


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def _write_csv(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "edited.csv"
    frame.to_csv(path, index=False)
    return path


def test_writes_typed_parquet_and_schema(
    params_file: Path, tiny_csv: Path, tiny_raw: pd.DataFrame, out_dir: Path
):
    ingest.main(_argv(params_file, tiny_csv, out_dir))

    typed = pd.read_parquet(out_dir / "dataset.parquet")
    assert len(typed) == len(tiny_raw) == 400
    assert typed.dtypes.astype(str).to_dict() == {
        "outcome": "category",
        "amount": "float64",
        "hour": "int64",
        "channel": "category",
    }
    assert list(typed["channel"].cat.categories) == ["web", "app", "pos"]
    assert list(typed["outcome"].cat.categories) == ["legit", "fraud"]
    assert typed["hour"].tolist() == tiny_raw["hour"].tolist()
    np.testing.assert_array_equal(typed["amount"].to_numpy(), tiny_raw["amount"].to_numpy(float))
    assert typed["channel"].isna().sum() == tiny_raw["channel"].isna().sum() > 0
    assert (typed["outcome"] == "fraud").sum() == (tiny_raw["outcome"] == "fraud").sum()
    assert _leftovers(out_dir) == ["dataset.parquet", "schema.json"]  # no temp files


def test_schema_json_is_the_contract_of_the_params(
    params_file: Path, tiny_csv: Path, tiny_params: dict, out_dir: Path
):
    ingest.main(_argv(params_file, tiny_csv, out_dir))

    schema = FeatureSchema.from_dict(io.read_json(out_dir / "schema.json"))
    assert schema == FeatureSchema.from_params(IngestParams.model_validate(tiny_params["ingest"]))
    assert schema.negative_class == "legit"


def test_same_input_gives_the_same_bytes(params_file: Path, tiny_csv: Path, tmp_path: Path):
    ingest.main(_argv(params_file, tiny_csv, tmp_path / "a"))
    ingest.main(_argv(params_file, tiny_csv, tmp_path / "b"))

    for name in ("dataset.parquet", "schema.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_run_returns_zero_on_success(run_stage, params_file: Path, tiny_csv: Path, out_dir: Path):
    code, log = run_stage(ingest.main, _argv(params_file, tiny_csv, out_dir))

    assert code == 0
    assert "ingest: 400 rows, 3 features" in log


def _set(column: str, rows: list[int], value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[rows, column] = value
        return frame

    return edit


def _add_column(frame: pd.DataFrame) -> pd.DataFrame:
    frame["referrer"] = "search"
    return frame


CONTRACT_BREAKS = {
    "missing column": (lambda f: f.drop(columns="hour"), "hour", "required column", 400),
    "numeric column with text": (
        _set("amount", [3, 10], "12 EUR"),
        "amount",
        "kind: numeric (not a number)",
        2,
    ),
    "unknown target value": (
        _set("outcome", [5], "chargeback"),
        "outcome",
        "categories: ['legit', 'fraud']",
        1,
    ),
    "value out of range": (_set("hour", [1, 2, 3], 25), "hour", "max: 23", 3),
    "unknown category": (
        _set("channel", [0, 7], "fax"),
        "channel",
        "categories: ['web', 'app', 'pos']",
        2,
    ),
    "null in non-nullable": (_set("hour", [4, 8, 9, 12], np.nan), "hour", "nullable: false", 4),
    "undeclared column": (_add_column, "referrer", "undeclared column (extra_columns: error)", 400),
}


@pytest.mark.parametrize(
    ("edit", "column", "rule", "rows"), CONTRACT_BREAKS.values(), ids=CONTRACT_BREAKS
)
def test_contract_break_exits_1_naming_column_rule_and_rows(
    run_stage,
    params_file: Path,
    tiny_raw: pd.DataFrame,
    tmp_path: Path,
    out_dir: Path,
    edit,
    column: str,
    rule: str,
    rows: int,
):
    raw = _write_csv(tmp_path, edit(tiny_raw))

    code, log = run_stage(ingest.main, _argv(params_file, raw, out_dir))

    assert code == 1
    assert f"{raw} breaks the data contract" in log
    assert f"column {column!r}: {rows} row(s) break rule `{rule}`" in log
    assert "Traceback" not in log
    assert _leftovers(out_dir) == []


def test_example_line_numbers_point_at_the_file_line(
    params_file: Path, tiny_raw: pd.DataFrame, tmp_path: Path, out_dir: Path
):
    raw = _write_csv(tmp_path, _set("amount", [41], "n/a?")(tiny_raw))

    with pytest.raises(DataContractError) as err:
        ingest.main(_argv(params_file, raw, out_dir))

    (violation,) = err.value.violations
    line = int(violation.examples[0].rsplit("at line ", 1)[1])
    assert "n/a?" in raw.read_text().splitlines()[line - 1]


def test_undeclared_column_is_dropped_when_params_say_drop(
    tiny_params: dict, tiny_raw: pd.DataFrame, tmp_path: Path, out_dir: Path
):
    tiny_params["ingest"]["extra_columns"] = "drop"
    params = tmp_path / "drop.yaml"
    params.write_text(yaml.safe_dump(tiny_params))
    raw = _write_csv(tmp_path, _add_column(tiny_raw))

    ingest.main(_argv(params, raw, out_dir))

    typed = pd.read_parquet(out_dir / "dataset.parquet")
    assert list(typed.columns) == ["outcome", *tiny_params["ingest"]["columns"]]
    assert len(typed) == 400


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _header_only(path: Path) -> None:
    path.write_text("outcome,amount,hour,channel\n")


def _latin1(path: Path) -> None:
    path.write_bytes("outcome,amount,hour,channel\nlegit,1.5,3,caf\xe9\n".encode("latin-1"))


def _unclosed_quote(path: Path) -> None:
    path.write_text('outcome,amount,hour,channel\nlegit,"1.5,3,web\nfraud,2,4,app\n')


def _directory(path: Path) -> None:
    path.mkdir()


def _nothing(path: Path) -> None:
    pass


UNREADABLE = {
    "empty file": (_empty, "is empty: no header, no rows"),
    "header only": (_header_only, "column '*': 0 row(s) break rule `at least one data row`"),
    "not UTF-8": (_latin1, "is not UTF-8 text"),
    "malformed CSV": (_unclosed_quote, "is not valid CSV"),
    # A directory is a partitioned raw snapshot (issue 13): one without CSV parts is refused.
    "empty directory": (_directory, "holds no *.csv parts"),
    "missing path": (_nothing, "does not exist"),
}


@pytest.mark.parametrize(("make", "problem"), UNREADABLE.values(), ids=UNREADABLE)
def test_unusable_input_file_exits_1_naming_file_and_problem(
    run_stage, params_file: Path, tmp_path: Path, out_dir: Path, make, problem: str
):
    raw = tmp_path / "raw.csv"
    make(raw)

    code, log = run_stage(ingest.main, _argv(params_file, raw, out_dir))

    assert code == 1
    assert str(raw) in log
    assert problem in log
    assert "Traceback" not in log
    assert _leftovers(out_dir) == []


def test_bad_params_exit_1_before_reading_data(
    run_stage, tiny_params: dict, tmp_path: Path, out_dir: Path
):
    tiny_params["ingest"]["columns"]["hour"]["kind"] = "int"
    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump(tiny_params))

    code, log = run_stage(ingest.main, _argv(params, tmp_path / "does-not-matter.csv", out_dir))

    assert code == 1
    assert "ingest.columns.hour.kind" in log
    assert _leftovers(out_dir) == []


def test_crash_while_writing_leaves_no_partial_parquet(
    monkeypatch: pytest.MonkeyPatch, params_file: Path, tiny_csv: Path, out_dir: Path
):
    # A disk-full style fault injected into the Parquet writer, after it wrote some bytes.
    def half_write(frame: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_write)

    with pytest.raises(OSError, match="No space left"):
        ingest.main(_argv(params_file, tiny_csv, out_dir))

    assert _leftovers(out_dir) == []


def test_crash_while_writing_keeps_the_previous_output(
    monkeypatch: pytest.MonkeyPatch, params_file: Path, tiny_csv: Path, out_dir: Path
):
    ingest.main(_argv(params_file, tiny_csv, out_dir))
    before = (out_dir / "dataset.parquet").read_bytes()

    def half_write(frame: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_write)
    with pytest.raises(OSError, match="No space left"):
        ingest.main(_argv(params_file, tiny_csv, out_dir))

    assert (out_dir / "dataset.parquet").read_bytes() == before
    assert _leftovers(out_dir) == ["dataset.parquet", "schema.json"]
