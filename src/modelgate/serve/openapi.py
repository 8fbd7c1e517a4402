"""The OpenAPI document: request bodies described from the served model's feature schema.

Routes parse their own bodies (see `app`), so FastAPI cannot infer these schemas; they are
declared here, and the document is rebuilt from the model once it is loaded. Schemathesis
tests the app against exactly this document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from modelgate.params import ColumnSpec
from modelgate.serve.predictor import OUTPUTS, Predictor

REF = "#/components/schemas/"
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": ["integer", "null"]},
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}
REASONS = {
    400: "Malformed JSON, or binary tensor data that does not add up",
    404: "Unknown model or version",
    413: "Body over the size limit",
    415: "Not application/json (infer also takes application/octet-stream)",
    422: "A row or field breaks the model's feature schema; each problem is named",
    503: "No model loaded, or shutting down",
}
PREDICTION = {
    "type": "object",
    "required": ["probability", "decision", "label"],
    "properties": {
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "decision": {"type": "string", "enum": ["approve", "decline"]},
        "label": {"type": "string"},
    },
}
PREDICTION_FIELD = "prediction"  # a regressor's /predict row: {"prediction": number}
REGRESSION_PREDICTION = {
    "type": "object",
    "required": [PREDICTION_FIELD],
    "properties": {PREDICTION_FIELD: {"type": "number"}},
}
TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string"},
        "parameters": {"type": "object"},
        "data": {"type": "array"},
    },
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "description": REASONS[code],
            "content": _json({"$ref": "#/components/schemas/Error"}),
        }
        for code in codes
    }


def unavailable() -> dict[int | str, dict[str, Any]]:
    return {503: {"description": REASONS[503]}}


def predict_route() -> dict[str, Any]:
    ok = {
        "type": "object",
        "required": ["model_name", "model_version", "predictions"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "predictions": {"type": "array", "items": {"$ref": f"{REF}Prediction"}},
        },
    }
    return _route(f"{REF}RecordBatch", ok)


# Binary tensor data cannot be stated in JSON Schema; the route's description says what it is.
BINARY = (
    "Also takes and answers Triton's binary tensor data extension: with the header "
    "`Inference-Header-Content-Length: n`, the first n bytes are the JSON request and each input "
    "with `parameters.binary_data_size` (no `data`) owns the next that many bytes, in input "
    "order. Outputs asked for with `parameters.binary_data` (or the request's "
    "`parameters.binary_data_output`) come back the same way, as application/octet-stream."
)


def infer_route() -> dict[str, Any]:
    ok = {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": TENSOR},
        },
    }
    route = _route(f"{REF}InferenceRequest", ok)
    route["responses"][200]["content"]["application/octet-stream"] = {
        "schema": {"type": "string", "format": "binary"}
    }
    return {**route, "description": BINARY}


def install(app: FastAPI, predictor: Callable[[], Predictor | None], max_batch: int) -> None:
    """Serve a document whose body schemas follow the model being served."""

    def document() -> dict[str, Any]:
        served = predictor()
        if served is not None and app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        doc.setdefault("components", {}).setdefault("schemas", {}).update(
            _components(served, max_batch)
        )
        if served is not None:
            app.openapi_schema = doc  # the model never changes once loaded
        return doc

    app.openapi = document  # type: ignore[method-assign]


def _components(served: Predictor | None, max_batch: int) -> dict[str, Any]:
    columns = served.columns if served is not None else {}
    task = served.task if served is not None else "binary"
    record = {
        "type": "object",
        "additionalProperties": False,
        "required": list(columns),
        "properties": {name: _column(spec) for name, spec in columns.items()},
    }
    inference = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_output": {"type": "boolean"}},
            },
            "inputs": {
                "type": "array",
                "prefixItems": [_tensor(n, spec, max_batch) for n, spec in columns.items()],
                "minItems": len(columns),
                "maxItems": len(columns),
            },
            "outputs": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"enum": [o.name for o in OUTPUTS[task]]},
                        "parameters": {
                            "type": "object",
                            "properties": {"binary_data": {"type": "boolean"}},
                        },
                    },
                },
            },
        },
    }
    return {
        "Error": ERROR,
        "Prediction": PREDICTION if task == "binary" else REGRESSION_PREDICTION,
        "Record": record,
        "RecordBatch": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": record},
        "InferenceRequest": inference,
    }


def _column(spec: ColumnSpec) -> dict[str, Any]:
    if spec.kind == "categorical":
        categories: list[str | None] = list(spec.categories or ())
        schema: dict[str, Any] = {"type": "string", "enum": categories}
        if spec.nullable:
            schema = {"type": ["string", "null"], "enum": [*categories, None]}
        return schema
    schema = {"type": "integer" if spec.kind == "integer" else "number"}
    if spec.min is not None:
        schema["minimum"] = spec.min
    if spec.max is not None:
        schema["maximum"] = spec.max
    if spec.nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def _tensor(name: str, spec: ColumnSpec, max_batch: int) -> dict[str, Any]:
    """One input tensor of an inference request, in the order the model lists its inputs."""
    datatypes = ["BYTES"] if spec.kind == "categorical" else ["FP32", "FP64", "INT32", "INT64"]
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"const": name},
            "datatype": {"enum": datatypes},
            "shape": {
                "type": "array",
                "prefixItems": [
                    {"type": "integer", "minimum": 1, "maximum": max_batch},
                    {"const": 1},
                ],
                "minItems": 2,
                "maxItems": 2,
            },
            "data": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": _column(spec)},
        },
    }


def _route(request_ref: str, ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi_extra": {
            "requestBody": {"required": True, "content": _json({"$ref": request_ref})}
        },
        "responses": {
            200: {"description": "Scored", "content": _json(ok)},
            **errors(400, 404, 413, 415, 422, 503),
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
