"""The environment built from uv.lock is the one the lock describes, and it imports.

deepchecks 0.19.1 predates numpy 2, pandas 2.3, scikit-learn 1.6 and setuptools 81; a lock
that drifts past those pins fails here rather than in a gate stage.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import tomllib

import pytest
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

# Distribution name -> module that proves it works (top-level import alone misses broken
# submodules, such as deepchecks' tabular suites on pandas 2.3).
MODULES = {
    "dvc": "dvc.repo",
    "dvc-s3": "dvc_s3",
    "dvc-ssh": "dvc_ssh",
    "pandas": "pandas",
    "numpy": "numpy",
    "scikit-learn": "sklearn.ensemble",
    "xgboost": "xgboost.sklearn",
    "pyarrow": "pyarrow.parquet",
    "dask": "dask.dataframe",
    "distributed": "distributed.deploy.local",
    "s3fs": "s3fs",
    "fsspec": "fsspec.core",
    "ruamel-yaml": "ruamel.yaml",
    "ruamel-yaml-clib": "_ruamel_yaml",
    "pydantic": "pydantic",
    "pydantic-settings": "pydantic_settings",
    "deepchecks": "deepchecks.tabular.suites",
    "category-encoders": "category_encoders",
    "plotly": "plotly.graph_objects",
    "setuptools": "pkg_resources",
    "onnx": "onnx.checker",
    "onnxruntime": "onnxruntime",
    "skl2onnx": "skl2onnx",
    "onnxmltools": "onnxmltools.convert.xgboost",
    "scipy": "scipy.stats",
    "boto3": "boto3.s3.transfer",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "prometheus-client": "prometheus_client",
    "orjson": "orjson",
    "uvloop": "uvloop",
    "httptools": "httptools",
}


def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {canonicalize_name(p["name"]): p["version"] for p in lock["package"] if "version" in p}


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [d.split(";")[0].split("[")[0] for d in project["dependencies"]]
    return [canonicalize_name(n.split(">")[0].split("<")[0].split("=")[0].strip()) for n in names]


def test_every_runtime_dependency_has_an_import_probe() -> None:
    assert set(_declared()) <= {canonicalize_name(n) for n in MODULES}


@pytest.mark.parametrize("dist", sorted(MODULES))
def test_dependency_imports_at_locked_version(dist: str) -> None:
    importlib.import_module(MODULES[dist])
    installed = importlib.metadata.version(dist)
    assert installed == _locked_versions()[canonicalize_name(dist)], f"{dist} drifted from uv.lock"


def test_deepchecks_compatible_pins_hold() -> None:
    import numpy
    import pandas
    import sklearn

    assert numpy.__version__.startswith("1.")
    assert pandas.__version__ < "2.3"
    assert sklearn.__version__ < "1.6"
    from deepchecks.tabular.suites import data_integrity

    assert data_integrity().checks  # builds the suite, which touches plotly and sklearn
