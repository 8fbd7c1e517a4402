"""The PR report's regression and fairness parts, from recorded payloads: the MAE bootstrap
line, the predicted-vs-actual chart and error quantiles, and the fairness tables (group names
are data: shown in code spans, and the posted comment is sanitized)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelgate.ci import sanitize
from modelgate.ci.comment import WATERMARK
from modelgate.report import fairness, regression

FAIRNESS = {
    "gate": "fairness",
    "status": "fail",
    "notes": [],
    "conditions": [
        {"name": "adverse impact ratio: sex", "status": "fail", "message": "0.61 < 0.8"}
    ],
    "groups": {
        "sex": [
            {"group": "female", "rows": 420, "favourable_rate": 0.41,
             "adverse_impact_ratio": {"value": 0.61, "low": 0.52, "high": 0.7}, "auc_gap": 0.02},
            {"group": "male [x](http://evil.example) <img src=x>", "rows": 580,
             "favourable_rate": 0.67, "adverse_impact_ratio": 1.0, "auc_gap": 0.0},
        ]
    },
}  # fmt: skip


def _vs(seed: int, noise: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    actual = rng.gamma(4.0, 25.0, 400)
    return pd.DataFrame({"actual": actual, "predicted": actual + rng.normal(0, noise, 400)})


def test_the_mae_bootstrap_reads_as_an_increase_a_decrease_or_no_change() -> None:
    value = {"delta": 0.08, "ci_low": 0.03, "ci_high": 0.13, "confidence": 0.95}
    champion = {"notes": [], "conditions": [{"name": "MAE change (paired bootstrap)",
                                             "value": value}]}  # fmt: skip
    line = regression.champion_line(champion)
    assert "+8.00% (relative), 95% paired bootstrap interval [+3.00%, +13.00%]" in line
    assert "**significant increase**" in line
    assert regression.mae_reading(-0.2, -0.01) == "significant improvement"
    assert regression.mae_reading(-0.1, 0.1) == "no significant change"
    assert "did not run" in regression.champion_line(None)


def test_regression_plots_overlay_base_and_pr_and_name_a_missing_file() -> None:
    pr, base = _vs(0, 5.0), _vs(1, 9.0)
    text = regression.plots_section({"predicted_vs_actual": pr}, {"predicted_vs_actual": base},
                                    "base main")  # fmt: skip
    assert text.count("```mermaid") == 1 and 'line "base main"' in text
    assert "| side | p5 | p25 | p50 | p75 | p95 |" in text and "| this PR |" in text
    assert "`reports/plots/residuals.csv` is missing." in text


def test_the_fairness_section_shows_each_group_with_its_interval() -> None:
    text = fairness.section(FAIRNESS)
    assert "Gate `fairness`: **FAIL**." in text and "### `sex`" in text
    assert "| `female` | 420 | 0.410 | 0.610 [0.520, 0.700] | 0.020 |" in text
    assert "ROC-AUC gap" in text and "MAE" not in text  # only the columns the file has
    assert "- FAIL: adverse impact ratio: sex (0.61 < 0.8)" in text
    assert fairness.section(None) == ""


def test_a_group_name_from_the_data_cannot_link_or_inject_html() -> None:
    posted = sanitize.sanitize(fairness.section(FAIRNESS), WATERMARK)
    assert "](http://evil.example)" not in posted
    assert "| `male x <img sr...` |" in posted  # a code span: GitHub shows it as text


def test_the_gates_flat_group_table_is_read_too() -> None:
    rows = [
        {"column": "sex", "group": "female", "rows": 420, "favourable_rate": 0.41,
         "impact_ratio": 0.61, "ratio_low": 0.52, "ratio_high": 0.7, "auc_gap": 0.02},
        {"column": "sex", "group": "male", "rows": 580, "favourable_rate": 0.67,
         "impact_ratio": 1.0, "ratio_low": 1.0, "ratio_high": 1.0, "auc_gap": 0.0},
    ]  # fmt: skip
    gate = {"gate": "fairness", "status": "pass", "notes": [], "conditions": [],
            "tables": {"groups": rows}}  # fmt: skip
    text = fairness.section(gate)
    assert "| `female` | 420 | 0.410 | 0.610 [0.520, 0.700] | 0.020 |" in text
    assert "| `male` | 580 | 0.670 | 1.000 [1.000, 1.000] | 0.000 |" in text
