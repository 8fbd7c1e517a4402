"""Profile raw columns (all cells text or missing) into data-contract specs, by the package's
documented rules (modelgate.adopt)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from modelgate.params import CalendarPart, ColumnSpec

INTEGER = re.compile(r"^[+-]?\d+$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ].*)?$")
ID_NAME = re.compile(r"^(id|rownames|row_?names?|row_?id|index|unnamed: ?\d+)$|[_ ]id$", re.I)
# Calendar parts a date derives. Not `year`: in an out-of-time split the test years are never
# seen in training, so a year feature only extrapolates (and drifts by construction).
CALENDAR: tuple[CalendarPart, ...] = ("day_of_week", "day_of_month", "month", "day_of_year")
MIN_ROWS_FOR_UNIQUE = 20  # fewer rows: every column may be unique by chance


class AdoptError(ValueError):
    """The file cannot be adopted as asked; the message names the column or file."""


@dataclass(frozen=True)
class Column:
    """What adopt decided for one column: its spec, or why it was left out."""

    name: str
    spec: ColumnSpec | None
    rule: str
    left_out: str | None = None
    distinct: int = 0


def is_identifier(name: str, raw: pd.Series) -> str | None:
    """Why `raw` is an identifier rather than a feature, or None."""
    if ID_NAME.search(name.strip()):
        return "named like an identifier"
    present = raw.dropna()
    if len(raw) < MIN_ROWS_FOR_UNIQUE or present.size < len(raw) or not present.is_unique:
        return None
    if present.str.match(INTEGER).all():
        values = pd.to_numeric(present)
        if values.is_monotonic_increasing or values.is_monotonic_decreasing:
            return "a whole number unique per row, in file order (a row number)"
        return None
    if pd.to_numeric(present, errors="coerce").isna().any() and not _is_date(present):
        return "text unique per row"
    return None


def _is_date(present: pd.Series) -> bool:
    if present.empty or not present.str.match(ISO_DATE).all():
        return False
    return bool(pd.to_datetime(present, format="ISO8601", errors="coerce").notna().all())


def profile_column(name: str, raw: pd.Series) -> Column:
    """The contract spec for one feature column by the documented rules."""
    present = raw.dropna()
    nullable = present.size < raw.size
    distinct = int(present.nunique())
    if present.empty:
        raise AdoptError(f"column {name!r} has no values at all: leave it out (--drop {name})")
    if _is_date(present):
        spec = ColumnSpec(kind="date", nullable=nullable, calendar=CALENDAR)
        return Column(name, spec, "ISO 8601 dates: calendar features", distinct=distinct)
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all() and bool(numbers.abs().lt(float("inf")).all()):
        whole = bool(present.str.match(INTEGER).all())
        non_negative = bool((numbers >= 0).all())
        spec = ColumnSpec(
            kind="integer" if whole else "numeric",
            nullable=nullable,
            min=0 if non_negative else None,
        )
        rule = "no value below 0: min 0, no max" if non_negative else "negatives seen: no range"
        return Column(name, spec, rule, distinct=distinct)
    categories = tuple(sorted(present.unique()))
    spec = ColumnSpec(kind="categorical", nullable=nullable, categories=categories)
    return Column(name, spec, f"text: {len(categories)} categories", distinct=distinct)


def profile_columns(raw: pd.DataFrame, target: str, keep: set[str], drop: set[str]) -> list[Column]:
    """Every column but the target, in file order; `keep` (protected, the split date) is never
    taken for an identifier, `drop` is left out as asked."""
    out = []
    for name in raw.columns:
        if name == target:
            continue
        if name in drop:
            out.append(Column(name, None, "--drop", "left out as asked"))
            continue
        why = None if name in keep else is_identifier(name, raw[name])
        if why:
            out.append(Column(name, None, "identifier", why, int(raw[name].nunique())))
        else:
            out.append(profile_column(name, raw[name]))
    return out
