"""pr.yml and pr-comment.yml, held to what the README and issue 9 promise of them: the
comment job runs only the default branch's stdlib script with the least it needs, the PR job's
secrets reach one step, and the comment command's flags are the script's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelgate.ci import comment

WORKFLOWS = Path(__file__).parents[2] / ".github" / "workflows"
MINE = ("pr.yml", "pr-comment.yml")


def _load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((WORKFLOWS / name).read_text()))


def _steps(name: str) -> list[dict[str, Any]]:
    return [step for job in _load(name)["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", MINE)
def test_actions_are_pinned_by_full_sha_with_their_version(name: str) -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", (WORKFLOWS / name).read_text())
    assert uses
    for action, comment_text in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*# v\d+(\.\d+)*", comment_text), f"{action}: no version comment"


@pytest.mark.parametrize("name", MINE)
def test_no_expression_reaches_a_shell(name: str) -> None:
    for step in _steps(name):
        assert "${{" not in step.get("run", ""), step.get("name")


def test_the_comment_job_runs_the_default_branchs_stdlib_script_with_least_privilege() -> None:
    workflow = _load("pr-comment.yml")
    assert workflow["permissions"] in ({}, {"contents": "read"})
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {
        "actions": "read",
        "contents": "read",  # actions/checkout, in a private repository
        "pull-requests": "write",
    }
    uses = [s.get("uses", "") for s in job["steps"]]
    assert not [u for u in uses if "setup-cml" in u or "setup-python" in u]
    (checkout,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    # No ref: on workflow_run, actions/checkout takes the default branch's last commit.
    assert "ref" not in checkout["with"] and "repository" not in checkout["with"]
    assert checkout["with"]["persist-credentials"] is False
    assert job["steps"].index(checkout) == 0


def test_the_comment_command_uses_the_scripts_own_flags() -> None:
    (step,) = [s for s in _steps("pr-comment.yml") if "ci.comment" in s.get("run", "")]
    tokens = shlex.split(step["run"])
    assert tokens[:3] == ["python3", "-m", "modelgate.ci.comment"]
    assert step["env"]["PYTHONPATH"] == "src"
    assert set(step["env"]) == {"GITHUB_TOKEN", "PYTHONPATH"}
    args = comment._parser().parse_args(tokens[3:])
    assert args.repo == "$GITHUB_REPOSITORY" and args.bot_login == comment.BOT_LOGIN


def test_the_pr_jobs_secrets_reach_the_pull_step_alone() -> None:
    workflow = _load("pr.yml")
    (job,) = workflow["jobs"].values()
    assert "secrets." not in str(job.get("env", {})) and "secrets." not in str(workflow.get("env"))
    with_secrets = [s for s in job["steps"] if "secrets." in str(s)]
    assert [s["name"] for s in with_secrets] == ["Pull data and outputs from the team remote"]
    assert "make pull" in with_secrets[0]["run"]


def test_the_pr_job_reproduces_everything_and_keeps_no_pr_number() -> None:
    text = (WORKFLOWS / "pr.yml").read_text()
    runs = [s.get("run", "") for s in _steps("pr.yml")]
    assert any(r.startswith("make ci-repro") for r in runs)
    assert not [r for r in runs if re.search(r"make (repro|lock-check)\b", r)]
    assert any('make pr-report BASE="origin/$BASE_REF"' in r for r in runs)
    assert "pr-number" not in text and "PR_NUMBER" not in text
