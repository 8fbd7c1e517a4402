"""check_drift on the tiny data set: the block's shape, each kind of drift named, materiality,
the window sizes that get no verdict, and the windows it refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelgate import io
from modelgate.model import model_frame
from modelgate.monitor.check import WindowError, check_drift
from modelgate.monitor.reference import CategoricalReference, NumericReference, Reference
from modelgate.params import DriftParams
from tests.unit.test_monitor_reference import SCHEMA, typed

PARAMS = DriftParams(
    alpha=0.05, min_rows=100, numeric_floor=0.05, score_floor=0.05, categorical_floor=0.01,
    missing_floor=0.01, unseen_floor=0.01, rare_share=0.01, min_expected=5,
)  # fmt: skip


def _score(frame: pd.DataFrame) -> np.ndarray:
    """A stand-in for the model: any fixed function of the row serves the drift tests."""
    amount = frame["amount"].astype(float).fillna(100.0).to_numpy()
    return np.asarray(1 / (1 + np.exp(-(amount - 100) / 50)))


@pytest.fixture(scope="module")
def reference() -> Reference:
    frame = typed(3000, seed=1)
    validation = frame.iloc[:1000]
    labels = (validation["outcome"] == "fraud").to_numpy(int)
    return Reference.build(frame, SCHEMA, _score(validation), labels, "v1", 5000, 0)


def window(rows: int, seed: int = 2) -> pd.DataFrame:
    """Rows as `read_window` gives them: numbers float64 with NaN, categories str with ''."""
    frame = typed(rows, seed)
    out = model_frame(frame, SCHEMA).astype({"amount": "float64", "hour": "float64"})
    out["score"] = _score(frame)
    return out


def _test(block: dict, feature: str, name: str) -> dict:
    found = next(f for f in [*block["features"], block["score"]] if f["feature"] == feature)
    return next(t for t in found["tests"] if t["test"] == name)


def test_a_window_like_the_reference_is_ok_and_every_test_is_reported(reference: Reference) -> None:
    block = check_drift(reference, window(2000), PARAMS)
    assert block["status"] == "ok" and block["drifted"] == [] and not block["score"]["drift"]
    names = {f["feature"]: [t["test"] for t in f["tests"]] for f in block["features"]}
    assert names == {
        "amount": ["cramer_von_mises", "missing_rate"],
        "hour": ["cramer_von_mises"],  # not nullable, none missing: no missing-rate test
        "channel": ["chi_square", "new_categories", "missing_rate"],
    }
    assert block["tests"] == 7 and block["correction"] == "holm" and block["alpha"] == 0.05
    test = _test(block, "amount", "cramer_von_mises")
    assert test["p_adjusted"] >= test["p_value"]
    assert set(test) >= {"statistic", "effect", "effect_measure", "floor", "significant",
                         "material", "drift"}  # fmt: skip
    io.dumps(block)  # plain JSON, every float finite


def test_a_shifted_number_is_named_with_its_evidence_and_size(reference: Reference) -> None:
    shifted = window(2000)
    shifted["amount"] += 0.5 * reference.numeric["amount"].values.std()
    shifted["score"] = _score(shifted)
    block = check_drift(reference, shifted, PARAMS)
    assert block["status"] == "drift" and block["drifted"] == ["amount"]
    test = _test(block, "amount", "cramer_von_mises")
    assert test["significant"] and test["material"] and test["drift"]
    assert test["effect"] == pytest.approx(0.5, abs=0.08)
    assert block["score"]["drift"]  # the stand-in score follows amount


def test_nulls_from_upstream_alarm_on_the_missing_rate(reference: Reference) -> None:
    broken = window(2000)
    broken.loc[broken.index[:300], "amount"] = np.nan
    test = _test(check_drift(reference, broken, PARAMS), "amount", "missing_rate")
    assert test["drift"] and test["effect"] == pytest.approx(0.15, abs=0.02)


def test_a_required_feature_that_goes_missing_gets_a_missing_rate_test(
    reference: Reference,
) -> None:
    broken = window(500)
    broken.loc[broken.index[:50], "hour"] = np.nan
    block = check_drift(reference, broken, PARAMS)
    assert _test(block, "hour", "missing_rate")["drift"] and "hour" in block["drifted"]


def test_a_category_share_that_doubles_alarms_on_chi_square(reference: Reference) -> None:
    rows = window(4000)
    pos = rows[rows["channel"] == "pos"]  # a third of the rows: two thirds of the window
    doubled = pd.concat([pos.iloc[:600], rows[rows["channel"] != "pos"].iloc[:300]])
    test = _test(check_drift(reference, doubled, PARAMS), "channel", "chi_square")
    assert test["drift"] and test["effect_measure"] == "psi" and test["bins"] == 3


def test_categories_never_seen_are_listed_with_their_share(reference: Reference) -> None:
    rows = window(1000)
    rows.loc[rows.index[:40], "channel"] = "kiosk"
    block = check_drift(reference, rows, PARAMS)
    channel = next(f for f in block["features"] if f["feature"] == "channel")
    assert channel["window"]["new_categories"] == {"kiosk": 0.04}
    assert _test(block, "channel", "new_categories")["drift"]
    assert "kiosk" not in channel["reference"]["shares"]


def test_categories_may_come_as_pandas_categoricals_with_none(reference: Reference) -> None:
    rows = window(500)
    rows["channel"] = pd.Categorical(rows["channel"].replace("", None))
    assert check_drift(reference, rows, PARAMS)["status"] == "ok"


def test_a_significant_shift_below_its_floor_does_not_alarm() -> None:
    """Counts kept exactly (a million reference rows) make a 1-point share change significant;
    its PSI of 0.0005 is far below the 0.01 floor, so it is reported but does not alarm."""
    big = Reference(
        "v", 1_000_000, 5000, 0, ("channel",), {},
        {"channel": CategoricalReference(False, 1_000_000, 0,
                                         {"web": 500_000, "app": 300_000, "pos": 200_000})},
        np.linspace(0, 1, 1000), np.arange(1000) % 2,
    )  # fmt: skip
    rows = pd.DataFrame({"channel": ["web"] * 102_000 + ["app"] * 60_000 + ["pos"] * 38_000})
    rows["score"] = np.resize(np.linspace(0, 1, 1000), len(rows))
    test = _test(check_drift(big, rows, PARAMS), "channel", "chi_square")
    assert test["significant"] and not test["material"] and not test["drift"]
    without_floor = PARAMS.model_copy(update={"categorical_floor": 0.0})
    assert _test(check_drift(big, rows, without_floor), "channel", "chi_square")["drift"]


def test_an_all_missing_column_has_no_distribution_to_test_but_alarms_on_missing(
    reference: Reference,
) -> None:
    rows = window(500)
    rows["amount"] = np.nan
    block = check_drift(reference, rows, PARAMS)
    assert _test(block, "amount", "cramer_von_mises")["p_value"] == 1.0
    assert _test(block, "amount", "missing_rate")["drift"]
    amount = next(f for f in block["features"] if f["feature"] == "amount")
    assert amount["window"]["mean"] is None and amount["window"]["missing_rate"] == 1.0


def test_a_constant_feature_is_fine_until_its_constant_changes() -> None:
    constant = Reference(
        "v", 2000, 5000, 0, ("hour",),
        {"hour": NumericReference("integer", False, 2000, 0, np.full(2000, 5.0))}, {},
        np.linspace(0, 1, 500), np.arange(500) % 2,
    )  # fmt: skip
    rows = pd.DataFrame({"hour": np.full(300, 5.0), "score": np.linspace(0, 1, 300)})
    same = _test(check_drift(constant, rows, PARAMS), "hour", "cramer_von_mises")
    assert not same["drift"] and same["effect"] == 0.0
    rows["hour"] = 6.0
    moved = _test(check_drift(constant, rows, PARAMS), "hour", "cramer_von_mises")
    assert moved["drift"] and np.isfinite(moved["effect"])


def test_a_window_below_min_rows_gets_no_verdict(reference: Reference) -> None:
    block = check_drift(reference, window(99), PARAMS)
    assert block["status"] == "insufficient" and block["tests"] == 0
    assert "99 rows" in block["reason"] and block["score"] is None


def test_an_empty_window_gets_no_verdict_even_without_columns(reference: Reference) -> None:
    assert check_drift(reference, pd.DataFrame(), PARAMS)["status"] == "insufficient"


@pytest.mark.parametrize("column", ["hour", "score"])
def test_a_window_without_a_column_names_it(reference: Reference, column: str) -> None:
    with pytest.raises(WindowError, match=f"no column for '{column}'"):
        check_drift(reference, window(200).drop(columns=column), PARAMS)


def test_a_column_of_the_wrong_type_is_named(reference: Reference) -> None:
    rows = window(200)
    rows["amount"] = "a lot"
    with pytest.raises(WindowError, match="column 'amount' must hold numbers"):
        check_drift(reference, rows, PARAMS)
    rows = window(200)
    rows["channel"] = 3
    with pytest.raises(WindowError, match="column 'channel' must hold strings"):
        check_drift(reference, rows, PARAMS)
    rows = window(200)
    rows["amount"] = np.inf
    with pytest.raises(WindowError, match="'amount' holds infinite"):
        check_drift(reference, rows, PARAMS)
