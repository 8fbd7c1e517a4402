"""The next training snapshot, from production decisions whose outcomes have matured.

In the order `modelgate.retrain.__main__` calls them: `matured` keeps the logged decisions whose
outcome is known and old enough to count; `to_raw` writes them as rows of the raw CSV;
`quarantine` sets aside, with a reason, the rows that break the data contract; and
`split_out_of_time` holds the newest rows out as the out-of-time test before `next_snapshot`
builds the snapshot by the `retrain.policy`. Every step is deterministic (same inputs, same
rows in the same order), so `dvc add` of the same rows gives the same hash.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

from modelgate.params import MISSING_CATEGORY, ColumnSpec, IngestParams, RetrainParams
from modelgate.schema import DataContractError, FeatureSchema, enforce_contract

DECIDED_AT = "decided_at"  # kept beside the raw columns for the policies, never written
REASON = "reason"  # why a quarantined row breaks the contract: "column: rule; ..."
LOG_ORDER = ["time", "request_id", "row"]  # the prediction log's own order


class SnapshotError(ValueError):
    """No snapshot can be built from these rows: no retraining, and the message says why."""


def matured(joined_frame: pd.DataFrame, as_of: date, maturity_days: int) -> pd.DataFrame:
    """The decisions of `joined_frame` (monitor.outcomes.Joined.frame) whose outcome is known by
    `as_of` and which were at least `maturity_days` old then, in the log's order.

    Maturity is judged per decision, as the monitor judges a cohort (monitor.realized): an
    outcome dated after `as_of` is not yet known, so a past `as_of` rebuilds the same rows.
    Declined applicants get no outcome and so are never trained on (no reject inference).
    """
    cutoff = pd.Timestamp(as_of, tz="UTC")
    known = joined_frame["label"].notna() & (joined_frame["outcome_date"] <= cutoff)
    old = joined_frame["time"] + pd.Timedelta(days=maturity_days) <= cutoff
    rows = joined_frame[known & old]
    return rows.sort_values(LOG_ORDER, kind="stable", ignore_index=True)


def to_raw(rows: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Matured log rows as the raw CSV's rows: its columns, every cell text as `ingest.read_raw`
    reads it (NaN when missing), the target as its class, plus `DECIDED_AT` (the log's time)."""
    if rows["label"].isna().any():
        raise ValueError("to_raw takes matured rows only: some have no outcome")
    negative, positive = schema.classes
    target = np.where(rows["label"] == 1.0, positive, negative)
    out = {schema.target: pd.Series(target, index=rows.index, dtype=object)}
    for name, spec in schema.columns.items():
        out[name] = _text(rows[name], spec)
    frame = pd.DataFrame(out, index=rows.index)
    frame[DECIDED_AT] = rows["time"]
    return frame.reset_index(drop=True)


