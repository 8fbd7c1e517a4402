"""The web app: Open Inference Protocol (V2) REST endpoints, `/predict` and `/metrics`.

The predictor is loaded once, in the lifespan hook. A model that cannot be loaded leaves the app
up and live but not ready, with one log line saying why: an orchestrator sees a pod that never
becomes ready, not a crash loop of tracebacks. Bodies are read and parsed here rather than by
pydantic models: the checks in `schemas` name the row and field of every problem, and skipping
a model layer keeps a one-record call close to the cost of the HTTP stack itself. The OpenAPI
document still describes every body, built from the served model's feature schema.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version as package_version
from time import perf_counter
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelgate.serve import openapi, schemas
from modelgate.serve.predictor import ModelLoadError, Predictor
from modelgate.serve.settings import Settings
from modelgate.serve.telemetry import Metrics, PredictionLog

logger = logging.getLogger(__name__)

SERVER_NAME = "modelgate"
PLATFORM = "onnxruntime_onnx"


@dataclass
class ServerState:
    predictor: Predictor | None = None
    load_error: str = "model not loaded yet"
    draining: bool = False
    predictions: PredictionLog | None = None

    @property
    def ready(self) -> bool:
        return self.predictor is not None and not self.draining


class NotReadyError(Exception):
    """The server cannot answer now (no model, or shutting down): 503, not the client's fault."""


