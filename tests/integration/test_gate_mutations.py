"""Each quality gate catches the defect it exists for.

A copy of the real credit data passes every gate; then one defect at a time is injected, and the
gate named for it fails on the check named for it. The gates run with the real Deepchecks
suites and the repository's own `params.yaml` (`gates`, `ingest`, `split`, `train`): no
threshold is tuned here, so a test that stops failing means the params stopped catching the
defect. The gates are called in-process, as their stages call them, without HTML reports; one
test runs the real `dvc repro` to show the pipeline stops at the first failed gate.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import BaseModel
from sklearn.pipeline import Pipeline

from modelgate.gates.champion import Base, ChampionParams, champion_gate
from modelgate.gates.data import data_gate
from modelgate.gates.model import ModelGateParams, model_gate
from modelgate.gates.results import GATE_ORDER, GateResult, Status, failure_summary
from modelgate.gates.split import split_gate
from modelgate.gates.suites import SuiteParams
from modelgate.metrics import CostMatrix
from modelgate.onnx_export import attach_metadata, convert
from modelgate.params import (
    ColumnSpec,
    EvaluateParams,
    ExportParams,
    IngestParams,
    SplitParams,
    TrainParams,
    load_section,
)
from modelgate.schema import FeatureSchema, enforce_contract, read_raw
from modelgate.stages.evaluate import evaluate
from modelgate.stages.split import split_frame
from modelgate.stages.train import train
from tests.conftest import ROOT
from tests.integration.repo_copy import (
    fresh_copy,
    pipeline,
    ran_stages,
    replace_file,
    run_dvc,
    stage_env,
)
from tests.unit._pipeline import args

pytestmark = pytest.mark.slow

logger = logging.getLogger(__name__)

PARAMS = ROOT / "params.yaml"
RAW_CSV = Path("data/raw/credit_data.csv")
INGEST_TIMEOUT_S = 120


S = TypeVar("S", bound=BaseModel)


def _section(section: str, model: type[S]) -> S:
    return load_section(PARAMS, section, model)


@dataclass(frozen=True)
class Trained:
    pipeline: Pipeline
    metrics: dict  # as evaluate writes reports/metrics.json
    onnx: bytes  # as export writes models/model.onnx, with the metadata a gate reads


@dataclass(frozen=True)
class Credit:
    """The real data, typed as ingest writes it, split as split writes it, and the model the
    real params train on it. Shared by every test: read-only."""

    schema: FeatureSchema
    frame: pd.DataFrame
    parts: dict[str, pd.DataFrame]
    model: Trained


def _fit(parts: dict[str, pd.DataFrame], schema: FeatureSchema, params: TrainParams) -> Trained:
    pipeline = train(parts["train"], schema, params)
    metrics, _, _ = evaluate(
        pipeline, parts["validation"], parts["test"], schema, _section("evaluate", EvaluateParams)
    )
    export = _section("export", ExportParams)
    model = convert(pipeline, schema, export.opset, export.ml_opset)
    attach_metadata(
        model,
        {
            "feature_schema": schema.to_dict(),
            "threshold": str(metrics["threshold"]),
            "metrics": metrics["test"],
        },
    )
    return Trained(pipeline, metrics, model.SerializeToString(deterministic=True))


@pytest.fixture(scope="module")
def credit() -> Credit:
    raw = ROOT / RAW_CSV
    assert raw.is_file(), f"{raw} is missing: `make data` brings it from the DVC remote"
    ingest = _section("ingest", IngestParams)
    schema = FeatureSchema.from_params(ingest)
    frame = enforce_contract(read_raw(raw), ingest, str(raw))
    parts = split_frame(frame, schema.target, _section("split", SplitParams))
    return Credit(schema, frame, parts, _fit(parts, schema, _section("train", TrainParams)))


# --- the gates, as their stages call them ----------------------------------------------------


def _data(frame: pd.DataFrame, schema: FeatureSchema) -> GateResult:
    return data_gate(frame, schema, _section("gates.data", SuiteParams), None)


def _split(parts: dict[str, pd.DataFrame], schema: FeatureSchema) -> GateResult:
    return split_gate(
        parts["train"], parts["test"], schema, _section("gates.split", SuiteParams), None
    )


def _model(trained: Trained, parts: dict[str, pd.DataFrame], schema: FeatureSchema) -> GateResult:
    params = _section("gates.model", ModelGateParams)
    return model_gate(
        trained.pipeline,
        parts["train"],
        parts["test"],
        trained.metrics["test"],
        schema,
        params,
        None,
    )


def _champion(challenger: bytes, credit: Credit) -> GateResult:
    evaluate_params = _section("evaluate", EvaluateParams)
    costs = CostMatrix(evaluate_params.cost_false_negative, evaluate_params.cost_false_positive)
    return champion_gate(
        credit.parts["test"],
        credit.schema,
        challenger,
        Base("main", model=credit.model.onnx),
        _section("gates.champion", ChampionParams),
        costs,
        evaluate_params.calibration_bins,
    )


def _assert_caught(result: GateResult, gate: str, *conditions: str) -> None:
    """`gate` failed, and for each of `conditions` a failed condition's name starts with it."""
    failed = [c.name for c in result.failed]
    logger.info("%s", failure_summary(result))  # the measured values, with --log-cli-level=INFO
    assert (result.gate, result.status) == (gate, Status.FAIL), failure_summary(result)
    for condition in conditions:
        assert any(name.startswith(condition) for name in failed), failure_summary(result)


