"""A seeded, credit-like synthetic data set of any size, for the pipeline at scale (issue 13).

    python -m modelgate.synthetic --rows N --parts P --seed S --out DIR --params PARAMS_YAML

writes raw CSV parts `DIR/part-NNNNN.csv` (all at once or none: a temporary directory renamed
into place) and rewrites the `ingest` section of PARAMS_YAML to their data contract, so
ingest reads DIR next. Part `i` is generated alone from a generator seeded with `(S, i)`: one
part in memory at a time, and a part's bytes depend only on S, i and its row count.

Thirty features, as the contract declares them (`COLUMNS`):
- 18 numeric, skewed as money is (log-normal amounts, zero-inflated assets, debt and savings,
  beta-shaped ratios); income, assets, debt, debt_to_income and months_since_delinquency
  nullable (missing at 2-70%).
- 6 integer with a min and a max (age, seniority, term_months, dependents, open_accounts,
  inquiries_6m).
- 6 categorical with declared categories: home is nullable, and region has 40 categories,
  more than `train.max_one_hot` (32), so training's ordinal coding is exercised.

The target `status` is `bad` with probability sigmoid(z + e), e ~ N(0, 0.5) unobserved noise:

    z = -3.1 - 0.01 (bureau_score - 660) + 1.8 (utilization - 0.29)
        + 0.8 (min(debt_to_income, 2) - 0.05) + 3 late_payment_ratio - 0.02 (age - 38)
        + 0.15 inquiries_6m + 0.5 [home = rent] + 0.4 [job = freelance]
        + 0.6 [income missing] + 0.3 region_effect

with region_effect = sin(region number), fixed per region, and a missing debt_to_income
counting as 0.05 (its mean): about 12% of rows are `bad`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from modelgate import partitions
from modelgate.adopt import params_file, yaml_edit
from modelgate.adopt.profile import AdoptError
from modelgate.cli import entry
from modelgate.params import IngestParams, ParamsError

logger = logging.getLogger(__name__)

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
        "months_since_delinquency": _missing(rng, rng.uniform(0, 120, rows), 0.7),
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
        -3.1
        - 0.01 * (v["bureau_score"] - 660)
        + 1.8 * (v["utilization"] - 0.29)
        + 0.8 * (dti - 0.05)
        + 3.0 * v["late_payment_ratio"]
        - 0.02 * (v["age"] - 38)
        + 0.15 * v["inquiries_6m"]
        + 0.5 * (v["home"] == 0)
        + 0.4 * (v["job"] == 1)
        + 0.6 * np.isnan(v["income"])
        + 0.3 * np.sin(v["region"])
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


def write(out: Path, rows: int, parts: int, seed: int) -> None:
    """Write `rows` rows in `parts` CSV parts into `out`, replacing it only when all are."""
    if parts < 1 or rows < parts:
        raise ParamsError(f"--rows {rows} / --parts {parts}: every part needs at least one row")
    with partitions.atomic_dir(out) as tmp:
        for index in range(parts):
            size = rows // parts + (index < rows % parts)
            target = tmp / partitions.part_name(index, "csv")
            pa_csv.write_csv(generate_part(size, seed, index), target)


def rewrite_params(path: Path, raw: str) -> None:
    """Point `ingest` of the params file at the generated data (a round-trip edit: every other
    section keeps its text and comments); nothing is written unless it loads."""
    try:
        document = yaml_edit.load_document(path)
    except AdoptError as exc:
        raise ParamsError(str(exc)) from exc
    yaml_edit.assign(document, "ingest", ingest_section(raw), block=True)
    text = yaml_edit.dump_document(document)
    params_file.validate(text, {"ingest": IngestParams}, path)
    params_file.write(path, text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--parts", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory of CSV parts")
    parser.add_argument("--params", type=Path, required=True, help="params file to rewrite")
    args = parser.parse_args(argv)
    write(args.out, args.rows, args.parts, args.seed)
    rewrite_params(args.params, str(args.out))
    logger.info("synthetic: %d rows in %d parts -> %s", args.rows, args.parts, args.out)


if __name__ == "__main__":
    entry(main)
