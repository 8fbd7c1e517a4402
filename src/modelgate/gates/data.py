"""Data gate: the Deepchecks data-integrity suite on the ingested data set."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from deepchecks.tabular.suites import data_integrity

from modelgate import io
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import finish
from modelgate.gates.results import GateResult
from modelgate.gates.suites import SuiteParams, build_suite, dataset, run_suite
from modelgate.params import load_section
from modelgate.partitions import read_bounded
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)


def data_gate(
    frame: pd.DataFrame, schema: FeatureSchema, params: SuiteParams, html: Path | None
) -> GateResult:
    suite = build_suite(data_integrity, params)
    columns = [schema.target, *schema.features]
    data = dataset(frame[columns], schema.target, schema.categorical, schema.task)
    notes: list[str] = []
    conditions = run_suite(suite, params, html, notes, train_dataset=data)
    return GateResult("data", conditions, notes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--gates-dir", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True, help="combined gates.json")
    parser.add_argument("--html", type=Path, default=None)
    args = parser.parse_args(argv)
    params = load_section(args.params, "gates.data", SuiteParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    data = read_bounded(args.data, params.n_samples, params.random_state)
    finish(
        data_gate(data, schema, params, args.html),
        args.gates_dir,
        args.report,
    )


if __name__ == "__main__":
    entry(main)
