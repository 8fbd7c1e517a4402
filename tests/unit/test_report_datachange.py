"""The data-change section: raw line diffs, sizes, class balance, schema and drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelgate.report import datachange, drift
from tests.unit import _report_data as data


def test_raw_line_diff_counts_rows_as_multisets_without_the_header() -> None:
    base = b"a,b\n1,2\n1,2\n3,4\n"
    pr = b"a,b\n1,2\n5,6\n7,8\n"
    assert datachange.raw_line_diff("x.csv", base, pr) == datachange.RawDiff("x.csv", 2, 2)


def test_changed_snapshots_include_files_on_one_side_only() -> None:
    base = {"data/raw/a.csv": "1", "data/raw/b.csv": "2"}
    pr = {"data/raw/a.csv": "1", "data/raw/b.csv": "3", "data/raw/c.csv": "4"}
    assert datachange.changed_snapshots(base, pr) == ["data/raw/b.csv", "data/raw/c.csv"]
    assert datachange.changed_snapshots(base, base) == []


def test_split_table_shows_rows_and_class_balance_per_split_and_overall() -> None:
    pr = {
        "train": {"rows": 3, "positives": 1, "positive_rate": 1 / 3},
        "test": {"rows": 5, "positives": 3, "positive_rate": 0.6},
    }
    table = datachange.split_table(data.SPLIT, pr)
    assert "| train | 4 | 3 | -1 | 50.00% | 33.33% |" in table
    assert "| all | 10 | 8 | -2 | 50.00% | 50.00% |" in table
    assert "| all | n/a | 8 | n/a | n/a | 50.00% |" in datachange.split_table(None, pr)


def test_schema_changes_name_each_contract_change() -> None:
    base = {"target": "Status", "columns": {"Age": {"kind": "integer"}, "Job": {"kind": "x"}}}
    pr = {"target": "Label", "columns": {"Age": {"kind": "numeric"}, "Debt": {"kind": "numeric"}}}
    assert datachange.schema_changes(base, pr) == [
        "`target`: 'Status' -> 'Label'",
        "column `Debt` added (numeric)",
        "column `Job` removed",
        "column `Age` rule changed: {'kind': 'integer'} -> {'kind': 'numeric'}",
    ]
    assert datachange.schema_changes(base, base) == []


def _frame(rng: np.random.Generator, shift: float, rows: int = 2000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Income": rng.normal(100 + shift, 10, rows),
            "Home": rng.choice(["rent", "owner"], rows, p=[0.5, 0.5]),
        }
    )


def test_identical_distributions_read_as_stable() -> None:
    rng = np.random.default_rng(0)
    found = drift.feature_drift(
        _frame(rng, 0), _frame(rng, 0), {"Income": "numeric", "Home": "categorical"}
    )
    assert {d.feature: d.level for d in found} == {"Income": "stable", "Home": "stable"}
    income = next(d for d in found if d.feature == "Income")
    assert income.ks is not None and income.ks < 0.1 and income.ks_pvalue > 0.001


def test_a_shifted_feature_is_a_major_shift_and_listed_first() -> None:
    rng = np.random.default_rng(1)
    base, pr = _frame(rng, 0), _frame(rng, 15)
    found = drift.feature_drift(base, pr, {"Home": "categorical", "Income": "numeric", "Gone": "x"})
    assert [d.feature for d in found] == ["Income", "Home"]
    assert found[0].level == "major shift" and found[0].ks_pvalue < 1e-6


def test_values_going_missing_count_as_drift() -> None:
    base = pd.Series(np.arange(100.0))
    pr = base.where(base % 2 == 0)  # half the values missing
    assert drift.numeric_drift("x", base, pr).psi > drift.MAJOR_PSI
    cats = pd.Series(["a", "b"] * 50)
    assert drift.categorical_drift("c", cats, cats.where(cats == "a")).psi > drift.MAJOR_PSI


def test_psi_of_equal_shares_is_zero() -> None:
    shares = np.array([0.2, 0.3, 0.5])
    assert drift.psi(shares, shares) == pytest.approx(0)


def test_section_says_plainly_when_base_data_is_missing() -> None:
    text = datachange.render(
        ["data/raw/credit_data.csv"],
        (data.SPLIT, data.SPLIT),
        (data.PARAMS["ingest"], data.PARAMS["ingest"]),
        [datachange.RawDiff("data/raw/credit_data.csv", 0, 5)],
        None,
        "No drift summary: not in the cache.",
    )
    assert text.startswith(
        "## Data changes\n\nRaw data snapshot changed: `data/raw/credit_data.csv`"
    )
    assert "- `data/raw/credit_data.csv`: 0 row(s) added, 5 row(s) removed" in text
    assert "Schema: no change to the data contract" in text
    assert text.endswith("No drift summary: not in the cache.")
    with_drift = datachange.render(
        ["x"],
        (None, None),
        (None, {}),
        [],
        [drift.FeatureDrift("Age", "numeric", 0.3, 0.2, 0.01)],
        "",
    )
    assert "| Age | numeric | 0.3000 | 0.2000 | 0.01 | major shift |" in with_drift