# --- clean data passes ------------------------------------------------------------------------

CLEAN_GATES: dict[str, Callable[[Credit], GateResult]] = {
    "data": lambda c: _data(c.frame, c.schema),
    "split": lambda c: _split(c.parts, c.schema),
    "model": lambda c: _model(c.model, c.parts, c.schema),
    "champion": lambda c: _champion(c.model.onnx, c),  # a rebuild of the base: same model
}


@pytest.mark.parametrize("gate", CLEAN_GATES)
def test_clean_data_passes_the_gate(credit: Credit, gate: str):
    result = CLEAN_GATES[gate](credit)

    assert result.gate == gate
    assert result.failed == [], failure_summary(result)


# --- contract gate: the raw file breaks the declared schema ----------------------------------


Violations = list[tuple[str, str, int]]  # column, rule, rows


def _dropped_and_renamed(raw: pd.DataFrame) -> tuple[pd.DataFrame, Violations]:
    edited = raw.drop(columns="Debt").rename(columns={"Seniority": "Tenure"})
    rows = len(raw)
    return edited, [
        ("Seniority", "required column", rows),
        ("Debt", "required column", rows),
        ("Tenure", "undeclared column (extra_columns: error)", rows),
    ]


def _numbers_as_text(raw: pd.DataFrame) -> tuple[pd.DataFrame, Violations]:
    edited = raw.copy()
    edited.loc[edited.index[::50], "Income"] = "abc"
    return edited, [("Income", "kind: numeric (not a number)", len(edited.index[::50]))]


CONTRACT_DEFECTS = {
    "dropped and renamed columns": _dropped_and_renamed,
    "numeric column as text": _numbers_as_text,
}


@pytest.mark.parametrize("inject", CONTRACT_DEFECTS.values(), ids=CONTRACT_DEFECTS)
def test_contract_gate_catches(
    tmp_path: Path, inject: Callable[[pd.DataFrame], tuple[pd.DataFrame, Violations]]
):
    edited, violations = inject(read_raw(ROOT / RAW_CSV))  # every cell as text, as ingest reads
    raw = tmp_path / "credit_data.csv"
    edited.to_csv(raw, index=False)
    out = tmp_path / "out"
    argv = args(
        params=PARAMS,
        input=raw,
        output=out / "dataset.parquet",
        schema=out / "schema.json",
        gates_dir=out / "gates",
        report=out / "gates.json",
    )

    stage = subprocess.run(
        [sys.executable, "-m", "modelgate.stages.ingest", *argv],
        env=stage_env(ROOT),
        capture_output=True,
        text=True,
        timeout=INGEST_TIMEOUT_S,
    )

    assert stage.returncode == 1, stage.stderr
    assert "Traceback" not in stage.stderr
    for column, rule, rows in violations:
        assert f"column {column!r}: {rows} row(s) break rule `{rule}`" in stage.stderr
    contract = json.loads((out / "gates" / "contract.json").read_text(encoding="utf-8"))
    assert contract["status"] == "fail"
    assert {c["name"] for c in contract["conditions"]} == {
        f"{column}: {rule}" for column, rule, _ in violations
    }
    report = json.loads((out / "gates.json").read_text(encoding="utf-8"))
    assert [(g["gate"], g["status"]) for g in report["gates"]] == [
        ("contract", "fail"),
        *((name, "not run") for name in GATE_ORDER[1:]),
    ]
    assert not (out / "dataset.parquet").exists()


