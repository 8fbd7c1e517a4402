"""Assemble the report from gathered inputs; nothing here reads a file or runs a command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelgate.report import datachange, fairness, md, performance, regression, sections
from modelgate.report.collect import DataEvidence, Paths, Side


@dataclass(frozen=True)
class Inputs:
    """Everything the report shows, gathered before any of it is rendered."""

    base_ref: str
    paths: Paths
    base: Side
    pr: Side
    gates: dict[str, Any] | None
    champion: dict[str, Any] | None
    metrics_diff: dict[str, Any]
    params_diff: dict[str, Any]
    changed_data: list[str]
    data: DataEvidence | None
    links: str
    problems: list[str]
    base_commit: str = ""
    fairness: dict[str, Any] | None = None  # reports/gates/fairness.json, when the gate wrote it


def task(i: Inputs) -> str:
    """The PR side's task (`ingest.task`), binary when params name none."""
    return str(((i.pr.params or {}).get("ingest") or {}).get("task") or "binary")


def _gate_status(gates: dict[str, Any] | None, name: str) -> str | None:
    return next((g["status"] for g in (gates or {}).get("gates", []) if g["gate"] == name), None)


def model_fact(i: Inputs) -> str:
    if _gate_status(i.gates, "parity") in (sections.NOT_RUN, "fail"):
        return f"model not exported in this run (`{i.paths.model}` is from an earlier run)"
    if i.pr.model_version is None:
        return f"no model version (`{i.paths.model}` missing or without metadata)"
    text = f"model version {md.code(i.pr.model_version)}"
    if i.base.model_version == i.pr.model_version:
        return text + " (same as the base)"
    return text + (f" (base {md.code(i.base.model_version)})" if i.base.model_version else "")


def facts(i: Inputs) -> list[str]:
    ref = md.code(i.base_ref)
    out = [f"base {ref}" + (f" ({md.code(i.base_commit[:10])})" if i.base_commit else "")]
    out.append(model_fact(i))
    if i.changed_data:
        out.append("raw data changed: " + ", ".join(map(md.code, i.changed_data)))
    elif not i.base.raw_md5:
        out.append(f"{ref} has no raw data snapshot")
    else:
        out.append(f"raw data unchanged since {ref}")
    if i.base.metrics is None:
        out.append(f"{ref} has no pipeline results (first pipeline PR?): PR values only")
    return out


# Gates that run before evaluate: when one stops the pipeline, metrics and plots are stale.
BEFORE_EVALUATE = ("contract", "data", "split")


def _stale_note(i: Inputs) -> list[str]:
    gate = sections.stopped_before(i.gates, BEFORE_EVALUATE)
    if gate is None:
        return []
    return [
        f"The pipeline stopped at gate `{gate}`, before evaluation: the PR values below are "
        "the files committed on the branch, not results of this run."
    ]


def metrics_part(i: Inputs) -> str:
    parts = ["## Metrics (test set)", *_stale_note(i)]
    if i.base.metrics is None:
        parts.append(f"{md.code(i.base_ref)} has no pipeline results: only this PR's values.")
    diff = i.metrics_diff.get(str(i.paths.metrics), {})
    if diff:
        keys = performance.metric_keys(i.pr.metrics, diff)
        parts.append(performance.metrics_table(diff, keys))
    else:
        parts.append(f"No metrics: `dvc metrics diff` reported none for `{i.paths.metrics}`.")
    regressor = task(i) == "regression"
    line = regression.champion_line if regressor else performance.champion_line
    parts.append(line(i.champion))
    if i.changed_data and i.champion is not None:
        parts.append(
            "The data changed, so the test rows did too: the base model may have been trained "
            "on some of them, which flatters it in this comparison."
        )
    parts += [f"Note: {p}" for p in i.problems]
    return "\n\n".join(parts)


def plots_part(i: Inputs) -> str:
    base_name = f"base {i.base_ref}"
    parts = ["## Plots (test set)", *_stale_note(i)]
    if not i.base.plots:
        parts.append(f"{md.code(i.base_ref)} has no plot data: only this PR's curves.")
    if task(i) == "regression":
        parts.append(regression.plots_section(i.pr.plots, i.base.plots, base_name))
        return "\n\n".join(parts)
    parts.append(performance.plots_section(i.pr.plots, i.base.plots, base_name))
    ingest = (i.pr.params or {}).get("ingest") or {}
    if i.pr.predictions is not None and ingest:
        positive = str(ingest["positive_class"])
        negative = next(str(c) for c in ingest["target_classes"] if str(c) != positive)
        threshold = (i.pr.metrics or {}).get("threshold")
        base_threshold = (i.base.metrics or {}).get("threshold")
        parts.append(
            f"### Confusion matrix at the decision threshold (PR {md.num(threshold)}, "
            f"base {md.num(base_threshold)})\n\n"
            + performance.confusion_table(
                i.pr.predictions, i.base.predictions, (positive, negative)
            )
        )
    return "\n\n".join(parts)


def data_part(i: Inputs) -> str:
    if not i.changed_data or i.data is None:
        return ""
    ingest = (i.pr.params or {}).get("ingest") or {}
    base_ingest = (i.base.params or {}).get("ingest")
    return datachange.render(
        i.changed_data,
        (i.base.split, i.pr.split),
        (base_ingest, ingest),
        i.data.raw,
        i.data.drift,
        i.data.drift_note,
    )


def render(i: Inputs) -> str:
    parts = [
        sections.MARKER,
        sections.verdict(i.gates, facts(i)),
        sections.gate_table(i.gates),
        sections.params_section(i.params_diff),
        metrics_part(i),
        data_part(i),
        plots_part(i),
        fairness.section(i.fairness),
        sections.conditions_details(i.gates),
        i.links,
    ]
    return "\n\n".join(p for p in parts if p) + "\n"
