"""monitor.yml, which cannot run here, held to the commands it calls and to issue 11's rules:
least privilege, pinned actions, each secret in the steps that need it and no write credential
near the pipeline, App tokens of one permission each, and the flags, make variables, paths and
decision.json fields the jobs pass being the ones modelgate.ci.retrain_pr, the Makefile,
modelgate monitor and modelgate.retrain define."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelgate.ci import retrain_pr
from modelgate.monitor import __main__ as monitor_main
from modelgate.monitor.status import EXIT_CODES
from modelgate.retrain import __main__ as retrain_main
from modelgate.retrain import decision as retrain
from tests.conftest import ROOT
from tests.unit.test_ci_retrain_pr import assert_only_these, loopback

WORKFLOWS = ROOT / ".github" / "workflows"
TEXT = (WORKFLOWS / "monitor.yml").read_text()
WORKFLOW: dict[Any, Any] = yaml.safe_load(TEXT)
JOBS: dict[str, dict[str, Any]] = WORKFLOW["jobs"]
APP_TOKEN = "actions/create-github-app-token"


def _steps(job: str) -> list[dict[str, Any]]:
    return list(JOBS[job]["steps"])


def _step(job: str, name_starts: str) -> dict[str, Any]:
    (step,) = [s for s in _steps(job) if str(s.get("name", "")).startswith(name_starts)]
    return step


def _by_id(job: str, step_id: str) -> dict[str, Any]:
    (step,) = [s for s in _steps(job) if s.get("id") == step_id]
    return step


def _words(step: dict[str, Any]) -> list[list[str]]:
    """Each shell command line of a step, continuations joined, split as bash would; a line
    inside a multi-line quote (the verdict's `python -c`) is no command of its own."""
    script = step.get("run", "").replace("\\\n", " ")
    commands = []
    for line in filter(str.strip, script.splitlines()):
        try:
            commands.append(shlex.split(line, comments=True))
        except ValueError:
            continue
    return commands


def _command(step: dict[str, Any], first: str) -> list[str]:
    (command,) = [c for c in _words(step) if c[:1] == [first] or c[:3] == ["python3", "-m", first]]
    return command


def _make_vars(command: list[str]) -> dict[str, str]:
    return dict(w.split("=", 1) for w in command[2:] if re.fullmatch(r"[A-Z_]+=.*", w))


def test_it_runs_daily_and_by_hand_on_main_only() -> None:
    triggers = WORKFLOW[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    (cron,) = [entry["cron"] for entry in triggers["schedule"]]
    minute, hour, *days = cron.split()
    assert minute.isdigit() and hour.isdigit() and days == ["*", "*", "*"]
    assert JOBS["monitor"]["if"] == "github.ref == 'refs/heads/main'"
    assert WORKFLOW["concurrency"]["cancel-in-progress"] is False


def test_no_token_of_the_workflow_can_write() -> None:
    assert WORKFLOW["permissions"] == {"contents": "read"}
    assert {name: job["permissions"] for name, job in JOBS.items()} == {
        "monitor": {"contents": "read"},
        "retrain": {"contents": "read"},
        "verdict": {},
    }


def test_actions_are_pinned_by_sha_as_elsewhere_in_the_repository() -> None:
    """The same SHA and version comment as the other workflows use; the App token action is
    v2.2.2 (node20, as checkout v4 is; v3 moved to node24 and deprecated `app-id`)."""
    pins = re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@(\S+)(.*)", TEXT)
    others = {
        action: (sha, note.strip())
        for path in WORKFLOWS.glob("*.yml")
        if path.name != "monitor.yml"
        for action, sha, note in re.findall(
            r"uses:\s*([\w.-]+/[\w.-]+)@(\S+)(.*)", path.read_text()
        )
    }
    assert pins
    for action, sha, note in pins:
        assert re.fullmatch(r"[0-9a-f]{40}", sha) and re.fullmatch(r"\s*# v\d+(\.\d+)*", note)
        expected = others.get(action) or {
            APP_TOKEN: ("fee1f7d63c2ff003460e3d139729b119787bc349", "# v2.2.2")
        }.get(action)
        assert (sha, note.strip()) == expected, action
    checkouts = [s for j in JOBS for s in _steps(j) if "actions/checkout@" in s.get("uses", "")]
    assert len(checkouts) == 2
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert "actions/cache@" not in TEXT  # the retrain job publishes


def test_no_expression_reaches_a_shell() -> None:
    for job in JOBS:
        for step in _steps(job):
            assert "${{" not in step.get("run", ""), step.get("name")


def _secret_steps() -> dict[str, list[str]]:
    """Each secret, and the job/step names that reference it."""
    where: dict[str, list[str]] = {}
    for name, job in JOBS.items():
        rest = {k: v for k, v in job.items() if k != "steps"}
        assert "secrets." not in str(rest), name
        for step in job["steps"]:
            for secret in re.findall(r"secrets\.(\w+)", str(step)):
                where.setdefault(secret, []).append(f"{name}/{step.get('name', step.get('uses'))}")
    return where


def test_each_secret_reaches_only_the_steps_that_need_it() -> None:
    assert "secrets." not in str(WORKFLOW.get("env", {}))
    read = [
        "monitor/Fetch the served revision's model and reference (read-only key)",
        "monitor/Judge the window (log and outcomes from the team's bucket, read-only key)",
        "retrain/Retrain on the matured outcomes, on the episode's branch (no push)",
    ]
    app = [
        "retrain/Make an App token that can push (contents, nothing else)",
        "retrain/Make an App token for the pull request (pull requests, nothing else)",
    ]
    dvc_push = [
        "retrain/Push the new snapshot and outputs to the DVC remote (write key, this step only)"
    ]
    assert _secret_steps() == {
        "MONITOR_AWS_ACCESS_KEY_ID": read,
        "MONITOR_AWS_SECRET_ACCESS_KEY": read,
        "RETRAIN_DVC_AWS_ACCESS_KEY_ID": dvc_push,
        "RETRAIN_DVC_AWS_SECRET_ACCESS_KEY": dvc_push,
        "RETRAIN_APP_PRIVATE_KEY": app,
    }
    # Secrets of environments that admit main alone (README), never dvc-remote's, which
    # every PR branch may use: the log key reads applicants' personal data.
    assert JOBS["monitor"]["environment"] == "monitoring"
    assert JOBS["retrain"]["environment"] == "retrain"
    assert "environment" not in JOBS["verdict"]
    push = _step("retrain", "Push the new snapshot")
    assert _words(push) == [[".venv/bin/dvc", "push"]]  # the write key runs nothing but this


def test_the_pipeline_runs_with_no_write_credential() -> None:
    step = _step("retrain", "Retrain on the matured outcomes")
    command = _command(step, "make")
    assert command[:2] == ["make", "retrain-pr"] and _make_vars(command)["NO_PUSH"] == "1"
    tokens = re.findall(r"\$\{\{\s*([^}]*?)\s*\}\}", str(step["env"]))
    assert [t for t in tokens if "token" in t] == ["github.token"]  # read-only: git ls-remote
    assert [t for t in tokens if t.startswith("secrets.")] == [
        "secrets.MONITOR_AWS_ACCESS_KEY_ID",
        "secrets.MONITOR_AWS_SECRET_ACCESS_KEY",
    ]


def test_app_tokens_hold_one_permission_each_on_this_repository_and_reach_one_step() -> None:
    makers = [s for s in _steps("retrain") if s.get("uses", "").startswith(APP_TOKEN)]
    grants = {
        s["id"]: {k: v for k, v in s["with"].items() if k.startswith("permission-")} for s in makers
    }
    assert grants == {
        "push-token": {"permission-contents": "write"},
        "pr-token": {"permission-pull-requests": "write"},
    }
    for maker in makers:
        # No owner or repositories: the token is for the current repository alone.
        assert set(maker["with"]) - set(grants[maker["id"]]) == {"app-id", "private-key"}
        assert maker["with"]["app-id"] == "${{ vars.RETRAIN_APP_ID }}"
        users = [
            s for j in JOBS for s in _steps(j) if f"steps.{maker['id']}.outputs.token" in str(s)
        ]
        assert len(users) == 1
        assert users[0] is _steps("retrain")[_steps("retrain").index(maker) + 1]
    # The job's own GITHUB_TOKEN is read-only; it appears only for the ls-remote.
    assert TEXT.count("github.token") == 1


def test_the_branch_push_is_the_checked_retraining_branch_under_a_lease() -> None:
    push = _step("retrain", "Push the episode's branch")
    (git,) = [c for c in _words(push) if c[:1] == ["git"]]
    assert git[3:] == [
        "push",
        "--force-with-lease=refs/heads/$BRANCH:$expected",
        "origin",
        "$COMMIT:refs/heads/$BRANCH",
    ]
    decision = _by_id("retrain", "decision")["run"]
    root = re.escape(retrain.BRANCH_ROOT)
    assert decision.count(f'[[ "$branch" =~ ^{root}/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$') == 2


def test_the_pr_command_uses_retrain_prs_own_flags() -> None:
    step = _step("retrain", "Open or update the pull request")
    assert set(step["env"]) == {"GITHUB_TOKEN", "BOT_LOGIN", "ACTION", "BRANCH", "PYTHONPATH"}
    assert step["env"]["PYTHONPATH"] == "src"
    assert step["env"]["BOT_LOGIN"] == "${{ steps.pr-token.outputs.app-slug }}[bot]"
    command = _command(step, "modelgate.ci.retrain_pr")
    assert command[:3] == ["python3", "-m", "modelgate.ci.retrain_pr"]
    argv = [w for w in command[3:] if w != "${flags[@]}"]
    for extra in ([], ["--drift-passed"]):
        args = retrain_pr._parser().parse_args([*argv, *extra])
        assert args.repo == "$GITHUB_REPOSITORY" and args.branch == "$BRANCH"
        assert args.drift_passed is bool(extra)
    assert '[[ "$ACTION" == drift-passed ]]; then flags+=(--drift-passed)' in step["run"]
    # What retrain-pr starts from and writes: its base, its out directory's body.
    defaults = retrain_main._parser().parse_args([])
    assert args.base == defaults.base == "main"
    assert str(args.body_file) == str(defaults.out / "body.md")


def test_decision_json_is_read_as_modelgate_retrain_writes_it() -> None:
    steps = [_by_id("retrain", "decision"), _step("retrain", "Open or update the pull request")]
    filters = [f for s in steps for f in re.findall(r"jq -r ('[^']*'|\S+)", s["run"])]
    read = {field for f in filters for field in re.findall(r"\.(\w+)", f)}
    assert read == {"action", "branch", "commit", "title", "reason"}
    assert read <= set(retrain.Decision.__dataclass_fields__)
    out = retrain_main._parser().parse_args([]).out
    assert f"file={out}/{retrain.DECISION_FILE}" in steps[0]["run"]
    assert f"{out}/{retrain.DECISION_FILE})" in steps[1]["run"]
    assert f"--body-file {out}/{retrain.BODY_FILE}" in steps[1]["run"]
    case = re.findall(r"^\s+([a-z|-]+)\)", steps[0]["run"], re.MULTILINE)
    assert sorted(a for arm in case for a in arm.split("|")) == sorted(retrain.ACTIONS)
    conditions = " ".join(str(s.get("if", "")) for s in _steps("retrain"))
    assert set(re.findall(r"action [!=]= '([a-z-]+)'", conditions)) == {
        retrain.OPEN, retrain.UPDATE, retrain.NONE,
    }  # fmt: skip


def test_the_retrain_job_runs_on_every_verdict_that_can_trigger_one() -> None:
    """It runs on a non-zero exit code (or an open episode): every verdict that
    retrain.triggers can name has one; a healthy or too-small window has none."""
    assert JOBS["retrain"]["needs"] == "monitor"
    assert JOBS["retrain"]["if"] == (
        "needs.monitor.outputs.exit_code != '0' || needs.monitor.outputs.episode != ''"
    )
    assert all(EXIT_CODES[status] != 0 for status in retrain.MATERIAL)
    assert {s for s, code in EXIT_CODES.items() if code == 0} == {"ok", "insufficient"}
    episode = _by_id("monitor", "episode")["run"]
    assert f'"refs/remotes/origin/{retrain.BRANCH_ROOT}/$NAME/"' in episode
    verdict = _by_id("monitor", "verdict")["run"]
    assert "from modelgate.monitor.status import EXIT_CODES" in verdict


def test_the_monitor_reads_and_writes_where_the_next_steps_look() -> None:
    monitor_out = monitor_main._parser().parse_args(["--log", "x"]).out
    upload = [s for s in _steps("monitor") if "upload-artifact" in s.get("uses", "")]
    assert [s["with"]["path"] for s in upload] == [f"{monitor_out}/"]
    download = _step("retrain", "Download the monitor's verdict")
    assert download["with"] == {"name": upload[0]["with"]["name"], "path": str(monitor_out)}
    assert retrain_main._parser().parse_args([]).monitor == monitor_out / "monitor.json"
    assert f'cat {monitor_out}/monitor.md >> "$GITHUB_STEP_SUMMARY"' in TEXT
    fetch = _step("monitor", "Fetch the served revision's model")
    model, reference = monitor_main._parser().parse_args(["--log", "x"]).model, None
    reference = monitor_main._parser().parse_args(["--log", "x"]).reference
    assert f"for path in {model} {reference}; do" in fetch["run"]


MAKEFILE = (ROOT / "Makefile").read_text()


def _recipe(target: str) -> str:
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)*)", MAKEFILE, re.MULTILINE)
    assert match, f"the Makefile has no target {target}"
    return match.group(1)