# --- data gate: the ingested data set ---------------------------------------------------------
# Each defect keeps the data within the contract: only the data gate stands in its way.

Injected = tuple[pd.DataFrame, FeatureSchema]


def _duplicated_rows(credit: Credit) -> Injected:
    copies = credit.frame.sample(frac=0.05, random_state=0)
    return pd.concat([credit.frame, copies], ignore_index=True), credit.schema


def _relabel(frame: pd.DataFrame, schema: FeatureSchema, values: np.ndarray) -> pd.DataFrame:
    """`frame` with new label values, in the label's own categorical type."""
    categories = frame[schema.target].cat.categories
    return frame.assign(**{schema.target: pd.Categorical(values, categories)})


def _flip_labels(frame: pd.DataFrame, schema: FeatureSchema, rows: np.ndarray) -> pd.DataFrame:
    """`frame` with the label of `rows` (a boolean mask) swapped to the other class."""
    label = frame[schema.target].astype(str).to_numpy()
    other = np.where(label == schema.positive_class, schema.negative_class, schema.positive_class)
    return _relabel(frame, schema, np.where(rows, other, label))


def _conflicting_labels(credit: Credit) -> Injected:
    """2% of rows again, each with the other label."""
    copies = credit.frame.sample(frac=0.02, random_state=1)
    flipped = _flip_labels(copies, credit.schema, np.ones(len(copies), dtype=bool))
    return pd.concat([credit.frame, flipped], ignore_index=True), credit.schema


def _label_leak(credit: Credit) -> Injected:
    """A declared numeric feature that is the label plus a little noise."""
    schema = credit.schema
    label = (credit.frame[schema.target] == schema.positive_class).to_numpy(float)
    noise = np.random.default_rng(2).normal(0.0, 0.1, len(label))
    columns = {**schema.columns, "Leak": ColumnSpec(kind="numeric")}
    leaky = FeatureSchema(schema.target, schema.positive_class, schema.negative_class, columns)
    return credit.frame.assign(Leak=label + noise), leaky


def _nulls(credit: Credit) -> Injected:
    """20% of rows lose `Assets`, which the contract lets be missing."""
    frame = credit.frame.copy()
    assert credit.schema.columns["Assets"].nullable
    present = frame.index[frame["Assets"].notna()]
    gone = np.random.default_rng(3).choice(present, int(0.2 * len(frame)), replace=False)
    frame.loc[gone, "Assets"] = np.nan
    return frame, credit.schema


DATA_DEFECTS = {
    "5% duplicated rows": (_duplicated_rows, "DataDuplicates:"),
    "conflicting labels": (_conflicting_labels, "ConflictingLabels:"),
    "feature leaking the label": (_label_leak, "FeatureLabelCorrelation:"),
    "20% nulls in a feature": (_nulls, "PercentOfNulls:"),
}


@pytest.mark.parametrize(("inject", "check"), DATA_DEFECTS.values(), ids=DATA_DEFECTS)
def test_data_gate_catches(credit: Credit, inject: Callable[[Credit], Injected], check: str):
    frame, schema = inject(credit)

    _assert_caught(_data(frame, schema), "data", check)


# --- split gate: the train and test partitions ------------------------------------------------

Parts = tuple[dict[str, pd.DataFrame], FeatureSchema]


def _train_rows_in_test(credit: Credit) -> Parts:
    train_, test = credit.parts["train"], credit.parts["test"]
    leaked = train_.sample(frac=0.10, random_state=4)
    return {"train": train_, "test": pd.concat([test, leaked], ignore_index=True)}, credit.schema


def _category_unseen_in_training(credit: Credit) -> Parts:
    """A `Job` the contract allows (a new kind of contract, say) that no training row has."""
    schema, new = credit.schema, "contractor"
    job = schema.columns["Job"]
    columns = {
        **schema.columns,
        "Job": job.model_copy(update={"categories": (*job.categories, new)}),
    }
    widened = FeatureSchema(schema.target, schema.positive_class, schema.negative_class, columns)
    parts = {
        name: part.assign(Job=part["Job"].cat.add_categories([new]))
        for name, part in credit.parts.items()
    }
    parts["test"].loc[parts["test"].sample(frac=0.05, random_state=5).index, "Job"] = new
    return parts, widened


SPLIT_DEFECTS = {
    "train rows in test": (_train_rows_in_test, "TrainTestSamplesMix:"),
    "category unseen in training": (_category_unseen_in_training, "NewCategoryTrainTest:"),
}


