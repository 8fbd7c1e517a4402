"""The whole PR report, rendered as GitHub would: cmark-gfm with raw HTML allowed."""

from __future__ import annotations

import dataclasses
import html
import re

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from modelgate.report.render import render
from tests.unit import _report_data as data

FENCE = re.compile(r"```mermaid\n(.*?)```", re.DOTALL)
PRE = re.compile(r'<pre lang="mermaid"><code>(.*?)</code></pre>', re.DOTALL)
CODE = re.compile(r'<pre><code class="language-mermaid">(.*?)</code></pre>', re.DOTALL)


def to_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def headings(markdown: str) -> list[str]:
    return re.findall(r"^#+ (.*)$", markdown, re.MULTILINE)


def test_report_order_marker_first_then_verdict_then_sections() -> None:
    text = render(data.inputs())
    lines = text.splitlines()
    assert lines[0] == "<!-- modelgate:pr-report -->"
    assert lines[2] == "> [!TIP]"
    assert lines[3] == "> **PASS**: all 6 gates pass."
    assert "model version `v2` (base `v1`)" in lines[5] and "raw data unchanged" in lines[5]
    assert headings(text)[:5] == [
        "Gates",
        "Params",
        "Metrics (test set)",
        "Plots (test set)",
        "ROC",
    ]
    assert "Data changes" not in headings(text)
    assert text.index("Every gate condition") < text.index("<summary>links</summary>")


def test_github_markdown_keeps_tables_details_and_whole_mermaid_charts() -> None:
    text = render(data.inputs(changed_data=["data/raw/credit_data.csv"], data=data.data_evidence()))
    page = to_html(text)
    # gates, params, metrics, split, drift, confusion, and two gates' conditions in <details>
    assert page.count("<table>") == text.count("\n| --- |") == 8
    assert "| ---" not in page
    assert page.count("<details>") == page.count("</details>") == 2
    assert re.search(r"<details>\s*<summary>Every gate condition \(3\)</summary>\s*<p>", page)
    assert "<!-- modelgate:pr-report -->" in page
    charts = FENCE.findall(text)
    rendered = [html.unescape(c) for c in PRE.findall(page) + CODE.findall(page)]
    assert len(charts) == 4 and rendered == charts
    assert all(c.splitlines()[1] == "xychart-beta" for c in charts)


def test_numbers_in_the_metrics_table_are_dvc_s() -> None:
    inputs = data.inputs()
    text = render(inputs)
    for key, entry in inputs.metrics_diff["reports/metrics.json"].items():
        row = next(r for r in text.splitlines() if r.startswith(f"| {key.removeprefix('test.')} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert [float(c) for c in cells[1:3]] == [entry["old"], entry["new"]]
        assert float(cells[3]) == pytest.approx(entry["diff"], rel=1e-11)


def test_first_pr_without_base_results_shows_pr_values_only() -> None:
    empty = dataclasses.replace(
        data.side(),
        metrics=None,
        split=None,
        plots={},
        predictions=None,
        raw_md5={},
        model_version=None,
        lock=None,
    )
    inputs = data.inputs(base=empty)
    text = render(inputs)
    assert "`main` has no pipeline results (first pipeline PR?): PR values only" in text
    assert "`main` has no raw data snapshot" in text
    assert "| roc_auc | n/a | 0.82 | n/a | n/a |" in text
    assert "`main` has no plot data: only this PR's curves." in text
    assert 'line "base main"' not in text and 'line "this PR"' in text
    assert "| bad | 3 | 0 |" in text  # no base counts beside the PR's


def test_failed_gate_makes_a_red_verdict_and_says_the_model_was_not_exported() -> None:
    gates = data.gates("fail", "not run")
    gates["gates"].insert(2, {"gate": "parity", "status": "not run", "notes": [], "conditions": []})
    text = render(data.inputs(gates=gates, champion=None))
    assert text.splitlines()[2] == "> [!CAUTION]"
    assert "gate `model` failed (test roc_auc: 0.81 vs >= 0.99)" in text
    assert "model not exported in this run" in text
    assert "the champion gate did not run" in text


def test_data_section_appears_only_when_the_raw_data_changed() -> None:
    changed = render(
        data.inputs(changed_data=["data/raw/credit_data.csv"], data=data.data_evidence())
    )
    assert "Data changes" in headings(changed)
    assert "raw data changed: `data/raw/credit_data.csv`" in changed
    assert (
        headings(changed).index("Data changes") == headings(changed).index("Metrics (test set)") + 1
    )


def test_metrics_from_before_a_stopped_pipeline_are_flagged_as_stale() -> None:
    gates = data.gates()
    gates["gates"][0]["status"] = "fail"
    text = render(data.inputs(gates=gates))
    assert text.count("The pipeline stopped at gate `contract`, before evaluation") == 2
    assert "stopped at gate" not in render(data.inputs())
