"""Request bodies to model feeds, checked against the model's feature schema.

Two shapes come in: `/predict` takes a JSON list of records (field name to value), the Open
Inference Protocol takes one tensor per input. Both become the same per-column value lists and
go through one check, so a value the one refuses the other refuses too, with the same words.
Every problem names its row and field; a request is refused whole, never scored in part.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from modelgate.params import MISSING_CATEGORY, ColumnSpec
from modelgate.serve import binary
from modelgate.serve.errors import Problem, RequestError

MAX_PROBLEMS = 20
SMALL_BATCH = 8
REQUIRED = "missing (null), but the field is required"
NUMERIC_TYPES = set(binary.NUMERIC)
# Output parameters of extensions this server lacks: refused, since ignoring them would return
# something other than what the client will parse.
UNSUPPORTED_OUTPUT_PARAMETERS = ("classification", "shared_memory_region")


Unknown = Literal["reject", "missing"]


def records_to_columns(
    body: Any, columns: Mapping[str, ColumnSpec], max_batch: int
) -> dict[str, list[Any]]:
    """Transpose a list of records into value lists per column, refusing any other shape."""
    if not isinstance(body, list):
        raise RequestError(422, "the body must be a JSON list of records")
    _check_batch(len(body), max_batch)
    problems = []
    for row, record in enumerate(body):
        if not isinstance(record, dict):
            problems.append(Problem(row, None, f"a record must be an object, got {_kind(record)}"))
            continue
        problems += [Problem(row, f, "missing field") for f in columns if f not in record]
        problems += [Problem(row, f, "unknown field") for f in record if f not in columns]
    _raise_if(problems)
    return {name: [record[name] for record in body] for name in columns}


def tensors_to_columns(
    body: Any, columns: Mapping[str, ColumnSpec], max_batch: int, data: bytes = b""
) -> dict[str, list[Any]]:
    """The `inputs` of an inference request, one tensor per feature, as value lists.

    `data` is the binary data after the JSON header, if any (see `binary`).
    """
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise RequestError(422, "an inference request needs an `inputs` list of tensors")
    found: dict[str, list[Any]] = {}
    problems = []
    for position, (tensor, raw) in enumerate(
        zip(inputs, binary.input_buffers(inputs, data), strict=True)
    ):
        try:
            name, values = _tensor(tensor, columns, raw)
        except RequestError as exc:
            problems.append(Problem(None, f"inputs[{position}]", str(exc)))
            continue
        if name in found:
            problems.append(Problem(None, name, "input given twice"))
        found[name] = values
    problems += [Problem(None, n, "missing input") for n in columns if n not in found]
    _raise_if(problems)
    rows = {len(v) for v in found.values()}
    if len(rows) > 1:
        raise RequestError(422, f"inputs disagree on the batch size: {sorted(rows)}")
    _check_batch(rows.pop(), max_batch)
    return found


def feeds(
    values: Mapping[str, list[Any]], columns: Mapping[str, ColumnSpec], unknown: Unknown
) -> dict[str, np.ndarray]:
    """Checked ONNX feeds: float32 [n, 1] (NaN = missing) or strings [n, 1] ("" = missing).

    When every value is plainly valid, numbers are checked in one vectorised pass over all
    numeric columns and categories by set membership; otherwise each value is checked on its
    own, which is what names each problem.
    """
    out: dict[str, np.ndarray] = {}
    rows = len(next(iter(values.values()), []))
    if rows > SMALL_BATCH:  # numpy's per-call overhead loses to plain Python on a few rows
        numeric = {n: s for n, s in columns.items() if s.kind != "categorical"}
        out = _numbers(values, numeric) or {}
        for name, spec in columns.items():
            if spec.kind == "categorical" and (fast := _categories(values[name], spec)) is not None:
                out[name] = fast.reshape(-1, 1)
    problems: list[Problem] = []
    checked: dict[str, list[Any]] = {}
    for name, spec in columns.items():
        if name in out:
            continue
        cells: list[float | str | Problem]
        if spec.kind == "categorical":
            cells = [_category(v, spec, unknown) for v in values[name]]
        else:
            cells = [_number(v, spec) for v in values[name]]
        bad = [Problem(r, name, c.message) for r, c in enumerate(cells) if isinstance(c, Problem)]
        problems += bad
        if len(problems) >= MAX_PROBLEMS:
            break
        checked[name] = cells
    _raise_if(problems)
    return out | _arrays(checked, columns)


def _arrays(checked: dict[str, list[Any]], columns: Mapping[str, ColumnSpec]) -> dict[str, Any]:
    """Checked value lists as feeds: one float32 matrix for the numbers, sliced per column."""
    numeric = [n for n in checked if columns[n].kind != "categorical"]
    out = {
        n: np.array(checked[n], dtype=object).reshape(-1, 1) for n in checked if n not in numeric
    }
    if numeric:
        matrix = np.array([checked[n] for n in numeric], dtype=np.float32)
        out.update({n: matrix[i].reshape(-1, 1) for i, n in enumerate(numeric)})
    return out


def _numbers(
    values: Mapping[str, list[Any]], numeric: Mapping[str, ColumnSpec]
) -> dict[str, np.ndarray] | None:
    """All numeric columns as float32, if every value is a valid number or an allowed null."""
    rows = []
    for name, spec in numeric.items():
        column = values[name]
        if spec.nullable and None in column:
            column = [math.nan if v is None else v for v in column]
        if not all(type(v) is float or type(v) is int for v in column):  # bool is not int here
            return None
        rows.append(column)
    if not rows:
        return {}
    try:
        matrix = np.array(rows, dtype=np.float64)
    except OverflowError:
        return None
    low, high, nullable, integer = _bounds(tuple(numeric.values()))
    missing = np.isnan(matrix)
    with np.errstate(invalid="ignore"):
        bad = (
            (missing & ~nullable)
            | np.isinf(matrix)
            | (matrix < low)
            | (matrix > high)
            | (integer & (matrix != np.floor(matrix)) & ~missing)
        )
    if bad.any():
        return None
    floats = matrix.astype(np.float32)
    return {name: floats[i].reshape(-1, 1) for i, name in enumerate(numeric)}


@functools.cache
def _bounds(specs: tuple[ColumnSpec, ...]) -> tuple[np.ndarray, ...]:
    """Per-column limits as [k, 1] arrays, to broadcast over a [k, n] matrix."""
    return tuple(
        np.array(values)[:, None]
        for values in (
            [-np.inf if s.min is None else s.min for s in specs],
            [np.inf if s.max is None else s.max for s in specs],
            [s.nullable for s in specs],
            [s.kind == "integer" for s in specs],
        )
    )


def _categories(column: list[Any], spec: ColumnSpec) -> np.ndarray | None:
    """The column as strings if every value is a known category (or a null it may hold)."""
    allowed: set[str | None] = set(spec.categories or ())
    if spec.nullable:
        allowed |= {MISSING_CATEGORY, None}
    try:
        if not all(v in allowed for v in column):
            return None
    except TypeError:  # an unhashable value (a list, an object): the slow path names it
        return None
    if spec.nullable and None in column:
        column = [MISSING_CATEGORY if v is None else v for v in column]
    return np.array(column, dtype=object)


def _number(value: Any, spec: ColumnSpec) -> float | Problem:
    if value is None:
        return math.nan if spec.nullable else Problem(None, None, REQUIRED)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Problem(None, None, f"expected a number, got {_kind(value)}")
    number = float(value)
    if math.isnan(number):
        return math.nan if spec.nullable else Problem(None, None, "NaN, but the field is required")
    if math.isinf(number):
        return Problem(None, None, f"{value} is not a finite number")
    if spec.kind == "integer" and not number.is_integer():
        return Problem(None, None, f"expected an integer, got {value}")
    if spec.min is not None and number < spec.min:
        return Problem(None, None, f"{value} is below the minimum {spec.min:g}")
    if spec.max is not None and number > spec.max:
        return Problem(None, None, f"{value} is above the maximum {spec.max:g}")
    return number


def _category(value: Any, spec: ColumnSpec, unknown: Unknown) -> str | Problem:
    if value is None or value == MISSING_CATEGORY:  # a BYTES tensor has no null: "" is missing
        return MISSING_CATEGORY if spec.nullable else Problem(None, None, REQUIRED)
    if not isinstance(value, str):
        return Problem(None, None, f"expected a string, got {_kind(value)}")
    if value in (spec.categories or ()):
        return value
    if unknown == "missing":
        return MISSING_CATEGORY
    return Problem(
        None, None, f"unknown category {value!r} (known: {', '.join(spec.categories or ())})"
    )


def _tensor(
    tensor: Any, columns: Mapping[str, ColumnSpec], raw: bytes | None
) -> tuple[str, list[Any]]:
    if not isinstance(tensor, dict):
        raise RequestError(422, f"a tensor must be an object, got {_kind(tensor)}")
    name, datatype, shape, data = (tensor.get(k) for k in ("name", "datatype", "shape", "data"))
    if not isinstance(name, str) or name not in columns:
        raise RequestError(422, f"unknown input {name!r}")
    expected = "BYTES" if columns[name].kind == "categorical" else "a numeric type"
    if datatype not in (NUMERIC_TYPES if expected != "BYTES" else {"BYTES"}):
        raise RequestError(422, f"input {name!r}: datatype {datatype!r}, expected {expected}")
    if not (
        isinstance(shape, list)
        and len(shape) in (1, 2)
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        and (len(shape) == 1 or shape[1] == 1)
    ):
        raise RequestError(422, f"input {name!r}: shape {shape!r}, expected [n] or [n, 1]")
    if raw is not None:
        try:
            return name, binary.decode(raw, datatype, shape[0])
        except ValueError as exc:
            raise RequestError(422, f"input {name!r}: {exc}") from None
    values = _flat(data)
    if values is None or len(values) != shape[0]:
        raise RequestError(422, f"input {name!r}: data must be a list of {shape[0]} value(s)")
    return name, values


def _flat(data: Any) -> list[Any] | None:
    if not isinstance(data, list):
        return None
    if all(isinstance(d, list) for d in data) and data:
        if any(len(d) != 1 for d in data):
            return None
        return [d[0] for d in data]
    return data


def _check_batch(rows: int, max_batch: int) -> None:
    if rows == 0:
        raise RequestError(422, "empty batch: send at least one row")
    if rows > max_batch:
        raise RequestError(422, f"batch of {rows} rows is over the limit of {max_batch}")


def _raise_if(problems: list[Problem]) -> None:
    if problems:
        raise RequestError(422, "invalid request", problems[:MAX_PROBLEMS])


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def requested_outputs(body: dict[str, Any], available: Sequence[str]) -> dict[str, bool]:
    """The outputs an inference request names (all of them when it names none), in the model's
    order, each mapped to whether it goes back as binary data.

    An output's own `binary_data` overrides the request's `binary_data_output`, as Triton does.
    """
    default = _flag(body.get("parameters"), "binary_data_output", "`parameters`") or False
    outputs = body.get("outputs")
    if outputs is None:
        return dict.fromkeys(available, default)
    names = (
        [o.get("name") if isinstance(o, dict) else None for o in outputs]
        if isinstance(outputs, list)
        else None
    )
    if names is None or not names:
        raise RequestError(422, '`outputs` must be a non-empty list of {"name": ...} objects')
    unknown = [n for n in names if n not in available]
    if unknown:
        raise RequestError(422, f"unknown output(s) {unknown}; this model has {list(available)}")
    binary_data = {}
    for name, requested in zip(names, outputs, strict=True):
        parameters = requested.get("parameters")
        own = _flag(parameters, "binary_data", f"output {name!r}")
        unsupported = [p for p in UNSUPPORTED_OUTPUT_PARAMETERS if p in (parameters or {})]
        if unsupported:
            raise RequestError(422, f"output {name!r}: {unsupported[0]} is not supported")
        binary_data[name] = default if own is None else own
    return {n: binary_data[n] for n in available if n in binary_data}


def _flag(parameters: Any, key: str, where: str) -> bool | None:
    """A boolean parameter of a request or of one requested output; None when not given."""
    if parameters is None:
        return None
    if not isinstance(parameters, dict):
        raise RequestError(422, f"{where}: parameters must be an object")
    value = parameters.get(key)
    if value is not None and not isinstance(value, bool):
        raise RequestError(422, f"{where}: {key} must be true or false, got {value!r}")
    return value
