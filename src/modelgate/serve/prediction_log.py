"""The prediction log: one JSON line per scored row, in rotated files under one directory.

A line is what `encode` writes (the README's "Prediction log" documents it; `SCHEMA` is its
version and `modelgate.monitor.log` reads it back). Files:

- `predictions-<UTC time of its first row>-<pid>-<seq>.jsonl`, the time as
  `20261202T170000123456Z`, so names sort in time order; `seq` counts one process's files from 1.
- While written a file carries `.open` after that name. It is closed (fsync'd, then renamed
  without `.open`) before a line would take it past `max_bytes`, once it is `max_seconds` old,
  and at shutdown. Readers and shippers take closed files only, so none reads half a file.
- A file left `.open` by a process that died is closed by the next one started on the
  directory, cut after its last whole line: a directory belongs to one server process at a time.

A request never waits for the log and never fails because of it: `submit` serialises its rows
and appends them to a queue a writer thread empties every `flush_seconds` (waking it per request
would cost each request a GIL hand-off; see `telemetry.configure_logging`). Rows that cannot be
logged are dropped and counted in `/metrics` by reason (`DROP_REASONS`). Nothing of a row ever
goes to the process's own logs: a warning names the directory and the OS error, never a record.
"""

from __future__ import annotations

import errno
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from modelgate.serve.log_files import LogFiles

if TYPE_CHECKING:  # telemetry's Metrics defines the log's metrics, from DROP_REASONS below
    from modelgate.serve.telemetry import Metrics

logger = logging.getLogger(__name__)

SCHEMA = 1
APPROVE, DECLINE = "approve", "decline"
# Why rows were not logged: the queue was full; the disk (or quota) was full; any other OS
# error (read-only or missing directory...); written to a file deleted before it was closed;
# not serialisable; still queued when the shutdown's time ran out.
DROP_REASONS = ("queue_full", "disk_full", "io_error", "lost", "encode", "shutdown")
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_CHUNK = 1000  # batches per write at shutdown, so its deadline is checked between them


@dataclass(frozen=True, slots=True)
class Batch:
    """The rows of one request as the model scored them."""

    request_id: str
    time: float  # seconds since the epoch, when the rows were scored
    endpoint: str  # the route's path template, as in the request metrics
    model_name: str
    model_version: str
    # Per feature, what the model took: numbers (None or NaN when missing), or for a category
    # its strings ("" when missing, as is a category the server was told to treat as missing).
    features: Mapping[str, Sequence[Any] | np.ndarray]
    scores: Sequence[float]  # positive-class probability per row, or a regressor's prediction
    declined: Sequence[bool] | None  # None: a regressor, which decides nothing

    @property
    def rows(self) -> int:
        return len(self.scores)


