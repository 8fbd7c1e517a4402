"""The web app: Open Inference Protocol (V2) REST endpoints, `/predict` and `/metrics`.

The predictor is loaded once, in the lifespan hook. A model that cannot be loaded leaves the app
up and live but not ready, with one log line saying why: an orchestrator sees a pod that never
becomes ready, not a crash loop of tracebacks. Bodies (JSON, or for infer a JSON header and
binary tensor data: see `binary`) are read and parsed here rather than by pydantic models: the
checks in `schemas` name the row and field of every problem, and skipping a model layer keeps a
one-record call close to the cost of the HTTP stack itself. The OpenAPI document still describes
every body, built from the served model's feature schema.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from modelgate.serve import binary, openapi, schemas
from modelgate.serve.prediction_log import APPROVE, DECLINE, Batch, PredictionLog
from modelgate.serve.predictor import ModelLoadError, Output, Predictor
from modelgate.serve.settings import Settings
from modelgate.serve.telemetry import Metrics, Telemetry

logger = logging.getLogger(__name__)

SERVER_NAME = "modelgate"
PLATFORM = "onnxruntime_onnx"
JSON_TYPES = ("application/json", "")  # none at all is read as JSON: Triton's client sends none
# Binary tensor data follows a JSON header (see `binary`); Triton's own example sends this type.
INFER_TYPES = (*JSON_TYPES, "application/octet-stream")


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
        if settings.prediction_log_dir is not None:
            state.predictions = _prediction_log(settings, metrics)
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
        """The graph's output (`Predictor.run`), counted in the metrics and the prediction log.

        The score histogram holds probabilities: a regressor's predictions stay out of it.
        """
        feeds = schemas.feeds(values, predictor.columns, settings.unknown_category)
        output = predictor.run(feeds)
        scores = predictor.scores(output)
        listed = scores.tolist()
        if predictor.task == "binary":
            for value in listed:
                metrics.scores.observe(value)
        metrics.rows.inc(len(listed))
        if state.predictions is not None:
            batch = _batch(request, predictor, values, feeds, listed, scores)
            state.predictions.submit(batch)
        return output

    @app.get("/v2/health/live", tags=["health"])
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["health"], responses=openapi.unavailable())
    async def ready() -> Response:
        return _json({"ready": state.ready}, 200 if state.ready else 503)

    @app.get("/v2", tags=["metadata"])
    async def server_metadata() -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": app.version, "extensions": [binary.EXTENSION]}

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
        raw = await read_body(request, settings.max_body_bytes, INFER_TYPES)
        header, inputs_data = binary.split(raw, request.headers.get(binary.HEADER))
        body = parse_json(header)
        values = schemas.tensors_to_columns(
            body, predictor.columns, settings.max_batch, inputs_data
        )
        specs = predictor.output_specs
        wanted = schemas.requested_outputs(body, [o.name for o in specs])
        arrays = predictor.outputs(score(predictor, request, values))
        outputs, data = _outputs(specs, arrays, wanted)
        response: dict[str, Any] = {
            "model_name": predictor.name,
            "model_version": predictor.version,
            "outputs": outputs,
        }
        if isinstance(body.get("id"), str):
            response["id"] = body["id"]
        return _inference_response(response, data)

    @app.post("/predict", tags=["inference"], **openapi.predict_route())
    async def predict(request: Request) -> Response:
        predictor = predictor_for()
        body = await read_json(request, settings.max_body_bytes)
        values = schemas.records_to_columns(body, predictor.columns, settings.max_batch)
        scores = predictor.scores(score(predictor, request, values))
        return _json({
            "model_name": predictor.name,
            "model_version": predictor.version,
            "predictions": _predictions(predictor, scores),
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
    """The request's JSON body; see `read_body` and `parse_json` for what is refused."""
    return parse_json(await read_body(request, limit, JSON_TYPES))


async def read_body(request: Request, limit: int, accepted: tuple[str, ...]) -> bytes:
    """The whole body, refused as 415 (a type not `accepted`) or 413 (over `limit` bytes).

    While draining after SIGTERM requests are still served: only readiness turns false.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in accepted:
        wanted = " or ".join(t for t in accepted if t)
        raise schemas.RequestError(415, f"content type {media_type or 'none'!r}: send {wanted}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise schemas.RequestError(413, f"body of {declared} bytes is over the limit of {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise schemas.RequestError(413, f"body is over the limit of {limit} bytes")
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """JSON text as Python values, refused as 400 when malformed."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:  # NaN and Infinity are not JSON, but clients send them: refuse them by field
            return json.loads(body)
        except (ValueError, RecursionError):
            raise schemas.RequestError(400, f"malformed JSON: {exc}") from None


def _prediction_log(settings: Settings, metrics: Metrics) -> PredictionLog:
    assert settings.prediction_log_dir is not None
    return PredictionLog(
        settings.prediction_log_dir,
        metrics,
        max_bytes=settings.prediction_log_max_bytes,
        max_seconds=settings.prediction_log_max_seconds,
        queue_rows=settings.prediction_log_queue_rows,
        flush_seconds=settings.prediction_log_flush_seconds,
        shutdown_seconds=settings.prediction_log_shutdown_seconds,
    )


def _batch(
    request: Request,
    predictor: Predictor,
    values: dict[str, list[Any]],
    feeds: dict[str, Any],
    scores: list[float],
    raw_scores: Any,
) -> Batch:
    """The request's rows for the prediction log, as the model took them: a number as sent
    (the feed's float32 would log 0.1 as 0.10000000149011612), a category as fed (an unknown
    one scored as missing is the missing ""). `PredictionLog.submit` serialises it."""
    route = request.scope.get("route")
    return Batch(
        request_id=request.scope.get("state", {}).get("request_id", ""),
        time=time.time(),
        endpoint=getattr(route, "path", request.url.path),
        model_name=predictor.name,
        model_version=predictor.version,
        features={
            name: feeds[name] if spec.kind == "categorical" else values[name]
            for name, spec in predictor.columns.items()
        },
        scores=scores,
        declined=predictor.decisions(raw_scores),
    )


def _predictions(predictor: Predictor, scores: Any) -> list[dict[str, Any]]:
    """`/predict`'s rows: a probability with its decision and label, or a prediction."""
    decisions = predictor.decisions(scores)
    if decisions is None:
        return [{openapi.PREDICTION_FIELD: p} for p in scores.tolist()]
    labels = {True: (DECLINE, predictor.positive_class),
              False: (APPROVE, predictor.negative_class)}  # fmt: skip
    return [
        {"probability": s, "decision": labels[d][0], "label": labels[d][1]}
        for s, d in zip(scores.tolist(), decisions, strict=True)
    ]


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _outputs(
    specs: tuple[Output, ...], arrays: dict[str, Any], wanted: dict[str, bool]
) -> tuple[list[dict[str, Any]], bytes | None]:
    """The requested output tensors, and their binary data (None when none is binary)."""
    tensors = [
        binary.output(o.name, o.datatype, arrays[o.name], wanted[o.name])
        for o in specs
        if o.name in wanted
    ]
    data = b"".join(d for _, d in tensors) if any(wanted.values()) else None
    return [tensor for tensor, _ in tensors], data


def _inference_response(payload: dict[str, Any], data: bytes | None) -> Response:
    """JSON, or (binary `data` given) a JSON header followed by the outputs' binary data."""
    if data is None:
        return _json(payload)
    header = orjson.dumps(payload)
    return Response(
        header + data,
        media_type="application/octet-stream",
        headers={binary.HEADER: str(len(header))},
    )


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
