"""Section renderers of the PR report: verdict, gates, params, metrics, champion, confusion."""

from __future__ import annotations

import pandas as pd

from modelgate.report import performance, sections
from tests.unit import _report_data as data


def test_overall_status_fails_without_gate_results() -> None:
    assert sections.overall_status(None) == "fail"
    assert sections.overall_status(data.gates()) == "pass"
    assert sections.overall_status(data.gates(model_status="warn")) == "warn"
    assert sections.overall_status(data.gates(model_status="fail", champion_status="not run")) == (
        "fail"
    )


def test_failed_verdict_is_red_and_names_the_gate_value_and_threshold() -> None:
    text = sections.verdict(data.gates("fail", "not run"), ["model version `v2`"])
    lines = text.splitlines()
    assert lines[0] == "> [!CAUTION]"
    assert lines[1] == "> **FAIL**: gate `model` failed (test roc_auc: 0.81 vs >= 0.99)."
    assert lines[-1] == "> model version `v2`"


def test_passing_verdicts_count_the_gates_and_mention_warnings() -> None:
    assert sections.verdict(data.gates(), []).splitlines()[:2] == [
        "> [!TIP]",
        "> **PASS**: all 6 gates pass.",
    ]
    warned = sections.verdict(data.gates(model_status="warn"), []).splitlines()
    assert warned[0] == "> [!WARNING]" and "some conditions warn" in warned[1]


def test_gate_table_lists_flagged_conditions_and_why_a_gate_did_not_run() -> None:
    table = sections.gate_table(data.gates("fail", "not run"))
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[4:]}
    assert rows["model"].startswith("| model | FAIL | 2 | FAIL: test roc_auc: 0.81 vs >= 0.99")
    assert rows["champion"] == "| champion | not run | 0 | note: stopped after model |"
    assert rows["contract"] == "| contract | pass | 1 | - |"


def test_cells_escape_pipes_and_long_values_are_cut() -> None:
    gates = data.gates("fail")
    gates["gates"][3]["conditions"][0]["name"] = "max |diff|"
    gates["gates"][3]["conditions"][0]["value"] = "x" * 500
    row = sections.gate_table(gates).splitlines()[7]
    assert "max \\|diff\\|" in row and "x" * 117 + "..." in row and "x" * 118 not in row


def test_every_condition_sits_in_one_collapsed_block() -> None:
    block = sections.conditions_details(data.gates("fail", "not run"))
    assert block.startswith("<details>\n<summary>Every gate condition (3)</summary>\n\n")
    assert block.endswith("\n\n</details>")
    assert "| FAIL | test roc_auc | 0.81 | >= 0.99 | 0.81 below the minimum 0.99 |" in block
    assert "_stopped after model_" in block


def test_params_table_shows_old_and_new_values() -> None:
    diff = {
        "params.yaml": {
            "train.max_depth": {"old": 4, "new": 3, "diff": -1},
            "ingest.columns.Home.categories": {"old": "['a']", "new": "['a', 'b']"},
        },
        "other.yaml": {"x": {"old": None, "new": [1, 2]}},
    }
    text = sections.params_section(diff)
    assert "| train.max_depth | 4 | 3 |" in text
    assert "| ingest.columns.Home.categories | ['a'] | ['a', 'b'] |" in text
    assert "| other.yaml:x | n/a | [1, 2] |" in text
    assert sections.params_section({}) == "## Params\n\nNo params changed."


def test_metrics_table_repeats_dvc_numbers_and_adds_the_relative_change() -> None:
    diff = {
        "threshold": {"old": 0.211, "new": 0.2042, "diff": -0.0068000000000000005},
        "test.roc_auc": {"old": 0.82759, "new": 0.832433, "diff": 0.004842999999999931},
        "test.rows": {"old": None, "new": 891},
    }
    keys = performance.metric_keys({"test": {"roc_auc": 1, "rows": 1}}, diff)
    assert keys == ["threshold", "test.roc_auc", "test.rows"]
    table = performance.metrics_table(diff, keys)
    assert "| threshold | 0.211 | 0.2042 | -0.0068 | -3.22% |" in table
    assert "| roc_auc | 0.82759 | 0.832433 | +0.004843 | +0.59% |" in table
    assert "| rows | n/a | 891 | n/a | n/a |" in table


def test_champion_line_reads_the_bootstrap_interval() -> None:
    assert "**significant improvement**" in performance.champion_line(data.champion(0.001, 0.02))
    assert "**significant decline**" in performance.champion_line(data.champion(-0.03, -0.001))
    line = performance.champion_line(data.champion(-0.01, 0.02))
    assert "95% paired bootstrap interval [-0.0100, +0.0200]: **no significant change**" in line
    assert "did not run" in performance.champion_line(None)
    no_base = {"notes": ["the model of 'main' is not in the DVC cache"], "conditions": []}
    assert "not in the DVC cache" in performance.champion_line(no_base)


def test_confusion_table_counts_pr_against_base() -> None:
    table = performance.confusion_table(
        data.predictions(flip=True), data.predictions(), ("bad", "good")
    )
    assert "| bad | 3 (base 2, +1) | 0 (base 1, -1) |" in table
    assert "| good | 1 (base 1, +0) | 2 (base 2, +0) |" in table
    alone = performance.confusion_table(data.predictions(), None, ("bad", "good"))
    assert "| bad | 2 | 1 |" in alone


def test_confusion_counts_every_row_once() -> None:
    frame = pd.DataFrame({"actual": ["a", "b"], "predicted": ["b", "b"]})
    assert performance.confusion(frame, "a") == {"tp": 0, "fn": 1, "fp": 0, "tn": 1}


def test_a_gate_failing_several_conditions_is_named_with_its_conditions() -> None:
    gates = data.gates("fail")
    for condition in gates["gates"][3]["conditions"]:
        condition["status"] = "fail"
    head = sections.verdict(gates, []).splitlines()[1]
    assert head == "> **FAIL**: gate `model` failed 2 conditions (test roc_auc; test ks)."
