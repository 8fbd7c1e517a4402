"""What the monitor compares production with: the data the model learned from (train +
validation), frozen into one JSON file that travels with the model (issue 10.1).

Per feature it keeps what the drift tests need: for a number, a seeded sample of up to
`monitor.reference_sample` rows' non-missing values, sorted (the tests work on the sample's
exact values); for a category, every category's count. Both keep the missing count and the row
count. The validation rows' scores and labels come too, for performance estimation before labels
(`estimate`): those rows were not fitted, so their scores are what production's look like.
A regressor's reference (`task: regression`, issue 12) holds its validation predictions as
the scores and the actual values as the labels: the score drift test then watches the
prediction's distribution. Only the features are kept, never a protected column (the server
does not log those) nor a date (its calendar parts are the features).

Values are kept at the precision the model sees them (float32, `modelgate.model.model_frame`),
and the monitor casts the window the same way: an income of 230.8 must be one value on both
sides, or every tie between them becomes a difference. The file writes each float32 as its
shortest exact decimal, not through `modelgate.io.dumps`, whose six significant digits would move
some float32 values off themselves; keys are sorted, so the same inputs give the same bytes and
`dvc repro --force` reproduces the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, model_validator

from modelgate import io
from modelgate.cli import StageError
from modelgate.model import model_frame
from modelgate.params import MISSING_CATEGORY, Task
from modelgate.schema import FeatureSchema

FORMAT = 1


class BadReferenceError(StageError):
    """A reference that cannot be built, or a file that does not hold one."""


@dataclass(frozen=True, eq=False)
class NumericReference:
    kind: str  # the schema's: numeric or integer
    nullable: bool
    rows: int
    missing: int
    values: np.ndarray  # sorted non-missing values of the sampled rows, float32 as float64


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    nullable: bool
    rows: int
    missing: int
    counts: dict[str, int]  # every declared category (0 when absent), then any other seen


@dataclass(frozen=True, eq=False)
class Reference:
    model_version: str
    rows: int
    sample: int
    seed: int
    features: tuple[str, ...]  # model-input order
    numeric: dict[str, NumericReference]
    categorical: dict[str, CategoricalReference]
    scores: np.ndarray  # the model's validation scores (a regressor's predictions), as float64
    labels: np.ndarray  # their outcomes: 1 for the positive class, or a regressor's actuals
    task: Task = "binary"

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        schema: FeatureSchema,
        scores: np.ndarray,
        labels: np.ndarray,
        model_version: str,
        sample: int,
        seed: int,
    ) -> Reference:
        """From the train + validation rows of `frame` (typed by the data contract) and the
        model's scores of the validation rows with their labels (0/1, or a regressor's actual
        values)."""
        if frame.empty:
            raise BadReferenceError("the reference needs at least one row of train + validation")
        scores, labels = np.asarray(scores), np.asarray(labels)
        if scores.shape != labels.shape or scores.ndim != 1 or not len(scores):
            raise BadReferenceError(f"{scores.shape} scores for {labels.shape} labels")
        _check_labels(schema.task, scores, labels)
        features = model_frame(frame, schema)
        rng = np.random.default_rng(seed)
        rows = len(features)
        kept = np.sort(rng.choice(rows, sample, replace=False)) if rows > sample else slice(None)
        numeric = {
            name: _numeric(features[name].to_numpy(np.float32), kept, schema, name)
            for name in schema.numeric
        }
        categorical = {
            name: _categorical(features[name], schema, name) for name in schema.categorical
        }
        return cls(
            model_version, rows, sample, seed, tuple(schema.features), numeric, categorical,
            _frozen(scores.astype(np.float32)), _labels(schema.task, labels), schema.task,
        )  # fmt: skip

    def save(self, path: Path) -> None:
        io.write_bytes(path, (json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> Reference:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BadReferenceError(f"cannot read reference file {path}: {exc.strerror}") from exc
        try:
            data = _File.model_validate_json(text)
        except ValidationError as exc:
            problems = "; ".join(
                f"field `{'.'.join(str(p) for p in e['loc']) or '(file)'}`: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise BadReferenceError(f"reference file {path}: {problems}") from exc
        return cls._from_file(data)

    def to_dict(self) -> dict[str, object]:
        # A binary reference names no task, so the credit model's file keeps its bytes.
        task = {} if self.task == "binary" else {"task": self.task}
        return {
            **task,
            "format": FORMAT,
            "model_version": self.model_version,
            "rows": self.rows,
            "sample": self.sample,
            "seed": self.seed,
            "features": list(self.features),
            "numeric": {
                n: {
                    "kind": r.kind,
                    "nullable": r.nullable,
                    "rows": r.rows,
                    "missing": r.missing,
                    "values": _decimals(r.values),
                }
                for n, r in self.numeric.items()
            },
            "categorical": {
                n: {
                    "nullable": r.nullable,
                    "rows": r.rows,
                    "missing": r.missing,
                    "counts": r.counts,
                }
                for n, r in self.categorical.items()
            },
            "scores": _decimals(self.scores),
            **(
                {"labels": self.labels.tolist()}
                if self.task == "binary"
                else {"actuals": _decimals(self.labels)}
            ),
        }

    @classmethod
    def _from_file(cls, data: _File) -> Reference:
        numeric = {
            n: NumericReference(f.kind, f.nullable, f.rows, f.missing, _floats(f.values))
            for n, f in data.numeric.items()
        }
        categorical = {
            n: CategoricalReference(f.nullable, f.rows, f.missing, dict(f.counts))
            for n, f in data.categorical.items()
        }
        return cls(
            data.model_version, data.rows, data.sample, data.seed, tuple(data.features),
            numeric, categorical, _floats(data.scores), _labels(data.task, data.outcomes),
            data.task,
        )  # fmt: skip


def _check_labels(task: Task, scores: np.ndarray, labels: np.ndarray) -> None:
    if task == "binary" and (not np.isin(labels, (0, 1)).all() or not np.isfinite(scores).all()):
        raise BadReferenceError("labels must be 0 or 1 and scores finite")
    if task == "regression" and not np.isfinite(np.r_[scores, labels].astype(np.float64)).all():
        raise BadReferenceError("a regressor's predictions and actual values must be finite")


def _labels(task: Task, labels: np.ndarray | list[float]) -> np.ndarray:
    """0/1 as int64, or a regressor's actuals at the model's float32 precision."""
    if task == "binary":
        return _frozen(np.asarray(labels, np.int64))
    return _frozen(np.asarray(labels, np.float32))


def _numeric(
    values: np.ndarray, kept: np.ndarray | slice, schema: FeatureSchema, name: str
) -> NumericReference:
    spec = schema.columns[name]
    present = values[kept]
    present = np.sort(present[~np.isnan(present)])
    missing = int(np.isnan(values).sum())
    return NumericReference(spec.kind, spec.nullable, len(values), missing, _frozen(present))


def _categorical(values: pd.Series, schema: FeatureSchema, name: str) -> CategoricalReference:
    spec = schema.columns[name]
    found = values.astype(str).value_counts()
    missing = int(found.pop(MISSING_CATEGORY)) if MISSING_CATEGORY in found else 0
    declared = list(spec.categories or ())
    others = sorted(set(found.index) - set(declared))
    counts = {c: int(found.get(c, 0)) for c in [*declared, *others]}
    return CategoricalReference(spec.nullable, len(values), missing, counts)


def _frozen(array: np.ndarray) -> np.ndarray:
    out = np.array(array, dtype=np.float64 if array.dtype.kind == "f" else array.dtype)
    out.setflags(write=False)
    return out


def _floats(values: list[float]) -> np.ndarray:
    return _frozen(np.asarray(values, dtype=np.float32))


def _decimals(values: np.ndarray) -> list[float]:
    """Each value as the shortest decimal that reads back as the same float32."""
    return [float(repr(v)) for v in values.astype(np.float32)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Numeric(_Section):
    kind: Literal["numeric", "integer"]
    nullable: bool
    rows: int = Field(ge=1)
    missing: int = Field(ge=0)
    values: list[FiniteFloat]

    @model_validator(mode="after")
    def _check(self) -> _Numeric:
        if len(self.values) > self.rows - self.missing:
            raise ValueError(f"{len(self.values)} values but {self.rows - self.missing} rows")
        if any(b < a for a, b in zip(self.values, self.values[1:], strict=False)):
            raise ValueError("values must be sorted")
        return self


class _Categorical(_Section):
    nullable: bool
    rows: int = Field(ge=1)
    missing: int = Field(ge=0)
    counts: dict[str, int] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> _Categorical:
        if min(self.counts.values()) < 0 or sum(self.counts.values()) + self.missing != self.rows:
            raise ValueError("counts and missing must be non-negative and add up to rows")
        return self


class _File(_Section):
    task: Task = "binary"
    format: Literal[1]
    model_version: str
    rows: int = Field(ge=1)
    sample: int = Field(ge=1)
    seed: int
    features: list[str] = Field(min_length=1)
    numeric: dict[str, _Numeric]
    categorical: dict[str, _Categorical]
    scores: list[FiniteFloat] = Field(min_length=1)
    labels: list[Literal[0, 1]] | None = None  # binary
    actuals: list[FiniteFloat] | None = None  # regression

    @property
    def outcomes(self) -> list[float]:
        return list((self.labels if self.task == "binary" else self.actuals) or [])

    @model_validator(mode="after")
    def _check(self) -> _File:
        if sorted(self.features) != sorted([*self.numeric, *self.categorical]):
            raise ValueError("features must list each numeric and categorical feature once")
        key, other = ("labels", "actuals") if self.task == "binary" else ("actuals", "labels")
        if getattr(self, other) is not None:
            raise ValueError(f"a {self.task} reference has {key}, not {other}")
        if len(self.scores) != len(self.outcomes):
            raise ValueError(f"{len(self.scores)} scores but {len(self.outcomes)} {key}")
        return self
