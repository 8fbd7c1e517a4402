"""`make retrain-pr` without the pipeline: the decision, the PR body rendered as GitHub renders
it (cmark-gfm with raw HTML allowed), the git commands on real throwaway repositories, and the
command's refusals. The whole loop with DVC and the gates: tests/integration/test_retrain_e2e.py.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import cmarkgfm
import numpy as np
import pandas as pd
import pytest
import yaml
from cmarkgfm.cmark import Options as GfmOptions

from modelgate import io
from modelgate.gates.champion import ChampionParams
from modelgate.monitor.outcomes import Joined
from modelgate.params import (
    MISSING_CATEGORY,
    EvaluateParams,
    IngestParams,
    MonitorParams,
    RetrainParams,
    load_section,
)
from modelgate.report.render import render as render_pr_report
from modelgate.retrain import __main__ as command
from modelgate.retrain import decision as decisions
from modelgate.retrain import gitops, pr
from modelgate.retrain.branch import Params, RetrainError, collect, load_params, months
from modelgate.retrain.gitops import GitOpsError
from modelgate.retrain.snapshot import DECIDED_AT, SnapshotError
from modelgate.schema import FeatureSchema
from tests.conftest import ROOT, TINY_PARAMS, make_tiny_frame
from tests.unit import _report_data as report_data
from tests.unit._demand import demand_params

MONITORING = ROOT / "tests" / "testdata" / "monitoring"
FENCE = re.compile(r"```mermaid\n(.*?)```", re.DOTALL)
PRE = re.compile(r'<pre lang="mermaid"><code>(.*?)</code></pre>', re.DOTALL)
AS_OF = date(2026, 12, 1)
BRANCH = "retrain/credit-risk/drift-2026-12-01"


def monitor_result(name: str = "result") -> dict[str, Any]:
    return json.loads((MONITORING / f"{name}.json").read_text(encoding="utf-8"))


def drift_only() -> dict[str, Any]:
    result = monitor_result("healthy")
    result["status"] = "drift"
    result["drift"]["drifted"] = ["Income"]
    return result


def to_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=GfmOptions.CMARK_OPT_UNSAFE)


def headings(markdown: str) -> list[str]:
    """Headings outside code fences, with their level."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"^(#+ .*)$", prose, re.MULTILINE)


# --- the decision ------------------------------------------------------------------------------

TRIGGERS = ("drift", "degraded")


@pytest.mark.parametrize(
    ("result", "existing", "action", "branch"),
    [
        (monitor_result("healthy"), [], "none", None),
        (monitor_result("insufficient"), [], "none", None),
        (monitor_result("healthy"), [BRANCH], "drift-passed", BRANCH),
        (drift_only(), [], "open", BRANCH),
        (drift_only(), ["retrain/credit-risk/drift-2026-11-02"], "update",
         "retrain/credit-risk/drift-2026-11-02"),
        (monitor_result("result"), [], "open", "retrain/credit-risk/drift-degraded-2026-12-01"),
    ],
)  # fmt: skip
def test_one_episode_one_branch(
    result: dict[str, Any], existing: list[str], action: str, branch: str | None
) -> None:
    decision = decisions.decide(result, existing, TRIGGERS, AS_OF, "main")

    assert (decision.action, decision.branch) == (action, branch)
    assert decision.model == "credit-risk" and decision.base == "main"
    assert decision.reason.startswith(f"monitor status {result['status']}: ")


def test_a_verdict_outside_the_triggers_does_nothing_and_says_why() -> None:
    decision = decisions.decide(monitor_result("result"), [], ("degraded",), AS_OF, "main")
    assert decision.action == "open"  # degraded, and degraded triggers

    decision = decisions.decide(drift_only(), [], ("degraded",), AS_OF, "main")

    assert decision.action == "none"
    assert decision.reason.endswith("not one of retrain.triggers")


def test_the_newest_of_several_branches_is_the_episode() -> None:
    existing = ["retrain/credit-risk/drift-2026-10-01", "retrain/credit-risk/drift-2026-11-01"]
    decision = decisions.decide(drift_only(), existing, TRIGGERS, AS_OF, "main")
    assert decision.branch == existing[-1] and decision.action == "update"


def test_the_title_names_what_the_monitor_found_in_plain_text() -> None:
    assert pr.title("credit-risk", drift_only()) == "Retrain credit-risk: drift in Income"
    both = pr.title("credit-risk", monitor_result("result"))
    assert both == "Retrain credit-risk: drift in Income and degraded performance"


def test_decision_json_and_a_body_only_when_there_is_one(tmp_path: Path) -> None:
    decision = decisions.decide(drift_only(), [], TRIGGERS, AS_OF, "main")
    decisions.write(tmp_path, decision, "body")
    assert (tmp_path / "body.md").read_text() == "body"

    written = decisions.write(tmp_path, decisions.not_retrained(decision, "too few rows"), None)

    assert not (tmp_path / "body.md").exists()
    on_disk = json.loads((tmp_path / "decision.json").read_text())
    assert on_disk == {**on_disk, "action": "none", "branch": BRANCH, "body": None}
    assert on_disk["reason"].endswith("; not retrained: too few rows")
    assert set(on_disk) >= {"action", "branch", "title", "reason"} and written.body is None


# --- the body ------------------------------------------------------------------------------------


def snapshot_counts(**changes: Any) -> pr.Snapshot:
    values: dict[str, Any] = dict(
        raw_path="data/raw/credit_data.csv", policy="append", window_months=12,
        maturity_days=90, logged=2000, labelled=1200, matured=900,
        quarantined={"Age: min: 18": 3, "Income: min: 0; Home: categories": 1}, held_out=225,
        trainable=671, added=660, already_present=11, outside_window=0, current_rows=4454,
        next_rows=5114, old_md5="ead255f904301a8be2b678fc2d400dc7",
        new_md5="0123456789abcdef0123456789abcdef",
        months=[("2026-06", 300, 0), ("2026-07", 371, 0), ("2026-08", 0, 225)],
        held_out_span=("2026-08-01", "2026-08-31"),
    )  # fmt: skip
    return pr.Snapshot(**{**values, **changes})


def oot_result(status: str = "pass") -> dict[str, Any]:
    return {
        "gate": "champion",
        "status": status,
        "notes": ["base: production", "out-of-time test: 225 matured production rows"],
        "conditions": [
            {"name": "ROC-AUC difference (paired bootstrap)", "status": status,
             "value": {"delta": 0.021, "ci_low": -0.004, "ci_high": 0.046, "confidence": 0.95},
             "threshold": "upper bound >= -0.01", "message": "ΔROC-AUC +0.0210"},
            {"name": "brier vs champion", "status": "pass",
             "value": {"challenger": 0.15, "champion": 0.16, "delta": -0.01},
             "threshold": "worse by at most 0.1 (relative)", "message": "within tolerance"},
        ],
    }  # fmt: skip


def evidence(**changes: Any) -> pr.Evidence:
    values: dict[str, Any] = dict(
        model="credit-risk", branch=BRANCH, base="main",
        production="7a6d7ca1236cbda8ddde6d55ab4d6f6fd9c05185", as_of="2026-12-01",
        monitor=monitor_result("result"), snapshot=snapshot_counts(),
        gates=report_data.gates()["gates"], oot=oot_result(),
        pr_report=render_pr_report(report_data.inputs()),
    )  # fmt: skip
    return pr.Evidence(**{**values, **changes})


def test_the_body_reads_in_the_reviewer_s_order() -> None:
    body = pr.render(evidence())
    lines = body.splitlines()

    assert lines[0] == pr.MARKER
    assert lines[2] == "# Retrain credit-risk: drift in Income and degraded performance"
    assert lines[4] == "> [!IMPORTANT]"
    assert "**A human must review and merge this pull request.**" in lines[5]
    assert [h for h in headings(body) if h.startswith(("# ", "## "))] == [
        "# Retrain credit-risk: drift in Income and degraded performance",
        "## Monitoring: credit-risk",
        "## The new training snapshot",
        "## Out-of-time comparison: production against retrained",
        "## The PR report, against production (`7a6d7ca1236c`)",
    ]
    assert body.count(pr.MARKER) == 1
    assert f"first seen 2026-12-01 (episode `drift-2026-12-01`, branch `{BRANCH}`)" in body
    assert "<!-- modelgate:monitor-report -->" not in body
    assert "<!-- modelgate:pr-report -->" not in body


def test_github_keeps_every_table_details_block_alert_and_whole_chart() -> None:
    body = pr.render(evidence())
    page = to_html(body)

    assert page.count("<table>") == body.count("\n| --- |") >= 8
    assert "| ---" not in page
    assert page.count("<details>") == page.count("</details>") == body.count("<details>") >= 3
    charts = FENCE.findall(body)
    assert len(charts) >= 3 and [html.unescape(c) for c in PRE.findall(page)] == charts
    assert all(c.splitlines()[1] == "xychart-beta" for c in charts)
    assert 'x-axis "Decision month" ["2026-06", "2026-07", "2026-08"]' in body
    assert '    bar "held out" [0, 0, 225]' in body
    assert "[!IMPORTANT]" in page  # GitHub turns the alert's marker into its box


def test_the_snapshot_says_policy_rows_quarantine_and_hashes() -> None:
    text = pr.snapshot_section(snapshot_counts())

    assert "Policy `append`" in text
    assert "`ead255f904301a8be2b678fc2d400dc7` → `0123456789abcdef0123456789abcdef`" in text
    assert "| **added to the snapshot** | **660** |" in text
    assert "| quarantined: break the data contract | 4 |" in text
    assert "| `Age: min: 18` | 3 |" in text
    assert "| held out: the out-of-time test (decided 2026-08-01 to 2026-08-31) | 225 |" in text
    assert "| current snapshot → next snapshot | 4,454 → 5,114 |" in text
    clean = pr.snapshot_section(snapshot_counts(quarantined={}, policy="window"))
    assert "none quarantined" in clean and "older than the 12-month window" in clean


def test_the_out_of_time_comparison_says_how_many_rows_and_the_interval() -> None:
    text = pr.oot_section(evidence())

    assert "**225 most recent matured production rows**, decided 2026-08-01 to 2026-08-31" in text
    assert "+0.0210, 95% paired bootstrap interval [-0.0040, +0.0460]" in text
    assert "**no significant change**" in text
    assert "| brier vs champion | pass | 0.16 | 0.15 | -0.01 | within tolerance |" in text
    assert "base: production" not in text  # the intro says so


def test_a_failed_gate_is_shown_as_the_verdict_not_hidden() -> None:
    failing = report_data.gates(model_status="fail", champion_status="not run")["gates"]
    body = pr.render(evidence(gates=failing, oot=None, oot_why="the pipeline stopped"))

    assert (
        "> [!CAUTION]\n> **Gates failed**: `model` failed; `parity`, `champion` did not run."
        in body
    )
    assert "Out-of-time comparison with production: **not run**" in body
    assert "Not run: the pipeline stopped." in body


def test_a_body_past_github_s_limit_points_to_the_report_comment() -> None:
    body = pr.render(evidence(pr_report="x" * pr.MAX_BODY_CHARS))

    assert len(body) <= pr.MAX_BODY_CHARS
    assert "Too long for this body" in body and "## Out-of-time comparison" in body


def test_headings_are_demoted_outside_code_only_and_markers_dropped() -> None:
    text = "<!-- modelgate:pr-report -->\n# A\n\n```\n# not a heading\n```\n\n## B\n"
    assert pr.demote(text) == "## A\n\n```\n# not a heading\n```\n\n### B"


def test_drift_passed_says_so_and_merges_nothing() -> None:
    text = pr.drift_passed("credit-risk", BRANCH, monitor_result("healthy"))

    assert pr.MARKER not in text  # a comment, not the PR's body
    assert f"the episode of `{BRANCH}` has passed" in text
    assert "no bot does either" in text
    page = to_html(text)
    assert page.count("<details>") == page.count("</details>") == 2  # the report's own inside


# --- collecting the rows -----------------------------------------------------------------------


LATE = date(2027, 6, 1)  # every decision of `joined` has matured by then


def tiny_params() -> Params:
    real = ROOT / "params.yaml"
    retrain = {"triggers": ["drift"], "policy": "append", "window_months": 3,
               "holdout_share": 0.25, "min_holdout_rows": 10, "min_new_rows": 40,
               "min_snapshot_rows": 20}  # fmt: skip
    return Params(
        RetrainParams.model_validate(retrain),
        IngestParams.model_validate(TINY_PARAMS["ingest"]),
        load_section(real, "monitor", MonitorParams),
        load_section(real, "evaluate", EvaluateParams),
        load_section(real, "gates.champion", ChampionParams),
    )


def joined(rows: int) -> Joined:
    raw = make_tiny_frame(rows, seed=3)
    time = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(rows) * 24, unit="h")
    frame = pd.DataFrame({
        "request_id": [f"r{i}" for i in range(rows)], "row": 0, "time": time,
        "score": 0.5, "decision": "approve",
        "amount": raw["amount"].astype("float64"), "hour": raw["hour"].astype("float64"),
        "channel": raw["channel"].fillna(MISSING_CATEGORY).astype(object),
        "label": (raw["outcome"] == "fraud").astype("float64"),
        "outcome_date": time + pd.Timedelta(days=30),
    })  # fmt: skip
    frame.loc[5, "hour"] = 30.0  # breaks hour's max: quarantined
    frame.loc[6, "label"] = np.nan  # no outcome yet
    return Joined(frame, unmatched=0, duplicates=0)


