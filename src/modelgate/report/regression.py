"""A regressor's part of the PR report (issue 12.2): the champion gate's paired bootstrap on
the MAE in a sentence, and the plots of `stages/evaluate.py` (`predicted_vs_actual.csv`, the
test rows' actual and predicted values; `residuals.csv`, the error histogram), base and PR.

xychart draws lines and bars only, not a scatter, so predicted-versus-actual is drawn as the
mean prediction per decile of the PR's actual values (the base's on the same bins) beside the
diagonal; the error distributions of both sides are compared by their quantiles in a table,
since each side's histogram has its own bins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelgate.gates.paired import MAE_CONDITION
from modelgate.report import charts, md
from modelgate.report.champion import Metric, sentence

PLOTS = ("predicted_vs_actual", "residuals")
BINS = 10
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def mae_reading(low: float, high: float) -> str:
    if high < 0:
        return "significant improvement"
    return "significant increase" if low > 0 else "no significant change"


MAE = Metric("MAE", MAE_CONDITION, "+.2%", mae_reading, relative=True)


def champion_line(champion: Mapping[str, Any] | None) -> str:
    """The paired bootstrap interval of the relative MAE change, in a sentence."""
    return sentence(champion, MAE)


def _binned(frame: pd.DataFrame, column: str, edges: np.ndarray) -> np.ndarray:
    """Mean of `column` per bin of the actual value (NaN for an empty bin)."""
    actual = frame["actual"].to_numpy(float)
    bins = np.clip(np.searchsorted(edges, actual, "right") - 1, 0, len(edges) - 2)
    means = pd.Series(frame[column].to_numpy(float)).groupby(bins).mean()
    return means.reindex(range(len(edges) - 1)).to_numpy(float)


def predicted_chart(pr: pd.DataFrame, base: pd.DataFrame | None, base_name: str) -> str:
    actual = pr["actual"].to_numpy(float)
    edges = np.unique(np.quantile(actual, np.linspace(0, 1, BINS + 1)))
    if len(edges) < 3:
        return ""
    ticks = [float(f"{v:.4g}") for v in _binned(pr, "actual", edges)]
    series = [charts.Series("perfect prediction", ticks, charts.REFERENCE_COLOUR)]
    if base is not None and {"actual", "predicted"} <= set(base.columns):
        series.append(charts.Series(base_name, _binned(base, "predicted", edges),
                                    charts.BASE_COLOUR))  # fmt: skip
    series.append(charts.Series("this PR", _binned(pr, "predicted", edges), charts.PR_COLOUR))
    title = "Mean prediction per decile of the actual value"
    return f"### {title}\n\n{charts.caption(series)}\n\n" + charts.xychart(
        title, "Actual (decile mean)", ticks, "Mean prediction", series
    )


def residual_chart(residuals: pd.DataFrame) -> str:
    share = residuals["rows"] / max(float(residuals["rows"].sum()), 1.0)
    ticks = [float(f"{v:.3g}") for v in residuals["residual"]]
    series = [charts.Series("this PR", share.to_numpy(float), charts.PR_COLOUR)]
    title = "Errors (prediction minus actual), share of test rows per bin"
    return f"### {title}\n\n{charts.caption(series)}\n\n" + charts.xychart(
        title, "Error", ticks, "Share of rows", series
    )


def error_quantiles(pr: pd.DataFrame, base: pd.DataFrame | None) -> str:
    header = ["side", *(f"p{round(q * 100)}" for q in QUANTILES)]
    rows = []
    for name, frame in (("base", base), ("this PR", pr)):
        if frame is not None and {"actual", "predicted"} <= set(frame.columns):
            error = frame["predicted"].to_numpy(float) - frame["actual"].to_numpy(float)
            rows.append([name, *(f"{v:.4g}" for v in np.quantile(error, QUANTILES))])
    return "### Error quantiles (prediction minus actual)\n\n" + md.table(header, rows)


def plots_section(
    pr: Mapping[str, pd.DataFrame], base: Mapping[str, pd.DataFrame], base_name: str
) -> str:
    """The regressor's plots; a file missing on the PR side is said so."""
    missing = [f"`reports/plots/{n}.csv` is missing." for n in PLOTS if n not in pr]
    parts = []
    if "predicted_vs_actual" in pr:
        vs = pr["predicted_vs_actual"]
        parts.append(predicted_chart(vs, base.get("predicted_vs_actual"), base_name))
        parts.append(error_quantiles(vs, base.get("predicted_vs_actual")))
    if "residuals" in pr:
        parts.append(residual_chart(pr["residuals"]))
    return "\n\n".join(p for p in [*parts, *missing] if p)
