"""The gates' settings (`gates.*` in params.yaml) as pydantic models, apart from the gates.

Light on purpose: `modelgate adopt` validates the params it writes through these models, and
importing a gate module pulls Deepchecks in (seconds). Each gate module reads its own section.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Severity = Literal["fail", "warn", "off"]


class CheckSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    init: dict[str, Any] | None = None  # constructor arguments; replaces the suite's instance
    condition: str | None = None  # an add_condition_* method of the check
    args: dict[str, Any] = Field(default_factory=dict)
    on_fail: Severity = "fail"

    @model_validator(mode="after")
    def _init_needs_condition(self) -> CheckSpec:
        # A re-created check has no conditions, so it could never fail: say which one to use.
        if self.init is not None and self.condition is None and self.on_fail != "off":
            raise ValueError("a check re-created with `init` needs a `condition`")
        return self


class SuiteParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    n_samples: int = Field(ge=100)
    random_state: int = 0
    # Which partition a single-dataset check (weak segments, ROC report) runs on when the suite
    # has two: "test" halves their cost and reports on the rows the model never saw.
    single_dataset: Literal["train", "test", "both"] = "both"
    # Deepchecks' charts and tables in the HTML report. They cost about a third of a suite's run;
    # without them the report still lists every check and condition with its value.
    charts: bool = True
    default_on_fail: Severity = "warn"
    checks: dict[str, CheckSpec] = Field(default_factory=dict)


class SegmentParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_rows: int = Field(ge=1)
    min_positives: int = Field(default=10, ge=1)  # binary: fewer positives, too small to judge
    min_negatives: int = Field(default=10, ge=1)
    # binary: ROC-AUC points a segment may trail the whole by; regression: relative MAE excess
    max_gap: float = Field(ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)  # family-wise, across all segments
    by: dict[str, list[float] | None]  # numeric column -> band edges; categorical -> null


class Bound(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: float | None = None
    max: float | None = None


class ModelGateParams(SuiteParams):
    metrics: dict[str, Bound] = Field(default_factory=dict)
    segments: SegmentParams | None = None


class FairnessParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    favourable: Literal["negative", "positive"] = "negative"  # the predicted class that favours
    min_ratio: float = Field(default=0.8, gt=0, le=1)  # four-fifths rule on the impact ratio
    max_auc_gap: float = Field(default=0.1, ge=0)
    min_rows: int = Field(default=30, ge=1)
    min_positives: int = Field(default=10, ge=1)  # fewer: no ROC-AUC gap for the group
    min_negatives: int = Field(default=10, ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)  # family-wise, per kind of test


class Tolerance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    better: Literal["higher", "lower"]
    tolerance: float = Field(ge=0)
    kind: Literal["absolute", "relative"] = "absolute"


class ChampionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n_bootstrap: int = Field(ge=100)
    confidence: float = Field(gt=0.5, lt=1)
    seed: int
    auc_tolerance: float | None = Field(default=None, ge=0)  # binary: ROC-AUC points
    mae_tolerance: float | None = Field(default=None, ge=0)  # regression: relative MAE increase
    min_rows: int = Field(default=100, ge=1)  # fewer unseen test rows than this: no verdict
    metrics: dict[str, Tolerance] = Field(default_factory=dict)

    def tolerance(self, task: str) -> float:
        """The bound on the task's paired metric; refused by name when params.yaml lacks it."""
        name = "mae_tolerance" if task == "regression" else "auc_tolerance"
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"gates.champion.{name} is required for task {task}")
        return float(value)
