"""The pure core of adopt: raw columns in, every params value adopt writes out, with reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from modelgate.adopt.profile import AdoptError, Column, profile_columns
from modelgate.adopt.segments import segment_by
from modelgate.adopt.target import Target, infer_target
from modelgate.params import Task

MANY_CATEGORIES = 50  # more: looks like free text or an id; worth a look
NULL_SHARE = 0.15  # the data gate's PercentOfNulls threshold in params.yaml
PREDICTIVE = 0.8  # |Spearman| with the label above this: known when the model predicts?


@dataclass(frozen=True)
class Request:
    target: str
    task: Task | None = None
    positive: str | None = None
    protected: tuple[str, ...] = ()
    date: str | None = None
    drop: tuple[str, ...] = ()


@dataclass
class Adoption:
    target: Target
    columns: list[Column]
    split_by: str | None
    segments: dict[str, list[float] | None]
    rows: int
    protected: tuple[str, ...] = ()
    review: list[str] = field(default_factory=list)

    def ingest(self, raw_path: str) -> dict[str, Any]:
        """The `ingest` section, in the order the hand-written one has."""
        t = self.target
        section: dict[str, Any] = {"raw": raw_path, "task": t.task, "target": t.name}
        if t.task == "binary":
            section["positive_class"] = t.positive_class
            section["target_classes"] = list(t.target_classes or ())
        elif t.target_min is not None:
            section["target_min"] = _clean(t.target_min)
        section["protected"] = list(self.protected)
        section["extra_columns"] = "drop" if any(c.left_out for c in self.columns) else "error"
        section["columns"] = {c.name: _spec(c) for c in self.columns if c.spec is not None}
        return section


def _spec(column: Column) -> dict[str, Any]:
    assert column.spec is not None
    spec = column.spec.model_dump(exclude_none=True, exclude_defaults=True)
    return {k: _clean(v) for k, v in spec.items()}


def _clean(value: Any) -> Any:
    """0.0 as 0, as a person writes a bound."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _check_request(raw: pd.DataFrame, request: Request, source: str) -> None:
    named = [("target", request.target)] + [("--protected", p) for p in request.protected]
    named += [("--date", request.date)] if request.date else []
    named += [("--drop", d) for d in request.drop]
    missing = [f"{flag} {name!r}" for flag, name in named if name not in raw.columns]
    if missing:
        raise AdoptError(
            f"{source} has no column {', '.join(missing)}; its columns: {', '.join(raw.columns)}"
        )
    for flag, names in (("--protected", request.protected), ("--drop", request.drop)):
        if request.target in names:
            raise AdoptError(f"the target {request.target!r} cannot also be {flag}")
    if set(request.protected) & set(request.drop):
        raise AdoptError("a column cannot be both --protected and --drop")


def decide(raw: pd.DataFrame, request: Request, source: str) -> Adoption:
    """Profile `raw` (every cell text or missing) into the contract and the gate choices."""
    _check_request(raw, request, source)
    if raw.empty:
        raise AdoptError(f"{source} has a header but no rows")
    target = infer_target(raw[request.target], request.task, request.positive)
    keep = set(request.protected) | ({request.date} if request.date else set())
    columns = profile_columns(raw, request.target, keep, set(request.drop))
    split_by = _split_column(columns, request.date)
    label = _label(raw[request.target], target)
    segments = segment_by(columns, raw, label, request.protected, split_by)
    adoption = Adoption(target, columns, split_by, segments, len(raw), request.protected)
    adoption.review = review(adoption, raw, label)
    return adoption


def _split_column(columns: list[Column], date: str | None) -> str | None:
    dates = [c.name for c in columns if c.spec is not None and c.spec.kind == "date"]
    if date is not None:
        if date not in dates:
            raise AdoptError(f"--date {date!r} is not a column of ISO 8601 dates (YYYY-MM-DD)")
        return date
    if len(dates) > 1:
        raise AdoptError(
            f"several date columns ({', '.join(dates)}): choose the split's with --date"
        )
    return dates[0] if dates else None


def _label(raw: pd.Series, target: Target) -> pd.Series:
    if target.task == "binary":
        return (raw == target.positive_class).astype(float)
    return pd.to_numeric(raw)


def review(adoption: Adoption, raw: pd.DataFrame, label: pd.Series) -> list[str]:
    """What a person should look at before trusting the contract."""
    notes = [f"{adoption.rows} rows; target: {adoption.target.rule}"]
    if adoption.target.task == "binary":
        share = float(label.mean())
        notes.append(f"class balance: {share:.1%} {adoption.target.positive_class!r}")
    for c in adoption.columns:
        notes += _column_notes(c, raw[c.name], label)
    leak = _predictive(adoption, raw, label)
    notes += [leak] if leak else []
    floored = [c.name for c in adoption.columns if c.spec is not None and c.spec.min == 0]
    if floored:
        notes.append(f"min 0 (no negative value seen; no max anywhere): {', '.join(floored)}")
    if adoption.target.task == "binary" and adoption.protected:
        negative, positive = adoption.target.target_classes or ("", "")
        notes.append(
            f"fairness: gates.fairness.favourable is kept; `negative` means predicting {negative!r}"
            f" favours a person (set `positive` if predicting {positive!r} grants something)"
        )
    if adoption.split_by is None:
        notes.append("no date column: a seeded random split (out-of-time needs an ISO date)")
    return notes


def _column_notes(c: Column, raw: pd.Series, label: pd.Series) -> list[str]:
    if c.spec is None:
        return [f"{c.name}: left out ({c.left_out}); add it back by hand if it is a feature"]
    notes = []
    share = float(raw.isna().mean())
    if share > NULL_SHARE:
        notes.append(f"{c.name}: {share:.0%} missing (the data gate's PercentOfNulls fails >15%)")
    if c.spec.kind == "categorical" and c.distinct > MANY_CATEGORIES:
        notes.append(
            f"{c.name}: {c.distinct} categories, free text? (ordinal-coded past max_one_hot)"
        )
    return notes


def _predictive(adoption: Adoption, raw: pd.DataFrame, label: pd.Series) -> str | None:
    strong = []
    for c in adoption.columns:
        if c.spec is not None and c.spec.kind in ("numeric", "integer"):
            rho = pd.to_numeric(raw[c.name], errors="coerce").corr(label, method="spearman")
            if pd.notna(rho) and abs(float(rho)) > PREDICTIVE:
                strong.append(f"{c.name} ({abs(float(rho)):.2f})")
    if not strong:
        return None
    return f"|Spearman| > {PREDICTIVE} with the target (known when predicting?): " + ", ".join(
        strong
    )


DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def model_name(stem: str) -> str:
    """A DNS label (export.model_name) from a file stem: lower case, dashes, at most 63."""
    name = DNS_LABEL.sub("-", stem.lower()).strip("-")[:63].strip("-")
    if not name:
        raise AdoptError(f"cannot make a model name from {stem!r}: pass --name")
    return name
