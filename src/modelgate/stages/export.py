"""Export: the fitted pipeline as one ONNX file with its contract in the metadata, written only
if it matches the native pipeline on the test set and at every tree split point."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import onnx
import pandas as pd

from modelgate import io, metadata, partitions
from modelgate.cli import StageError, entry, stage_parser
from modelgate.gates.common import record
from modelgate.gates.parity import check_parity, parity_gate
from modelgate.model import load_pipeline
from modelgate.onnx_export import (
    attach_metadata,
    content_version,
    convert,
)
from modelgate.params import ExportParams, load_section, read_params_file
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)

# Sections whose values shaped the model; their digest goes into the model's metadata.
MODEL_SECTIONS = ("ingest", "split", "train", "evaluate")


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    for name in ("model", "schema", "train", "test", "metrics"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--parity-report", type=Path, required=True)
    parser.add_argument("--gates-dir", type=Path, default=None, help="where gate results go")
    parser.add_argument("--report", type=Path, default=None, help="combined gates.json")
    args = parser.parse_args(argv)
    params = load_section(args.params, "export", ExportParams)
    all_params = read_params_file(args.params)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    metrics = io.read_json(args.metrics)
    pipeline = load_pipeline(args.model)

    # A binary model's metrics carry its decision threshold; a regressor has none.
    threshold: float | None = metrics["threshold"] if schema.task == "binary" else None
    model = convert(pipeline, schema, params.opset, params.ml_opset)
    version = content_version(model)
    properties = _metadata(params, version, schema, threshold, metrics["test"], all_params)
    properties[metadata.TRAINING_DATA_DIGEST] = partitions.digest(args.train)
    attach_metadata(model, properties)
    onnx.checker.check_model(model, full_check=True)
    results = check_parity(pipeline, model, pd.read_parquet(args.test), schema, threshold, params)
    gate = parity_gate(results, params)
    passed = not gate.failed
    io.write_json(args.parity_report, {"passed": passed, **_allowed(params, threshold), **results})
    if args.gates_dir and args.report:
        record(gate, args.gates_dir, args.report)
    if not passed:
        raise StageError(f"ONNX parity failed, model not exported: {results}")
    io.write_bytes(args.onnx, model.SerializeToString(deterministic=True))
    logger.info(
        "export: model %s, %d kB, parity %s over %d rows -> %s",
        version,
        args.onnx.stat().st_size // 1024,
        _parity_line(results),
        sum(r["rows"] for r in results.values()),
        args.onnx,
    )


def _metadata(
    params: ExportParams,
    version: str,
    schema: FeatureSchema,
    threshold: float | None,
    test_metrics: dict,
    all_params: dict,
) -> dict[str, object]:
    """The model's metadata but the training data's digest, in the order the file keeps."""
    properties: dict[str, object] = {
        metadata.MODEL_NAME: params.model_name,
        metadata.MODEL_VERSION: version,
        metadata.FEATURE_SCHEMA: schema.to_dict(),  # its `task` says which outputs the graph has
    }
    if threshold is not None:
        properties[metadata.THRESHOLD] = str(threshold)
    properties[metadata.METRICS] = test_metrics
    properties[metadata.PARAMS_DIGEST] = io.sha256_json(
        {k: all_params.get(k) for k in MODEL_SECTIONS}
    )
    return properties


def _allowed(params: ExportParams, threshold: float | None) -> dict[str, float | int]:
    """The tolerances the parity report was judged by (and a binary model's threshold)."""
    if threshold is None:
        return {
            "max_abs_diff_allowed": params.max_abs_diff,
            "max_rel_diff_allowed": params.max_rel_diff,
        }
    return {
        "threshold": threshold,
        "max_abs_diff_allowed": params.max_abs_diff,
        "max_flips_allowed": params.max_flips,
    }


def _parity_line(results: dict[str, dict]) -> str:
    worst = max(r["max_abs_diff"] for r in results.values())
    if all("flips" in r for r in results.values()):
        return f"max |dp| {worst:.2g}, {sum(r['flips'] for r in results.values())} flips"
    relative = max(r["max_rel_diff"] for r in results.values())
    outside = sum(r["outside_tolerance"] for r in results.values())
    return f"max |diff| {worst:.2g}, max relative {relative:.2g}, {outside} rows outside"


if __name__ == "__main__":
    entry(main)