def create_app(settings: Settings) -> FastAPI:
    state = ServerState()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _load(state, metrics, settings)
        if settings.prediction_log is not None:
            state.predictions = PredictionLog(settings.prediction_log)
        yield
        metrics.ready.set(0)
        if state.predictions is not None:
            state.predictions.close()

    app = FastAPI(
        title="modelgate serving",
        version=package_version("modelgate"),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.server = state
    app.state.metrics = metrics
    app.state.settings = settings
    app.add_middleware(Telemetry, metrics=metrics, access_log=settings.access_log)
    _add_error_handlers(app)
    _add_routes(app, state, metrics, settings)
    openapi.install(app, lambda: state.predictor, settings.max_batch)
    return app


def _load(state: ServerState, metrics: Metrics, settings: Settings) -> None:
    try:
        predictor = Predictor.load(settings.model, settings.ort_threads)
    except ModelLoadError as exc:
        state.load_error = str(exc)
        logger.error("not ready: %s", exc)
        metrics.ready.set(0)
        return
    state.predictor = predictor
    metrics.ready.set(1)
    metrics.model.info(
        {
            "name": predictor.name,
            "version": predictor.version,
            "git_revision": settings.git_revision,
        }
    )
    logger.info(
        "serving model %s version %s", predictor.name, predictor.version,
        extra={"model_path": str(settings.model), "git_revision": settings.git_revision},
    )  # fmt: skip


def _add_routes(app: FastAPI, state: ServerState, metrics: Metrics, settings: Settings) -> None:
    def predictor_for(name: str | None = None, version: str | None = None) -> Predictor:
        if state.predictor is None:
            raise NotReadyError(state.load_error)
        if name is not None and name != state.predictor.name:
            raise HTTPException(
                404, f"unknown model {name!r}; this server has {state.predictor.name!r}"
            )
        if version is not None and version != state.predictor.version:
            raise HTTPException(404, f"model {name!r} has no version {version!r}")
        return state.predictor

    def score(predictor: Predictor, request: Request, values: dict[str, list[Any]]) -> Any:
        feeds = schemas.feeds(values, predictor.columns, settings.unknown_category)
        scores = predictor.probabilities(feeds)[:, 1]
        for value in scores.tolist():
            metrics.scores.observe(value)
        metrics.rows.inc(len(scores))
        if state.predictions is not None:
            _log_predictions(state.predictions, request, predictor, values, scores.tolist())
        return scores

    @app.get("/v2/health/live", tags=["health"])
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["health"], responses=openapi.unavailable())
    async def ready() -> Response:
        return _json({"ready": state.ready}, 200 if state.ready else 503)

    @app.get("/v2", tags=["metadata"])
    async def server_metadata() -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": app.version, "extensions": []}

    @app.get("/v2/models/{model_name}", tags=["metadata"], responses=openapi.errors(404, 503))
    @app.get("/v2/models/{model_name}/versions/{model_version}", tags=["metadata"],
             responses=openapi.errors(404, 503))  # fmt: skip
    async def model_metadata(model_name: str, model_version: str | None = None) -> Response:
        predictor = predictor_for(model_name, model_version)
        inputs, outputs = predictor.tensor_metadata()
        return _json({
            "name": predictor.name,
            "versions": [predictor.version],
            "platform": PLATFORM,
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {**predictor.metadata, "git_revision": settings.git_revision},
        })  # fmt: skip

    @app.get("/v2/models/{model_name}/ready", tags=["health"], responses=openapi.errors(404, 503))
    @app.get("/v2/models/{model_name}/versions/{model_version}/ready", tags=["health"],
             responses=openapi.errors(404, 503))  # fmt: skip
    async def model_ready(model_name: str, model_version: str | None = None) -> Response:
        predictor = predictor_for(model_name, model_version)
        return _json({"name": predictor.name, "ready": state.ready})

    @app.post("/v2/models/{model_name}/infer", tags=["inference"], **openapi.infer_route())
    @app.post("/v2/models/{model_name}/versions/{model_version}/infer", tags=["inference"],
              **openapi.infer_route())  # fmt: skip
    async def infer(
        request: Request, model_name: str, model_version: str | None = None
    ) -> Response:
        predictor = predictor_for(model_name, model_version)
        body = await read_json(request, settings.max_body_bytes)
        values = schemas.tensors_to_columns(body, predictor.columns, settings.max_batch)
        wanted = schemas.requested_outputs(body, ("decision", "probabilities"))
        scores = score(predictor, request, values)
        probabilities = [[1.0 - s, s] for s in scores.tolist()]
        outputs = {
            "decision": {"datatype": "INT64", "shape": [len(scores)],
                         "data": [int(d) for d in predictor.decisions(scores)]},
            "probabilities": {"datatype": "FP32", "shape": [len(scores), 2],
                              "data": [p for pair in probabilities for p in pair]},
        }  # fmt: skip
        response: dict[str, Any] = {
            "model_name": predictor.name,
            "model_version": predictor.version,
            "outputs": [{"name": n, **outputs[n]} for n in wanted],
        }
        if isinstance(body.get("id"), str):
            response["id"] = body["id"]
        return _json(response)

    @app.post("/predict", tags=["inference"], **openapi.predict_route())
    async def predict(request: Request) -> Response:
        predictor = predictor_for()
        body = await read_json(request, settings.max_body_bytes)
        values = schemas.records_to_columns(body, predictor.columns, settings.max_batch)
        scores = score(predictor, request, values)
        labels = {True: ("decline", predictor.positive_class),
                  False: ("approve", predictor.negative_class)}  # fmt: skip
        return _json({
            "model_name": predictor.name,
            "model_version": predictor.version,
            "predictions": [
                {"probability": s, "decision": labels[d][0], "label": labels[d][1]}
                for s, d in zip(scores.tolist(), predictor.decisions(scores), strict=True)
            ],
        })  # fmt: skip

    if settings.noop_route:

        @app.post("/noop", include_in_schema=False)
        async def noop(request: Request) -> Response:
            await read_json(request, settings.max_body_bytes)
            return _json({"model_name": SERVER_NAME, "predictions": []})

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, refused as 415 (not JSON), 413 (too large) or 400 (malformed).

    While draining after SIGTERM requests are still served: only readiness turns false.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # No content type at all is read as JSON: standard V2 clients (Triton's) send none.
    if media_type not in ("application/json", ""):
        raise schemas.RequestError(
            415, f"content type {media_type or 'none'!r}: send application/json"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise schemas.RequestError(413, f"body of {declared} bytes is over the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise schemas.RequestError(413, f"body is over the limit of {limit} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:  # NaN and Infinity are not JSON, but clients send them: refuse them by field
            return json.loads(body)
        except (ValueError, RecursionError):
            raise schemas.RequestError(400, f"malformed JSON: {exc}") from None


def _log_predictions(
    sink: PredictionLog,
    request: Request,
    predictor: Predictor,
    values: dict[str, list[Any]],
    scores: list[float],
) -> None:
    request_id = request.scope.get("state", {}).get("request_id")
    sink.write([
        {"request_id": request_id, "row": row, "model_version": predictor.version,
         "features": {name: column[row] for name, column in values.items()}, "score": score}
        for row, score in enumerate(scores)
    ])  # fmt: skip


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(schemas.RequestError)
    async def request_error(request: Request, exc: schemas.RequestError) -> Response:
        return _json(exc.body(), exc.status)

    @app.exception_handler(NotReadyError)
    async def unavailable(request: Request, exc: NotReadyError) -> Response:
        return _json({"error": f"not ready: {exc}"}, 503)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        response = _json({"error": exc.detail}, exc.status_code)
        response.headers.update(exc.headers or {})  # 405 must say which methods are allowed
        return response


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
