"""Runtime settings of the server, from `MODELGATE_*` environment variables (never params.yaml:
those are the model's hyperparameters, these are the deployment's)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELGATE_", frozen=True)

    model: Path = Path("models/model.onnx")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    git_revision: str = "unknown"
    # Rows of a /predict or infer request; a body over max_body_bytes is refused unread (413).
    max_batch: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    # A category the model never saw: refuse the row, or score it as a missing value.
    unknown_category: Literal["reject", "missing"] = "reject"
    ort_threads: int = Field(default=1, ge=0)  # 0: ONNX Runtime picks
    # Seconds between SIGTERM (readiness turns false) and closing the listener, so a load
    # balancer stops routing here before connections are refused; requests in flight then finish.
    drain_seconds: float = Field(default=0.0, ge=0)
    graceful_timeout_seconds: float = Field(default=30.0, gt=0)
    # The prediction log (serve/prediction_log.py, README "Prediction log"): one JSON line per
    # scored row, in files under this directory, off unless set. A file is closed (renamed
    # without `.open`) once it holds max_bytes or is max_seconds old, and at shutdown.
    prediction_log_dir: Path | None = None
    prediction_log_max_bytes: int = Field(default=64 << 20, ge=1024)
    prediction_log_max_seconds: float = Field(default=3600.0, gt=0)
    # Rows waiting for the writer: past this, a request's rows are dropped (and counted), never
    # waited for. ~1 kB of memory per row at most; 20,000 rows ride out a 20 s stall at 1,000/s.
    prediction_log_queue_rows: int = Field(default=20_000, ge=1)
    prediction_log_flush_seconds: float = Field(default=0.2, gt=0, le=10)  # writer wake-ups
    # At shutdown the queue is written out for at most this long; what is left is dropped.
    prediction_log_shutdown_seconds: float = Field(default=10.0, gt=0)
    access_log: bool = True
    # POST /noop: reads the body like /predict and scores nothing, for benchmarks/bench_serving.py
    # to measure the HTTP stack alone. Off in production.
    noop_route: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
