"""The monitor's Markdown report, from hand-made results in tests/testdata/monitoring/, rendered
as GitHub would (cmark-gfm with raw HTML allowed) where it matters."""

from __future__ import annotations

import copy
import html
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import cmarkgfm
import numpy as np
import pandas as pd
import pytest
from cmarkgfm.cmark import Options
from scipy.special import expit

from modelgate import io
from modelgate.monitor import report
from modelgate.monitor.estimate import estimate, fit_calibration
from modelgate.monitor.outcomes import Joined
from modelgate.monitor.realized import realized
from modelgate.params import PerformanceParams
from tests.conftest import ROOT

DATA = ROOT / "tests" / "testdata" / "monitoring"
FENCE = re.compile(r"```mermaid\n(.*?)```", re.DOTALL)
PRE = re.compile(r'<pre lang="mermaid"><code>(.*?)</code></pre>', re.DOTALL)


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def to_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def headings(markdown: str) -> list[str]:
    return re.findall(r"^#+ (.*)$", markdown, re.MULTILINE)


def row(markdown: str, first_cell: str) -> list[str]:
    line = next(r for r in markdown.splitlines() if r.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split("|")]


# --- the verdict ------------------------------------------------------------------------------


def test_marker_title_and_a_green_verdict_for_a_healthy_run() -> None:
    lines = report.render(load("healthy")).splitlines()

    assert lines[0] == report.MARKER
    assert lines[2] == "# Monitoring: credit-risk"
    assert lines[4:6] == [
        "> [!TIP]",
        "> **HEALTHY**: no drift, performance within the gate's limits.",
    ]
    assert "model `credit-risk` version `25513695d89f`" in lines[7]
    assert "2,000 predictions from 2026-11-01T00:00:00Z" in lines[7]
    assert "outcomes as of 2026-12-01, 90 days to mature" in lines[7]


def test_drift_alone_is_a_yellow_verdict_naming_the_features_and_the_score() -> None:
    result = load("healthy")
    result["status"] = "drift"
    result["drift"]["drifted"] = ["Income", "Home"]
    result["drift"]["score"]["drift"] = True

    text = report.verdict(result)

    assert text.startswith("> [!WARNING]\n> **DRIFT** in `Income`, `Home`, the score.")


def test_drift_and_degradation_are_a_red_verdict_saying_both() -> None:
    text = report.verdict(load("result"))

    assert text.startswith("> [!CAUTION]\n")
    assert (
        "**DRIFT** in `Income`. **DEGRADED**: cohort 2026-08 past the limits on ROC-AUC, KS."
        in text
    )


def test_an_estimate_below_the_gate_is_degraded_before_any_label() -> None:
    result = load("healthy")
    result["status"] = "degraded"
    result["estimated"].update(degraded=True, roc_auc={"value": 0.70, "low": 0.66, "high": 0.74})

    text = report.render(result)

    assert "**DEGRADED**: estimated ROC-AUC 0.700 [0.660, 0.740] below the gate's 0.75" in text
    assert row(text, "ROC-AUC")[-1] == "**below the limit** (the whole interval)"


def test_a_small_window_says_insufficient_and_what_was_not_done() -> None:
    text = report.render(load("insufficient"))

    reason = "40 rows, fewer than min_rows (100): no verdict"
    assert f"> [!WARNING]\n> **INSUFFICIENT DATA**: {reason}." in text
    assert f"Not tested: {reason}." in text
    assert "## Score drift" not in text
    assert "Not tested: the window is too small" in report.drift_section(None)
    assert "no outcomes supplied" in text
    assert "No outcomes file: nothing to measure yet." in text
    assert row(text, "ROC-AUC")[-1] == "inconclusive: the interval spans the limit"
    assert "## Charts" not in text and "## Notes" not in text


# --- sections ---------------------------------------------------------------------------------


def test_sections_come_in_order() -> None:
    assert headings(report.render(load("result"))) == [
        "Monitoring: credit-risk",
        "Input drift",
        "Score drift",
        "Estimated performance (before labels)",
        "Realized performance (after labels)",
        "Charts",
        "ROC-AUC per cohort",
        "Effect sizes of the most shifted features",
        "Notes",
    ]


