"""The PR report across a pull request's life, with the real `dvc` and git.

A copy of the repository reproduces the pipeline on `main` and commits it, as the team's main
branch would hold it. Each test then branches from `main`, makes one kind of change, runs
`dvc repro` (which reruns only what the change touches: the cache is shared) and writes the
report against `main`, as CI does. The report's metrics must be the numbers of
`dvc metrics diff main --json`, its verdict and exit code must follow `reports/gates.json`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.repo_copy import git, replace_file, reproduced_main, run_dvc, stage_env

pytestmark = pytest.mark.slow

REPORT = Path("reports/pr/report.md")
RAW = Path("data/raw/credit_data.csv")
REPORT_TIMEOUT_S = 300


@dataclass(frozen=True)
class Report:
    code: int
    text: str
    log: str
    gates: dict[str, Any]

    def table_rows(self, header: str) -> dict[str, list[str]]:
        """The rows of the Markdown table that follows `header`, keyed by first cell."""
        section = self.text.split(f"## {header}\n", 1)[1].split("\n## ", 1)[0]
        lines = section.splitlines()
        rows = [row for row in lines if row.startswith("| ") and not row.startswith("| ---")][1:]
        return {
            r.strip("|").split("|")[0].strip(): [c.strip() for c in r.strip("|").split("|")]
            for r in rows
        }


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`main` with the pipeline reproduced and every git-tracked result committed."""
    return reproduced_main(tmp_path_factory.mktemp("pr_lifecycle") / "repo")


def branch(repo: Path, name: str, change: Callable[[Path], None]) -> subprocess.CompletedProcess:
    """Branch `name` off `main`, apply `change`, reproduce; the result of `dvc repro`."""
    git(repo, "checkout", "--quiet", "main")
    run_dvc(repo, "checkout", "--quiet")
    git(repo, "checkout", "--quiet", "-b", name)
    change(repo)
    return run_dvc(repo, "repro", check=False)


def write_report(repo: Path, base: str = "main") -> Report:
    out = subprocess.run(
        [sys.executable, "-m", "modelgate.report.pr", "--base", base, "--out", str(REPORT)],
        cwd=repo,
        env=stage_env(repo),
        capture_output=True,
        text=True,
        timeout=REPORT_TIMEOUT_S,
    )
    gates = json.loads((repo / "reports/gates.json").read_text())
    text = (repo / REPORT).read_text() if (repo / REPORT).exists() else ""
    return Report(out.returncode, text, out.stderr, gates)


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "--message", message)


def dvc_json(repo: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "dvc", *args, "--json"],
        cwd=repo,
        env=stage_env(repo),
        capture_output=True,
        text=True,
        check=True,
        timeout=REPORT_TIMEOUT_S,
    )
    return json.loads(out.stdout)


def set_param(repo: Path, pattern: str, replacement: str) -> None:
    params = repo / "params.yaml"
    text, count = re.subn(pattern, replacement, params.read_text(), count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} not in params.yaml"
    params.write_text(text)


def assert_metrics_match_dvc(repo: Path, report: Report) -> None:
    """Every changed metric carries DVC's old, new and diff; the others read unchanged."""
    changed = dvc_json(repo, "metrics", "diff", "main").get("reports/metrics.json", {})
    rows = report.table_rows("Metrics (test set)")
    assert "roc_auc" in rows and "threshold" in rows
    for name, cells in rows.items():
        key = name if name == "threshold" else f"test.{name}"
        if key in changed:
            entry = changed[key]
            assert [float(cells[1]), float(cells[2])] == [entry["old"], entry["new"]], name
            assert float(cells[3]) == pytest.approx(entry["diff"], rel=1e-9, abs=1e-12), name
        else:
            assert cells[1] == cells[2] and float(cells[3]) == 0, name