@pytest.mark.parametrize(
    "target",
    [
        "registry-env",
        "env",
        "monitor",
        "retrain-pr",
        "prod-revision",
    ],
)
def test_every_make_target_it_runs_exists_with_the_variables_it_passes(target: str) -> None:
    recipe = _recipe(target)
    commands = [c for j in JOBS for s in _steps(j) for c in _words(s) if "make" in c[:1]]
    passed = [c for c in commands if target in c[1:3]]
    assert passed, target
    for command in passed:
        for variable in _make_vars(command):
            assert f"$({variable})" in recipe, (target, variable)


# --- the steps' own scripts, run as GitHub runs them -----------------------------------------

BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]  # GitHub's `shell: bash`
BRANCH = "retrain/credit-risk/drift-2026-12-02"
HEAD = "7c3e9a1f5b2d4e6f8091a2b3c4d5e6f708192a3b"


def _run(step: dict[str, Any], cwd: Path, **env: str) -> tuple[int, dict[str, str], str]:
    """A step's `run` in `cwd` with `env`: its exit code, its outputs and its log."""
    files = {"GITHUB_OUTPUT": cwd / "output.txt", "GITHUB_STEP_SUMMARY": cwd / "summary.md"}
    for path in files.values():
        path.write_text("")
    environment = {"PATH": os.environ["PATH"], "HOME": str(cwd), **env}
    done = subprocess.run(
        [*BASH, step["run"]], cwd=cwd, env={**environment, **{k: str(v) for k, v in files.items()}},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    lines = files["GITHUB_OUTPUT"].read_text().splitlines()
    return done.returncode, dict(line.split("=", 1) for line in lines), done.stdout + done.stderr


def _decide(tmp_path: Path, **fields: Any) -> dict[str, Any]:
    """decision.json and body.md as modelgate.retrain writes them."""
    decision = retrain.Decision(**{
        "action": retrain.OPEN, "branch": BRANCH, "title": "Retrain credit-risk: drift in Income",
        "reason": "monitor status drift: Income drifted", "model": "credit-risk",
        "status": "drift", "base": "main", "commit": HEAD, "body": "reports/retrain/body.md",
        **fields,
    })  # fmt: skip
    out = tmp_path / retrain_main._parser().parse_args([]).out
    out.mkdir(parents=True, exist_ok=True)
    (out / retrain.DECISION_FILE).write_text(json.dumps(dataclasses.asdict(decision)))
    (out / retrain.BODY_FILE).write_text("# Retrain credit-risk\n\nIncome drifted.\n")
    return dataclasses.asdict(decision)


needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="jq is on GitHub's runners")


