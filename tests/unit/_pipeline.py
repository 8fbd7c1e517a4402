"""The tiny pipeline for unit tests: ingest -> split -> train -> evaluate into one directory.

Stages are called through their `main()` with paths as arguments, as `dvc.yaml` calls them, on
the synthetic data of `tests/conftest.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from modelgate import io
from modelgate.params import EvaluateParams, TrainParams, load_section
from modelgate.schema import FeatureSchema
from modelgate.stages import evaluate, ingest, split, train
from tests.conftest import TINY_PARAMS, make_tiny_frame


def args(**options: object) -> list[str]:
    """`--some-option value` pairs from keyword arguments (underscores become dashes)."""
    out: list[str] = []
    for name, value in options.items():
        out += [f"--{name.replace('_', '-')}", str(value)]
    return out


@dataclass(frozen=True)
class PipelineRun:
    """Paths of one tiny run. Tests treat them as read-only: the run is shared."""

    root: Path

    params = property(lambda self: self.root / "params.yaml")
    raw = property(lambda self: self.root / "raw.csv")
    dataset = property(lambda self: self.root / "processed" / "dataset.parquet")
    schema_json = property(lambda self: self.root / "processed" / "schema.json")
    split_dir = property(lambda self: self.root / "split")
    split_summary = property(lambda self: self.root / "reports" / "split.json")
    model = property(lambda self: self.root / "models" / "pipeline.pkl")
    metrics = property(lambda self: self.root / "reports" / "metrics.json")
    predictions = property(lambda self: self.root / "reports" / "predictions" / "test.csv")
    plots = property(lambda self: self.root / "reports" / "plots")

    def part(self, name: str) -> Path:
        return self.split_dir / f"{name}.parquet"

    @property
    def schema(self) -> FeatureSchema:
        return FeatureSchema.from_dict(io.read_json(self.schema_json))

    @property
    def train_params(self) -> TrainParams:
        return load_section(self.params, "train", TrainParams)

    @property
    def evaluate_params(self) -> EvaluateParams:
        return load_section(self.params, "evaluate", EvaluateParams)

    def export_argv(self, onnx: Path, report: Path, params: Path | None = None) -> list[str]:
        return args(
            params=params or self.params,
            model=self.model,
            schema=self.schema_json,
            train=self.part("train"),
            test=self.part("test"),
            metrics=self.metrics,
            onnx=onnx,
            parity_report=report,
        )


def run_pipeline(root: Path) -> PipelineRun:
    run = PipelineRun(root)
    run.params.write_text(yaml.safe_dump(TINY_PARAMS))
    make_tiny_frame().to_csv(run.raw, index=False)
    ingest.main(args(params=run.params, input=run.raw, output=run.dataset, schema=run.schema_json))
    split.main(
        args(
            params=run.params,
            input=run.dataset,
            schema=run.schema_json,
            output_dir=run.split_dir,
            summary=run.split_summary,
        )
    )
    train.main(
        args(params=run.params, train=run.part("train"), schema=run.schema_json, model=run.model)
    )
    evaluate.main(
        args(
            params=run.params,
            model=run.model,
            schema=run.schema_json,
            validation=run.part("validation"),
            test=run.part("test"),
            metrics=run.metrics,
            predictions=run.predictions,
            plots_dir=run.plots,
        )
    )
    return run
