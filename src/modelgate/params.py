"""Typed views of `params.yaml`, one model per pipeline stage.

Each stage reads its own section once, at its edge; a misspelt or missing key fails at stage
start with the key's dotted path rather than deep inside training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelgate import io


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MISSING_CATEGORY = ""  # how a missing categorical value reaches the model, natively and in ONNX

Task = Literal["binary", "regression"]
# Model features a `date` column can derive (modelgate.schema.calendar_features owns their
# ranges). A date itself never reaches the model: it orders the split and names a cohort.
CalendarPart = Literal[
    "day_of_week", "day_of_month", "day_of_year", "week_of_year", "month", "quarter", "year"
]


class ColumnSpec(_Section):
    """One column of the data contract."""

    kind: Literal["numeric", "integer", "categorical", "date"]
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None
    calendar: tuple[CalendarPart, ...] | None = None  # `date` only: features derived from it

    @model_validator(mode="after")
    def _check_kind(self) -> ColumnSpec:
        if self.kind == "categorical" and not self.categories:
            raise ValueError("a categorical column needs a non-empty `categories` list")
        if self.kind != "categorical" and self.categories is not None:
            raise ValueError("`categories` only applies to categorical columns")
        if self.kind != "date" and self.calendar is not None:
            raise ValueError("`calendar` only applies to date columns")
        if self.kind == "date" and (self.min is not None or self.max is not None):
            raise ValueError("a date column takes no `min` or `max`")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class IngestParams(_Section):
    # The raw snapshot, relative to the repository root. dvc.yaml reads it as ${ingest.raw},
    # so adopting other data changes params.yaml and data/raw/, never the pipeline.
    raw: str | None = None
    task: Task = "binary"
    target: str
    positive_class: str | None = None  # binary: the class the model scores
    target_classes: tuple[str, str] | None = None  # binary: both labels as the data spells them
    target_min: float | None = None  # regression: the label's domain
    target_max: float | None = None
    # Kept for the fairness gate and reports; never a model input, an ONNX input or served.
    protected: tuple[str, ...] = ()
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    extra_columns: Literal["error", "drop"] = "error"

    @model_validator(mode="after")
    def _check_target(self) -> IngestParams:
        if self.task == "binary":
            if self.positive_class is None or self.target_classes is None:
                raise ValueError("task binary needs `positive_class` and `target_classes`")
            if self.positive_class not in self.target_classes:
                raise ValueError(
                    f"positive_class {self.positive_class!r} is not one of "
                    f"target_classes {list(self.target_classes)}"
                )
        elif self.positive_class is not None or self.target_classes is not None:
            raise ValueError("task regression takes no `positive_class` or `target_classes`")
        if self.target in self.columns:
            raise ValueError(f"target {self.target!r} must not also be listed under columns")
        for name in self.protected:
            if name not in self.columns:
                raise ValueError(f"protected column {name!r} is not listed under columns")
        return self


class SplitParams(_Section):
    seed: int
    test_size: float = Field(gt=0, lt=1)
    validation_size: float = Field(gt=0, lt=1)
    # A date column: the oldest rows train, the next validate, the newest test (out of time).
    # None: a seeded random split, stratified on the label for a binary task.
    by: str | None = None

    @model_validator(mode="after")
    def _check_sizes(self) -> SplitParams:
        if self.test_size + self.validation_size >= 1:
            raise ValueError("test_size + validation_size must leave rows to train on")
        return self


class TrainParams(_Section):
    # local: one process (scikit-learn API); dask: XGBoost's Dask interface on a cluster
    # (modelgate.dask_train). Either gives the same kind of Pipeline, so nothing after train
    # knows which ran; where the cluster is, is a runtime setting (MODELGATE_DASK_*).
    engine: Literal["local", "dask"] = "local"
    seed: int
    n_jobs: int = Field(ge=1)
    n_estimators: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    max_depth: int = Field(ge=1)
    min_child_weight: float = Field(ge=0)
    subsample: float = Field(gt=0, le=1)
    colsample_bytree: float = Field(gt=0, le=1)
    reg_lambda: float = Field(ge=0)
    reg_alpha: float = Field(ge=0)
    # Categoricals with more declared categories than this (SKUs, stores) are ordinal-coded in
    # the contract's order instead of one-hot: one model column each, not hundreds.
    max_one_hot: int = Field(default=32, ge=2)
    # XGBoost's regression objective (reg:squarederror, reg:absoluteerror, count:poisson,
    # reg:tweedie ...); a binary task always uses binary:logistic.
    objective: str = "reg:squarederror"


class EvaluateParams(_Section):
    cost_false_negative: float = Field(gt=0)
    cost_false_positive: float = Field(gt=0)
    calibration_bins: int = Field(ge=2)
    score_bins: int = Field(ge=2)


class ExportParams(_Section):
    model_name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")  # a DNS label: serving, tags
    opset: int = Field(ge=13)
    ml_opset: int = Field(ge=1)
    max_abs_diff: float = Field(gt=0)  # |native - ONNX| allowed (a probability, or the target)
    # Regression: a row passes parity when within max_abs_diff OR max_rel_diff of |native|,
    # as numpy.isclose does: float32 trees on a target in the thousands differ by ~1e-4.
    max_rel_diff: float = Field(default=1.0e-5, ge=0)
    max_flips: int = Field(ge=0)  # binary: decisions changed at the threshold


class DriftParams(_Section):
    """What counts as drift in a window of production rows (modelgate.monitor)."""

    alpha: float = Field(gt=0, lt=0.5)  # family-wise false-alarm rate per window, all tests
    min_rows: int = Field(ge=1)  # a window smaller than this gets no verdict
    # A test alarms when it is significant after Holm and its effect reaches its floor
    # (modelgate.monitor.effect says what each measure means).
    numeric_floor: float = Field(ge=0)  # Wasserstein distance, in reference SDs
    score_floor: float = Field(ge=0)  # the same, for the model's score
    categorical_floor: float = Field(ge=0)  # PSI over the tested bins
    missing_floor: float = Field(ge=0, le=1)  # change in the share of missing values
    unseen_floor: float = Field(ge=0, le=1)  # share of rows in categories never seen
    rare_share: float = Field(gt=0, lt=1)  # rarer reference categories share one bin
    min_expected: float = Field(gt=0)  # ... as do those expected fewer times in the window


class PerformanceParams(_Section):
    """Performance before labels (estimated from scores) and after (realized, per cohort)."""

    maturity_days: int = Field(ge=0)  # an outcome counts once its decision is this old
    cohort: Literal["month", "week"] = "month"
    min_rows: int = Field(ge=1)  # a cohort with fewer labelled rows is listed, not judged
    min_class_rows: int = Field(ge=1)  # ... as is one with fewer rows of either class
    confidence: float = Field(gt=0.5, lt=1)  # two-sided level of every interval
    draws: int = Field(ge=100)  # Monte-Carlo draws behind the estimate's interval
    # Regression: a cohort's MAE is degraded when its interval's lower bound is more than this
    # fraction above the test MAE (a material increase, shown with confidence).
    max_error_increase: float = Field(default=0.2, gt=0)


class MonitorParams(_Section):
    seed: int
    reference_sample: int = Field(ge=100)  # rows of train + validation kept in the reference
    drift: DriftParams
    performance: PerformanceParams


class RetrainParams(_Section):
    """When `make retrain-pr` retrains, and on which rows (modelgate.retrain).

    A decision's outcome counts once it is `monitor.performance.maturity_days` old: the monitor
    owns that fact, so it is not repeated here.
    """

    triggers: tuple[Literal["drift", "degraded"], ...] = Field(min_length=1)  # verdicts that act
    policy: Literal["append", "window"]
    window_months: int = Field(ge=1)  # `window`: production rows of the last this many months
    holdout_share: float = Field(gt=0, lt=1)  # most recent matured rows kept out of training
    min_holdout_rows: int = Field(ge=1)  # ... but at least this many (the out-of-time test)
    min_new_rows: int = Field(ge=1)  # fewer matured rows obeying the contract: no retraining
    min_snapshot_rows: int = Field(ge=1)  # a next snapshot smaller than this is refused

    @model_validator(mode="after")
    def _check_rows(self) -> RetrainParams:
        if self.min_new_rows <= self.min_holdout_rows:
            raise ValueError(
                "min_new_rows must exceed min_holdout_rows: some rows must be left to train on"
            )
        return self


S = TypeVar("S", bound=BaseModel)


class ParamsError(ValueError):
    """`params.yaml` is missing, unreadable or breaks a section's model."""


def read_params_file(path: Path) -> dict[str, object]:
    try:
        data = io.load_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParamsError(f"cannot read params file {path}: {exc.strerror}") from exc
    except io.YAMLError as exc:
        raise ParamsError(f"params file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParamsError(f"params file {path} must hold a mapping of sections")
    return data


def parse_section(data: object, section: str, model: type[S], source: Path) -> S:
    """Validate `data` (the `section` of the params file `source`) into `model`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join([section, *(str(p) for p in err['loc'])])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ParamsError(f"{source}: {problems}") from exc


def load_section(path: Path, section: str, model: type[S]) -> S:
    """Read `section` of the params file at `path` into `model`; dots reach nested sections."""
    data: object = read_params_file(path)
    for key in section.split("."):
        if not isinstance(data, dict) or key not in data:
            raise ParamsError(f"params file {path} has no `{section}` section")
        data = data[key]
    return parse_section(data, section, model, path)
