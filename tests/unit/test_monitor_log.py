"""Reading the prediction log back: from a directory and from S3 (moto's server on loopback),
typed as the pipeline types features, windowed, and strict about every line."""

from __future__ import annotations

import gzip
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import orjson
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

from modelgate.model import model_frame
from modelgate.monitor.log import COLUMNS, LogError, read_window
from modelgate.params import ColumnSpec
from modelgate.schema import FeatureSchema
from modelgate.serve.log_files import file_label
from modelgate.serve.prediction_log import Batch, PredictionLog, encode
from modelgate.serve.telemetry import Metrics

SCHEMA = FeatureSchema(
    "outcome", "fraud", "legit",
    {"amount": ColumnSpec(kind="numeric", nullable=True, min=0),
     "hour": ColumnSpec(kind="integer", min=0, max=23),
     "channel": ColumnSpec(kind="categorical", categories=("web", "app", "pos"), nullable=True)},
)  # fmt: skip
T0 = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)


def batch(request_id: str, when: datetime, rows: int = 2, version: str = "v1", **features) -> Batch:
    columns = features or {
        "amount": [12.5, None, *[3.0] * (rows - 2)][:rows],
        "hour": list(range(rows)),
        "channel": np.array(["web", "", *["pos"] * (rows - 2)][:rows], dtype=object),
    }
    scores = [round(0.1 + 0.8 * i / max(rows - 1, 1), 6) for i in range(rows)]
    return Batch(request_id, when.timestamp(), "/predict", "tiny-model", version, columns,
                 scores, [s >= 0.5 for s in scores])  # fmt: skip


