"""Split gate: the Deepchecks train-test-validation suite on the train and test partitions.

With an out-of-time split (`split.by`), the date column goes to Deepchecks as the datasets'
datetime, never as a feature, so DateTrainTestLeakageDuplicates/Overlap can run: set them on in
`gates.split.checks` for dated data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from deepchecks.tabular import Dataset
from deepchecks.tabular.suites import train_test_validation

from modelgate import io
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import finish
from modelgate.gates.results import GateResult
from modelgate.gates.suites import SuiteParams, build_suite, dataset, run_suite
from modelgate.params import SplitParams, load_section
from modelgate.partitions import read_bounded
from modelgate.schema import FeatureSchema


def split_gate(
    train: pd.DataFrame,
    test: pd.DataFrame,
    schema: FeatureSchema,
    params: SuiteParams,
    html: Path | None,
    date: str | None = None,
) -> GateResult:
    columns = [schema.target, *schema.features, *([date] if date else [])]

    def ds(frame: pd.DataFrame) -> Dataset:
        return dataset(frame[columns], schema.target, schema.categorical, schema.task, date)

    suite = build_suite(train_test_validation, params)
    notes: list[str] = []
    conditions = run_suite(
        suite, params, html, notes, train_dataset=ds(train), test_dataset=ds(test)
    )
    return GateResult("split", conditions, notes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    for name in ("train", "test", "schema", "gates-dir", "report"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--html", type=Path, default=None)
    args = parser.parse_args(argv)
    params = load_section(args.params, "gates.split", SuiteParams)
    split = load_section(args.params, "split", SplitParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    result = split_gate(
        read_bounded(args.train, params.n_samples, params.random_state),
        read_bounded(args.test, params.n_samples, params.random_state),
        schema,
        params,
        args.html,
        split.by,
    )
    finish(result, args.gates_dir, args.report)


if __name__ == "__main__":
    entry(main)