def encode(batch: Batch) -> list[bytes]:
    """One line (newline included) per row: the schema the README documents, `SCHEMA` 1.

    A regressor's line has its prediction as `score` and a null `decision`."""
    whole, micro = divmod(round(batch.time * 1_000_000), 1_000_000)
    stamp = f"{_second(whole)}.{micro:06d}Z"
    columns = {name: _plain(values) for name, values in batch.features.items()}
    decisions = [None] * batch.rows if batch.declined is None else batch.declined
    return [
        orjson.dumps(
            {
                "schema": SCHEMA,
                "request_id": batch.request_id,
                "row": row,
                "time": stamp,
                "model_name": batch.model_name,
                "model_version": batch.model_version,
                "features": {name: values[row] for name, values in columns.items()},
                "score": score,
                "decision": None if declined is None else DECLINE if declined else APPROVE,
                "endpoint": batch.endpoint,
            },
            option=orjson.OPT_APPEND_NEWLINE,  # NaN becomes null
        )
        for row, (score, declined) in enumerate(zip(batch.scores, decisions, strict=True))
    ]


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    """A second since the epoch in ISO 8601, UTC: formatted once for all its requests."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _plain(values: Sequence[Any] | np.ndarray) -> list[Any]:
    if isinstance(values, np.ndarray):
        return values.ravel().tolist()
    # An integer may exceed 64 bits (JSON has no limit) and orjson refuses those: the model
    # saw a float anyway.
    return [float(v) if type(v) is int else v for v in values]


class PredictionLog:
    """The queue and the writer thread; `submit` from the request path, `close` at shutdown."""

    def __init__(
        self,
        directory: Path,
        metrics: Metrics,
        *,
        max_bytes: int,
        max_seconds: float,
        queue_rows: int,
        flush_seconds: float,
        shutdown_seconds: float,
    ):
        self._files = LogFiles(directory, max_bytes, max_seconds)
        self._metrics = metrics
        self._capacity = queue_rows
        self._flush_seconds = flush_seconds
        self._shutdown_seconds = shutdown_seconds
        self._pending: deque[tuple[float, list[bytes]]] = deque()  # (time, lines) per batch
        self._lock = threading.Lock()  # between submitters only: the writer never takes it
        self._put = 0  # rows queued (submitters) ...
        self._taken = 0  # ... and rows taken (the writer): each int has one writer
        self._closing = False
        self._abandoned = False
        self._wake = threading.Event()
        self._failing = False  # the last write failed: warn once, and once when it recovers
        self._published = dict.fromkeys(("lines", "bytes", "rotations", "lost"), 0)
        metrics.log_queue.set_function(lambda: self.queued)
        metrics.log_capacity.set(queue_rows)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Rows waiting for the writer."""
        return self._put - self._taken

    def submit(self, batch: Batch) -> None:
        """Queue `batch`'s lines for the writer, or drop them when the queue is full. Never
        waits, never raises.

        Serialising here costs a request a few µs a row. In the writer it cost more: the thread
        then held the GIL in bursts, and single-record requests' p99 went from 0.3 to 20 ms
        (wrk, one connection) while the event loop waited for it.
        """
        with self._lock:
            reason = "shutdown" if self._closing else "queue_full"
            if not self._closing and self.queued + batch.rows <= self._capacity:
                try:
                    lines = encode(batch)
                except (TypeError, ValueError, OverflowError, IndexError):
                    reason = "encode"
                else:
                    self._put += batch.rows
                    self._pending.append((batch.time, lines))
                    return
        self._metrics.log_dropped.labels(reason).inc(batch.rows)

    def close(self) -> None:
        """Write out what is queued (for `shutdown_seconds` at most) and close the open file."""
        with self._lock:
            self._closing = True
        self._wake.set()
        self._thread.join(self._shutdown_seconds + 1)
        if self._thread.is_alive():  # stuck in a write the OS does not return from
            self._abandoned = True
            self._metrics.log_dropped.labels("shutdown").inc(self.queued)
            logger.error("prediction log: the writer is still blocked after the shutdown timeout")

    def _run(self) -> None:
        self._files.recover()
        while not self._wake.wait(self._flush_seconds):
            self._guarded(len(self._pending))
        deadline = time.monotonic() + self._shutdown_seconds
        while self._pending and time.monotonic() < deadline and not self._abandoned:
            self._guarded(min(_CHUNK, len(self._pending)))
        if not self._abandoned:
            self._metrics.log_dropped.labels("shutdown").inc(self.queued)
            self._attempt(self._files.close)
            self._publish()

    def _guarded(self, count: int) -> None:
        """A cycle that cannot end the thread: a dead writer would drop every row from then on."""
        try:
            self._cycle(count)
        except Exception as exc:  # a bug; its message might quote a record, so only its type
            logger.error("prediction log: unexpected %s in the writer", type(exc).__name__)

    def _cycle(self, count: int) -> None:
        """Write `count` queued batches, then close the open file if it is old enough."""
        groups = [self._pending.popleft() for _ in range(count)]
        lines, before = sum(len(group) for _, group in groups), self._files.lines
        self._taken += lines
        self._attempt(self._files.check)
        failure = self._attempt(lambda: self._files.write(groups))
        unwritten = lines - (self._files.lines - before)
        if failure is not None and unwritten > 0:
            reason = "disk_full" if failure.errno in _FULL else "io_error"
            self._metrics.log_dropped.labels(reason).inc(unwritten)
        elif failure is None and lines and self._failing:
            logger.info("prediction log: writing again")
            self._failing = False
        self._attempt(lambda: self._files.rotate_if_old(time.monotonic()))
        self._publish()

    def _attempt(self, step: Callable[[], None]) -> OSError | None:
        """Run one file operation: an OS error is returned (and logged once), never raised."""
        try:
            step()
        except OSError as exc:
            if not self._failing:
                logger.warning("prediction log: %s; rows are dropped until it can write", exc)
            self._failing = True
            return exc
        return None

    def _publish(self) -> None:
        """Bring the counters up to the files' running totals (from the writer's thread)."""
        metrics = self._metrics
        counters = {
            "lines": metrics.log_lines,
            "bytes": metrics.log_bytes,
            "rotations": metrics.log_rotations,
            "lost": metrics.log_dropped.labels("lost"),
        }
        for name, counter in counters.items():
            total = getattr(self._files, name)
            if total > self._published[name]:
                counter.inc(total - self._published[name])
                self._published[name] = total
