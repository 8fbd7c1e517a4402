"""The data contract: validate raw rows against the declared schema and type them.

The contract comes from `params.yaml` (`ingest`); this module never names a column itself.
`FeatureSchema` is what travels downstream (training, export, serving) as `schema.json`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from modelgate.params import CalendarPart, ColumnSpec, IngestParams, Task

MAX_EXAMPLES = 3
# The range of each calendar part a date column can derive; the derived column is named
# "<date column>_<part>" and is an integer feature like any other.
CALENDAR_RANGES: dict[str, tuple[int, int]] = {
    "day_of_week": (0, 6),  # Monday is 0
    "day_of_month": (1, 31),
    "day_of_year": (1, 366),
    "week_of_year": (1, 53),  # ISO week
    "month": (1, 12),
    "quarter": (1, 4),
    "year": (1900, 2200),
}


@dataclass(frozen=True)
class Violation:
    column: str
    rule: str
    rows: int
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"column {self.column!r}: {self.rows} row(s) break rule `{self.rule}`"
        return f"{text} (e.g. {', '.join(self.examples)})" if self.examples else text


class RawFileError(ValueError):
    """The raw data file cannot be read as CSV text at all (missing, empty, not UTF-8, ...)."""


def read_raw(path: Path) -> pd.DataFrame:
    """Read every cell as text (types are the contract's job); name the file on failure."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=True, encoding="utf-8")
    except FileNotFoundError as exc:
        raise RawFileError(f"raw data file {path} does not exist") from exc
    except pd.errors.EmptyDataError as exc:
        raise RawFileError(f"raw data file {path} is empty: no header, no rows") from exc
    except (pd.errors.ParserError, csv.Error) as exc:
        raise RawFileError(f"raw data file {path} is not valid CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise RawFileError(f"raw data file {path} is not UTF-8 text: {exc.reason}") from exc
    except OSError as exc:
        raise RawFileError(f"cannot read raw data file {path}: {exc.strerror}") from exc


class DataContractError(ValueError):
    """The raw data breaks the declared schema; holds every violation found."""

    def __init__(self, source: str, violations: list[Violation]):
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"{source} breaks the data contract:\n{lines}")


def calendar_columns(name: str, spec: ColumnSpec) -> dict[str, ColumnSpec]:
    """The integer features a date column derives, by name, in the order declared."""
    return {
        f"{name}_{part}": ColumnSpec(
            kind="integer",
            nullable=spec.nullable,
            min=CALENDAR_RANGES[part][0],
            max=CALENDAR_RANGES[part][1],
        )
        for part in spec.calendar or ()
    }


def calendar_part(dates: pd.Series, part: CalendarPart, nullable: bool) -> pd.Series:
    accessor = dates.dt
    values = {
        "day_of_week": lambda: accessor.dayofweek,
        "day_of_month": lambda: accessor.day,
        "day_of_year": lambda: accessor.dayofyear,
        "week_of_year": lambda: accessor.isocalendar().week,
        "month": lambda: accessor.month,
        "quarter": lambda: accessor.quarter,
        "year": lambda: accessor.year,
    }[part]()
    return values.astype("float64" if nullable else "int64")


@dataclass(frozen=True)
class FeatureSchema:
    """Feature names, kinds and domains in model-input order, plus the label's meaning.

    `columns` is every column the processed data holds besides the target: the model's
    features, the protected attributes (never features) and date columns (never features;
    their calendar parts are, as integer columns of their own).
    """

    target: str
    positive_class: str | None
    negative_class: str | None
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    task: Task = "binary"
    protected: tuple[str, ...] = ()

    @property
    def numeric(self) -> list[str]:
        return [n for n, s in self._feature_specs() if s.kind in ("numeric", "integer")]

    @property
    def categorical(self) -> list[str]:
        return [n for n, s in self._feature_specs() if s.kind == "categorical"]

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def feature_columns(self) -> dict[str, ColumnSpec]:
        """The model's inputs (what ONNX and the server take), in model order."""
        return {n: self.columns[n] for n in self.features}

    @property
    def dates(self) -> list[str]:
        return [n for n, s in self.columns.items() if s.kind == "date"]

    @property
    def classes(self) -> tuple[str, str]:
        """(negative, positive): the label's two classes. A binary model's only."""
        if self.positive_class is None or self.negative_class is None:
            raise ValueError(f"a {self.task} model's target {self.target!r} has no classes")
        return self.negative_class, self.positive_class

    def _feature_specs(self) -> list[tuple[str, ColumnSpec]]:
        return [(n, s) for n, s in self.columns.items() if n not in self.protected]

    def to_dict(self) -> dict[str, object]:
        return {
            "task": self.task,
            "target": self.target,
            "positive_class": self.positive_class,
            "negative_class": self.negative_class,
            "protected": list(self.protected),
            "columns": {n: s.model_dump(exclude_none=True) for n, s in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSchema:
        columns = {n: ColumnSpec.model_validate(s) for n, s in data["columns"].items()}
        return cls(
            data["target"],
            data.get("positive_class"),
            data.get("negative_class"),
            columns,
            data.get("task", "binary"),
            tuple(data.get("protected", ())),
        )

    @classmethod
    def from_params(cls, params: IngestParams) -> FeatureSchema:
        columns: dict[str, ColumnSpec] = {}
        for name, spec in params.columns.items():
            columns[name] = spec
            if spec.kind == "date":
                columns.update(calendar_columns(name, spec))
        negative = None
        if params.target_classes is not None:
            negative = next(c for c in params.target_classes if c != params.positive_class)
        return cls(
            params.target,
            params.positive_class,
            negative,
            columns,
            params.task,
            params.protected,
        )


def _examples(raw: pd.Series, mask: pd.Series) -> tuple[str, ...]:
    # Line numbers as an editor shows them: the header is line 1.
    hits = raw[mask].head(MAX_EXAMPLES)
    return tuple(f"{value!r} at line {int(idx) + 2}" for idx, value in hits.items())


def _check_column(name: str, raw: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, list[Violation]]:
    found: list[Violation] = []
    present = raw.notna()

    def flag(rule: str, mask: pd.Series) -> None:
        if mask.any():
            found.append(Violation(name, rule, int(mask.sum()), _examples(raw, mask)))

    if not spec.nullable:
        flag("nullable: false", ~present)
    if spec.kind == "categorical":
        assert spec.categories is not None
        flag(f"categories: {list(spec.categories)}", present & ~raw.isin(spec.categories))
        typed = pd.Series(pd.Categorical(raw, categories=list(spec.categories)), index=raw.index)
        return typed, found
    if spec.kind == "date":
        dates = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        flag("kind: date (not an ISO 8601 date)", present & dates.isna())
        return dates, found
    values = pd.to_numeric(raw, errors="coerce")
    flag(f"kind: {spec.kind} (not a number)", present & values.isna())
    finite = values.notna()
    flag(f"kind: {spec.kind} (infinite)", finite & ~np.isfinite(values.fillna(0)))
    if spec.kind == "integer":
        flag("kind: integer (not a whole number)", finite & (values % 1 != 0))
    if spec.min is not None:
        flag(f"min: {spec.min:g}", finite & (values < spec.min))
    if spec.max is not None:
        flag(f"max: {spec.max:g}", finite & (values > spec.max))
    integral = spec.kind == "integer" and not spec.nullable and not found
    return values.astype("int64" if integral else "float64"), found


def enforce_contract(raw: pd.DataFrame, params: IngestParams, source: str) -> pd.DataFrame:
    """Check `raw` (all cells as strings or missing) and return it typed, in contract order.

    Raises DataContractError listing every broken rule with its column and row count.
    """
    if raw.empty:
        raise DataContractError(source, [Violation("*", "at least one data row", 0)])
    expected = [params.target, *params.columns]
    violations = [Violation(c, "required column", len(raw)) for c in expected if c not in raw]
    extra = [c for c in raw.columns if c not in expected]
    if extra and params.extra_columns == "error":
        violations += [
            Violation(c, "undeclared column (extra_columns: error)", len(raw)) for c in extra
        ]
    if violations:
        raise DataContractError(source, violations)

    typed: dict[str, pd.Series] = {}
    for name, spec in [(params.target, target_spec(params)), *params.columns.items()]:
        typed[name], found = _check_column(name, raw[name], spec)
        violations += found
    if violations:
        raise DataContractError(source, violations)
    for name, spec in params.columns.items():
        for part in spec.calendar or ():
            typed[f"{name}_{part}"] = calendar_part(typed[name], part, spec.nullable)
    order = [params.target, *FeatureSchema.from_params(params).columns]
    return pd.DataFrame(typed)[order].reset_index(drop=True)


def target_spec(params: IngestParams) -> ColumnSpec:
    """The label's rule: one of two classes, or a number in its declared range."""
    if params.task == "binary":
        return ColumnSpec(kind="categorical", categories=params.target_classes)
    return ColumnSpec(kind="numeric", min=params.target_min, max=params.target_max)
