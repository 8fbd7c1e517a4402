"""The data contract: validate raw rows against the declared schema and type them.

The contract comes from `params.yaml` (`ingest`); this module never names a column itself.
`FeatureSchema` is what travels downstream (training, export, serving) as `schema.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from modelgate.params import ColumnSpec, IngestParams

MAX_EXAMPLES = 3


@dataclass(frozen=True)
class Violation:
    column: str
    rule: str
    rows: int
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"column {self.column!r}: {self.rows} row(s) break rule `{self.rule}`"
        return f"{text} (e.g. {', '.join(self.examples)})" if self.examples else text


class DataContractError(ValueError):
    """The raw data breaks the declared schema; holds every violation found."""

    def __init__(self, source: str, violations: list[Violation]):
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"{source} breaks the data contract:\n{lines}")


@dataclass(frozen=True)
class FeatureSchema:
    """Feature names, kinds and domains in model-input order, plus the label's meaning."""

    target: str
    positive_class: str
    negative_class: str
    columns: dict[str, ColumnSpec] = field(default_factory=dict)

    @property
    def numeric(self) -> list[str]:
        return [n for n, s in self.columns.items() if s.kind != "categorical"]

    @property
    def categorical(self) -> list[str]:
        return [n for n, s in self.columns.items() if s.kind == "categorical"]

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "positive_class": self.positive_class,
            "negative_class": self.negative_class,
            "columns": {n: s.model_dump(exclude_none=True) for n, s in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSchema:
        columns = {n: ColumnSpec.model_validate(s) for n, s in data["columns"].items()}
        return cls(data["target"], data["positive_class"], data["negative_class"], columns)

    @classmethod
    def from_params(cls, params: IngestParams) -> FeatureSchema:
        negative = next(c for c in params.target_classes if c != params.positive_class)
        return cls(params.target, params.positive_class, negative, dict(params.columns))


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

    target_spec = ColumnSpec(kind="categorical", categories=params.target_classes)
    typed: dict[str, pd.Series] = {}
    for name, spec in [(params.target, target_spec), *params.columns.items()]:
        typed[name], found = _check_column(name, raw[name], spec)
        violations += found
    if violations:
        raise DataContractError(source, violations)
    return pd.DataFrame(typed)[expected].reset_index(drop=True)
