"""`modelgate monitor`: judge a window of logged predictions against the served model's reference.

    modelgate monitor --log s3://team-bucket/predictions/ [--outcomes outcomes.csv]
        [--start 2026-11-01] [--end 2026-12-01] [--as-of 2026-12-01]

Reads the prediction log (a directory or an `s3://` prefix), keeps the rows of the model the
reference belongs to, joins the outcomes that have arrived, and writes `reports/monitoring/`:
`monitor.json` (for machines), `monitor.md` (for people and pull requests) and `metrics.prom`
(Prometheus' text format, for node_exporter's textfile collector; `--pushgateway URL` pushes it
too). Exit code: 0 healthy (or too few rows for a verdict), 1 bad input, 2 usage, 3 drift,
4 degraded, 5 both. Every threshold is in params.yaml's `monitor:` section.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from modelgate import io, metadata
from modelgate.cli import EXPECTED_FAILURES, configure_logging
from modelgate.monitor import log, outcomes, prometheus, report
from modelgate.monitor.reference import Reference
from modelgate.monitor.run import Model, Window, judge
from modelgate.monitor.status import EXIT_CODES
from modelgate.params import EvaluateParams, MonitorParams, load_section, read_params_file
from modelgate.schema import FeatureSchema

logger = logging.getLogger("modelgate.monitor")


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelgate monitor", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--log", required=True, help="prediction log: a directory or s3://...")
    parser.add_argument(
        "--outcomes",
        type=Path,
        help="CSV: request_id,outcome,outcome_date (a regressor's outcome is the actual value)",
    )
    parser.add_argument("--start", type=_moment, help="first decision time (ISO 8601, UTC)")
    parser.add_argument("--end", type=_moment, help="end of the window, exclusive (ISO 8601, UTC)")
    parser.add_argument("--as-of", type=date.fromisoformat, help="today, for outcome maturity")
    parser.add_argument("--reference", type=Path, default=Path("models/reference.json"))
    parser.add_argument("--model", type=Path, default=Path("models/model.onnx"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("reports/monitoring"))
    parser.add_argument("--pushgateway", help="also push the metrics to this Pushgateway")
    return parser


def _model(path: Path) -> tuple[Model, FeatureSchema, dict[str, float]]:
    meta = metadata.decoded(metadata.read(path))
    schema = FeatureSchema.from_dict(meta[metadata.FEATURE_SCHEMA])
    threshold = float(meta[metadata.THRESHOLD]) if schema.task == "binary" else None
    model = Model(meta[metadata.MODEL_NAME], meta[metadata.MODEL_VERSION], threshold)
    return model, schema, meta[metadata.METRICS]


def _window(args: argparse.Namespace, model: Model, schema: FeatureSchema) -> Window:
    # Rows of another model version may carry other features: the reader leaves them out.
    rows = log.read_window(args.log, args.start, args.end, schema, model_version=model.version)
    others = int(rows.attrs.get("other_versions", 0))
    if args.outcomes is None:
        return Window(rows, other_versions=others)
    if schema.task == "regression":
        labelled = outcomes.read_outcomes(args.outcomes, None, None)  # numeric actuals
    else:
        labelled = outcomes.read_outcomes(args.outcomes, schema.classes, schema.classes[1])
    return Window(rows, outcomes.join(rows, labelled, str(args.outcomes)), others)


def run(args: argparse.Namespace) -> dict[str, Any]:
    params = load_section(args.params, "monitor", MonitorParams)
    evaluate = load_section(args.params, "evaluate", EvaluateParams)
    limits = read_params_file(args.params)["gates"]["model"]["metrics"]  # type: ignore[index]
    model, schema, test_metrics = _model(args.model)
    reference = Reference.load(args.reference)
    if reference.model_version != model.version:
        raise ValueError(
            f"{args.reference} is the reference of model {reference.model_version}, "
            f"{args.model} is model {model.version}: use the reference of the served model"
        )
    as_of = args.as_of or datetime.now(UTC).date()
    window = _window(args, model, schema)
    result = judge(
        reference, window, model, params, limits, test_metrics, as_of, evaluate.calibration_bins
    )
    io.write_json(args.out / "monitor.json", result)
    report.write(result, args.out)
    prometheus.write(result, args.out / "metrics.prom")
    if args.pushgateway:
        prometheus.push(result, args.pushgateway, job="modelgate-monitor")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = _parser().parse_args(argv)
    try:
        result = run(args)
    except (*EXPECTED_FAILURES, ValueError, OSError) as exc:
        logger.error("%s", exc)
        return 1
    score = (result["drift"].get("score") or {}).get("drift")
    drifted = ", ".join([*(result["drift"].get("drifted") or []), *(["score"] if score else [])])
    logger.info(
        "monitor: %s over %d rows (drifted: %s) -> %s",
        result["status"], result["window"]["rows"], drifted or "none", args.out,
    )  # fmt: skip
    return EXIT_CODES[result["status"]]


if __name__ == "__main__":
    sys.exit(main())
