"""The params adopt writes: its task templates, and the proof that the pipeline loads them."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelgate import io
from modelgate.gates.params import ChampionParams, FairnessParams, ModelGateParams, SuiteParams
from modelgate.params import (
    EvaluateParams,
    ExportParams,
    IngestParams,
    MonitorParams,
    ParamsError,
    RetrainParams,
    SplitParams,
    TrainParams,
    parse_section,
)
from modelgate.schema import FeatureSchema


def templates() -> dict[str, dict[str, Any]]:
    """The task's gate settings (templates.yaml, which says why each value is what it is)."""
    text = resources.files("modelgate.adopt").joinpath("templates.yaml").read_text("utf-8")
    loaded: dict[str, dict[str, Any]] = io.load_yaml(text)
    return loaded


def section_models() -> dict[str, type[BaseModel]]:
    """Every params section the pipeline loads, with the model its stage loads it into.

    The gates' models come from `gates.params`, which does not import Deepchecks.
    """
    return {
        "ingest": IngestParams,
        "split": SplitParams,
        "train": TrainParams,
        "evaluate": EvaluateParams,
        "export": ExportParams,
        "monitor": MonitorParams,
        "retrain": RetrainParams,
        "gates.data": SuiteParams,
        "gates.split": SuiteParams,
        "gates.model": ModelGateParams,
        "gates.fairness": FairnessParams,
        "gates.champion": ChampionParams,
    }


def validate(text: str, models: Mapping[str, type[BaseModel]], source: Path) -> None:
    """Load every section of `text` (the params about to be written) through its model, and
    check the names one section gives another's columns."""
    data = io.load_yaml(text)
    for section, model in models.items():
        node: Any = data
        for key in section.split("."):
            if not isinstance(node, dict) or key not in node:
                raise ParamsError(f"{source}: adopted params have no `{section}` section")
            node = node[key]
        parse_section(node, section, model, source)


def write(path: Path, text: str) -> None:
    io.write_bytes(path, text.encode("utf-8"))


def check_references(text: str, source: Path) -> None:
    """`split.by` and `gates.model.segments.by` must name columns the contract declares (or a
    date's calendar part, which the processed data holds)."""
    data = io.load_yaml(text)
    columns = FeatureSchema.from_params(IngestParams.model_validate(data["ingest"])).columns
    by = data["split"].get("by")
    if by is not None and (by not in columns or columns[by].kind != "date"):
        raise ParamsError(f"{source}: split.by {by!r} is not a date column of ingest.columns")
    segments = (data["gates"]["model"].get("segments") or {}).get("by") or {}
    unknown = [name for name in segments if name not in columns]
    if unknown:
        raise ParamsError(f"{source}: gates.model.segments.by names unknown columns {unknown}")
