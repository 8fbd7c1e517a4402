"""Gather both sides of the comparison: the working tree's pipeline results from disk, the
base's from git (and, for data and models, from the local DVC cache)."""

from __future__ import annotations

import io as bytes_io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import onnx
import pandas as pd

from modelgate import gitdvc, io, metadata
from modelgate.onnx_export import read_metadata
from modelgate.report.datachange import RawDiff, raw_line_diff
from modelgate.report.drift import FeatureDrift, feature_drift

# A binary model's plots, then a regressor's (stages/evaluate.py): each side has one set.
PLOTS = (
    "roc", "precision_recall", "calibration", "score_distribution",
    "predicted_vs_actual", "residuals",
)  # fmt: skip


@dataclass(frozen=True)
class Paths:
    """Where the pipeline keeps what the report reads (the defaults are dvc.yaml's)."""

    reports: Path = Path("reports")
    model: Path = Path("models/model.onnx")
    raw_dir: Path = Path("data/raw")
    train: Path = Path("data/split/train.parquet")
    params: Path = Path("params.yaml")
    cache_dir: Path = Path(".dvc/cache")

    @property
    def metrics(self) -> Path:
        return self.reports / "metrics.json"

    @property
    def predictions(self) -> Path:
        return self.reports / "predictions" / "test.csv"


@dataclass(frozen=True)
class Side:
    """What the pipeline produced on one side: a base commit or the working tree."""

    metrics: dict[str, Any] | None = None
    split: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    plots: dict[str, pd.DataFrame] = field(default_factory=dict)
    predictions: pd.DataFrame | None = None
    raw_md5: dict[str, str] = field(default_factory=dict)
    model_version: str | None = None
    lock: str | None = None  # the base's dvc.lock text: where its outputs sit in the cache


def _json(data: bytes | str | None) -> Any:
    return None if data is None else json.loads(data)


def _csv(data: bytes | None) -> pd.DataFrame | None:
    return None if data is None else pd.read_csv(bytes_io.BytesIO(data))


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def raw_md5(dvc_files: Mapping[str, str | None]) -> dict[str, str]:
    """Data path -> md5 from the text of `.dvc` files (path of the `.dvc` file -> its text)."""
    out = {}
    for dvc_path, text in dvc_files.items():
        for entry in (io.load_yaml(text or "") or {}).get("outs", []):
            out[str(PurePosixPath(dvc_path).parent / entry["path"])] = str(entry.get("md5"))
    return out


def model_version(model: bytes | None) -> str | None:
    if model is None:
        return None
    return read_metadata(onnx.load_from_string(model)).get(metadata.MODEL_VERSION)


def _side(
    read: Callable[[Path], bytes | None],
    paths: Paths,
    dvc_files: Mapping[str, str | None],
    model: bytes | None,
    lock: str | None = None,
) -> Side:
    """One side of the comparison, whatever `read` reads from (the tree or a commit)."""
    plots = {n: _csv(read(paths.reports / "plots" / f"{n}.csv")) for n in PLOTS}
    return Side(
        metrics=_json(read(paths.metrics)),
        split=_json(read(paths.reports / "split.json")),
        params=io.load_yaml(read(paths.params) or b"null"),
        plots={n: f for n, f in plots.items() if f is not None},
        predictions=_csv(read(paths.predictions)),
        raw_md5=raw_md5(dvc_files),
        model_version=model_version(model),
        lock=lock,
    )


def working_side(paths: Paths) -> Side:
    dvc_files = {str(p): p.read_text(encoding="utf-8") for p in sorted(paths.raw_dir.glob("*.dvc"))}
    return _side(_read, paths, dvc_files, _read(paths.model))


def base_side(ref: str, paths: Paths, root: Path) -> Side:
    def show(path: Path) -> bytes | None:
        return gitdvc.show_bytes(ref, str(path), root)

    lock = gitdvc.show_text(ref, "dvc.lock", root)
    model = gitdvc.cached_out(lock, str(paths.model), paths.cache_dir)
    dvc_files = [p for p in gitdvc.list_files(ref, str(paths.raw_dir), root) if p.endswith(".dvc")]
    return _side(
        show,
        paths,
        {p: gitdvc.show_text(ref, p, root) for p in dvc_files},
        model.read_bytes() if model else None,
        lock,
    )


@dataclass(frozen=True)
class DataEvidence:
    """What shows how the data changed: line diffs of raw files and training-data drift."""

    raw: list[RawDiff]
    drift: list[FeatureDrift] | None
    drift_note: str = ""


def data_evidence(base: Side, pr: Side, changed: list[str], paths: Paths) -> DataEvidence:
    raw = []
    for path in changed:
        old = gitdvc.cache_file(paths.cache_dir, base.raw_md5.get(path))
        if old is not None and Path(path).is_file():
            raw.append(raw_line_diff(path, old.read_bytes(), Path(path).read_bytes()))
    base_train = gitdvc.cached_out(base.lock, str(paths.train), paths.cache_dir)
    if base_train is None or not paths.train.is_file():
        note = (
            f"No drift summary: the base's training data (`{paths.train}` in the base's "
            f"dvc.lock) is not in the local DVC cache (`{paths.cache_dir}`). `dvc fetch` it from "
            "the team remote at the base commit to compare the two training sets."
        )
        return DataEvidence(
            raw, None, note if base_train is None else f"`{paths.train}` is missing."
        )
    columns = ((pr.params or {}).get("ingest") or {}).get("columns") or {}
    kinds = {name: str(spec.get("kind")) for name, spec in columns.items()}
    frames = pd.read_parquet(base_train), pd.read_parquet(paths.train)
    return DataEvidence(raw, feature_drift(*frames, kinds))