def write(directory: Path, *batches: Batch, seq: int = 1, suffix: str = ".jsonl") -> Path:
    """Batches as one closed log file named as the writer names it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"predictions-{file_label(batches[0].time)}-99-{seq:06d}{suffix}"
    data = b"".join(line for b in batches for line in encode(b))
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    return path


def test_rows_come_back_typed_as_the_pipeline_types_them(tmp_path: Path):
    write(tmp_path, batch("a", T0), batch("b", T0 + timedelta(seconds=1), rows=3))

    frame = read_window(tmp_path, None, None, SCHEMA)

    assert list(frame.columns) == [*COLUMNS, "amount", "hour", "channel"]
    assert frame[["request_id", "row"]].values.tolist() == [
        ["a", 0], ["a", 1], ["b", 0], ["b", 1], ["b", 2]
    ]  # fmt: skip
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"].iloc[0] == pd.Timestamp(T0)
    assert (frame["amount"].dtype, frame["hour"].dtype) == (np.float64, np.float64)
    assert np.isnan(frame["amount"].iloc[1]) and frame["amount"].iloc[0] == 12.5
    assert frame["channel"].tolist() == ["web", "", "web", "", "pos"]
    assert frame["decision"].tolist() == ["approve", "decline", "approve", "decline", "decline"]
    assert frame["score"].tolist() == [0.1, 0.9, 0.1, 0.5, 0.9]
    assert set(frame["endpoint"]) == {"/predict"} and frame.attrs["skipped_lines"] == 0
    typed = model_frame(frame, SCHEMA)  # what the pipeline and the monitor's tests take
    assert list(typed.columns) == SCHEMA.features


def test_a_missing_category_logged_as_null_is_the_missing_category_too(tmp_path: Path):
    rows = batch("a", T0, 1, amount=[1.0], hour=[3], channel=[None])
    write(tmp_path, rows)

    assert read_window(tmp_path, None, None, SCHEMA)["channel"].tolist() == [""]


def test_the_window_is_start_inclusive_end_exclusive_across_files(tmp_path: Path):
    write(tmp_path, batch("a", T0), batch("b", T0 + timedelta(hours=1)), seq=1)
    write(tmp_path / "2026-12-03", batch("c", T0 + timedelta(days=1)), seq=2)

    frame = read_window(tmp_path, T0 + timedelta(hours=1), T0 + timedelta(days=1), SCHEMA)
    everything = read_window(tmp_path, None, None, SCHEMA)

    assert frame["request_id"].unique().tolist() == ["b"]
    assert everything["request_id"].unique().tolist() == ["a", "b", "c"]


def test_files_starting_at_or_after_the_end_are_not_even_read(tmp_path: Path):
    write(tmp_path, batch("a", T0))
    late = (
        tmp_path / f"predictions-{file_label((T0 + timedelta(days=1)).timestamp())}-1-000001.jsonl"
    )
    late.write_text("not JSON at all\n")

    assert len(read_window(tmp_path, None, T0 + timedelta(days=1), SCHEMA)) == 2
    with pytest.raises(LogError, match="line 1: not JSON"):
        read_window(tmp_path, None, None, SCHEMA)


def test_open_files_and_strangers_are_ignored_and_gzipped_files_read(tmp_path: Path):
    write(tmp_path, batch("closed", T0))
    write(tmp_path, batch("gzipped", T0 + timedelta(seconds=1)), seq=2, suffix=".jsonl.gz")
    write(tmp_path, batch("open", T0 + timedelta(seconds=2)), seq=3, suffix=".jsonl.open")
    (tmp_path / "notes.jsonl").write_text("{}\n")

    frame = read_window(tmp_path, None, None, SCHEMA)

    assert frame["request_id"].unique().tolist() == ["closed", "gzipped"]


def test_other_model_versions_are_filtered_out_before_their_features_are_checked(tmp_path: Path):
    old = batch("old", T0, 1, "v0", amount=[1.0], income=[5.0])  # another model's features
    write(tmp_path, old, batch("new", T0, 2, "v1"))

    frame = read_window(tmp_path, None, None, SCHEMA, model_version="v1")

    assert frame["request_id"].unique().tolist() == ["new"]
    assert frame.attrs["other_versions"] == 1
    with pytest.raises(LogError, match=r"line 1: features lack \['channel', 'hour'\]"):
        read_window(tmp_path, None, None, SCHEMA)


BAD_LINES = {
    b"{not json": "not JSON",
    b"[1, 2]": "a list, not an object",
    b'{"schema": 2}': "schema version 2; this reader knows 1",
    b'{"schema": true}': "schema version True",
}


@pytest.mark.parametrize(("line", "message"), BAD_LINES.items())
def test_a_broken_line_is_an_error_naming_its_file_and_line(tmp_path: Path, line, message):
    path = write(tmp_path, batch("a", T0))
    path.write_bytes(path.read_bytes() + line + b"\n")

    with pytest.raises(LogError, match="1 line") as error:
        read_window(tmp_path, None, None, SCHEMA)

    assert f"{path} line 3: {message}" in str(error.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score", "0.3", "`score` is '0.3', not float or int"),
        ("score", 1.5, "`score` 1.5 or `row` 0 out of range"),
        ("decision", "maybe", "`decision` 'maybe' is neither"),
        ("time", "2026-12-02 17:00:00", "is not ISO 8601 UTC"),
        ("time", "yesterday", "is not ISO 8601 UTC"),
        ("request_id", None, "`request_id` is None"),
        ("features", {"amount": 1.0, "hour": 1, "channel": 3}, "feature 'channel' is 3"),
        ("features", {"amount": "1", "hour": 1, "channel": "web"}, "feature 'amount' is '1'"),
        ("features", {"amount": True, "hour": 1, "channel": "web"}, "feature 'amount' is True"),
    ],
)
def test_a_field_of_the_wrong_type_is_an_error(tmp_path: Path, field, value, message):
    path = write(tmp_path, batch("a", T0, rows=1))
    record = orjson.loads(path.read_bytes())
    path.write_bytes(path.read_bytes() + orjson.dumps({**record, field: value}) + b"\n")

    with pytest.raises(LogError) as error:
        read_window(tmp_path, None, None, SCHEMA)

    assert f"{path} line 2: " in str(error.value) and message in str(error.value)


def test_skip_drops_broken_lines_and_says_how_many(tmp_path: Path):
    path = write(tmp_path, batch("a", T0, rows=3))
    path.write_bytes(path.read_bytes() + b"{half a li\n" + b'{"schema": 7}\n')

    frame = read_window(tmp_path, None, None, SCHEMA, errors="skip")

    assert len(frame) == 3
    assert frame.attrs["skipped_lines"] == 2
    assert [p.split(": ", 1)[0] for p in frame.attrs["problems"]] == [
        f"{path} line 4", f"{path} line 5"
    ]  # fmt: skip


def test_an_empty_window_is_an_empty_frame_but_no_files_is_an_error(tmp_path: Path):
    write(tmp_path / "log", batch("a", T0))

    empty = read_window(tmp_path / "log", T0 + timedelta(days=1), None, SCHEMA)

    assert len(empty) == 0 and list(empty.columns) == [*COLUMNS, *SCHEMA.features]
    assert str(empty["time"].dtype) == "datetime64[ns, UTC]"
    (tmp_path / "empty").mkdir()
    with pytest.raises(LogError, match="no prediction log files"):
        read_window(tmp_path / "empty", None, None, SCHEMA)
    with pytest.raises(LogError, match="does not exist"):
        read_window(tmp_path / "nowhere", None, None, SCHEMA)


def test_a_window_bound_without_a_time_zone_is_refused(tmp_path: Path):
    write(tmp_path, batch("a", T0))
    with pytest.raises(ValueError, match="no time zone"):
        read_window(tmp_path, datetime(2026, 12, 1), None, SCHEMA)


def test_what_the_server_writes_the_monitor_reads(tmp_path: Path):
    log = PredictionLog(tmp_path, Metrics(), max_bytes=2048, max_seconds=3600, queue_rows=1000,
                        flush_seconds=0.01, shutdown_seconds=5)  # fmt: skip
    for i in range(40):
        log.submit(batch(f"r{i:02d}", T0 + timedelta(milliseconds=i), rows=2))
    log.close()

    frame = read_window(tmp_path, None, None, SCHEMA)

    assert len(list(tmp_path.iterdir())) > 3  # rotated by size
    assert frame["request_id"].tolist() == [f"r{i:02d}" for i in range(40) for _ in range(2)]


# S3: moto's server on loopback, reached the way production reaches AWS (AWS_ENDPOINT_URL and
# the credential chain from the environment), never the network.
BUCKET = f"model-risk-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, variable in [("config", "AWS_CONFIG_FILE"), ("creds", "AWS_SHARED_CREDENTIALS_FILE")]:
        (tmp_path / name).touch()
        monkeypatch.setenv(variable, str(tmp_path / name))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "monitoring-team")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def upload(client, tmp_path: Path, key_prefix: str, *batches: Batch, seq: int = 1) -> str:
    path = write(tmp_path / "staging", *batches, seq=seq)
    key = f"{key_prefix}/{path.name}"
    client.upload_file(str(path), BUCKET, key)
    return key


def test_an_s3_prefix_reads_like_a_directory(bucket, moto_endpoint, tmp_path, monkeypatch):
    upload(bucket, tmp_path, "prod/credit-risk/2026-12-02", batch("a", T0))
    upload(bucket, tmp_path, "prod/credit-risk/2026-12-03", batch("b", T0 + timedelta(days=1)),
           seq=2)  # fmt: skip
    upload(bucket, tmp_path, "prod/credit-risk-canary", batch("other", T0), seq=3)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)

    frame = read_window(f"s3://{BUCKET}/prod/credit-risk", T0, None, SCHEMA)
    explicit = read_window(f"s3://{BUCKET}/prod/credit-risk/", None, T0 + timedelta(hours=1),
                           SCHEMA, endpoint_url=moto_endpoint)  # fmt: skip

    assert frame["request_id"].unique().tolist() == ["a", "b"]  # not the canary's prefix
    assert explicit["request_id"].unique().tolist() == ["a"]
    local = read_window(tmp_path / "staging", T0, None, SCHEMA)
    assert frame.equals(local[local["request_id"] != "other"].reset_index(drop=True))


def test_a_broken_s3_object_is_named_by_its_url(bucket, moto_endpoint, tmp_path):
    key = upload(bucket, tmp_path, "prod", batch("a", T0))
    body = bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    bucket.put_object(Bucket=BUCKET, Key=key, Body=body + b"oops\n")

    with pytest.raises(LogError, match=rf"s3://{BUCKET}/{key} line 3: not JSON"):
        read_window(f"s3://{BUCKET}/prod", None, None, SCHEMA, endpoint_url=moto_endpoint)


def test_a_missing_bucket_is_a_log_error(bucket, moto_endpoint):
    with pytest.raises(LogError, match="cannot list s3://no-such-bucket"):
        read_window("s3://no-such-bucket/x", None, None, SCHEMA, endpoint_url=moto_endpoint)
