"""The pipeline is not tied to the credit data: another data set and another `ingest` section,
and nothing else changed, give a working, exported model that knows its new contract.

The stand-in is scikit-learn's bundled breast cancer data (installed with the package, no
download), reshaped to differ from the credit data: fewer columns, the label last and spelt as
strings, a categorical derived by binning, an integer column, and gaps in nullable columns.
"""

from __future__ import annotations

import json
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from tests.integration.repo_copy import copy_repo, pipeline, ran_stages, repo_root, run_dvc

CREDIT_CSV = "data/raw/credit_data.csv"
TUMOUR_CSV = "data/raw/tumours.csv"

TUMOUR_INGEST: dict = {
    "target": "diagnosis",
    "positive_class": "malignant",
    "target_classes": ["benign", "malignant"],
    "extra_columns": "error",
    "columns": {
        "mean_radius": {"kind": "numeric", "min": 0, "max": 50},
        "mean_texture": {"kind": "numeric", "min": 0, "nullable": True},
        "mean_smoothness": {"kind": "numeric", "min": 0, "max": 1},
        "worst_concave_points": {"kind": "numeric", "min": 0, "max": 1},
        "worst_area": {"kind": "integer", "min": 0},
        "area_band": {
            "kind": "categorical",
            "categories": ["low", "mid", "high"],
            "nullable": True,
        },
    },
}
# Gate settings that name columns or encode what is normal for credit data.
TUMOUR_SEGMENTS = {"area_band": None, "mean_radius": [0, 12, 15, 50]}
# Predictive power above 0.6 hints at leakage in credit data; tumour size and shape really do
# predict the diagnosis that well.
LEAKAGE_CHECKS = {"data": "FeatureLabelCorrelation", "split": "FeatureLabelCorrelationChange"}


def tumour_frame(seed: int = 0) -> pd.DataFrame:
    bunch = load_breast_cancer(as_frame=True)
    data, rng = bunch.frame, np.random.default_rng(seed)
    band = pd.cut(data["mean area"], [0, 500, 1000, np.inf], labels=["low", "mid", "high"])
    frame = pd.DataFrame(
        {
            "mean_radius": data["mean radius"],
            "mean_texture": data["mean texture"],
            "mean_smoothness": data["mean smoothness"],
            "worst_concave_points": data["worst concave points"],
            "worst_area": data["worst area"].round().astype(int),
            "area_band": band.astype(str),
            "diagnosis": bunch.target_names[bunch.target],  # 0 is malignant, 1 benign
        }
    )
    frame.loc[rng.random(len(frame)) < 0.08, "mean_texture"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.04, "area_band"] = np.nan
    return frame


def _switch_to_tumours(repo: Path) -> None:
    """Replace the raw data and the `ingest` params (its `raw` path included); nothing else.

    dvc.yaml reads the raw path from `${ingest.raw}`: adopting data never edits the pipeline.
    """
    run_dvc(repo, "remove", f"{CREDIT_CSV}.dvc")
    tumour_frame().to_csv(repo / TUMOUR_CSV, index=False)
    run_dvc(repo, "add", TUMOUR_CSV)
    params_path = repo / "params.yaml"
    params_path.write_text(yaml.safe_dump(_tumour_params(params_path), sort_keys=False))


def _tumour_params(params_path: Path) -> dict:
    """The repository's params with the data-specific settings made for the tumour data."""
    params = yaml.safe_load(params_path.read_text())
    params["ingest"] = {"raw": TUMOUR_CSV, **TUMOUR_INGEST}
    gates = params.get("gates", {})
    if "segments" in gates.get("model", {}):
        gates["model"]["segments"]["by"] = TUMOUR_SEGMENTS
    for section, check in LEAKAGE_CHECKS.items():
        checks = gates.get(section, {}).get("checks", {})
        if check in checks:
            checks[check]["on_fail"] = "warn"
    return params


@pytest.mark.slow
def test_pipeline_trains_and_exports_another_data_set(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    pipeline_file = (repo / "dvc.yaml").read_bytes()
    _switch_to_tumours(repo)

    result = run_dvc(repo, "repro")

    assert (repo / "dvc.yaml").read_bytes() == pipeline_file
    built = {name for name, stage in pipeline(repo / "dvc.yaml").items() if stage.outs}
    assert built <= set(ran_stages(result.stdout)), result.stdout
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["test"]["roc_auc"] > 0.9
    parity = json.loads((repo / "reports/parity.json").read_text())
    assert parity["passed"] is True
    assert all(parity[name]["flips"] == 0 for name in ("test", "split_points"))
    model = onnx.load(repo / "models/model.onnx")
    schema = json.loads({p.key: p.value for p in model.metadata_props}["feature_schema"])
    assert schema["target"] == "diagnosis"
    assert schema["positive_class"] == "malignant"
    # attach_metadata writes JSON with sorted keys, so the columns are compared as a set.
    assert set(schema["columns"]) == set(TUMOUR_INGEST["columns"])
    assert schema["columns"]["area_band"]["categories"] == ["low", "mid", "high"]
    assert {i.name for i in model.graph.input} == set(TUMOUR_INGEST["columns"])


def _strings_and_comments(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        for token in tokenize.tokenize(handle.readline):
            if token.type in (tokenize.STRING, tokenize.COMMENT):
                yield token.start[0], token.string


def test_no_source_file_names_a_data_column() -> None:
    """Columns come from params.yaml only: no string or comment under src/ names one of today's.

    Identifiers are not searched: a `Status` enum is not the `Status` column.
    """
    root = repo_root()
    ingest = yaml.safe_load((root / "params.yaml").read_text())["ingest"]
    names = [ingest["target"], *ingest["columns"]]
    pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")
    hits = [
        f"{path.relative_to(root)}:{line}: {text}"
        for path in sorted((root / "src").rglob("*.py"))
        for line, text in _strings_and_comments(path)
        if pattern.search(text)
    ]
    assert hits == []