@needs_jq
@pytest.mark.parametrize(
    ("action", "scenario", "expected"),
    [
        (retrain.OPEN, "create", [("GET", "/pulls"), ("POST", "/pulls")]),
        (retrain.UPDATE, "update", [("GET", "/pulls"), ("PATCH", "/pulls/21")]),
        (retrain.DRIFT_PASSED, "drift-passed",
         [("GET", "/pulls"), ("GET", "/issues/21/comments"), ("POST", "/issues/21/comments")]),
    ],
)  # fmt: skip
def test_the_decision_and_pr_steps_pass_retrain_prs_decision_to_the_api(
    action: str, scenario: str, expected: list[tuple[str, str]], tmp_path: Path
) -> None:
    decision = _decide(tmp_path, action=action, commit=None if action == "drift-passed" else HEAD)
    code, outputs, log = _run(_by_id("retrain", "decision"), tmp_path)
    assert code == 0, log
    assert outputs == {"action": action, "branch": BRANCH, "commit": decision["commit"] or ""}
    assert f"### Retraining: {action}" in (tmp_path / "summary.md").read_text()
    step = _step("retrain", "Open or update the pull request")
    data = json.loads((ROOT / f"tests/testdata/github/retrain-{scenario}.json").read_text())
    with loopback(data["api"]) as (base, recorded):
        code, _, log = _run(
            step, tmp_path, GITHUB_TOKEN="t0ken", GITHUB_API_URL=base, ACTION=outputs["action"],
            BRANCH=outputs["branch"], BOT_LOGIN=data["bot"], GITHUB_REPOSITORY=data["repo"],
            PYTHONPATH=str(ROOT / "src"),
        )  # fmt: skip
    assert code == 0, log
    assert_only_these(recorded, [(m, f"/repos/{data['repo']}{p}") for m, p in expected])
    if action == retrain.OPEN:
        (_, _, _, payload) = recorded.requests[-1]
        assert (payload["title"], payload["head"]) == (decision["title"], BRANCH)


