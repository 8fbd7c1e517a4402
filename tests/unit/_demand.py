"""A tiny demand forecast for the regression tests: ingest -> split -> train -> evaluate ->
export on synthetic SKU-day rows, with the shapes a retailer's table has.

- `sku`: 300 declared SKUs, past `train.max_one_hot`, so ordinal-coded (one model column);
- `store`: 3 stores, one-hot;
- `date`: an ISO date, out-of-time split (`split.by`) and calendar parts as features;
- `region`: protected, kept in the data, never a model input;
- `price`: nullable numeric. Units depend on all but `region`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelgate.stages import evaluate, export, ingest, split, train
from tests.conftest import TINY_PARAMS
from tests.unit._pipeline import PipelineRun, args

SKUS = [f"sku-{i:03d}" for i in range(300)]
STORES = ["north-1", "south-1", "west-1"]
REGIONS = ["a", "b"]


def demand_params() -> dict:
    params = copy.deepcopy(TINY_PARAMS)
    params["ingest"] = {
        "raw": "data/raw/demand.csv",
        "task": "regression",
        "target": "units",
        "target_min": 0,
        "protected": ["region"],
        "extra_columns": "error",
        "columns": {
            "price": {"kind": "numeric", "min": 0, "nullable": True},
            "sku": {"kind": "categorical", "categories": SKUS},
            "store": {"kind": "categorical", "categories": STORES},
            "region": {"kind": "categorical", "categories": REGIONS},
            "date": {"kind": "date", "calendar": ["day_of_week", "month"]},
        },
    }
    params["split"]["by"] = "date"
    params["train"]["n_estimators"] = 40
    params["export"]["model_name"] = "tiny-demand"
    return params


def make_demand_frame(rows: int = 2400, seed: int = 0) -> pd.DataFrame:
    """Raw-looking rows: units around 50 to 400 (so relative float32 error matters)."""
    rng = np.random.default_rng(seed)
    level = dict(zip(SKUS, rng.gamma(4.0, 40.0, len(SKUS)), strict=True))
    sku = rng.choice(SKUS, rows)
    store = rng.choice(STORES, rows)
    dates = pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, rows)), "D")
    price = rng.uniform(1.0, 20.0, rows).round(2)
    weekend = dates.dayofweek >= 5
    units = (
        np.array([level[s] for s in sku])
        * (1.0 + 0.4 * weekend)
        * (1.0 + 0.2 * (store == "west-1"))
        - 3.0 * price
        + rng.normal(0.0, 5.0, rows)
    ).clip(0)
    frame = pd.DataFrame(
        {
            "units": units.round(3),
            "price": price.astype(object),
            "sku": sku,
            "store": store,
            "region": rng.choice(REGIONS, rows),
            "date": dates.strftime("%Y-%m-%d"),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "price"] = np.nan
    return frame


@dataclass(frozen=True)
class Demand:
    run: PipelineRun
    onnx: Path  # the exported model; reports/parity.json under the run's root


@pytest.fixture(scope="module", name="demand")
def demand_fixture(tmp_path_factory: pytest.TempPathFactory) -> Demand:
    """The demand pipeline run once per test module that imports this fixture."""
    return Demand(*run_demand_pipeline(tmp_path_factory.mktemp("demand")))


def run_demand_pipeline(root: Path) -> tuple[PipelineRun, Path]:
    """The run's paths and its exported model."""
    run = PipelineRun(root)
    run.params.write_text(yaml.safe_dump(demand_params()))
    make_demand_frame().to_csv(run.raw, index=False)
    common = {"params": run.params, "schema": run.schema_json}
    ingest.main(args(**common, input=run.raw, output=run.dataset))
    split.main(
        args(**common, input=run.dataset, output_dir=run.split_dir, summary=run.split_summary)
    )
    train.main(args(**common, train=run.part("train"), model=run.model))
    evaluate.main(
        args(
            **common,
            model=run.model,
            validation=run.part("validation"),
            test=run.part("test"),
            metrics=run.metrics,
            predictions=run.predictions,
            plots_dir=run.plots,
        )
    )
    onnx = root / "models" / "model.onnx"
    export.main(run.export_argv(onnx, root / "reports" / "parity.json"))
    return run, onnx
