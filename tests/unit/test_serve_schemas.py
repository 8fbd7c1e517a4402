"""Request checks of the serving app, without HTTP: every refusal names its row and field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelgate.params import ColumnSpec
from modelgate.serve.schemas import (
    RequestError,
    feeds,
    records_to_columns,
    requested_outputs,
    tensors_to_columns,
)

COLUMNS = {
    "amount": ColumnSpec(kind="numeric", min=0, nullable=True),
    "hour": ColumnSpec(kind="integer", min=0, max=23),
    "channel": ColumnSpec(kind="categorical", categories=("web", "app"), nullable=True),
    "region": ColumnSpec(kind="categorical", categories=("north", "south")),
}
GOOD = {"amount": 12.5, "hour": 3, "channel": "web", "region": "north"}


def _problems(exc: pytest.ExceptionInfo[RequestError]) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.field) for p in exc.value.problems]


def test_records_become_typed_feeds_with_missing_values_encoded():
    records = [GOOD, {"amount": None, "hour": 23, "channel": None, "region": "south"}]

    out = feeds(records_to_columns(records, COLUMNS, 10), COLUMNS, "reject")

    assert out["amount"].dtype == np.float32 and out["amount"].shape == (2, 1)
    assert out["amount"][0, 0] == 12.5 and math.isnan(out["amount"][1, 0])
    assert out["hour"].ravel().tolist() == [3.0, 23.0]
    assert out["channel"].ravel().tolist() == ["web", ""]
    assert out["region"].dtype == object


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "12", "expected a number, got string"),
        ("amount", True, "expected a number, got boolean"),
        ("amount", float("inf"), "inf is not a finite number"),
        ("amount", -1, "-1 is below the minimum 0"),
        ("hour", None, "missing (null), but the field is required"),
        ("hour", float("nan"), "NaN, but the field is required"),
        ("hour", 2.5, "expected an integer, got 2.5"),
        ("hour", 24, "24 is above the maximum 23"),
        ("channel", 7, "expected a string, got int"),
        ("channel", "fax", "unknown category 'fax' (known: web, app)"),
        ("region", None, "missing (null), but the field is required"),
        ("region", "", "missing (null), but the field is required"),
    ],
)
@pytest.mark.parametrize("rows", [2, 12])  # a few rows go value by value, more are vectorised
def test_a_bad_value_is_refused_naming_row_and_field(
    field: str, value: object, message: str, rows: int
):
    records = [GOOD] * (rows - 1) + [{**GOOD, field: value}]
    row = rows - 1

    with pytest.raises(RequestError) as exc:
        feeds(records_to_columns(records, COLUMNS, 100), COLUMNS, "reject")

    assert exc.value.status == 422
    assert [(p.row, p.field, p.message) for p in exc.value.problems] == [(row, field, message)]
    assert f"row {row}, {field}: {message}" in str(exc.value)


def test_the_vectorised_path_gives_what_the_row_by_row_path_gives():
    variants = [
        GOOD,
        {"amount": None, "hour": 23, "channel": None, "region": "south"},
        {"amount": float("nan"), "hour": 0.0, "channel": "", "region": "north"},
        {"amount": 10**6, "hour": 7, "channel": "app", "region": "south"},
    ]
    records = variants * 5  # 20 rows: vectorised

    batch = feeds(records_to_columns(records, COLUMNS, 100), COLUMNS, "reject")
    one_by_one = [feeds(records_to_columns([r], COLUMNS, 100), COLUMNS, "reject") for r in records]

    for name in COLUMNS:
        expected = np.concatenate([f[name] for f in one_by_one])
        assert batch[name].dtype == expected.dtype
        if expected.dtype == object:
            assert batch[name].tolist() == expected.tolist()
        else:
            np.testing.assert_array_equal(batch[name], expected)


def test_nan_and_empty_string_in_nullable_fields_are_missing_values():
    record = {**GOOD, "amount": float("nan"), "channel": ""}

    out = feeds(records_to_columns([record], COLUMNS, 10), COLUMNS, "reject")

    assert math.isnan(out["amount"][0, 0])
    assert out["channel"].ravel().tolist() == [""]


def test_unknown_category_can_map_to_missing_by_setting():
    records = [{**GOOD, "channel": "fax", "region": "east"}]

    out = feeds(records_to_columns(records, COLUMNS, 10), COLUMNS, "missing")

    assert out["channel"].ravel().tolist() == [""]
    assert out["region"].ravel().tolist() == [""]


def test_missing_and_extra_fields_are_named_per_row():
    records = [GOOD, {k: v for k, v in GOOD.items() if k != "hour"} | {"colour": "red"}, 5]

    with pytest.raises(RequestError) as exc:
        records_to_columns(records, COLUMNS, 10)

    assert _problems(exc) == [(1, "hour"), (1, "colour"), (2, None)]
    assert [p.message for p in exc.value.problems] == [
        "missing field",
        "unknown field",
        "a record must be an object, got int",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rows": []}, "the body must be a JSON list of records"),
        ([], "empty batch: send at least one row"),
        ([GOOD] * 4, "batch of 4 rows is over the limit of 3"),
    ],
)
def test_batch_shape_and_size_are_checked(body: object, message: str):
    with pytest.raises(RequestError, match=message) as exc:
        records_to_columns(body, COLUMNS, 3)

    assert exc.value.status == 422


def test_many_bad_rows_are_reported_but_capped():
    records = [{**GOOD, "hour": -1}] * 50

    with pytest.raises(RequestError) as exc:
        feeds(records_to_columns(records, COLUMNS, 100), COLUMNS, "reject")

    assert len(exc.value.problems) == 20
    assert str(exc.value).endswith("(and 17 more)")


# --- Open Inference Protocol tensors ------------------------------------------------------------


def _tensor(name: str, data: list, datatype: str = "FP32", shape: list | None = None) -> dict:
    return {"name": name, "datatype": datatype, "shape": shape or [len(data), 1], "data": data}


def _inputs(**changes: dict) -> dict:
    tensors = {
        "amount": _tensor("amount", [1.5, None]),
        "hour": _tensor("hour", [[1], [2]], "INT64"),
        "channel": _tensor("channel", ["web", "app"], "BYTES", [2]),
        "region": _tensor("region", ["north", "south"], "BYTES"),
    }
    return {"inputs": list((tensors | changes).values())}


def test_tensors_become_the_same_columns_as_records():
    values = tensors_to_columns(_inputs(), COLUMNS, 10)

    assert values == {
        "amount": [1.5, None],
        "hour": [1, 2],
        "channel": ["web", "app"],
        "region": ["north", "south"],
    }


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"hour": _tensor("hour", [1, 2], "BYTES")}, "inputs[1]", "datatype 'BYTES', expected a"),
        ({"region": _tensor("region", ["north"], "BYTES", [2, 1])}, "inputs[3]", "list of 2 value"),
        ({"region": _tensor("region", ["a", "b"], "BYTES", [1, 2])}, "inputs[3]", "shape [1, 2]"),
        ({"region": _tensor("zone", ["a", "b"], "BYTES")}, "inputs[3]", "unknown input 'zone'"),
        ({"region": "north"}, "inputs[3]", "a tensor must be an object, got string"),
    ],
)
def test_a_bad_tensor_is_refused_naming_it(change: dict, field: str, message: str):
    with pytest.raises(RequestError) as exc:
        tensors_to_columns(_inputs(**change), COLUMNS, 10)

    assert (exc.value.problems[0].field, exc.value.status) == (field, 422)
    assert message in exc.value.problems[0].message


def test_a_missing_input_and_disagreeing_batch_sizes_are_refused():
    body = _inputs()
    del body["inputs"][0]
    with pytest.raises(RequestError) as missing:
        tensors_to_columns(body, COLUMNS, 10)
    with pytest.raises(RequestError, match=r"inputs disagree on the batch size: \[1, 2\]"):
        tensors_to_columns(_inputs(hour=_tensor("hour", [1], "INT64")), COLUMNS, 10)

    assert _problems(missing) == [(None, "amount")]


BINARY = {"binary_data": True}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, {"decision": False, "probabilities": False}),
        ({"outputs": [{"name": "probabilities"}]}, {"probabilities": False}),
        (  # tritonclient when no outputs are given
            {"parameters": {"binary_data_output": True}},
            {"decision": True, "probabilities": True},
        ),
        (  # tritonclient's InferRequestedOutput at its default; the model's order
            {"outputs": [{"name": "probabilities", "parameters": BINARY}, {"name": "decision"}]},
            {"decision": False, "probabilities": True},
        ),
        (  # an output's own flag overrides the request's, as in Triton
            {
                "parameters": {"binary_data_output": True},
                "outputs": [{"name": "decision", "parameters": {"binary_data": False}}],
            },
            {"decision": False},
        ),
    ],
)
def test_requested_outputs_and_which_go_back_as_binary(body: dict, expected: dict[str, bool]):
    assert requested_outputs(body, ("decision", "probabilities")) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"outputs": [{"name": "logits"}]}, "unknown output(s) ['logits']"),
        ({"outputs": []}, "`outputs` must be a non-empty list"),
        ({"outputs": "probabilities"}, "`outputs` must be a non-empty list"),
        ({"outputs": [3]}, "unknown output(s) [None]"),
        ({"parameters": "binary"}, "`parameters`: parameters must be an object"),
        ({"parameters": {"binary_data_output": 1}}, "binary_data_output must be true or false"),
        (
            {"outputs": [{"name": "decision", "parameters": {"binary_data": "yes"}}]},
            "output 'decision': binary_data must be true or false, got 'yes'",
        ),
        (
            {"outputs": [{"name": "decision", "parameters": {"classification": 2}}]},
            "output 'decision': classification is not supported",
        ),
    ],
)
def test_unknown_or_malformed_outputs_are_refused(body: dict, message: str):
    with pytest.raises(RequestError) as exc:
        requested_outputs(body, ("decision", "probabilities"))

    assert exc.value.status == 422
    assert message in str(exc.value)