def test_the_drift_table_shows_flagged_tests_and_every_test_is_in_a_collapsed_block() -> None:
    text = report.drift_section(load("result")["drift"])
    main, full = text.split("<details>")

    assert "7 tests on 4 features and the score, Holm-corrected" in main
    assert row(main, "`Income`") == [
        "`Income`", "ks", "0.31 smd (floor 0.1)", "1.0e-09", "7.0e-09", "**drift**"
    ]  # fmt: skip
    assert main.count("\n| `") == 1  # only the flagged test
    assert "<summary>Every drift test (6)</summary>" in full
    assert row(full, "`Home`")[-1] == "-"  # p 0.011 is not significant after Holm (0.055)
    assert row(full, "`Records`") == [
        "`Records`",
        "chi2",
        "n/a (floor 0.1)",
        "n/a",
        "n/a",
        "not run",
    ]
    # Drifted features first, then by adjusted p-value.
    order = re.findall(r"^\| `(\w+)` \|", full, re.MULTILINE)
    assert order == ["Income", "Income", "Home", "Home", "Age", "Records"]


def test_a_significant_effect_below_its_floor_is_said_so() -> None:
    text = report.drift_section(load("healthy")["drift"])

    assert row(text, "`Job`")[-1] == "significant, below the floor"


def test_no_flagged_test_is_one_sentence_above_the_collapsed_table() -> None:
    drift = load("healthy")["drift"]
    for feature in drift["features"]:
        for test in feature["tests"]:
            test["significant"] = False

    assert "No test is significant or reaches its floor." in report.drift_section(drift)


def test_score_drift_has_its_own_table() -> None:
    text = report.score_section(load("result")["drift"])

    assert "The model's score distribution did not drift." in text
    assert row(text, "`score`")[1:] == ["ks", "0.08 smd (floor 0.1)", "0.012", "0.072", "-"]


def test_the_estimate_sits_beside_the_test_metric_and_the_gate_limit() -> None:
    text = report.estimated_section(load("healthy"))

    assert row(text, "ROC-AUC") == [
        "ROC-AUC", "0.847 [0.813, 0.877]", "0.828", "≥ 0.75", "above the limit"
    ]  # fmt: skip
    assert row(text, "default rate")[1:3] == ["0.265 [0.233, 0.297]", "n/a"]
    result = load("healthy")
    result["test_metrics"]["default_rate"] = 0.2817  # when the run passes the test set's
    assert row(report.estimated_section(result), "default rate")[2] == "0.282"
    assert "estimate [95% interval]" in text
    assert "reference's 891 validation rows (logistic: slope 0.830, intercept -0.164)" in text


def test_each_cohort_with_its_verdict_then_the_test_set_and_the_limits() -> None:
    text = report.realized_section(load("result"))

    assert row(text, "2026-07")[-1] == "ok"
    assert row(text, "2026-08")[4] == "0.710 [0.670, 0.745]"
    assert row(text, "2026-08")[-1] == "**degraded**: ROC-AUC, KS past the limits"
    assert row(text, "2026-09")[4:8] == ["n/a"] * 4
    assert row(text, "2026-09")[-1] == "not judged: 40 labelled rows, fewer than 200"
    assert row(text, "_test set_")[4:9] == ["0.828", "0.512", "0.146", "0.051", "0.575"]
    assert row(text, "_gate limit_")[4:8] == ["≥ 0.75", "≥ 0.35", "≤ 0.2", "≤ 0.1"]
    healthy = report.realized_section(load("healthy"))
    assert row(healthy, "2026-08")[-1] == "within the limits; below the test set on ROC-AUC"


def test_no_mature_cohort_yet_is_said_so() -> None:
    result = load("healthy")
    result["realized"]["cohorts"] = []

    assert "No cohort is mature yet." in report.realized_section(result)
    assert report.auc_chart(result) == ""


# --- charts -----------------------------------------------------------------------------------


def test_the_cohort_chart_draws_realized_interval_estimate_and_gate() -> None:
    chart = report.auc_chart(load("healthy"))

    assert 'x-axis "Cohort" ["2026-07", "2026-08"]' in chart
    assert 'line "realized ROC-AUC" [0.8300, 0.7900]' in chart
    assert 'line "estimated ROC-AUC" [0.8450, 0.8420]' in chart
    assert 'line "gate minimum" [0.7500, 0.7500]' in chart
    assert "estimated ROC-AUC (grey)" in chart  # the caption names every colour
    # The unjudged cohort is left out rather than drawn at zero; no estimate, no estimate line.
    chart = report.auc_chart(load("result"))
    assert '["2026-07", "2026-08"]' in chart and "estimated" not in chart


def test_the_effect_chart_ranks_features_by_effect_over_floor() -> None:
    result = load("result")
    chart = report.effect_chart(result)

    assert 'x-axis "Feature" ["Income", "Home", "Age"]' in chart
    assert 'bar "effect / floor" [3.1000, 0.4000, 0.3000]' in chart
    many = copy.deepcopy(result)
    many["drift"]["features"] = [
        {**result["drift"]["features"][0], "feature": f"f{i}"} for i in range(12)
    ]
    assert len(re.findall(r'"f\d+"', report.effect_chart(many))) == report.MAX_CHARTED


