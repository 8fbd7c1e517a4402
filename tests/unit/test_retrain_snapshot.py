"""The next training snapshot: matured rows, written as raw-file rows that ingest reads back to
the same values, quarantined against the contract, the out-of-time test held out, and the
`append` and `window` policies; every refusal says why."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import pytest
import yaml

from modelgate.gates.champion import ChampionParams
from modelgate.monitor import status
from modelgate.params import (
    MISSING_CATEGORY,
    IngestParams,
    ParamsError,
    RetrainParams,
    load_section,
)
from modelgate.retrain.snapshot import (
    DECIDED_AT,
    REASON,
    SnapshotError,
    matured,
    next_snapshot,
    quarantine,
    split_out_of_time,
    to_raw,
)
from modelgate.schema import FeatureSchema, enforce_contract, read_raw
from tests.conftest import ROOT, TINY_PARAMS, make_tiny_frame

INGEST = IngestParams.model_validate(TINY_PARAMS["ingest"])
SCHEMA = FeatureSchema.from_params(INGEST)
RETRAIN: dict = {
    "triggers": ["drift", "degraded"],
    "policy": "append",
    "window_months": 3,
    "holdout_share": 0.25,
    "min_holdout_rows": 10,
    "min_new_rows": 40,
    "min_snapshot_rows": 20,
}
AS_OF = date(2026, 6, 1)
START = pd.Timestamp("2025-09-01", tz="UTC")


def _params(**changes: object) -> RetrainParams:
    return RetrainParams.model_validate({**RETRAIN, **changes})


def _joined(rows: int = 200, seed: int = 0, start: pd.Timestamp = START) -> pd.DataFrame:
    """A Joined.frame as the monitor builds it: log columns, features typed as the log reader
    types them (float64 with NaN, str with MISSING_CATEGORY), label and outcome_date."""
    raw = make_tiny_frame(rows, seed)
    time = start + pd.to_timedelta(np.arange(rows) * 12, unit="h")  # one decision every 12 h
    return pd.DataFrame(
        {
            "request_id": [f"r{i:04d}" for i in range(rows)],
            "row": 0,
            "time": time,
            "model_name": "tiny-model",
            "model_version": "1",
            "score": 0.5,
            "decision": "approve",
            "endpoint": "predict",
            "amount": raw["amount"].astype("float64"),
            "hour": raw["hour"].astype("float64"),
            "channel": raw["channel"].fillna(MISSING_CATEGORY).astype(object),
            "label": (raw["outcome"] == "fraud").astype("float64"),
            "outcome_date": time + pd.Timedelta(days=60),
        }
    )


def _raw_rows(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    return to_raw(matured(_joined(rows, seed), AS_OF, 0), SCHEMA)


# --- matured ---------------------------------------------------------------------------------


def test_matured_keeps_known_outcomes_of_old_enough_decisions_in_log_order():
    joined = _joined(100).sample(frac=1.0, random_state=0)  # any order in, the log's out
    joined.loc[joined["request_id"] == "r0003", ["label", "outcome_date"]] = [np.nan, pd.NaT]
    joined.loc[joined["request_id"] == "r0004", "outcome_date"] = pd.Timestamp(AS_OF, tz="UTC")
    joined.loc[joined["request_id"] == "r0005", "outcome_date"] = pd.Timestamp(
        "2026-06-02", tz="UTC"
    )

    kept = matured(joined, AS_OF, maturity_days=90)

    cutoff = pd.Timestamp(AS_OF, tz="UTC") - pd.Timedelta(days=90)
    assert (kept["time"] <= cutoff).all()
    assert kept["time"].is_monotonic_increasing
    assert "r0003" not in set(kept["request_id"])  # no outcome yet
    assert "r0004" in set(kept["request_id"])  # an outcome dated as_of is known that day
    assert "r0005" not in set(kept["request_id"])  # ... one dated later is not
    old_enough = joined[(joined["time"] <= cutoff)]
    assert len(kept) == len(old_enough) - 2


def test_matured_with_nothing_old_enough_is_empty_and_refused_later():
    kept = matured(_joined(50), AS_OF, maturity_days=3650)
    assert kept.empty

    with pytest.raises(SnapshotError, match=r"0 matured production row\(s\).*min_new_rows"):
        split_out_of_time(to_raw(kept, SCHEMA), _params())


# --- to_raw ----------------------------------------------------------------------------------


def test_to_raw_writes_cells_as_the_raw_file_holds_them():
    joined = _joined(3)
    joined["amount"] = [12.5, np.nan, 100.0]
    joined["hour"] = [7.0, 0.0, 23.0]
    joined["channel"] = ["web", MISSING_CATEGORY, "pos"]
    joined["label"] = [1.0, 0.0, 0.0]

    raw = to_raw(joined, SCHEMA)

    assert list(raw.columns) == ["outcome", "amount", "hour", "channel", DECIDED_AT]
    assert raw["outcome"].tolist() == ["fraud", "legit", "legit"]
    assert raw["hour"].tolist() == ["7", "0", "23"]  # integers as integers
    assert raw.loc[[0, 2], "amount"].tolist() == ["12.5", "100.0"]
    assert raw[["amount", "channel"]].isna().to_numpy().tolist() == [
        [False, False],
        [True, True],
        [False, False],
    ]
    assert (raw[DECIDED_AT] == joined["time"]).all()


def _through_ingest(joined: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "raw.csv"
    to_raw(joined, SCHEMA).drop(columns=DECIDED_AT).to_csv(path, index=False)
    return enforce_contract(read_raw(path), INGEST, str(path))


def test_to_raw_round_trips_through_the_csv_and_the_contract(tmp_path: Path):
    joined = _joined(6)
    joined["amount"] = [129.0, 1e-7, 123456.789012, 0.25, np.nan, 5e300]

    typed = _through_ingest(joined, tmp_path)

    np.testing.assert_array_equal(typed["amount"].to_numpy(), joined["amount"].to_numpy())
    assert typed["hour"].dtype == "int64"
    assert typed["hour"].tolist() == joined["hour"].astype(int).tolist()
    channel = joined["channel"].replace(MISSING_CATEGORY, np.nan)
    assert typed["channel"].astype(object).tolist() == channel.tolist()
    assert (typed["outcome"] == "fraud").tolist() == (joined["label"] == 1.0).tolist()


def test_full_precision_numbers_reach_the_model_unchanged(tmp_path: Path):
    # The contract parses with pd.to_numeric, which is not correctly rounded: some 17-digit
    # floats no text reaches exactly. They come back within an ulp, and the model takes
    # float32 (modelgate.model.model_frame), where the two are one value.
    joined = _joined(2000)
    joined["amount"] = np.random.default_rng(0).gamma(2.0, 50.0, 2000)

    typed = _through_ingest(joined, tmp_path)

    np.testing.assert_allclose(typed["amount"], joined["amount"], rtol=4e-16, atol=0)
    np.testing.assert_array_equal(
        typed["amount"].astype("float32"), joined["amount"].astype("float32")
    )


def test_to_raw_refuses_rows_without_an_outcome():
    joined = _joined(5)
    joined.loc[2, "label"] = np.nan
    with pytest.raises(ValueError, match="matured rows only"):
        to_raw(joined, SCHEMA)


# --- quarantine ------------------------------------------------------------------------------


def test_quarantine_sets_aside_each_broken_row_with_its_column_and_rule():
    joined = _joined(30)
    joined.loc[3, "hour"] = 24.0  # max: 23
    joined.loc[7, "hour"] = 5.5  # not a whole number
    joined.loc[7, "channel"] = "phone"  # an unknown category, in the same row
    joined.loc[9, "hour"] = np.nan  # not nullable
    joined.loc[12, "amount"] = -1.0  # min: 0
    raw = to_raw(joined, SCHEMA)

    clean, broken = quarantine(raw, INGEST)

    assert len(clean) + len(broken) == len(raw)
    assert broken[DECIDED_AT].tolist() == raw.loc[[3, 7, 9, 12], DECIDED_AT].tolist()
    assert broken[REASON].tolist() == [
        "hour: max: 23",
        "hour: kind: integer (not a whole number); channel: categories: ['web', 'app', 'pos']",
        "hour: nullable: false",
        "amount: min: 0",
    ]
    assert clean[DECIDED_AT].tolist() == raw.drop(index=[3, 7, 9, 12])[DECIDED_AT].tolist()
    enforce_contract(clean.drop(columns=DECIDED_AT), INGEST, "clean rows")  # does not raise


def test_quarantine_checks_the_target_too():
    raw = _raw_rows(10)
    raw.loc[4, "outcome"] = "unknown"
    _, broken = quarantine(raw, INGEST)
    assert broken[REASON].tolist() == ["outcome: categories: ['legit', 'fraud']"]


def test_all_rows_quarantined_leaves_nothing_to_retrain_on():
    raw = _raw_rows(60)
    raw["hour"] = "99"

    clean, broken = quarantine(raw, INGEST)

    assert clean.empty
    assert len(broken) == 60
    assert set(broken[REASON]) == {"hour: max: 23"}
    with pytest.raises(SnapshotError, match=r"^0 matured production row\(s\) obey"):
        split_out_of_time(clean, _params())


def test_quarantine_of_no_rows_and_of_rows_without_a_contract_column():
    clean, broken = quarantine(_raw_rows(5).iloc[:0], INGEST)
    assert clean.empty
    assert broken.empty
    with pytest.raises(ValueError, match=r"lack the contract's column\(s\) \['hour'\]"):
        quarantine(_raw_rows(5).drop(columns="hour"), INGEST)


# --- the out-of-time split -------------------------------------------------------------------


def test_split_holds_out_the_newest_rows_and_never_splits_an_instant():
    rows = _raw_rows(101)
    rows.loc[70:80, DECIDED_AT] = rows.loc[75, DECIDED_AT]  # one instant around the cut
    shuffled = rows.sample(frac=1.0, random_state=1)

    train, test = split_out_of_time(shuffled, _params())

    assert len(train) + len(test) == 101
    assert len(test) >= math.ceil(0.25 * 101)
    assert train[DECIDED_AT].max() < test[DECIDED_AT].min()
    assert train[DECIDED_AT].is_monotonic_increasing
    assert test[DECIDED_AT].is_monotonic_increasing
    assert len(test) == 101 - 70  # the instant shared by rows 70-80 went to the test whole


def test_split_holds_out_at_least_min_holdout_rows():
    _, test = split_out_of_time(_raw_rows(50), _params(min_holdout_rows=30))
    assert len(test) == 30


def test_split_refuses_when_no_row_is_left_to_train_on():
    rows = _raw_rows(50)
    rows[DECIDED_AT] = rows[DECIDED_AT].iloc[0]  # a single instant
    with pytest.raises(SnapshotError, match="none left to train on"):
        split_out_of_time(rows, _params())


# --- the policies ----------------------------------------------------------------------------


def _current() -> pd.DataFrame:
    return to_raw(_joined(40, seed=9), SCHEMA).drop(columns=DECIDED_AT)


def test_append_adds_the_new_rows_after_the_current_ones():
    current, new = _current(), _raw_rows(30)

    out = next_snapshot(current, new, _params())

    assert list(out.columns) == list(current.columns)
    pd.testing.assert_frame_equal(out.iloc[:40], current)
    pd.testing.assert_frame_equal(out.iloc[40:].reset_index(drop=True), new[current.columns])
    assert out.attrs == {"added": 30, "already_present": 0, "outside_window": 0}


def test_append_is_deterministic_and_adds_nothing_twice():
    current, new = _current(), _raw_rows(30)
    once = next_snapshot(current, new, _params())

    again = next_snapshot(once, new, _params())  # the same rows after a merged retrain

    pd.testing.assert_frame_equal(again, once)
    assert again.attrs["already_present"] == 30
    assert again.attrs["added"] == 0
    pd.testing.assert_frame_equal(next_snapshot(current, new, _params()), once)


def test_append_matches_rows_by_value_and_counts_repeats():
    current, new = _current(), _raw_rows(3)
    current.loc[0] = new.loc[0, current.columns]
    current.loc[0, "amount"] = str(float(new.loc[0, "amount"])).removesuffix(".0")  # "129"
    new.loc[1, current.columns] = new.loc[0, current.columns]  # the same row twice in new

    out = next_snapshot(current, new, _params())

    assert out.attrs["already_present"] == 1  # current holds it once: its repeat is new
    assert out.attrs["added"] == 2


def test_window_keeps_only_production_rows_of_the_last_months():
    current, new = _current(), _raw_rows(400)  # 200 days of decisions
    newest = new[DECIDED_AT].max()

    out = next_snapshot(current, new, _params(policy="window", window_months=3))

    kept = new[new[DECIDED_AT] > newest - pd.DateOffset(months=3)]
    pd.testing.assert_frame_equal(out, kept[current.columns].reset_index(drop=True))
    assert out.attrs == {
        "added": len(kept),
        "already_present": 0,
        "outside_window": 400 - len(kept),
    }


def test_window_refuses_a_snapshot_smaller_than_the_minimum():
    with pytest.raises(SnapshotError, match=r"window policy leaves \d+ row.*min_snapshot_rows"):
        next_snapshot(
            _current(),
            _raw_rows(400),
            _params(policy="window", window_months=1, min_snapshot_rows=100),
        )


def test_next_snapshot_refuses_rows_of_another_shape():
    with pytest.raises(ValueError, match="new rows have columns"):
        next_snapshot(_current(), _raw_rows(5).drop(columns="channel"), _params())


# --- params ----------------------------------------------------------------------------------


def _load(tmp_path: Path, **changes: object) -> RetrainParams:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"retrain": {**RETRAIN, **changes}}))
    return load_section(path, "retrain", RetrainParams)


def test_params_name_an_unknown_policy_or_trigger(tmp_path: Path):
    with pytest.raises(ParamsError, match=r"retrain\.policy: Input should be 'append' or 'window'"):
        _load(tmp_path, policy="rolling")
    with pytest.raises(ParamsError, match=r"retrain\.triggers\.0: Input should be 'drift'"):
        _load(tmp_path, triggers=["always"])
    with pytest.raises(ParamsError, match="min_new_rows must exceed min_holdout_rows"):
        _load(tmp_path, min_new_rows=10, min_holdout_rows=10)


def test_the_repository_params_hold_out_enough_rows_for_a_champion_verdict():
    retrain = load_section(ROOT / "params.yaml", "retrain", RetrainParams)
    champion = load_section(ROOT / "params.yaml", "gates.champion", ChampionParams)
    assert retrain.min_holdout_rows >= champion.min_rows


def test_triggers_are_the_monitor_verdicts():
    triggers = RetrainParams.model_fields["triggers"].annotation
    assert set(get_args(get_args(triggers)[0])) == {status.DRIFT, status.DEGRADED}


def test_an_appended_snapshot_starts_with_the_current_file_byte_for_byte(tmp_path: Path):
    path = tmp_path / "raw.csv"
    make_tiny_frame(50).to_csv(path, index=False)
    current = read_raw(path)

    next_snapshot(current, _raw_rows(30), _params()).to_csv(tmp_path / "next.csv", index=False)

    before, after = path.read_text(), (tmp_path / "next.csv").read_text()
    assert after.startswith(before)
    assert after.count("\n") == before.count("\n") + 30
