"""The rows of the synthetic data set: each column's distribution and the target's model
(the package docstring states both)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from modelgate.synthetic import CLASSES, COLUMNS, REGIONS, TARGET


def _missing(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    return np.where(rng.random(len(values)) < share, np.nan, values)


def _zero_inflated(rng: np.random.Generator, rows: int, zeros: float, mu: float) -> np.ndarray:
    return np.where(rng.random(rows) < zeros, 0.0, rng.lognormal(mu, 1.0, rows))


def _money(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    income = _missing(rng, rng.lognormal(8.0, 0.6, rows), 0.04)
    debt = _missing(rng, _zero_inflated(rng, rows, 0.5, 7.5), 0.02)
    amount = rng.lognormal(7.2, 0.6, rows)
    limit = rng.lognormal(8.3, 0.5, rows)
    utilization = rng.beta(2.0, 5.0, rows)
    rate = np.minimum(0.05 + rng.gamma(2.0, 0.03, rows), 0.6)
    return {
        "income": income,
        "assets": _missing(rng, _zero_inflated(rng, rows, 0.3, 9.5), 0.03),
        "debt": debt,
        "amount": amount,
        "price": amount * (1 + rng.gamma(2.0, 0.15, rows)),
        "expenses": 35 + rng.gamma(2.0, 30.0, rows),
        "savings": _zero_inflated(rng, rows, 0.4, 7.0),
        "credit_limit": limit,
        "revolving_balance": limit * utilization,
        "utilization": utilization,
        "debt_to_income": debt / (12 * income),  # missing where either is
        "interest_rate": rate,
        "avg_transaction": rng.lognormal(4.0, 0.8, rows),
    }


def _history(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    age = np.minimum(18 + rng.gamma(4.0, 5.0, rows), 90).astype(np.int64)
    return {
        "months_since_delinquency": _missing(rng, rng.uniform(0, 120, rows), 0.1),
        "bureau_score": np.clip(rng.normal(660, 70, rows), 300, 850),
        "tenure_years": rng.gamma(2.0, 3.0, rows),
        "late_payment_ratio": rng.beta(0.5, 8.0, rows),
        "age": age,
        "seniority": np.minimum(rng.poisson(6.0, rows), age - 18),
        "term_months": rng.choice([12, 24, 36, 48, 60, 72], rows),
        "dependents": np.minimum(rng.poisson(0.9, rows), 10),
        "open_accounts": np.minimum(rng.poisson(5.0, rows), 50),
        "inquiries_6m": np.minimum(rng.poisson(1.2, rows), 30),
    }


def _codes(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    """Category codes (-1: missing); regions Zipf-like, so some are rare."""
    weights = 1 / np.arange(1, len(REGIONS) + 1)
    home = rng.choice(4, rows, p=[0.4, 0.35, 0.15, 0.1])
    return {
        "home": np.where(rng.random(rows) < 0.02, -1, home),
        "marital": rng.choice(4, rows, p=[0.5, 0.35, 0.1, 0.05]),
        "job": rng.choice(4, rows, p=[0.6, 0.2, 0.12, 0.08]),
        "purpose": rng.choice(6, rows, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.1]),
        "channel": rng.choice(4, rows, p=[0.3, 0.35, 0.25, 0.1]),
        "region": rng.choice(len(REGIONS), rows, p=weights / weights.sum()),
    }


def _defaults(rng: np.random.Generator, v: dict[str, np.ndarray]) -> np.ndarray:
    """The documented logistic model of the module docstring: True where `bad`."""
    dti = np.nan_to_num(np.minimum(v["debt_to_income"], 2.0), nan=0.05)
    z = (
        -4.4
        - 0.025 * (v["bureau_score"] - 660)
        + 3.0 * (v["utilization"] - 0.29)
        + 1.2 * (dti - 0.05)
        + 6.0 * v["late_payment_ratio"]
        - 0.04 * (v["age"] - 38)
        + 0.3 * v["inquiries_6m"]
        + 1.0 * (v["home"] == 0)
        + 0.8 * (v["job"] == 1)
        + 1.0 * np.isnan(v["income"])
        + 0.5 * np.sin(v["region"])
    )
    noisy = z + rng.normal(0.0, 0.5, len(z))
    return rng.random(len(z)) < 1 / (1 + np.exp(-noisy))


def _column(name: str, values: np.ndarray) -> pa.Array:
    spec = COLUMNS[name]
    if spec["kind"] == "categorical":
        return pa.array(np.asarray(spec["categories"], dtype=object)[values], mask=values < 0)
    if spec["kind"] == "integer":
        return pa.array(values)
    digits = 4 if spec.get("max") == 1 else 2  # ratios keep 4 decimals, amounts cents
    return pa.array(np.round(values, digits), from_pandas=True)  # NaN -> an empty cell


def generate_part(rows: int, seed: int, index: int) -> pa.Table:
    """Part `index` of the data set seeded with `seed`: `rows` rows, target first."""
    rng = np.random.default_rng([seed, index])
    values = {**_money(rng, rows), **_history(rng, rows), **_codes(rng, rows)}
    m = values["interest_rate"] / 12
    values["monthly_payment"] = values["amount"] * m / (1 - (1 + m) ** -values["term_months"])
    labels = np.asarray(CLASSES, dtype=object)[_defaults(rng, values).astype(int)]
    columns = {TARGET: pa.array(labels), **{n: _column(n, values[n]) for n in COLUMNS}}
    return pa.table(columns)
