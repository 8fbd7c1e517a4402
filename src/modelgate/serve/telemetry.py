"""What the server tells operators: Prometheus metrics (the prediction log's among them) and
JSON logs, the access log among them. The prediction log itself is `prediction_log`'s: none of
its records ever goes to these logs.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from time import perf_counter
from typing import Any, ClassVar

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelgate.serve.prediction_log import DROP_REASONS

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))


class Metrics:
    """The server's own registry, so tests and several apps in one process never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("endpoint", "method", "status")
        self.requests = Counter(
            "modelgate_requests", "HTTP requests", labels, registry=self.registry
        )
        self.latency = Histogram(
            "modelgate_request_duration_seconds",
            "HTTP request latency",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Histogram(
            "modelgate_prediction_score",
            "Predicted positive-class probability",
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )
        self.rows = Counter("modelgate_predicted_rows", "Rows scored", registry=self.registry)
        self.ready = Gauge("modelgate_ready", "1 when the model serves", registry=self.registry)
        self.model = Info("modelgate_model", "The model being served", registry=self.registry)
        self._log_metrics()
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def _log_metrics(self) -> None:
        """The prediction log's, there (at 0) even when it is off, so alerts and dashboards
        never meet a missing series."""
        name = "modelgate_prediction_log"
        self.log_lines = Counter(f"{name}_lines", "Lines written", registry=self.registry)
        self.log_bytes = Counter(f"{name}_bytes", "Bytes written", registry=self.registry)
        self.log_rotations = Counter(
            f"{name}_rotations", "Files closed under their final name", registry=self.registry
        )
        self.log_dropped = Counter(
            f"{name}_dropped", "Rows not logged, by reason", ("reason",), registry=self.registry
        )
        for reason in DROP_REASONS:
            self.log_dropped.labels(reason)
        self.log_queue = Gauge(f"{name}_queue_rows", "Rows waiting", registry=self.registry)
        self.log_capacity = Gauge(
            f"{name}_queue_capacity_rows", "Rows the queue holds (0: log off)",
            registry=self.registry,
        )  # fmt: skip

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, str(status))
        children = self._children.get(key)
        if children is None:  # labels() costs a lock and a lookup: once per route and status
            children = self._children[key] = (self.requests.labels(*key), self.latency.labels(*key))
        children[0].inc()
        children[1].observe(seconds)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    BASE: ClassVar[set[str]] = {*vars(logging.makeLogRecord({})), "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self.BASE})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    """JSON lines on stderr, written in the calling thread.

    A queue and a writer thread were tried first: handing each record to another thread cost
    more (GIL hand-offs, ~200 µs per access-log line under load) than formatting and writing it
    here (~15 µs).
    """
    JsonFormatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class Telemetry:
    """Request id, latency and status metrics per route, and the access log, for every request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool):
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - start
            route = scope.get("route")
            endpoint = getattr(route, "path", "unmatched")
            self.metrics.observe(endpoint, scope["method"], status, seconds)
            if self.access_log:
                logger.info(
                    "%s %s %d", scope["method"], scope["path"], status,
                    extra={"request_id": request_id, "endpoint": endpoint,
                           "status": status, "duration_ms": round(seconds * 1000, 3)},
                )  # fmt: skip


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 64 and value.isascii():
            text = value.decode()
            if all(c.isalnum() or c in "-_.:" for c in text):
                return text
    return uuid.uuid4().hex
