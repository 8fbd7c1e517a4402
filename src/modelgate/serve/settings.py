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
    prediction_log: Path | None = None  # JSON lines of (request id, features, score, version)
    access_log: bool = True
    # POST /noop: reads the body like /predict and scores nothing, for benchmarks/bench_serving.py
    # to measure the HTTP stack alone. Off in production.
    noop_route: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
