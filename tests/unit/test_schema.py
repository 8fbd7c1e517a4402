"""The data contract on raw text: every broken rule is reported; clean data comes out typed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelgate.params import IngestParams
from modelgate.schema import (
    MAX_EXAMPLES,
    DataContractError,
    FeatureSchema,
    Violation,
    enforce_contract,
)


@pytest.fixture
def ingest_params(tiny_params: dict) -> IngestParams:
    return IngestParams.model_validate(tiny_params["ingest"])


def _raw(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    """Cells as `read_raw` yields them: strings, or None for an empty cell."""
    return pd.DataFrame(rows, dtype=object)


def _row(**changes: str | None) -> dict[str, str | None]:
    return {"outcome": "legit", "amount": "12.5", "hour": "3", "channel": "web", **changes}


def _violations(raw: pd.DataFrame, params: IngestParams) -> list[Violation]:
    with pytest.raises(DataContractError) as err:
        enforce_contract(raw, params, "raw.csv")
    return err.value.violations


def test_clean_rows_come_out_typed_in_contract_order(ingest_params: IngestParams):
    raw = _raw([_row(), _row(outcome="fraud", amount=None, hour="23", channel=None)])
    raw = raw[["channel", "hour", "outcome", "amount"]]  # the file's order does not matter

    typed = enforce_contract(raw, ingest_params, "raw.csv")

    assert list(typed.columns) == ["outcome", *ingest_params.columns]
    assert typed["outcome"].dtype == "category"
    assert list(typed["outcome"].cat.categories) == ["legit", "fraud"]
    assert typed["amount"].dtype == "float64"
    assert typed["amount"].iloc[0] == 12.5
    assert np.isnan(typed["amount"].iloc[1])
    assert typed["hour"].dtype == "int64"
    assert typed["hour"].tolist() == [3, 23]
    assert list(typed["channel"].cat.categories) == ["web", "app", "pos"]
    assert typed["channel"].isna().tolist() == [False, True]


def test_whole_numbers_written_as_floats_are_integers(ingest_params: IngestParams):
    typed = enforce_contract(_raw([_row(hour="7.0"), _row(hour="0")]), ingest_params, "raw.csv")

    assert typed["hour"].dtype == "int64"
    assert typed["hour"].tolist() == [7, 0]


def test_nullable_integer_column_is_float_with_nan(tiny_params: dict):
    tiny_params["ingest"]["columns"]["hour"]["nullable"] = True
    params = IngestParams.model_validate(tiny_params["ingest"])

    typed = enforce_contract(_raw([_row(), _row(hour=None)]), params, "raw.csv")

    assert typed["hour"].dtype == "float64"
    assert typed["hour"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("changes", "column", "rule"),
    [
        ({"amount": "12,5"}, "amount", "kind: numeric (not a number)"),
        ({"amount": "inf"}, "amount", "kind: numeric (infinite)"),
        ({"amount": "-0.01"}, "amount", "min: 0"),
        ({"hour": "3.5"}, "hour", "kind: integer (not a whole number)"),
        ({"hour": "24"}, "hour", "max: 23"),
        ({"hour": "-1"}, "hour", "min: 0"),
        ({"hour": None}, "hour", "nullable: false"),
        ({"channel": "fax"}, "channel", "categories: ['web', 'app', 'pos']"),
        ({"channel": "Web"}, "channel", "categories: ['web', 'app', 'pos']"),  # case matters
        ({"outcome": "maybe"}, "outcome", "categories: ['legit', 'fraud']"),
        ({"outcome": None}, "outcome", "nullable: false"),
    ],
)
def test_each_rule_is_reported_with_column_rows_and_line(
    ingest_params: IngestParams, changes: dict, column: str, rule: str
):
    raw = _raw([_row(), _row(**changes), _row()])

    (violation,) = _violations(raw, ingest_params)

    assert (violation.column, violation.rule, violation.rows) == (column, rule, 1)
    # Row 1 of the frame is line 3 of the file: the header is line 1.
    assert violation.examples == (f"{changes[column]!r} at line 3",)


def test_boundaries_are_inclusive(ingest_params: IngestParams):
    raw = _raw([_row(hour="0", amount="0"), _row(hour="23", amount="1e9")])

    typed = enforce_contract(raw, ingest_params, "raw.csv")

    assert typed["hour"].tolist() == [0, 23]


def test_every_violation_is_reported_at_once(ingest_params: IngestParams):
    raw = _raw([_row(hour="99", channel="fax"), _row(amount="abc", outcome="maybe"), _row()])

    found = {(v.column, v.rule, v.rows) for v in _violations(raw, ingest_params)}

    assert found == {
        ("hour", "max: 23", 1),
        ("channel", "categories: ['web', 'app', 'pos']", 1),
        ("amount", "kind: numeric (not a number)", 1),
        ("outcome", "categories: ['legit', 'fraud']", 1),
    }


def test_row_count_is_exact_and_examples_are_capped(ingest_params: IngestParams):
    raw = _raw([_row(hour=str(24 + i)) for i in range(7)] + [_row()])

    (violation,) = _violations(raw, ingest_params)

    assert violation.rows == 7
    assert len(violation.examples) == MAX_EXAMPLES
    assert violation.examples[0] == "'24' at line 2"


def test_missing_and_extra_columns_are_reported_before_values(ingest_params: IngestParams):
    raw = _raw([_row(hour="99", referrer="x")]).drop(columns="amount")

    found = {(v.column, v.rule, v.rows) for v in _violations(raw, ingest_params)}

    assert found == {
        ("amount", "required column", 1),
        ("referrer", "undeclared column (extra_columns: error)", 1),
    }


def test_extra_columns_can_be_dropped(tiny_params: dict):
    tiny_params["ingest"]["extra_columns"] = "drop"
    params = IngestParams.model_validate(tiny_params["ingest"])

    typed = enforce_contract(_raw([_row(referrer="x")]), params, "raw.csv")

    assert list(typed.columns) == ["outcome", *params.columns]


def test_no_rows_is_a_violation(ingest_params: IngestParams):
    raw = _raw([_row()]).iloc[:0]

    (violation,) = _violations(raw, ingest_params)

    assert (violation.column, violation.rule, violation.rows) == ("*", "at least one data row", 0)


def test_contract_error_message_lists_each_violation():
    error = DataContractError(
        "data/raw.csv",
        [
            Violation("hour", "max: 23", 2, ("'24' at line 3",)),
            Violation("amount", "required column", 9),
        ],
    )

    assert str(error) == (
        "data/raw.csv breaks the data contract:\n"
        "  - column 'hour': 2 row(s) break rule `max: 23` (e.g. '24' at line 3)\n"
        "  - column 'amount': 9 row(s) break rule `required column`"
    )


def test_feature_schema_orders_numeric_before_categorical(ingest_params: IngestParams):
    schema = FeatureSchema.from_params(ingest_params)

    assert (schema.target, schema.positive_class, schema.negative_class) == (
        "outcome",
        "fraud",
        "legit",
    )
    assert schema.numeric == ["amount", "hour"]
    assert schema.categorical == ["channel"]
    assert schema.features == ["amount", "hour", "channel"]


def test_feature_schema_round_trips_through_its_dict(ingest_params: IngestParams):
    schema = FeatureSchema.from_params(ingest_params)

    data = schema.to_dict()

    assert FeatureSchema.from_dict(data) == schema
    assert data["columns"]["hour"] == {
        "kind": "integer",
        "nullable": False,
        "min": 0.0,
        "max": 23.0,
    }
    assert "categories" not in data["columns"]["amount"]  # None fields are left out