def _text(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """One log column as raw-file text that the contract reads back to the same value."""
    if spec.kind == "categorical":
        present = values.notna() & (values != MISSING_CATEGORY)
        return values.astype(object).where(present, np.nan)
    numbers = values.astype("float64")

    def cell(v: float) -> object:
        if math.isnan(v):
            return np.nan
        # A whole number of an integer column as the raw file writes it ("30", not "30.0");
        # anything else as repr, the shortest text that reads back to the same float. The
        # contract's pd.to_numeric is exact up to 12 significant digits (what clients send);
        # beyond, it may land an ulp away, which the model's float32 input does not see.
        return (
            str(int(v)) if spec.kind == "integer" and math.isfinite(v) and v % 1 == 0 else repr(v)
        )

    return pd.Series([cell(v) for v in numbers], index=values.index, dtype=object)


def quarantine(raw: pd.DataFrame, ingest: IngestParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rows of `raw` that obey the contract, those that break it with a `REASON`), each in
    the order of `raw`. A missing contract column is a bug upstream, not bad data: it raises."""
    contract = [ingest.target, *ingest.columns]
    absent = [c for c in contract if c not in raw.columns]
    if absent:
        raise ValueError(f"rows lack the contract's column(s) {absent}")
    rows = raw.reset_index(drop=True)
    if rows.empty:  # the contract refuses an empty file; no rows have nothing to set aside
        return rows, rows.assign(**{REASON: pd.Series(dtype=object)})
    reasons = np.full(len(rows), "", dtype=object)
    for name in contract:
        # The contract judges each cell alone, so each distinct value is checked once.
        codes, values = pd.factorize(rows[name], use_na_sentinel=False)
        broken = np.asarray(_broken_rules(name, pd.Series(values, dtype=object), ingest))
        found = broken[codes]
        reasons = np.where(
            found == "", reasons, np.where(reasons == "", found, reasons + "; " + found)
        )
    bad = reasons != ""
    quarantined = rows[bad].assign(**{REASON: reasons[bad]})
    return rows[~bad].reset_index(drop=True), quarantined.reset_index(drop=True)


def _broken_rules(name: str, values: pd.Series, ingest: IngestParams) -> list[str]:
    """Per value of column `name`, the contract rules it breaks ("" when none).

    The rules stay schema.py's: each value goes through `enforce_contract` under a contract of
    this one column (beside the target, which the contract always checks, filled with a valid
    class). Halving the values until each failing block breaks the same rules in every row
    costs one check per clean block: a few checks for a column of mostly good values.
    """
    if name == ingest.target:
        filler = f"{name} (filler)"  # a nullable column holding nothing breaks no rule
        contract = ingest.model_copy(
            update={"columns": {filler: ColumnSpec(kind="numeric", nullable=True)}}
        )
        probe = pd.DataFrame({name: values, filler: np.nan})
    else:
        contract = ingest.model_copy(update={"columns": {name: ingest.columns[name]}})
        probe = pd.DataFrame({ingest.target: ingest.positive_class, name: values})
    return _bisect(probe, contract, name)


def _bisect(probe: pd.DataFrame, contract: IngestParams, name: str) -> list[str]:
    try:
        enforce_contract(probe, contract, "matured production rows")
    except DataContractError as exc:
        if len(probe) == 1 or all(v.rows == len(probe) for v in exc.violations):
            return ["; ".join(f"{name}: {v.rule}" for v in exc.violations)] * len(probe)
        half = len(probe) // 2
        return _bisect(probe.iloc[:half], contract, name) + _bisect(
            probe.iloc[half:], contract, name
        )
    return [""] * len(probe)


def split_out_of_time(
    rows: pd.DataFrame, params: RetrainParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows that may be trained on, the out-of-time test), each ordered by decision time.

    The test is the newest `holdout_share` of the rows, at least `min_holdout_rows`, and every
    row decided at the same instant as its oldest one: no instant is split across both sides.
    Raises SnapshotError with fewer than `min_new_rows` rows, or none left to train on.
    """
    if len(rows) < params.min_new_rows:
        raise SnapshotError(
            f"{len(rows)} matured production row(s) obey the data contract; retraining needs "
            f"at least {params.min_new_rows} (retrain.min_new_rows)"
        )
    ordered = rows.sort_values(DECIDED_AT, kind="stable", ignore_index=True)
    held_out = max(math.ceil(params.holdout_share * len(rows)), params.min_holdout_rows)
    test = ordered[DECIDED_AT] >= ordered[DECIDED_AT].iloc[len(rows) - held_out]
    if test.all():
        raise SnapshotError(
            f"the out-of-time test would take all {len(rows)} matured rows: none left to train on"
        )
    return ordered[~test].reset_index(drop=True), ordered[test].reset_index(drop=True)


def next_snapshot(current: pd.DataFrame, new: pd.DataFrame, params: RetrainParams) -> pd.DataFrame:
    """The next raw snapshot (the raw file's columns, in `current`'s order) from the `current`
    one (as `ingest.read_raw` reads it) and the `new` trainable rows (with `DECIDED_AT`).

    `append`: `current`, then the new rows not already in it, so that re-running after a merged
    retrain adds nothing twice (rows equal in every value count as the same row, as often as
    `current` holds them). `window`: only the new rows decided within `window_months` of the
    newest; the bundled rows have no date, so they count as older than any production row.
    `attrs` counts `added`, `already_present` and `outside_window` rows. Raises SnapshotError
    when the snapshot would have fewer than `min_snapshot_rows` rows.
    """
    columns = list(current.columns)
    if sorted(new.columns.drop(DECIDED_AT, errors="ignore")) != sorted(columns):
        raise ValueError(f"new rows have columns {list(new.columns)}, the snapshot {columns}")
    already = np.zeros(len(new), dtype=bool)
    outside = np.zeros(len(new), dtype=bool)
    match params.policy:
        case "append":
            already = _already_in(new[columns], current)
            base = current
        case "window":
            start = new[DECIDED_AT].max() - pd.DateOffset(months=params.window_months)
            outside = ~(new[DECIDED_AT] > start).to_numpy()
            base = current.iloc[:0]
    added = new.loc[~already & ~outside, columns]
    out = pd.concat([base, added], ignore_index=True)
    if len(out) < params.min_snapshot_rows:
        raise SnapshotError(
            f"the {params.policy} policy leaves {len(out)} row(s) for the next snapshot; "
            f"training needs at least {params.min_snapshot_rows} (retrain.min_snapshot_rows)"
        )
    out.attrs.update(
        added=len(added), already_present=int(already.sum()), outside_window=int(outside.sum())
    )
    return out


def _already_in(new: pd.DataFrame, current: pd.DataFrame) -> np.ndarray:
    """Mask of the rows of `new` that `current` already holds, counting repeats: a row that
    `current` holds twice matches the first two equal rows of `new`. Cells compare as numbers
    when they parse as numbers ("129" and "129.0" are one value), else as text."""
    new_keys, old_keys = _row_keys(new), _row_keys(current[new.columns])
    held = new_keys.map(old_keys.value_counts()).fillna(0)
    return (new_keys.groupby(new_keys).cumcount() < held).to_numpy()


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    def canonical(text: pd.Series) -> pd.Series:
        numbers = pd.to_numeric(text, errors="coerce")
        return text.astype(object).where(numbers.isna(), numbers.map(repr))

    return pd.util.hash_pandas_object(frame.apply(canonical), index=False)