@pytest.mark.parametrize(("inject", "check"), SPLIT_DEFECTS.values(), ids=SPLIT_DEFECTS)
def test_split_gate_catches(credit: Credit, inject: Callable[[Credit], Parts], check: str):
    parts, schema = inject(credit)

    _assert_caught(_split(parts, schema), "split", check)


# --- model gate: the trained model on the test partition --------------------------------------


def test_model_gate_catches_a_model_trained_on_shuffled_labels(credit: Credit):
    schema, parts = credit.schema, dict(credit.parts)
    labels = parts["train"][schema.target].astype(str).to_numpy()
    parts["train"] = _relabel(parts["train"], schema, np.random.default_rng(6).permutation(labels))
    trained = _fit(parts, schema, _section("train", TrainParams))

    result = _model(trained, parts, schema)

    _assert_caught(result, "model", "test roc_auc", "test ks", "SimpleModelComparison:")


def test_model_gate_catches_one_segment_with_corrupted_labels(credit: Credit):
    schema, parts = credit.schema, dict(credit.parts)
    segments = _section("gates.model", ModelGateParams).segments
    assert segments is not None
    low, high = segments.by["Age"][:2]  # the youngest band the gate judges
    rng = np.random.default_rng(7)
    for name in ("train", "test"):  # half the band's labels flipped: noise the model learns too
        band = parts[name]["Age"].between(low, high, inclusive="left").to_numpy()
        parts[name] = _flip_labels(parts[name], schema, band & (rng.random(len(band)) < 0.5))
    trained = _fit(parts, schema, _section("train", TrainParams))

    result = _model(trained, parts, schema)

    _assert_caught(result, "model", f"segment Age=[{low:.1f}, {high:.1f}) ROC-AUC gap")


# --- champion gate: the challenger against the base branch's model ----------------------------


def test_champion_gate_catches_a_weaker_configuration(credit: Credit):
    weak = _section("train", TrainParams).model_copy(update={"n_estimators": 3, "max_depth": 1})
    challenger = _fit(credit.parts, credit.schema, weak)

    result = _champion(challenger.onnx, credit)

    _assert_caught(result, "champion", "ROC-AUC difference (paired bootstrap)")
    bootstrap = result.conditions[0].value
    assert bootstrap["ci_high"] < -_section("gates.champion", ChampionParams).auc_tolerance


# --- the real pipeline stops at the first failed gate -----------------------------------------


def _with_duplicate_lines(csv: bytes, fraction: float, seed: int = 0) -> bytes:
    """The CSV with a `fraction` of its data lines appended again, byte for byte."""
    header, *rows = csv.decode("utf-8").splitlines()
    picked = np.random.default_rng(seed).choice(len(rows), int(fraction * len(rows)), replace=False)
    return "\n".join([header, *rows, *(rows[i] for i in sorted(picked)), ""]).encode("utf-8")


def test_dvc_repro_stops_at_the_data_gate_on_duplicated_rows(
    tmp_path_factory: pytest.TempPathFactory,
):
    repo = fresh_copy(tmp_path_factory.mktemp("duplicates") / "repo")
    raw = repo / RAW_CSV
    replace_file(raw, _with_duplicate_lines(raw.read_bytes(), 0.05))
    checks = yaml.safe_load((repo / "params.yaml").read_text())["gates"]["data"]["checks"]

    result = run_dvc(repo, "repro", check=False)

    assert result.returncode != 0
    assert ran_stages(result.stdout) == ["ingest", "data_gate"], result.stdout
    assert "gate 'data' failed" in result.stdout
    summary = re.search(r"  - DataDuplicates: .*\(value (.*), threshold (.*)\)", result.stdout)
    assert summary is not None, result.stdout
    assert re.fullmatch(r"Found [\d.]+% duplicate data", summary[1])
    assert summary[2] == str(checks["DataDuplicates"]["args"])
    assert not [out for out in pipeline(repo / "dvc.yaml")["split"].outs if (repo / out).exists()]
    report = json.loads((repo / "reports" / "gates.json").read_text(encoding="utf-8"))
    statuses = {gate["gate"]: gate["status"] for gate in report["gates"]}
    assert statuses == {
        "contract": "pass",
        "data": "fail",
        **{name: "not run" for name in GATE_ORDER[GATE_ORDER.index("data") + 1 :]},
    }
