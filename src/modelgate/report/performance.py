"""Model performance, base against PR: the metrics table (the numbers of `dvc metrics diff`),
the bootstrap interval of the ROC-AUC difference, the confusion matrix and the curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from modelgate.gates.paired import AUC_CONDITION
from modelgate.report import charts, md
from modelgate.report.champion import Metric, sentence


def metric_keys(pr_metrics: Mapping[str, Any] | None, diff: Mapping[str, Any]) -> list[str]:
    """The threshold and every test-set metric, in the order metrics.json lists them."""
    keys = ["threshold", *(f"test.{k}" for k in (pr_metrics or {}).get("test", {}))]
    return [k for k in keys if k in diff] or sorted(diff)


def metrics_table(diff: Mapping[str, Mapping[str, Any]], keys: Sequence[str]) -> str:
    """Rows of `dvc metrics diff` for `keys`: values exactly as DVC reports them."""
    rows = []
    for key in keys:
        entry = diff[key]
        old, new, delta = entry.get("old"), entry.get("new"), entry.get("diff")
        if delta is None and isinstance(old, int | float) and isinstance(new, int | float):
            delta = new - old
        relative = delta / abs(old) if delta is not None and old else None
        rows.append(
            [
                key.removeprefix("test."),
                md.num(old),
                md.num(new),
                md.signed(delta),
                md.percent(relative),
            ]
        )
    return md.table(["metric", "base", "PR", "difference", "relative difference"], rows)


def auc_reading(low: float, high: float) -> str:
    if low > 0:
        return "significant improvement"
    return "significant decline" if high < 0 else "no significant change"


AUC = Metric("ROC-AUC", AUC_CONDITION, "+.4f", auc_reading)


def champion_line(champion: Mapping[str, Any] | None) -> str:
    """The paired bootstrap interval of the ROC-AUC difference, in a sentence."""
    return sentence(champion, AUC)


def confusion(predictions: pd.DataFrame, positive: str) -> dict[str, int]:
    actual = predictions["actual"].astype(str) == positive
    predicted = predictions["predicted"].astype(str) == positive
    return {
        "tp": int((actual & predicted).sum()),
        "fn": int((actual & ~predicted).sum()),
        "fp": int((~actual & predicted).sum()),
        "tn": int((~actual & ~predicted).sum()),
    }


def confusion_table(pr: pd.DataFrame, base: pd.DataFrame | None, classes: tuple[str, str]) -> str:
    """Test-set counts at each side's own threshold; `classes` is (positive, negative)."""
    now = confusion(pr, classes[0])
    old = confusion(base, classes[0]) if base is not None else None

    def count(key: str) -> str:
        return str(now[key]) + (f" (base {old[key]}, {now[key] - old[key]:+d})" if old else "")

    positive, negative = classes
    header = ["actual \\ predicted", f"{positive} (positive)", negative]
    rows = [[positive, count("tp"), count("fn")], [negative, count("fp"), count("tn")]]
    return md.table(header, rows)


def _chart(title: str, x_label: str, y_label: str, series: list[charts.Series]) -> str:
    ticks = [float(t) for t in charts.GRID]
    return f"### {title}\n\n{charts.caption(series)}\n\n" + charts.xychart(
        title, x_label, ticks, y_label, series, unit_y=True
    )


def plots_section(
    pr: Mapping[str, pd.DataFrame], base: Mapping[str, pd.DataFrame], base_name: str
) -> str:
    """The four curves, base and PR overlaid; a curve missing on the PR side is said so."""
    specs = [
        ("roc", "ROC", "False positive rate", "True positive rate", charts.roc_chart),
        (
            "precision_recall",
            "Precision-recall",
            "Recall",
            "Precision",
            charts.precision_recall_chart,
        ),
        (
            "calibration",
            "Calibration",
            "Mean predicted probability",
            "Observed positive rate",
            charts.calibration_chart,
        ),
    ]
    parts = []
    for name, title, x_label, y_label, build in specs:
        if name not in pr:
            parts.append(f"### {title}\n\n`reports/plots/{name}.csv` is missing.")
            continue
        parts.append(_chart(title, x_label, y_label, build(pr[name], base.get(name), base_name)))
    if "score_distribution" in pr:
        ticks, series = charts.score_chart(
            pr["score_distribution"], base.get("score_distribution"), base_name
        )
        parts.append(
            "### Score distribution by class (share of the class per score bin)\n\n"
            + charts.caption(series)
            + "\n\n"
            + charts.xychart("Score distribution", "Score", ticks, "Share of class", series)
        )
    return "\n\n".join(parts)