def test_github_keeps_tables_details_alerts_and_whole_charts() -> None:
    text = report.render(load("result"))
    page = to_html(text)

    assert page.count("<table>") == text.count("\n| --- |") == 5
    assert page.count("<details>") == page.count("</details>") == 1
    assert report.MARKER in page
    assert "[!CAUTION]" in page  # GitHub turns it into an alert; cmark keeps the text
    charts = FENCE.findall(text)
    assert len(charts) == 2 and [html.unescape(c) for c in PRE.findall(page)] == charts
    assert all(c.splitlines()[1] == "xychart-beta" for c in charts)


# --- notes ------------------------------------------------------------------------------------


def test_notes_list_what_the_numbers_leave_out() -> None:
    notes = report.notes(load("result"))

    assert notes == [
        "`Home`: 3 rows hold categories training never saw; values held by fewer than 5 rows "
        "are not shown (1).",
        "`Records`: the chi2 test could not run.",
        "Cohort 2026-09 not judged: 40 labelled rows, fewer than 200.",
        "Decisions younger than 90 days at 2026-12-01 (their cohorts wait): 1,200.",
        "Decisions in mature cohorts without an outcome (declined applicants get no loan: "
        "realized metrics describe the approved ones unless the lender reports every "
        "outcome): 15.",
        "Outcomes dated after the as-of date, not used: 2.",
        "Outcomes of no logged decision in the window: 3.",
        "Logged predictions repeating a request row, a client's retry (the latest counts): 1.",
    ]
    assert report.notes(load("healthy")) == []


def test_new_categories_are_shown_only_when_enough_rows_hold_them_and_never_as_markup() -> None:
    result = load("result")
    home = result["drift"]["features"][2]
    hostile = "[win](http://evil.example) <img src=x> `x`" + "y" * 40
    home["window"]["new_categories"] = {"council": 12, hostile: 7, "Jane Doe": 1}

    text = report.render(result)
    page = to_html(text)

    assert "`Home`: 20 rows hold categories training never saw (`council`: 12, " in text
    assert "Jane Doe" not in text  # one applicant's entry stays out of the pull request
    assert "values held by fewer than 5 rows are not shown (1)" in text
    assert "<img" not in page and 'href="http://evil' not in page
    assert "y" * 40 not in text  # long values are cut


def test_nothing_local_is_linked() -> None:
    for name in ("result", "healthy", "insufficient"):
        text = report.render(load(name))
        assert not re.search(r"\]\((?!https://)", text)
        assert "reports/" not in text and "](" not in text


# --- writing, and a result from the real modules ----------------------------------------------


def test_write_puts_monitor_md_alone_in_the_directory(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "monitoring"
    path = report.write(load("result"), out)

    assert path == out / "monitor.md"
    assert sorted(p.name for p in out.iterdir()) == ["monitor.md"]
    assert path.read_text(encoding="utf-8") == report.render(load("result"))


def test_a_result_built_by_estimate_and_realized_renders() -> None:
    params = PerformanceParams(
        maturity_days=30, min_rows=100, min_class_rows=20, confidence=0.95, draws=300
    )
    rng = np.random.default_rng(0)
    s = expit(rng.normal(-1.2, 1.6, 1200))
    y = (rng.random(1200) < s).astype(float)
    times = pd.Timestamp("2026-07-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 61, 1200), "D")
    frame = pd.DataFrame(
        {"request_id": [str(i) for i in range(1200)], "row": 0, "time": times, "score": s,
         "decision": np.where(s < 0.3, "approve", "decline"), "label": y,
         "outcome_date": times + pd.Timedelta(days=20)}
    )  # fmt: skip
    limits = load("result")["limits"]
    calibration = fit_calibration(s[:600], y[:600].astype(int))
    result = {
        **load("healthy"),
        "estimated": estimate(s, calibration, limits, params, seed=0),
        "realized": realized(
            Joined(frame, 0, 0), date(2026, 10, 1), params, limits, {}, 10, calibration
        ),
    }

    text = report.render(io.load_yaml(io.dumps(result)))  # through JSON, as the file is read

    assert [r[0] for r in (row(text, "2026-07"), row(text, "2026-08"))] == ["2026-07", "2026-08"]
    assert 'line "estimated ROC-AUC"' in text
    assert pytest.approx(result["estimated"]["roc_auc"]["value"], abs=5e-4) == float(
        row(text, "ROC-AUC")[1].split()[0]
    )