def test_collect_counts_every_row_it_sets_aside() -> None:
    params = tiny_params()
    schema = FeatureSchema.from_params(params.ingest)
    new = collect(joined(200), schema, LATE, params)

    c = new.counts
    assert (c["logged"], c["labelled"], c["matured"]) == (200, 199, 199)
    assert c["quarantined"] == {"hour: max: 23": 1}
    assert c["trainable"] + c["held_out"] == 198 and c["held_out"] >= 10
    assert sum(t + h for _, t, h in c["months"]) == 198
    assert new.held_out[DECIDED_AT].min() > new.trainable[DECIDED_AT].max()
    assert c["held_out_span"][1] == f"{new.held_out[DECIDED_AT].max():%Y-%m-%d}"


def test_collect_refuses_too_few_matured_rows() -> None:
    params = tiny_params()
    with pytest.raises(SnapshotError, match=r"retrain\.min_new_rows"):
        collect(joined(30), FeatureSchema.from_params(params.ingest), LATE, params)


def test_months_are_in_order_with_both_sides() -> None:
    def rows(*days: str) -> pd.DataFrame:
        return pd.DataFrame({DECIDED_AT: pd.to_datetime(list(days), utc=True)})

    got = months(rows("2026-05-02", "2026-03-09", "2026-05-30"), rows("2026-06-01"))
    assert got == [("2026-03", 1, 0), ("2026-05", 2, 0), ("2026-06", 0, 1)]


