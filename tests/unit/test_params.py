"""params.yaml sections load into typed models and fail early, naming the dotted key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from modelgate.params import (
    EvaluateParams,
    ExportParams,
    IngestParams,
    ParamsError,
    SplitParams,
    TrainParams,
    load_section,
    read_params_file,
)

FLAT_SECTIONS = {
    "split": SplitParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
    "export": ExportParams,
}


def _write(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.parametrize("section", FLAT_SECTIONS)
def test_flat_sections_load_every_value(params_file: Path, tiny_params: dict, section: str):
    loaded = load_section(params_file, section, FLAT_SECTIONS[section])

    assert loaded.model_dump() == tiny_params[section]


def test_ingest_section_is_typed(params_file: Path):
    ingest = load_section(params_file, "ingest", IngestParams)

    assert ingest.target_classes == ("legit", "fraud")
    assert ingest.columns["hour"].kind == "integer"
    assert ingest.columns["hour"].max == 23
    assert ingest.columns["channel"].categories == ("web", "app", "pos")
    assert ingest.columns["amount"].nullable is True
    assert ingest.columns["hour"].nullable is False  # the default


def test_loaded_params_are_frozen(params_file: Path):
    train = load_section(params_file, "train", TrainParams)

    with pytest.raises(ValueError, match="frozen"):
        train.max_depth = 10  # type: ignore[misc]


def test_typo_in_a_key_names_the_dotted_key(tmp_path: Path, tiny_params: dict):
    tiny_params["train"]["max_dpeth"] = tiny_params["train"].pop("max_depth")

    with pytest.raises(ParamsError) as err:
        load_section(_write(tmp_path, tiny_params), "train", TrainParams)

    message = str(err.value)
    assert "train.max_dpeth: Extra inputs are not permitted" in message
    assert "train.max_depth: Field required" in message


def test_extra_key_in_a_nested_column_spec_names_the_full_path(tmp_path: Path, tiny_params: dict):
    tiny_params["ingest"]["columns"]["hour"]["maximum"] = 23

    with pytest.raises(ParamsError, match=r"ingest\.columns\.hour\.maximum: Extra inputs"):
        load_section(_write(tmp_path, tiny_params), "ingest", IngestParams)


def test_out_of_range_value_names_the_key_and_the_bound(tmp_path: Path, tiny_params: dict):
    tiny_params["export"]["max_abs_diff"] = 0

    with pytest.raises(ParamsError, match=r"export\.max_abs_diff: Input should be greater than 0"):
        load_section(_write(tmp_path, tiny_params), "export", ExportParams)


def test_missing_section(tmp_path: Path, tiny_params: dict):
    del tiny_params["split"]
    path = _write(tmp_path, tiny_params)

    with pytest.raises(ParamsError, match=r"has no `split` section"):
        load_section(path, "split", SplitParams)
    # The other sections still load: a stage only needs its own.
    assert load_section(path, "train", TrainParams).n_estimators == 20


def test_invalid_yaml(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text("train: [1, 2\n")

    with pytest.raises(ParamsError, match=r"is not valid YAML"):
        load_section(path, "train", TrainParams)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_params_file_that_is_not_a_mapping(tmp_path: Path, text: str):
    path = tmp_path / "params.yaml"
    path.write_text(text)

    with pytest.raises(ParamsError, match=r"must hold a mapping of sections"):
        read_params_file(path)


def test_missing_params_file(tmp_path: Path):
    with pytest.raises(ParamsError, match=r"cannot read params file .*nope\.yaml"):
        read_params_file(tmp_path / "nope.yaml")


def test_positive_class_must_be_a_target_class(tmp_path: Path, tiny_params: dict):
    tiny_params["ingest"]["positive_class"] = "chargeback"

    with pytest.raises(ParamsError) as err:
        load_section(_write(tmp_path, tiny_params), "ingest", IngestParams)

    message = str(err.value)
    assert "positive_class 'chargeback' is not one of target_classes ['legit', 'fraud']" in message
    assert re.search(r"\bingest\.?: Value error, positive_class", message)  # names the section


def test_target_must_not_be_a_feature(tmp_path: Path, tiny_params: dict):
    tiny_params["ingest"]["columns"]["outcome"] = {"kind": "categorical", "categories": ["x"]}

    with pytest.raises(
        ParamsError, match=r"target 'outcome' must not also be listed under columns"
    ):
        load_section(_write(tmp_path, tiny_params), "ingest", IngestParams)


def test_target_classes_must_be_exactly_two(tmp_path: Path, tiny_params: dict):
    tiny_params["ingest"]["target_classes"] = ["legit", "fraud", "unsure"]

    with pytest.raises(ParamsError, match=r"ingest\.target_classes"):
        load_section(_write(tmp_path, tiny_params), "ingest", IngestParams)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"kind": "categorical"}, "needs a non-empty `categories` list"),
        ({"kind": "categorical", "categories": []}, "needs a non-empty `categories` list"),
        ({"kind": "numeric", "categories": ["a"]}, "`categories` only applies to categorical"),
        ({"kind": "integer", "min": 5, "max": 1}, "min 5.0 is greater than max 1.0"),
        ({"kind": "float"}, "ingest.columns.amount.kind: Input should be"),
    ],
)
def test_invalid_column_spec(tmp_path: Path, tiny_params: dict, spec: dict, problem: str):
    tiny_params["ingest"]["columns"]["amount"] = spec

    with pytest.raises(ParamsError) as err:
        load_section(_write(tmp_path, tiny_params), "ingest", IngestParams)

    assert problem in str(err.value)
    assert "ingest.columns.amount" in str(err.value)


@pytest.mark.parametrize(("test_size", "validation_size"), [(0.5, 0.5), (0.6, 0.5), (0.9, 0.2)])
def test_split_sizes_must_leave_training_rows(
    tmp_path: Path, tiny_params: dict, test_size: float, validation_size: float
):
    tiny_params["split"].update(test_size=test_size, validation_size=validation_size)

    with pytest.raises(ParamsError, match=r"split\b.*test_size \+ validation_size must leave rows"):
        load_section(_write(tmp_path, tiny_params), "split", SplitParams)


def test_split_sizes_just_below_one_are_accepted(tmp_path: Path, tiny_params: dict):
    tiny_params["split"].update(test_size=0.5, validation_size=0.49)

    split = load_section(_write(tmp_path, tiny_params), "split", SplitParams)

    assert split.test_size + split.validation_size == pytest.approx(0.99)
