"""Ingest: raw CSV -> typed Parquet that obeys the data contract, plus the feature schema."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from modelgate import io
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import record
from modelgate.gates.contract import contract_gate
from modelgate.params import IngestParams, load_section
from modelgate.schema import DataContractError, FeatureSchema, enforce_contract, read_raw

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True, help="typed Parquet")
    parser.add_argument("--schema", type=Path, required=True, help="feature schema JSON")
    parser.add_argument("--gates-dir", type=Path, default=None, help="where gate results go")
    parser.add_argument("--report", type=Path, default=None, help="combined gates.json")
    args = parser.parse_args(argv)
    params = load_section(args.params, "ingest", IngestParams)

    try:
        typed = enforce_contract(read_raw(args.input), params, str(args.input))
    except DataContractError as exc:
        if args.gates_dir and args.report:
            record(contract_gate(exc, 0, 0), args.gates_dir, args.report)
        raise
    if args.gates_dir and args.report:
        record(contract_gate(None, len(typed), len(params.columns)), args.gates_dir, args.report)
    io.write_parquet(args.output, typed)
    schema = FeatureSchema.from_params(params)
    io.write_json(args.schema, schema.to_dict())
    if schema.task == "regression":
        label = f"mean {params.target} {typed[params.target].mean():.4g}"
    else:
        positives = int((typed[params.target] == params.positive_class).sum())
        label = f"{positives} {params.positive_class!r} ({100 * positives / len(typed):.1f}%)"
    logger.info(
        "ingest: %d rows, %d features, %s -> %s",
        len(typed),
        len(schema.features),
        label,
        args.output,
    )


if __name__ == "__main__":
    entry(main)
