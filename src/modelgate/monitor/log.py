"""The serving app's prediction log, read back: one row per logged prediction, features typed as
the pipeline types them.

The format and the file names are the writer's (`modelgate.serve.prediction_log`; the README's
"Prediction log"). Only closed files are read, `predictions-*.jsonl` (or `.jsonl.gz`, as a
shipper may compress them), at any depth under a directory or an `s3://bucket/prefix`; `.open`
files are still being written. A file whose first row comes at or after `end` is not fetched.

Every line is checked: JSON, an object, `schema` 1, each field of its type. The rows returned
(in the window, of the model version asked for) must also hold exactly the schema's features,
each a number or null (numeric) or a string or null (categorical). A line that fails is an error
naming its file and line: a bank wants to know its record of decisions is damaged before it
draws conclusions from it. `errors="skip"` drops such lines instead and says how many in the
frame's `attrs`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import gzip
import operator
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd

from modelgate.params import MISSING_CATEGORY
from modelgate.schema import FeatureSchema
from modelgate.serve.log_files import LABEL, NAME, OPEN, PREFIX, SUFFIX
from modelgate.serve.prediction_log import APPROVE, DECLINE, SCHEMA

COLUMNS = ("request_id", "row", "time", "model_name", "model_version", "score", "decision",
           "endpoint")  # fmt: skip
_TYPES: dict[str, tuple[type, ...]] = {
    "request_id": (str,), "row": (int,), "time": (str,), "model_name": (str,),
    "model_version": (str,), "features": (dict,), "score": (float, int), "decision": (str,),
    "endpoint": (str,),
}  # fmt: skip
_FIELDS = operator.itemgetter("schema", *_TYPES)
_FAST = (int, *(types[0] for types in _TYPES.values()))
_Where = tuple[str, int]  # a file's name and a line number in it
MAX_PROBLEMS = 20
FETCH_THREADS = 8


class LogError(ValueError):
    """The log cannot be read, or some lines break its schema; each problem names its place."""


@dataclass(frozen=True)
class _File:
    name: str  # as an error names it: a path or an s3:// URL
    first: datetime  # the time of its first row, from its name
    fetch: Callable[[], bytes]


def read_window(
    source: str | Path,
    start: datetime | None,
    end: datetime | None,
    schema: FeatureSchema,
    *,
    model_version: str | None = None,
    endpoint_url: str | None = None,
    errors: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """Logged predictions with `start <= time < end` (None: unbounded), sorted by time.

    Columns `COLUMNS`, then the schema's features in model order: numbers float64 (NaN when
    missing), categories str (`MISSING_CATEGORY` when missing). `endpoint_url` (S3 only)
    defaults to the `AWS_ENDPOINT_URL` variable, credentials to the usual AWS chain. Raises
    LogError when no log file is found, or (`errors="raise"`) for any line that breaks the
    schema; with "skip", `attrs["skipped_lines"]` counts them, `attrs["problems"]` names some.
    `attrs["other_versions"]` counts the window's rows of other model versions, left out.
    """
    for bound in (start, end):
        if bound is not None and bound.utcoffset() is None:
            raise ValueError(f"window bound {bound} has no time zone: give it in UTC")
    files = _listing(str(source), endpoint_url)
    if not files:
        raise LogError(f"no prediction log files ({PREFIX}*{SUFFIX}) under {source}")
    wanted = [f for f in files if end is None or f.first < end]
    with _no_gc():
        records, where, problems = _parse(wanted, schema.task == "regression")
    times = _times([r["time"] for r in records], where, problems)
    in_window = (
        times.notna()
        & (start is None or times >= pd.Timestamp(start))
        & (end is None or times < pd.Timestamp(end))
    ).to_numpy()
    served = np.array([model_version in (None, r["model_version"]) for r in records], dtype=bool)
    keep = in_window & served
    records, where, times = _compress(records, keep), _compress(where, keep), times[keep]
    features, bad = _features([r["features"] for r in records], schema, where, problems)
    if problems and errors == "raise":
        listed = "\n".join(f"  - {p}" for p in problems[:MAX_PROBLEMS])
        raise LogError(f"{len(problems)} line(s) of the prediction log break its schema:\n{listed}")
    frame = _frame(records, times, features, schema).loc[~bad]
    frame = frame.sort_values(["time", "request_id", "row"], kind="stable", ignore_index=True)
    frame.attrs.update(
        skipped_lines=len(problems),
        problems=problems[:MAX_PROBLEMS],
        other_versions=int((in_window & ~served).sum()),
    )
    return frame


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Parsing allocates ~10 objects a line: the collector's passes would find nothing to free
    and cost a fifth of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _listing(source: str, endpoint_url: str | None) -> list[_File]:
    """The closed log files under `source`, in name (hence time) order."""
    found = _s3_objects(source, endpoint_url) if source.startswith("s3://") else _local(source)
    files = []
    for name, fetch in found:
        match = NAME.match(base := name.rsplit("/", 1)[-1])
        if match and base[match.end() :] in ("", ".gz"):
            first = datetime.strptime(match["first"], LABEL)
            files.append(_File(name, pd.Timestamp(first, tz="UTC").to_pydatetime(), fetch))
    return sorted(files, key=lambda f: (f.name.rsplit("/", 1)[-1], f.name))


def _local(source: str) -> Iterator[tuple[str, Callable[[], bytes]]]:
    root = Path(source)
    if not root.is_dir():
        raise LogError(f"prediction log directory {root} does not exist")
    for path in root.rglob(f"{PREFIX}*"):
        if not path.name.endswith(OPEN):
            yield str(path), path.read_bytes


def _s3_objects(url: str, endpoint_url: str | None) -> Iterator[tuple[str, Callable[[], bytes]]]:
    import boto3  # only for an s3:// source: its import alone takes ~0.3 s
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    client = boto3.client("s3", endpoint_url=endpoint_url)  # None: AWS_ENDPOINT_URL or AWS
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    except (BotoCoreError, ClientError) as exc:
        raise LogError(f"cannot list {url}: {exc}") from exc

    def fetch(key: str) -> bytes:
        try:
            body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise LogError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
        return body

    for key in keys:
        yield f"s3://{bucket}/{key}", functools.partial(fetch, key)


def _parse(
    files: list[_File], regressor: bool = False
) -> tuple[list[dict[str, Any]], list[_Where], list[str]]:
    """Every line whose envelope is sound, where each came from, and what is wrong elsewhere."""
    with ThreadPoolExecutor(min(FETCH_THREADS, len(files) or 1)) as pool:
        contents = list(pool.map(_read, files))  # S3 round trips overlap; parsing holds the GIL
    records: list[dict[str, Any]] = []
    where: list[_Where] = []
    problems: list[str] = []
    for file, data in zip(files, contents, strict=True):
        for number, line in enumerate(data.split(b"\n"), start=1):
            if not line:
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                problems.append(f"{file.name} line {number}: not JSON ({exc})")
                continue
            problem = _regressor_problem(record) if regressor else _envelope_problem(record)
            if problem:
                problems.append(f"{file.name} line {number}: {problem}")
                continue
            records.append(record)
            where.append((file.name, number))
    return records, where, problems


def _read(file: _File) -> bytes:
    try:
        data = file.fetch()
        return gzip.decompress(data) if file.name.endswith(".gz") else data
    except (OSError, EOFError) as exc:  # gzip's errors are OSErrors too
        raise LogError(f"cannot read {file.name}: {exc}") from exc


def _envelope_problem(record: Any) -> str | None:
    """What is wrong with a line's fields (not its features), or None."""
    try:  # the common case in one C-level pass; anything else gets the reasoned check below
        if (
            tuple(map(type, _FIELDS(record))) == _FAST
            and record["schema"] == SCHEMA
            and record["decision"] in (APPROVE, DECLINE)
            and 0 <= record["score"] <= 1
            and record["row"] >= 0
        ):
            return None
    except (KeyError, TypeError):
        pass
    if type(record) is not dict:
        return f"a {type(record).__name__}, not an object"
    version = record.get("schema")
    if type(version) is not int or version != SCHEMA:
        return f"schema version {version!r}; this reader knows {SCHEMA}"
    for key, types in _TYPES.items():
        if type(record.get(key)) not in types:
            return f"`{key}` is {record.get(key)!r}, not {' or '.join(t.__name__ for t in types)}"
    if record["decision"] not in (APPROVE, DECLINE):
        return f"`decision` {record['decision']!r} is neither {APPROVE!r} nor {DECLINE!r}"
    if not 0 <= record["score"] <= 1 or record["row"] < 0:
        return f"`score` {record['score']!r} or `row` {record['row']!r} out of range"
    return None


