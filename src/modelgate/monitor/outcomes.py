"""Loan outcomes of logged decisions: the outcomes CSV, checked whole, then joined to a window.

The file is what the lender's loan system exports, one line per decision whose outcome is
known: `request_id,outcome,outcome_date` (the outcome a target class of `ingest.target_classes`,
or for a regressor the actual value, a finite number; the date ISO `YYYY-MM-DD`), and a `row`
column when requests score several applicants at once (the row's index in the request, as the
prediction log records it). Other columns are ignored.
Every problem in the file is reported at once, by line and column, and nothing of a file with
a problem is used: realized performance on half a file would look like a real measurement.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelgate.cli import StageError

COLUMNS = ("request_id", "outcome", "outcome_date")
ROW = "row"  # optional: which row of a multi-row request the outcome belongs to
KEY = ["request_id", "row"]
MAX_LISTED = 10


class OutcomesError(StageError):
    """The outcomes file cannot be read, or some of its lines break the format."""


def read_outcomes(path: Path, classes: Sequence[str] | None, positive: str | None) -> pd.DataFrame:
    """The checked outcomes of the CSV at `path`: request_id, row, label (1 for `positive`;
    with no `classes`, a regressor's, the actual value as a float) and outcome_date (UTC
    midnight). Without a `row` column, `row` is missing (NA)."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL)
    except FileNotFoundError as exc:
        raise OutcomesError(f"outcomes file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise OutcomesError(f"outcomes file {path} is not a readable CSV: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise OutcomesError(f"outcomes file {path} is empty: it needs a header line") from exc
    return parse(raw, str(path), classes, positive)


def parse(
    raw: pd.DataFrame, source: str, classes: Sequence[str] | None, positive: str | None
) -> pd.DataFrame:
    """Check every line of `raw` (strings, as read); raise OutcomesError listing what is wrong."""
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise OutcomesError(
            f"outcomes file {source}: no column {', '.join(map(repr, missing))} "
            f"(it has {', '.join(map(repr, raw.columns))}; it needs {', '.join(COLUMNS)})"
        )
    text = raw.apply(lambda column: column.str.strip())
    dates = pd.to_datetime(text["outcome_date"], format="%Y-%m-%d", errors="coerce", utc=True)
    rows = pd.to_numeric(text[ROW], errors="coerce") if ROW in text else None
    problems = _problems(text, dates, rows, classes)
    if problems:
        more = len(problems) - MAX_LISTED
        listed = problems[:MAX_LISTED] + ([f"and {more} more"] if more > 0 else [])
        raise OutcomesError(f"outcomes file {source}: " + "; ".join(listed))
    row = rows if rows is not None else pd.Series(pd.NA, index=text.index)
    out = pd.DataFrame(
        {
            "request_id": text["request_id"],
            "row": row.astype("Int64"),
            "label": _labels(text["outcome"], classes, positive),
            "outcome_date": dates,
        }
    )
    return out.reset_index(drop=True)


def _labels(outcome: pd.Series, classes: Sequence[str] | None, positive: str | None) -> pd.Series:
    if classes is None:
        return _actuals(outcome)
    return (outcome == positive).astype("int64")


def _actuals(outcome: pd.Series) -> pd.Series:
    """A regressor's outcomes as numbers; NaN where the text is not a finite number."""
    values = pd.to_numeric(outcome, errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


def _line(index: int) -> str:
    return f"line {index + 2}"  # the header is line 1


def _problems(
    text: pd.DataFrame, dates: pd.Series, rows: pd.Series | None, classes: Sequence[str] | None
) -> list[str]:
    """Every broken field, in file order."""
    found: list[tuple[int, str]] = []

    def flag(mask: pd.Series, column: str, what: str) -> None:
        found.extend((i, f"{column} {text.at[i, column]!r} {what}") for i in text.index[mask])

    flag(text["request_id"] == "", "request_id", "is empty")
    if classes is None:
        flag(_actuals(text["outcome"]).isna(), "outcome", "is not a finite number")
    else:
        flag(~text["outcome"].isin(classes), "outcome", f"is not one of {', '.join(classes)}")
    flag(dates.isna(), "outcome_date", "is not a YYYY-MM-DD date")
    if rows is not None:
        flag(
            rows.isna() | (rows < 0) | (rows != rows.round()), ROW, "is not a row index (0, 1, ...)"
        )
    key = ["request_id", ROW] if rows is not None else ["request_id"]
    first = pd.Series(text.index, index=text.index).groupby([text[k] for k in key]).transform("min")
    for i in text.index[text.duplicated(key)]:
        found.append((i, f"{' and '.join(key)} repeat {_line(int(first[i]))}"))
    return [f"{_line(i)}: {message}" for i, message in sorted(found, key=lambda f: f[0])]


@dataclass(frozen=True)
class Joined:
    """A window's decisions with their outcomes, when known.

    `frame` has the window's columns plus `label` (1.0 default, 0.0 repaid, a regressor's
    actual value, NaN unknown) and
    `outcome_date` (NaT when unknown); `unmatched` counts outcomes of no decision in the window,
    `duplicates` logged predictions dropped as repeats of a request row (a client's retry).
    """

    frame: pd.DataFrame
    unmatched: int
    duplicates: int


def join(window: pd.DataFrame, outcomes: pd.DataFrame, source: str) -> Joined:
    """Attach `outcomes` (from `read_outcomes`) to `window` (request_id, row, time, score,
    decision...). A retried request is logged twice: its latest decision is the one that
    counts. Raises OutcomesError when outcomes without a `row` meet a multi-row request."""
    latest = window.sort_values("time", kind="stable").drop_duplicates(KEY, keep="last")
    decisions = latest.sort_index()
    by_request = outcomes["row"].isna().all()
    if by_request and len(outcomes):
        rows = decisions.groupby("request_id")["row"].nunique()
        multi = rows[rows > 1].index.intersection(pd.Index(outcomes["request_id"]))
        if len(multi):
            raise OutcomesError(
                f"outcomes file {source} has no `row` column, but request {multi[0]!r} scored "
                f"{rows[multi[0]]} rows: give each outcome the row it belongs to"
            )
    key = ["request_id"] if by_request else KEY
    right = outcomes[[*key, "label", "outcome_date"]]
    if not by_request:
        right = right.astype({"row": decisions["row"].dtype})
    merged = decisions.merge(right, on=key, how="left", validate="many_to_one")
    merged.index = decisions.index
    matched = outcomes.set_index(key).index.isin(decisions.set_index(key).index)
    return Joined(
        merged.astype({"label": "float64"}),
        unmatched=int((~matched).sum()),
        duplicates=len(window) - len(decisions),
    )
