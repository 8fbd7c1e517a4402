"""The binary tensor data extension without HTTP: bodies split, inputs decoded, outputs encoded.

Bodies are built by hand here, byte by byte as Triton's extension document states them, so a
mistake shared by the server and tritonclient would still show; test_serve_app sends what
tritonclient itself builds.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from modelgate.serve import binary
from modelgate.serve.schemas import RequestError, feeds, tensors_to_columns
from tests.unit.test_serve_schemas import COLUMNS


def strings(*values: bytes) -> bytes:
    """BYTES elements as the extension lays them out: a 4-byte little-endian length, then bytes."""
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def binary_input(name: str, datatype: str, raw: bytes, rows: int = 2) -> dict:
    parameters = {"binary_data_size": len(raw)}
    return {"name": name, "datatype": datatype, "shape": [rows, 1], "parameters": parameters}


AMOUNT = np.array([1.5, np.nan], dtype="<f4").tobytes()
HOUR = np.array([1, 2], dtype="<i8").tobytes()
CHANNEL = strings(b"web", b"")
REGION = strings(b"north", b"south")


def request() -> tuple[dict, bytes]:
    """Two rows, every input binary: the JSON body and the data that follows it."""
    body = {
        "inputs": [
            binary_input("amount", "FP32", AMOUNT),
            binary_input("hour", "INT64", HOUR),
            binary_input("channel", "BYTES", CHANNEL),
            binary_input("region", "BYTES", REGION),
        ]
    }
    return body, AMOUNT + HOUR + CHANNEL + REGION


def test_binary_inputs_become_the_same_columns_as_json_tensors():
    body, data = request()

    values = tensors_to_columns(body, COLUMNS, 10, data)

    assert values["amount"][0] == 1.5 and np.isnan(values["amount"][1])
    assert (values["hour"], values["channel"], values["region"]) == (
        [1, 2],
        ["web", ""],
        ["north", "south"],
    )


def test_binary_and_json_inputs_mix_in_one_request():
    body, _ = request()
    body["inputs"][0] = {"name": "amount", "datatype": "FP32", "shape": [2], "data": [3.0, None]}

    values = tensors_to_columns(body, COLUMNS, 10, HOUR + CHANNEL + REGION)

    assert values["amount"] == [3.0, None] and values["region"] == ["north", "south"]


@pytest.mark.parametrize(
    ("declared", "words"),
    [("abc", "'abc' is not a length"), ("-1", "'-1' is not a length"), ("11", "over the body")],
)
def test_a_header_length_that_is_not_one_or_overruns_the_body_is_400(declared: str, words: str):
    with pytest.raises(RequestError, match=words) as exc:
        binary.split(b'{"a": 1}xx', declared)

    assert exc.value.status == 400


def test_the_header_length_splits_json_from_data():
    assert binary.split(b'{"a": 1}xx', "8") == (b'{"a": 1}', b"xx")
    assert binary.split(b'{"a": 1}', None) == (b'{"a": 1}', b"")


@pytest.mark.parametrize(
    ("data", "status", "field", "words"),
    [
        (AMOUNT + HOUR + CHANNEL + REGION[:-1], 400, "inputs[3]", "runs past the end of the body"),
        (AMOUNT + HOUR + CHANNEL + REGION + b"!", 400, None, "1 byte(s) of binary data follow"),
        (b"", 400, "inputs[0]", "input 'amount': binary_data_size 8 runs past the end"),
    ],
)
def test_sizes_that_do_not_add_up_are_refused_naming_the_input(
    data: bytes, status: int, field: str | None, words: str
):
    body, _ = request()

    with pytest.raises(RequestError) as exc:
        tensors_to_columns(body, COLUMNS, 10, data)

    assert exc.value.status == status
    assert [p.field for p in exc.value.problems] == ([field] if field else [])
    assert words in str(exc.value)


@pytest.mark.parametrize(
    ("parameters", "extra", "words"),
    [
        ({"binary_data_size": "8"}, {}, "binary_data_size '8' is not a byte count"),
        ({"binary_data_size": -8}, {}, "binary_data_size -8 is not a byte count"),
        ({"binary_data_size": True}, {}, "binary_data_size True is not a byte count"),
        ({"binary_data_size": 8}, {"data": [1.0, 2.0]}, "both `data` and binary_data_size"),
    ],
)
def test_a_malformed_size_is_422_naming_the_input(parameters: dict, extra: dict, words: str):
    body, data = request()
    body["inputs"][0] = {**body["inputs"][0], "parameters": parameters, **extra}

    with pytest.raises(RequestError) as exc:
        tensors_to_columns(body, COLUMNS, 10, data)

    assert (exc.value.status, exc.value.problems[0].field) == (422, "inputs[0]")
    assert f"input 'amount': {words}" in exc.value.problems[0].message


@pytest.mark.parametrize(
    ("position", "raw", "words"),
    [
        (0, AMOUNT[:4], "binary_data_size 4, but 2 FP32 value(s) take 8"),
        (1, HOUR + HOUR, "binary_data_size 32, but 2 INT64 value(s) take 16"),
        (2, strings(b"web") + struct.pack("<I", 9) + b"app", "element 1 of 9 bytes runs past"),
        (2, strings(b"web") + b"\x01\x00", "element 1: no 4-byte length before the end"),
        (2, strings(b"web", b"app", b"pos"), "7 byte(s) left after the shape's 2 element(s)"),
        (3, strings(b"north", b"\xff\xfe"), "element 1 is not UTF-8 text"),
    ],
)
def test_data_that_does_not_fit_its_tensor_is_422_naming_the_input(
    position: int, raw: bytes, words: str
):
    body, _ = request()
    parts = [AMOUNT, HOUR, CHANNEL, REGION]
    parts[position] = raw
    name, datatype = body["inputs"][position]["name"], body["inputs"][position]["datatype"]
    body["inputs"][position] = binary_input(name, datatype, raw)

    with pytest.raises(RequestError) as exc:
        tensors_to_columns(body, COLUMNS, 10, b"".join(parts))

    assert (exc.value.status, exc.value.problems[0].field) == (422, f"inputs[{position}]")
    assert f"input {name!r}: {words}" in exc.value.problems[0].message


def test_binary_values_go_through_the_same_checks_as_json_values():
    body, _ = request()
    hour = np.array([1, 24], dtype="<i8").tobytes()
    values = tensors_to_columns(body, COLUMNS, 10, AMOUNT + hour + CHANNEL + REGION)

    with pytest.raises(RequestError) as exc:
        feeds(values, COLUMNS, "reject")

    assert [(p.row, p.field, p.message) for p in exc.value.problems] == [
        (1, "hour", "24 is above the maximum 23")
    ]


@pytest.mark.parametrize(
    ("datatype", "array"),
    [("INT64", np.array([1, 0, 1])), ("FP32", np.array([[0.25, 0.75], [1.0, 0.0]]))],
)
def test_an_output_is_json_or_little_endian_binary_data(datatype: str, array: np.ndarray):
    as_json, none = binary.output("out", datatype, array, binary=False)
    as_binary, raw = binary.output("out", datatype, array, binary=True)

    assert none == b"" and as_json["data"] == array.ravel().tolist()
    assert as_binary == {
        "name": "out",
        "datatype": datatype,
        "shape": list(array.shape),
        "parameters": {"binary_data_size": len(raw)},
    }
    decoded = np.frombuffer(raw, binary.NUMERIC[datatype]).reshape(array.shape)
    np.testing.assert_array_equal(decoded, array)
