"""Tiny, hand-written pipeline results for the PR report tests: two sides and their diffs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from modelgate.report.collect import DataEvidence, Paths, Side
from modelgate.report.drift import FeatureDrift
from modelgate.report.render import Inputs


def gates(model_status: str = "pass", champion_status: str = "pass") -> dict[str, Any]:
    model_conditions = [
        {
            "name": "test roc_auc",
            "status": model_status,
            "value": 0.81,
            "threshold": ">= 0.99",
            "message": "0.81 below the minimum 0.99",
        },
        {"name": "test ks", "status": "pass", "value": 0.5, "threshold": ">= 0.35", "message": ""},
    ]
    champion = {
        "gate": "champion",
        "status": champion_status,
        "notes": ["base: main"],
        "conditions": [],
    }
    if champion_status == "not run":
        champion["notes"] = ["stopped after model"]
    statuses = {model_status, champion_status}
    return {
        "status": "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass",
        "gates": [
            {
                "gate": "contract",
                "status": "pass",
                "notes": [],
                "conditions": [
                    {
                        "name": "data contract",
                        "status": "pass",
                        "value": 100,
                        "threshold": "every declared rule",
                        "message": "ok",
                    }
                ],
            },
            _passed("data"),
            _passed("split"),
            {"gate": "model", "status": model_status, "notes": [], "conditions": model_conditions},
            _passed("parity")
            if model_status != "fail"
            else {
                "gate": "parity",
                "status": "not run",
                "notes": ["stopped after model"],
                "conditions": [],
            },
            champion,
        ],
    }


def _passed(gate: str) -> dict[str, Any]:
    return {"gate": gate, "status": "pass", "notes": [], "conditions": []}


def champion(low: float, high: float) -> dict[str, Any]:
    value = {"delta": (low + high) / 2, "ci_low": low, "ci_high": high, "confidence": 0.95}
    return {
        "gate": "champion",
        "status": "pass",
        "notes": ["base: main"],
        "conditions": [
            {
                "name": "ROC-AUC difference (paired bootstrap)",
                "status": "pass",
                "value": value,
                "threshold": "upper bound >= -0.01",
                "message": "",
            }
        ],
    }


def metrics(roc_auc: float, threshold: float) -> dict[str, Any]:
    return {"threshold": threshold, "test": {"roc_auc": roc_auc, "brier": 0.15, "rows": 6}}


def metrics_diff(base: dict[str, Any] | None, pr: dict[str, Any]) -> dict[str, Any]:
    """What `dvc metrics diff --json --all` reports for two metrics.json payloads."""
    flat_pr = {"threshold": pr["threshold"], **{f"test.{k}": v for k, v in pr["test"].items()}}
    flat_base = (
        {"threshold": base["threshold"], **{f"test.{k}": v for k, v in base["test"].items()}}
        if base
        else {}
    )
    out = {}
    for key, new in flat_pr.items():
        old = flat_base.get(key)
        out[key] = {"old": old, "new": new, **({"diff": new - old} if old is not None else {})}
    return {"reports/metrics.json": out}


def plots(shift: float = 0.0) -> dict[str, pd.DataFrame]:
    return {
        "roc": pd.DataFrame({"fpr": [0, 0, 0.5, 1], "tpr": [0, 0.5 + shift, 1, 1]}),
        "precision_recall": pd.DataFrame({"recall": [1, 0.5, 0], "precision": [0.5, 0.8, 1]}),
        "calibration": pd.DataFrame(
            {
                "bin": [0, 1],
                "mean_predicted": [0.2, 0.7],
                "fraction_positive": [0.1, 0.8],
                "count": [3, 3],
            }
        ),
        "score_distribution": pd.DataFrame(
            {"score": [0.25, 0.75], "positive": [1, 2], "negative": [2, 1]}
        ),
    }


def predictions(flip: bool = False) -> pd.DataFrame:
    predicted = ["bad", "good", "bad", "good", "good", "bad"]
    if flip:
        predicted[1] = "bad"
    return pd.DataFrame(
        {
            "actual": ["bad", "bad", "good", "good", "good", "bad"],
            "predicted": predicted,
            "score": [0.9, 0.1, 0.6, 0.2, 0.3, 0.8],
        }
    )


PARAMS = {
    "ingest": {
        "target": "Status",
        "positive_class": "bad",
        "target_classes": ["good", "bad"],
        "columns": {"Age": {"kind": "integer", "min": 18}},
    },
    "train": {"max_depth": 3},
}
SPLIT = {
    "train": {"rows": 4, "positives": 2, "positive_rate": 0.5},
    "test": {"rows": 6, "positives": 3, "positive_rate": 0.5},
}


def side(
    roc_auc: float = 0.8,
    threshold: float = 0.3,
    raw_md5: str = "aa11",
    version: str = "v1",
    **changes: Any,
) -> Side:
    made = Side(
        metrics=metrics(roc_auc, threshold),
        split=SPLIT,
        params=PARAMS,
        plots=plots(roc_auc - 0.8),
        predictions=predictions(roc_auc != 0.8),
        raw_md5={"data/raw/credit_data.csv": raw_md5},
        model_version=version,
        lock="stages: {}",
    )
    return dataclasses.replace(made, **changes)


def inputs(base: Side | None = None, pr: Side | None = None, **changes: Any) -> Inputs:
    base = side() if base is None else base
    pr = side(roc_auc=0.82, threshold=0.25, version="v2") if pr is None else pr
    made = Inputs(
        base_ref="main",
        paths=Paths(),
        base=base,
        pr=pr,
        gates=gates(),
        champion=champion(0.001, 0.03),
        metrics_diff=metrics_diff(base.metrics, pr.metrics or {}),
        params_diff={"params.yaml": {"train.max_depth": {"old": 4, "new": 3, "diff": -1}}},
        changed_data=[],
        data=None,
        links="<details>\n<summary>links</summary>\n\nx\n\n</details>",
        problems=[],
    )
    return dataclasses.replace(made, **changes)


def data_evidence() -> DataEvidence:
    return DataEvidence([], [FeatureDrift("Age", "numeric", 0.3, 0.2, 0.01)])
