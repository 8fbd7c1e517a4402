"""A seeded, credit-like synthetic data set of any size, for the pipeline at scale (issue 13).

    python -m modelgate.synthetic --rows N --parts P --seed S --out DIR --params PARAMS_YAML

writes raw CSV parts `DIR/part-NNNNN.csv` (all at once or none: a temporary directory renamed
into place) and rewrites the `ingest` section of PARAMS_YAML to their data contract, so
ingest reads DIR next. Part `i` is generated alone from a generator seeded with `(S, i)`: one
part in memory at a time, and a part's bytes depend only on S, i and its row count.

Thirty features, as the contract declares them (`COLUMNS`):
- 18 numeric, skewed as money is (log-normal amounts, zero-inflated assets, debt and savings,
  beta-shaped ratios); income, assets, debt, debt_to_income and months_since_delinquency
  nullable (missing at 2-10%: under the data gate's 15% null ceiling, so the demo passes it).
- 6 integer with a min and a max (age, seniority, term_months, dependents, open_accounts,
  inquiries_6m).
- 6 categorical with declared categories: home is nullable, and region has 40 categories,
  more than `train.max_one_hot` (32), so training's ordinal coding is exercised.

The target `status` is `bad` with probability sigmoid(z + e), e ~ N(0, 0.5) unobserved noise:

    z = -4.4 - 0.025 (bureau_score - 660) + 3 (utilization - 0.29)
        + 1.2 (min(debt_to_income, 2) - 0.05) + 6 late_payment_ratio - 0.04 (age - 38)
        + 0.3 inquiries_6m + 1.0 [home = rent] + 0.8 [job = freelance]
        + 1.0 [income missing] + 0.5 region_effect

with region_effect = sin(region number), fixed per region, and a missing debt_to_income
counting as 0.05 (its mean): about 13.5% of rows are `bad`, and a 300-tree model reaches a
test ROC-AUC near 0.87 (strong enough for the credit gates' 0.75 floor, as real scorecards).
"""

from __future__ import annotations

from typing import Any

TARGET = "status"
CLASSES = ("good", "bad")
REGIONS = tuple(f"region_{i:02d}" for i in range(40))
_NUMERIC_BOUNDS: dict[str, dict[str, Any]] = {
    "income": {"nullable": True},
    "assets": {"nullable": True},
    "debt": {"nullable": True},
    "amount": {},
    "price": {},
    "expenses": {},
    "savings": {},
    "credit_limit": {},
    "revolving_balance": {},
    "utilization": {"max": 1},
    "debt_to_income": {"nullable": True},
    "interest_rate": {"max": 1},
    "monthly_payment": {},
    "months_since_delinquency": {"nullable": True},
    "bureau_score": {"min": 300, "max": 850},
    "tenure_years": {},
    "late_payment_ratio": {"max": 1},
    "avg_transaction": {},
}
_NUMERIC = {name: {"kind": "numeric", "min": 0, **extra} for name, extra in _NUMERIC_BOUNDS.items()}
_INTEGER = {
    name: {"kind": "integer", "min": low, "max": high}
    for name, (low, high) in {
        "age": (18, 100),
        "seniority": (0, 80),
        "term_months": (6, 120),
        "dependents": (0, 10),
        "open_accounts": (0, 50),
        "inquiries_6m": (0, 30),
    }.items()
}


def _categorical(*categories: str, nullable: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "categorical", "categories": list(categories)}
    return {**spec, "nullable": True} if nullable else spec


_CATEGORICAL = {
    "home": _categorical("rent", "owner", "parents", "other", nullable=True),
    "marital": _categorical("married", "single", "divorced", "widow"),
    "job": _categorical("fixed", "freelance", "parttime", "others"),
    "purpose": _categorical("car", "home", "education", "business", "medical", "other"),
    "channel": _categorical("branch", "web", "app", "broker"),
    "region": _categorical(*REGIONS),
}
COLUMNS: dict[str, dict[str, Any]] = {**_NUMERIC, **_INTEGER, **_CATEGORICAL}


# The model gate's segments, on this table's columns (the bundled params segment credit's).
SEGMENTS: dict[str, list[float] | None] = {"age": [18, 30, 45, 60, 91], "home": None}


def ingest_section(raw: str) -> dict[str, Any]:
    """The `ingest` params of the generated data, read from `raw`."""
    return {
        "raw": raw,
        "task": "binary",
        "target": TARGET,
        "positive_class": CLASSES[1],
        "target_classes": list(CLASSES),
        "protected": [],
        "extra_columns": "error",
        "columns": COLUMNS,
    }
