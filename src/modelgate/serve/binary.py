"""The binary tensor data extension of the Open Inference Protocol, as Triton defines it.

A body may be a JSON header of `Inference-Header-Content-Length` bytes followed by raw tensor
data: each input with `parameters.binary_data_size` (and no `data`) owns the next that many
bytes, in input order. Numbers are row-major little-endian; a BYTES element is a 4-byte
little-endian length and then its bytes. Outputs go back the same way when asked for
(https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md).
`tritonclient.http` uses it at its defaults, for inputs and outputs alike.

A body whose header length or sizes do not add up is 400: it cannot be read at all. A size
that is not a count, or one beside `data`, is 422, as is data that does not fit its tensor.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from modelgate.serve.errors import Problem, RequestError

EXTENSION = "binary_tensor_data"
HEADER = "inference-header-content-length"
SIZE = "binary_data_size"
# Each numeric V2 datatype as little-endian numpy, whatever the server's own byte order.
NUMERIC = {
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8", "INT8": "i1", "INT16": "<i2", "INT32": "<i4",
    "INT64": "<i8", "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
}  # fmt: skip
_LENGTH = struct.Struct("<I")


def split(body: bytes, declared: str | None) -> tuple[bytes, bytes]:
    """The JSON header of a body and the binary data after it (none without the header)."""
    if declared is None:
        return body, b""
    if not (declared.strip().isascii() and declared.strip().isdigit()):
        raise RequestError(400, f"Inference-Header-Content-Length {declared!r} is not a length")
    length = int(declared)
    if length > len(body):
        raise RequestError(
            400, f"Inference-Header-Content-Length {length} is over the body's {len(body)} bytes"
        )
    return body[:length], body[length:]


def input_buffers(inputs: list[Any], data: bytes) -> list[bytes | None]:
    """Each input's binary data, in input order; None where its values are in the JSON."""
    buffers: list[bytes | None] = []
    offset = 0
    for position, tensor in enumerate(inputs):
        size = _declared_size(tensor, position)
        if size is not None and offset + size > len(data):
            raise _refused(
                400, tensor, position,
                f"{SIZE} {size} runs past the end of the body ({len(data) - offset} byte(s) left)",
            )  # fmt: skip
        buffers.append(None if size is None else data[offset : offset + size])
        offset += size or 0
    if offset != len(data):
        raise RequestError(
            400, f"{len(data) - offset} byte(s) of binary data follow the inputs' {offset}"
        )
    return buffers


def decode(raw: bytes, datatype: str, count: int) -> list[Any]:
    """`count` values of one input; ValueError says what does not fit."""
    if datatype == "BYTES":
        return _strings(raw, count)
    dtype = np.dtype(NUMERIC[datatype])
    if len(raw) != count * dtype.itemsize:
        raise ValueError(
            f"{SIZE} {len(raw)}, but {count} {datatype} value(s) take {count * dtype.itemsize}"
        )
    values: list[Any] = np.frombuffer(raw, dtype).tolist()
    return values


def output(name: str, datatype: str, array: np.ndarray, binary: bool) -> tuple[dict, bytes]:
    """One output tensor, its values in the JSON or as binary data (returned beside it)."""
    typed = np.ascontiguousarray(array, dtype=NUMERIC[datatype])
    tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(typed.shape)}
    if not binary:
        tensor["data"] = typed.ravel().tolist()
        return tensor, b""
    raw = typed.tobytes()
    tensor["parameters"] = {SIZE: len(raw)}
    return tensor, raw


def _declared_size(tensor: Any, position: int) -> int | None:
    parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
    if not isinstance(parameters, dict) or SIZE not in parameters:
        return None
    size = parameters[SIZE]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _refused(422, tensor, position, f"{SIZE} {size!r} is not a byte count")
    if "data" in tensor:
        raise _refused(422, tensor, position, f"both `data` and {SIZE}: send one")
    return size


def _refused(status: int, tensor: dict, position: int, message: str) -> RequestError:
    problem = Problem(None, f"inputs[{position}]", f"input {tensor.get('name')!r}: {message}")
    return RequestError(status, "unreadable binary data", [problem])


def _strings(raw: bytes, count: int) -> list[Any]:
    values = []
    offset = 0
    for index in range(count):
        if offset + _LENGTH.size > len(raw):
            raise ValueError(f"element {index}: no 4-byte length before the end of its data")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise ValueError(
                f"element {index} of {length} bytes runs past the end of its {len(raw)} bytes"
            )
        try:
            values.append(raw[offset : offset + length].decode())
        except UnicodeDecodeError:
            raise ValueError(f"element {index} is not UTF-8 text") from None
        offset += length
    if offset != len(raw):
        raise ValueError(f"{len(raw) - offset} byte(s) left after the shape's {count} element(s)")
    return values
