"""Mermaid charts of the PR report: curves resampled onto one grid, text GitHub can parse."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from modelgate.report import charts
from tests.unit import _report_data as data

LINE = re.compile(r'^    line "([^"]*)" \[([^\]]*)\]$', re.MULTILINE)
X_AXIS = re.compile(r'^    x-axis "[^"]*" \[([^\]]*)\]$', re.MULTILINE)


def parse(chart: str) -> tuple[list[str], dict[str, list[float]]]:
    """The x-axis labels and each line's values, as Mermaid's xychart grammar reads them."""
    (labels,) = X_AXIS.findall(chart)
    lines = {name: [float(v) for v in values.split(", ")] for name, values in LINE.findall(chart)}
    return [label.strip('"') for label in labels.split(", ")], lines


def test_resample_keeps_the_top_of_each_step_and_interpolates_between() -> None:
    # A perfect classifier's ROC: straight up at fpr 0, then flat.
    out = charts.resample(np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([0, 0.5, 1]))
    assert out.tolist() == [1, 1, 1]
    line = charts.resample(np.array([0, 1]), np.array([0, 1]), np.array([0.25, 0.75]))
    assert line.tolist() == pytest.approx([0.25, 0.75])


def test_resample_of_an_empty_curve_is_all_missing() -> None:
    assert np.isnan(charts.resample(np.array([]), np.array([]), np.array([0.0, 1.0]))).all()


def test_roc_chart_overlays_base_and_pr_on_the_fixed_grid() -> None:
    series = charts.roc_chart(data.plots(0.1)["roc"], data.plots()["roc"], "base main")
    chart = charts.xychart("ROC", "FPR", [float(t) for t in charts.GRID], "TPR", series)
    labels, lines = parse(chart)
    assert len(labels) == 21 and labels[0] == "0" and labels[-1] == "1"
    assert list(lines) == ["chance", "base main", "this PR"]
    assert all(len(values) == len(labels) for values in lines.values())
    assert lines["base main"][0] == 0.5 and lines["this PR"][0] == 0.6
    assert lines["chance"] == pytest.approx([float(t) for t in charts.GRID])


def test_chart_is_one_mermaid_fence_with_the_palette_in_series_order() -> None:
    series = charts.precision_recall_chart(data.plots()["precision_recall"], None, "base")
    chart = charts.xychart('a "quoted" title', "Recall", [0.0, 1.0], "Precision", series)
    lines = chart.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```" and chart.count("```") == 2
    assert lines[2] == "xychart-beta" and lines[5] == '    y-axis "Precision"'
    assert charts.xychart("t", "x", [0.0], "y", series[:0], unit_y=True).count('"y" 0 --> 1') == 1
    assert f'"plotColorPalette": "{charts.PR_COLOUR}"' in lines[1]
    assert "title \"a 'quoted' title\"" in chart
    assert charts.caption(series) == "Lines: this PR (blue)."


def test_score_chart_compares_shares_of_each_class() -> None:
    base = pd.DataFrame({"score": [0.25, 0.75], "positive": [10, 30], "negative": [20, 20]})
    ticks, series = charts.score_chart(data.plots()["score_distribution"], base, "base")
    assert ticks == [0.25, 0.75]
    shares = {s.name: list(s.values) for s in series}
    assert shares["base, positive class"] == pytest.approx([0.25, 0.75])
    assert shares["this PR, negative class"] == pytest.approx([2 / 3, 1 / 3])
    assert all(sum(v) == pytest.approx(1) for v in shares.values())


def test_calibration_chart_without_a_base_has_the_reference_and_the_pr() -> None:
    series = charts.calibration_chart(data.plots()["calibration"], None, "base")
    assert [s.name for s in series] == ["perfect calibration", "this PR"]
    assert series[1].values[0] == pytest.approx(0.1)  # clamped below the first bin's mean
