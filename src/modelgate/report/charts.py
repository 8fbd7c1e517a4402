"""Base and PR curves overlaid as Mermaid `xychart-beta` charts, which GitHub draws natively.

Curves are resampled onto a fixed grid so both sides share one x axis. xychart has no legend
(mermaid-js discussion #5207), so colours are pinned with `plotColorPalette` and every chart
carries a caption naming them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

GRID = np.round(np.linspace(0.0, 1.0, 21), 2)
BASE_COLOUR, PR_COLOUR, REFERENCE_COLOUR = "#9a9a9a", "#1f6feb", "#d0d0d0"
BASE_POS_COLOUR, PR_POS_COLOUR = "#f0a0a0", "#d1242f"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float] | np.ndarray
    colour: str


def resample(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """`y(x)` interpolated at `grid`; where x repeats (a step) the highest y is kept."""
    frame = pd.DataFrame({"x": x, "y": y}).dropna().groupby("x", sort=True)["y"].max()
    if frame.empty:
        return np.full(len(grid), np.nan)
    return np.interp(grid, frame.index.to_numpy(float), frame.to_numpy(float))


def xychart(
    title: str,
    x_label: str,
    ticks: Sequence[float],
    y_label: str,
    series: Sequence[Series],
    unit_y: bool = False,
) -> str:
    """One fenced Mermaid chart; every series must have one value per tick. `unit_y` pins the
    y axis to 0-1 (rates), so base and PR are drawn on the same scale every time."""
    palette = ", ".join(s.colour for s in series)
    lines = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        f'    title "{_text(title)}"',
        f'    x-axis "{_text(x_label)}" [' + ", ".join(f'"{t:g}"' for t in ticks) + "]",
        f'    y-axis "{_text(y_label)}"' + (" 0 --> 1" if unit_y else ""),
    ]
    for s in series:
        values = ", ".join(f"{v:.4f}" for v in np.nan_to_num(np.asarray(s.values, float)))
        lines.append(f'    line "{_text(s.name)}" [{values}]')
    return "\n".join([*lines, "```"])


def _text(text: str) -> str:
    return text.replace('"', "'")


def caption(series: Sequence[Series]) -> str:
    return "Lines: " + ", ".join(f"{s.name} ({_colour_name(s.colour)})" for s in series) + "."


def _colour_name(colour: str) -> str:
    names = {
        BASE_COLOUR: "grey",
        PR_COLOUR: "blue",
        REFERENCE_COLOUR: "light grey",
        BASE_POS_COLOUR: "light red",
        PR_POS_COLOUR: "red",
    }
    return names.get(colour, colour)


def _pair(
    base: pd.DataFrame | None, pr: pd.DataFrame, x: str, y: str, base_name: str
) -> list[Series]:
    out = []
    if base is not None and {x, y} <= set(base.columns):
        out.append(Series(base_name, resample(base[x], base[y], GRID), BASE_COLOUR))
    out.append(Series("this PR", resample(pr[x], pr[y], GRID), PR_COLOUR))
    return out


def roc_chart(pr: pd.DataFrame, base: pd.DataFrame | None, base_name: str) -> list[Series]:
    return [Series("chance", GRID, REFERENCE_COLOUR), *_pair(base, pr, "fpr", "tpr", base_name)]


def precision_recall_chart(
    pr: pd.DataFrame, base: pd.DataFrame | None, base_name: str
) -> list[Series]:
    return _pair(base, pr, "recall", "precision", base_name)


def calibration_chart(pr: pd.DataFrame, base: pd.DataFrame | None, base_name: str) -> list[Series]:
    return [
        Series("perfect calibration", GRID, REFERENCE_COLOUR),
        *_pair(base, pr, "mean_predicted", "fraction_positive", base_name),
    ]


def score_chart(
    pr: pd.DataFrame, base: pd.DataFrame | None, base_name: str
) -> tuple[list[float], list[Series]]:
    """Share of each class per score bin (shares, so data sets of any size compare)."""
    ticks = [float(t) for t in np.round(pr["score"].to_numpy(float), 4)]
    out = []
    sides = [(pr, "this PR", PR_COLOUR, PR_POS_COLOUR)]
    if base is not None and {"score", "positive", "negative"} <= set(base.columns):
        sides.insert(0, (base, base_name, BASE_COLOUR, BASE_POS_COLOUR))
    for frame, name, neg_colour, pos_colour in sides:
        for label, colour in (("negative", neg_colour), ("positive", pos_colour)):
            share = frame[label] / max(float(frame[label].sum()), 1.0)
            values = resample(
                frame["score"].to_numpy(float), share.to_numpy(float), np.array(ticks)
            )
            out.append(Series(f"{name}, {label} class", values, colour))
    return ticks, out