# --- git, on real repositories -------------------------------------------------------------------

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]


def sh_git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *IDENTITY, *args], cwd=repo, check=True, capture_output=True,
                          text=True)  # fmt: skip
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on main with params.yaml, a pipeline file and a `.dvc` file, and a bare
    clone of it as `origin`."""
    work = tmp_path / "work"
    (work / "data" / "raw").mkdir(parents=True)
    (work / "params.yaml").write_bytes((ROOT / "params.yaml").read_bytes())
    io.write_bytes(work / "dvc.yaml", (
        b"stages:\n  ingest:\n    cmd: python -m x\n    deps: [data/raw/rows.csv, src/x.py]\n"
        b"    outs: [data/processed/rows.parquet, {reports/gates/contract.json: {cache: false}}]\n"
        b"    metrics: [{reports/split.json: {cache: false}}]\n"
        b"  other:\n    cmd: python -m y\n    deps: [\"${ingest.raw}\"]\n"
    ))  # fmt: skip
    (work / "data/raw/rows.csv.dvc").write_text("outs:\n- md5: abc\n  path: rows.csv\n")
    raw = io.load_yaml((ROOT / "params.yaml").read_text())["ingest"]["raw"]
    (work / f"{raw}.dvc").write_text(f"outs:\n- md5: fed\n  path: {Path(raw).name}\n")
    (work / "data/raw/other.csv.dvc").write_text("outs:\n- md5: def\n  path: other.csv\n")
    sh_git(work, "init", "--quiet", "--initial-branch=main")
    sh_git(work, "add", "--all")
    sh_git(work, "commit", "--quiet", "--message", "start")
    sh_git(tmp_path, "clone", "--quiet", "--bare", str(work), str(tmp_path / "origin.git"))
    sh_git(work, "remote", "add", "origin", str(tmp_path / "origin.git"))
    return work


def test_remote_branches_are_the_model_s_own(repo: Path) -> None:
    for name in (
        BRANCH,
        "retrain/credit-riskier/drift-2026-12-01",
        "feature/retrain/credit-risk/x",
    ):
        sh_git(repo, "push", "--quiet", "origin", f"HEAD:refs/heads/{name}")

    found = gitops.remote_branches(repo, "origin", "retrain/credit-risk/")

    assert found == {BRANCH: sh_git(repo, "rev-parse", "HEAD").strip()}


def test_push_never_replaces_a_branch_it_did_not_expect(repo: Path) -> None:
    gitops.start_branch(repo, BRANCH, "main")
    (repo / "a.txt").write_text("a")
    first = gitops.commit(repo, "a", ["a.txt"])
    gitops.push_branch(repo, "origin", BRANCH, None)
    (repo / "a.txt").write_text("a, again")
    gitops.commit(repo, "a again", ["a.txt"])
    with pytest.raises(GitOpsError, match=r"stale info|rejected"):
        gitops.push_branch(repo, "origin", BRANCH, None)  # it exists now

    gitops.start_branch(repo, BRANCH, "main")  # a rerun rebuilds on the base
    (repo / "b.txt").write_text("b")
    second = gitops.commit(repo, "b", ["b.txt"])
    with pytest.raises(GitOpsError):
        gitops.push_branch(repo, "origin", BRANCH, "0" * 40)
    gitops.push_branch(repo, "origin", BRANCH, first)

    assert gitops.remote_branches(repo, "origin", "retrain/") == {BRANCH: second}


def test_commit_takes_exactly_the_paths_given(repo: Path) -> None:
    (repo / "dvc.lock").write_text("lock")
    (repo / "stray.txt").write_text("not mine")

    made = gitops.commit(repo, "lock", ["dvc.lock", "reports/never-written.json"])

    assert made == sh_git(repo, "rev-parse", "HEAD").strip()
    assert sh_git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["dvc.lock"]
    assert gitops.commit(repo, "again", ["dvc.lock"]) is None  # nothing changed
    assert gitops.modified_files(repo) == []  # stray.txt is untracked: not a change


def test_the_raw_snapshot_and_git_kept_reports_come_from_dvc_files(repo: Path) -> None:
    raw = io.load_yaml((repo / "params.yaml").read_text())["ingest"]["raw"]  # as ${ingest.raw}
    assert sorted(gitops.tracked_inputs(repo)) == sorted(["data/raw/rows.csv", raw])
    # other.csv: no stage reads it
    assert gitops.tracked_md5(repo, "data/raw/rows.csv") == "abc"
    assert gitops.tracked_md5(repo, "data/raw/rows.csv", "main") == "abc"
    assert gitops.git_tracked_outputs(repo) == ["reports/gates/contract.json", "reports/split.json"]


# --- the command's edges -------------------------------------------------------------------------


def run_command(repo: Path, monkeypatch: pytest.MonkeyPatch, result: dict, *argv: str) -> int:
    io.write_json(repo / "reports/monitoring/monitor.json", result)
    monkeypatch.chdir(repo)
    return command.main(list(argv))


def test_no_drift_writes_none_and_removes_an_old_body(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "reports/retrain").mkdir(parents=True)
    (repo / "reports/retrain/body.md").write_text("stale")

    assert run_command(repo, monkeypatch, monitor_result("healthy")) == 0

    decision = json.loads((repo / "reports/retrain/decision.json").read_text())
    assert decision["action"] == "none" and decision["body"] is None
    assert "monitor status ok" in decision["reason"]
    assert not (repo / "reports/retrain/body.md").exists()


def test_drift_gone_with_the_branch_still_open_writes_the_comment(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sh_git(repo, "push", "--quiet", "origin", f"HEAD:refs/heads/{BRANCH}")

    assert run_command(repo, monkeypatch, monitor_result("healthy")) == 0

    decision = json.loads((repo / "reports/retrain/decision.json").read_text())
    assert (decision["action"], decision["branch"]) == ("drift-passed", BRANCH)
    assert "has passed" in (repo / "reports/retrain/body.md").read_text()


@pytest.mark.parametrize(
    ("argv", "dirty", "message"),
    [
        ([], False, "retraining needs --production, --log, --outcomes"),
        (["--production", "main", "--log", "x", "--outcomes", "y"], True, "commit or stash"),
        (["--production", "main", "--log", "x", "--outcomes", "y"], False, "no DVC remote"),
    ],
)
def test_drift_refuses_before_changing_anything(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
    argv: list[str], dirty: bool, message: str,
) -> None:  # fmt: skip
    if dirty:
        (repo / "params.yaml").write_text("edited: true\n")
    monkeypatch.setattr(gitops, "default_remote", lambda repo: None)  # no DVC in this repo

    assert run_command(repo, monkeypatch, drift_only(), *argv) == 1

    assert message in capfd.readouterr().err
    assert not (repo / "reports/retrain/decision.json").exists()
    assert sh_git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"
    assert gitops.remote_branches(repo, "origin", "retrain/") == {}


def test_the_command_is_registered() -> None:
    from modelgate.__main__ import COMMANDS

    assert COMMANDS["retrain-pr"][0] == "modelgate.retrain.__main__"


def test_a_regressor_is_refused_by_name_not_retrained(repo: Path) -> None:
    params = io.load_yaml((repo / "params.yaml").read_text())
    params["ingest"] = demand_params()["ingest"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    sh_git(repo, "commit", "--quiet", "--all", "--message", "a demand model")

    with pytest.raises(RetrainError, match=r"ingest\.task is 'regression'; .* binary-only"):
        load_params(repo, "main")