@needs_jq
@pytest.mark.parametrize(
    "fields",
    [
        {"action": "merge"},
        {"action": retrain.OPEN, "branch": "main"},
        {"action": retrain.UPDATE, "branch": "retrain/credit-risk/x; gh pr merge"},
        {"action": retrain.OPEN, "commit": None},
        {"action": retrain.DRIFT_PASSED, "branch": None},
    ],
)
def test_a_decision_the_steps_cannot_trust_stops_the_job(
    fields: dict[str, Any], tmp_path: Path
) -> None:
    _decide(tmp_path, **fields)
    code, outputs, log = _run(_by_id("retrain", "decision"), tmp_path)
    assert code == 1 and outputs == {} and "::error::" in log


@needs_jq
def test_nothing_to_do_reaches_no_push_and_no_api(tmp_path: Path) -> None:
    _decide(tmp_path, action=retrain.NONE, branch=None, commit=None, body=None)
    code, outputs, _ = _run(_by_id("retrain", "decision"), tmp_path)
    assert code == 0 and outputs["action"] == retrain.NONE
    after = _steps("retrain")[_steps("retrain").index(_by_id("retrain", "decision")) + 1 :]
    for step in after[:-1]:  # all but the upload: none runs on `none`
        assert "steps.decision.outputs.action" in step["if"], step["name"]
        assert "'none'" in step["if"] or "'open'" in step["if"], step["name"]