def assert_verdict_follows_gates(report: Report) -> None:
    lines = report.text.splitlines()
    assert lines[0] == "<!-- modelgate:pr-report -->"
    failed = [g["gate"] for g in report.gates["gates"] if g["status"] == "fail"]
    assert report.code == (1 if failed else 0), report.log
    assert lines[2] == (
        "> [!CAUTION]"
        if failed
        else "> [!TIP]"
        if report.gates["status"] == "pass"
        else "> [!WARNING]"
    )
    for gate in failed:
        assert f"gate `{gate}` failed" in lines[3]


def test_a_train_param_change(repo: Path) -> None:
    repro = branch(repo, "max-depth", lambda r: set_param(r, r"^(  max_depth:) 4\b", r"\1 3"))
    assert repro.returncode == 0, repro.stdout
    report = write_report(repo)
    assert_verdict_follows_gates(report)
    assert report.code == 0
    assert report.table_rows("Params") == {"train.max_depth": ["train.max_depth", "4", "3"]}
    assert_metrics_match_dvc(repo, report)
    assert "## Data changes" not in report.text and "raw data unchanged" in report.text
    assert re.search(r"model version `\w+` \(base `\w+`\)", report.text)
    assert "the champion gate compared with" not in report.text  # both compared with main
    assert re.search(
        r"paired bootstrap interval \[.*\]: \*\*(significant|no significant)", report.text
    )
    commit(repo, "max_depth 3")


def drop_rows(repo: Path) -> None:
    lines = (repo / RAW).read_bytes().splitlines(keepends=True)
    kept = [line for i, line in enumerate(lines) if i == 0 or i % 20 != 0]  # 5% of the rows
    replace_file(repo / RAW, b"".join(kept))
    run_dvc(repo, "add", "--quiet", str(RAW))


def test_a_data_change(repo: Path) -> None:
    # Dropping rows re-draws the split, so the base model is scored on test rows it partly
    # trained on and the champion gate may fail: the verdict must say whatever gates.json says.
    removed = (
        (len((repo / RAW).read_bytes().splitlines()) - 1) // 20 if (repo / RAW).exists() else 0
    )
    branch(repo, "fewer-rows", drop_rows)
    report = write_report(repo)
    assert_verdict_follows_gates(report)
    assert_metrics_match_dvc(repo, report)
    assert f"raw data changed: `{RAW}`" in report.text
    assert f"- `{RAW}`: 0 row(s) added, {removed} row(s) removed" in report.text
    split = report.table_rows("Data changes")
    assert int(split["all"][3]) == -removed
    assert "| feature | kind | PSI | KS statistic | KS p-value | reading |" in report.text
    assert report.table_rows("Params") == {}  # "No params changed."
    commit(repo, "drop 5% of rows")


def test_a_failed_gate(repo: Path) -> None:
    repro = branch(
        repo,
        "strict-gate",
        lambda r: set_param(r, r"^(      roc_auc:) \{min: 0.75\}", r"\1 {min: 0.99}"),
    )
    assert repro.returncode != 0 and "gate 'model' failed" in repro.stdout
    report = write_report(repo)
    assert_verdict_follows_gates(report)
    assert report.code == 1
    assert re.search(r"gate `model` failed \(test roc_auc: [0-9.]+ vs >= 0.99\)", report.text)
    assert "model not exported in this run" in report.text
    assert report.table_rows("Params")["gates.model.metrics.roc_auc.min"][1:] == ["0.75", "0.99"]
    assert "## Data changes" not in report.text
    assert_metrics_match_dvc(repo, report)
    commit(repo, "strict ROC-AUC gate")


def test_a_base_without_results_and_an_unknown_base(repo: Path) -> None:
    git(repo, "checkout", "--quiet", "main")
    run_dvc(repo, "checkout", "--quiet")
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()  # the copy, no results
    report = write_report(repo, base=first)
    assert f"`{first}` has no pipeline results" in report.text
    assert report.table_rows("Metrics (test set)")["roc_auc"][1] == "n/a"
    assert 'line "this PR"' in report.text and f'line "base {first}"' not in report.text
    unknown = write_report(repo, base="no-such-branch")
    assert unknown.code == 2 and "unknown base ref 'no-such-branch'" in unknown.log
