"""Smoke test of a running server before its image is pushed: it becomes ready, and `/predict`
scores one test row as the pipeline's own evaluation did (a binary model's probability, a
regressor's prediction), with the model version it was built from. The deploy workflow runs it
against the freshly built container.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from modelgate import io
from modelgate.cli import StageError, entry
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)

# reports/predictions/test.csv keeps 6 significant digits; ONNX parity is < 1e-6.
SCORE_TOLERANCE = 2e-6
# A prediction's 6 digits are relative (5e-6 of it), and float32 keeps ~7.
RELATIVE_TOLERANCE = 1e-5
# Per task: the column of reports/predictions/test.csv and the field of a /predict row.
SCORED = {"binary": ("score", "probability"), "regression": ("predicted", "prediction")}


def wait_ready(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/v2/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise StageError(f"{url} was not ready within {timeout_s:g} s (last: {last})")


def client_records(frame: pd.DataFrame, features: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as a client sends them to `/predict`: JSON types, null for a missing value, every
    number exact (pandas' own `to_json` rounds floats to 10 digits)."""
    rows = frame[list(features)].to_dict(orient="records")
    clean = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in rows
    ]
    return json.loads(json.dumps(clean, default=lambda v: v.item()))


def predict(url: str, record: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/predict",
        data=json.dumps([record]).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise StageError(f"/predict answered {exc.code}: {exc.read().decode()[:500]}") from exc


def check(
    body: dict[str, Any], expected_score: float, model_version: str | None, task: str = "binary"
) -> float:
    """The score of the one prediction, refused unless it and the model version are right."""
    score = body["predictions"][0][SCORED[task][1]]
    relative = RELATIVE_TOLERANCE * abs(expected_score) if task == "regression" else 0.0
    if abs(score - expected_score) > SCORE_TOLERANCE + relative:
        raise StageError(f"/predict scored {score!r}, the pipeline {expected_score!r}")
    if model_version and body.get("model_version") != model_version:
        raise StageError(f"served model {body.get('model_version')!r}, expected {model_version!r}")
    return score


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--test", type=Path, required=True, help="test split (parquet)")
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--expected", type=Path, required=True, help="the pipeline's scores")
    parser.add_argument("--model-version", help="the ONNX model_version the server must report")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to become ready")
    args = parser.parse_args(argv)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    (record,) = client_records(pd.read_parquet(args.test).head(1), schema.features)
    expected = float(pd.read_csv(args.expected)[SCORED[schema.task][0]].iloc[0])
    wait_ready(args.url, args.timeout)
    score = check(predict(args.url, record), expected, args.model_version, schema.task)
    logger.info("smoke test passed: ready, /predict scored %.6f as the pipeline did", score)


if __name__ == "__main__":
    entry(main)