def _regressor_problem(record: Any) -> str | None:
    """A regressor's line: its prediction as `score`, any finite number, and no decision
    (`modelgate.serve.prediction_log.encode`)."""
    if type(record) is dict and record.get("decision") is None:
        line = {**record, "decision": APPROVE, "score": 0.5}  # check the rest as a binary line
        problem = _envelope_problem(line)
        if problem is None and type(record.get("score")) not in (float, int):
            return f"`score` is {record.get('score')!r}, not a number"
        return problem
    if type(record) is dict:
        return f"`decision` {record.get('decision')!r}: a regressor's line has none (null)"
    return _envelope_problem(record)


def _times(texts: list[str], where: list[_Where], problems: list[str]) -> pd.Series:
    """UTC times; a time that is not ISO 8601 with `Z` is a problem (and NaT)."""
    times = pd.to_datetime(pd.Series(texts, dtype=object), format="ISO8601", utc=True,
                           errors="coerce")  # fmt: skip
    bad = times.isna().to_numpy() | np.array([not t.endswith("Z") for t in texts], dtype=bool)
    problems += [
        f"{_at(where[i])}: `time` {texts[i]!r} is not ISO 8601 UTC" for i in np.flatnonzero(bad)
    ]
    return times.where(~bad)


def _features(
    rows: list[dict[str, Any]], schema: FeatureSchema, where: list[_Where], problems: list[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Feature columns as the pipeline types them, and which rows break the schema."""
    expected = set(schema.features)
    bad = np.array([row.keys() != expected for row in rows], dtype=bool)
    for i in np.flatnonzero(bad):
        missing, extra = sorted(expected - rows[i].keys()), sorted(rows[i].keys() - expected)
        problems.append(f"{_at(where[i])}: features lack {missing} and add {extra}")
    columns: dict[str, np.ndarray] = {}
    for name in schema.features:
        values = [row.get(name) for row in rows]
        numeric = schema.columns[name].kind != "categorical"
        allowed = {int, float, type(None)} if numeric else {str, type(None)}
        if not set(map(type, values)) <= allowed:  # the row by row scan only when needed
            wrong = np.array([type(v) not in allowed for v in values], dtype=bool) & ~bad
            problems += [f"{_at(where[i])}: feature {name!r} is {values[i]!r}"
                         for i in np.flatnonzero(wrong)]  # fmt: skip
            bad |= wrong
            values = [None if w else v for v, w in zip(values, wrong, strict=True)]
        columns[name] = (
            np.array(values, dtype=np.float64)
            if numeric
            else np.array([MISSING_CATEGORY if v is None else v for v in values], dtype=object)
        )
    return columns, bad


def _frame(
    records: list[dict[str, Any]],
    times: pd.Series,
    features: dict[str, np.ndarray],
    schema: FeatureSchema,
) -> pd.DataFrame:
    data: dict[str, Any] = {
        key: np.array([r[key] for r in records], dtype=object)
        for key in ("request_id", "model_name", "model_version", "decision", "endpoint")
    }
    data["row"] = np.array([r["row"] for r in records], dtype=np.int64)
    data["score"] = np.array([r["score"] for r in records], dtype=np.float64)
    data["time"] = times.astype("datetime64[ns, UTC]").reset_index(drop=True)
    return pd.DataFrame({key: data[key] for key in COLUMNS} | features)


def _at(where: _Where) -> str:
    return f"{where[0]} line {where[1]}"


def _compress(items: list[Any], keep: list[bool] | np.ndarray) -> list[Any]:
    return [item for item, kept in zip(items, keep, strict=True) if kept]