def _git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _commit(repo: Path, text: str) -> str:
    (repo / "f.txt").write_text(text)
    _git(repo, "add", "f.txt")
    _git(repo, "commit", "-q", "-m", text)
    return _git(repo, "rev-parse", "HEAD")


def test_the_branch_push_creates_replaces_under_a_lease_and_the_episode_is_found(
    tmp_path: Path,
) -> None:
    """Real git against a bare origin: the push step creates the branch, refuses to replace
    one that moved since the job fetched, and replaces it once fetched; the monitor job's
    episode step then finds it."""
    origin, job, other = tmp_path / "origin.git", tmp_path / "job", tmp_path / "other"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    for clone in (job, other):
        _git(tmp_path, "clone", "-q", str(origin), str(clone))
    _git(job, "checkout", "-q", "-b", "main")
    _commit(job, "main")
    _git(job, "push", "-q", "origin", "main")
    push = _step("retrain", "Push the episode's branch")
    env = {"PUSH_TOKEN": "t0ken", "BRANCH": BRANCH, "GITHUB_SERVER_URL": "https://github.com"}
    first = _commit(job, "episode")
    assert _run(push, job, **env, COMMIT=first)[0] == 0
    assert _git(origin, "rev-parse", BRANCH) == first
    # A person pushes to the branch meanwhile; this job's fetch does not know it.
    _git(other, "fetch", "-q")
    _git(other, "checkout", "-q", BRANCH)
    theirs = _commit(other, "a person's fix")
    _git(other, "push", "-q", "origin", BRANCH)
    _git(job, "checkout", "-q", "main")
    rebuilt = _commit(job, "rebuilt on main")
    code, _, log = _run(push, job, **env, COMMIT=rebuilt)
    assert code != 0 and "stale info" in log
    assert _git(origin, "rev-parse", BRANCH) == theirs
    _git(job, "fetch", "-q")  # a later run starts from what is there
    assert _run(push, job, **env, COMMIT=rebuilt)[0] == 0
    assert _git(origin, "rev-parse", BRANCH) == rebuilt
    episode = _by_id("monitor", "episode")
    assert _run(episode, job, NAME="credit-risk")[1] == {"branch": BRANCH}
    assert _run(episode, job, NAME="other-model")[1] == {"branch": ""}
