"""Model gate: the Deepchecks model-evaluation suite, absolute metric thresholds, and
performance by segment (a credit model that fails one group is a regulatory problem).

For a regressor the suite gets a regression dataset; checks Deepchecks finds irrelevant for the
task (a classification check on a regressor) are skipped with a note, not failed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from deepchecks.tabular.suites import model_evaluation
from sklearn.pipeline import Pipeline

from modelgate import io
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import finish
from modelgate.gates.params import Bound, ModelGateParams
from modelgate.gates.results import Condition, GateResult, check_max, check_min
from modelgate.gates.segments import segment_conditions
from modelgate.gates.suites import build_suite, dataset, run_suite
from modelgate.model import feature_importance, labels, load_pipeline, model_frame, scores
from modelgate.params import load_section
from modelgate.partitions import read_bounded
from modelgate.schema import FeatureSchema


def metric_conditions(test_metrics: dict[str, float], bounds: dict[str, Bound]) -> list[Condition]:
    out = []
    for name, bound in bounds.items():
        if name not in test_metrics:
            raise ValueError(f"gates.model.metrics.{name}: no such metric in the evaluation")
        if bound.min is not None:
            out.append(check_min(f"test {name}", test_metrics[name], bound.min))
        if bound.max is not None:
            out.append(check_max(f"test {name}", test_metrics[name], bound.max))
    return out


def model_gate(
    pipeline: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    test_metrics: dict[str, float],
    schema: FeatureSchema,
    params: ModelGateParams,
    html: Path | None,
) -> GateResult:
    def ds(frame: pd.DataFrame):
        features = model_frame(frame, schema)
        features[schema.target] = labels(frame, schema)
        return dataset(features, schema.target, schema.categorical, task=schema.task)

    suite = build_suite(model_evaluation, params)
    # The model's own gain importance, so Deepchecks does not spend most of the gate's time
    # on permutation importance.
    importance = pd.Series(feature_importance(pipeline, schema))
    notes: list[str] = []
    conditions = run_suite(
        suite,
        params,
        html,
        train_dataset=ds(train),
        test_dataset=ds(test),
        model=pipeline,
        feature_importance=importance,
        notes=notes,
    )
    conditions += metric_conditions(test_metrics, params.metrics)
    if params.segments:
        predictions = scores(pipeline, model_frame(test, schema), schema)
        binary = schema.task == "binary"
        judged = segment_conditions(
            test, labels(test, schema), predictions, params.segments, binary
        )
        conditions += judged.conditions
        notes += judged.notes
    return GateResult("model", conditions, notes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    for name in ("model", "train", "test", "schema", "metrics", "gates-dir", "report"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--html", type=Path, default=None)
    args = parser.parse_args(argv)
    params = load_section(args.params, "gates.model", ModelGateParams)
    schema = FeatureSchema.from_dict(io.read_json(args.schema))
    result = model_gate(
        load_pipeline(args.model),
        read_bounded(args.train, params.n_samples, params.random_state),
        pd.read_parquet(args.test),  # whole: the segment gate's intervals use every test row
        io.read_json(args.metrics)["test"],
        schema,
        params,
        args.html,
    )
    finish(result, args.gates_dir, args.report)


if __name__ == "__main__":
    entry(main)
