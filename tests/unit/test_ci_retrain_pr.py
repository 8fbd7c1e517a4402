"""modelgate.ci.retrain_pr against recorded GitHub payloads (tests/testdata/github/retrain-*):
one PR per episode (created, or its title and body replaced; several is an error), the
drift-passed note said once per head commit, and no write but those, ever: a loopback server
sees every request the real command makes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from modelgate.ci import github, retrain_pr, sanitize
from modelgate.ci.github import Client, GitHubError
from tests.unit.test_ci_comment import HOSTILE_REPORT, LOCAL, FakeOpener, Recorded, _Handler
from tests.unit.test_ci_imports import _imports

DATA = Path(__file__).parents[1] / "testdata" / "github"
ROOT = Path(__file__).parents[2]
API = "https://api.github.com"
REPO = "acme/modelgate"
BRANCH = "retrain/credit-risk/drift-2026-12-02"
BOT = "modelgate-retrain[bot]"
SHA = "7c3e9a1f5b2d4e6f8091a2b3c4d5e6f708192a3b"
BODY = "# Retrain credit-risk\n\nIncome drifted: Wasserstein 0.31 SD.\n"


def scenario(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"retrain-{name}.json").read_text())


def request(body: str = BODY, title: str = "Retrain credit-risk: drift in Income") -> Any:
    return retrain_pr.Request(REPO, BRANCH, "main", title, body, BOT)


def run(name: str, drift_passed: bool = False, data: dict[str, Any] | None = None, **kw: Any):
    fake = FakeOpener((data or scenario(name))["api"])
    act = retrain_pr.drift_passed if drift_passed else retrain_pr.open_or_update
    return fake, act(Client(API, "t0ken", fake), request(**kw))


def calls(fake: Recorded) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _, _ in fake.requests]


def sent(fake: Recorded) -> dict[str, Any]:
    (payload,) = [body for method, _, _, body in fake.requests if method != "GET"]
    return dict(payload)


def test_no_open_pr_creates_one_ready_for_review() -> None:
    fake, done = run("create")
    assert calls(fake) == [("GET", f"/repos/{REPO}/pulls"), ("POST", f"/repos/{REPO}/pulls")]
    assert fake.requests[0][2] == {"state": "open", "head": f"acme:{BRANCH}", "per_page": "100"}
    payload = sent(fake)
    assert set(payload) == {"title", "body", "head", "base", "maintainer_can_modify", "draft"}
    assert payload["head"] == BRANCH and payload["base"] == "main"
    assert payload["maintainer_can_modify"] is False and payload["draft"] is False
    assert payload["title"] == "Retrain credit-risk: drift in Income"
    assert payload["body"] == f"{retrain_pr.BODY_MARK}\n{BODY}"
    assert done == f"opened PR #21 from {BRANCH}: https://github.com/{REPO}/pull/21"


def test_the_open_pr_gets_its_title_and_body_replaced_and_nothing_else() -> None:
    fake, done = run("update", title="Retrain credit-risk:\n drift and degradation")
    assert calls(fake) == [("GET", f"/repos/{REPO}/pulls"), ("PATCH", f"/repos/{REPO}/pulls/21")]
    payload = sent(fake)
    assert set(payload) == {"title", "body"}  # never state, base or anything that merges
    assert payload["title"] == "Retrain credit-risk: drift and degradation"
    assert done == f"updated PR #21 from {BRANCH}"


def test_several_open_prs_are_an_error_and_nothing_is_written() -> None:
    for drift_passed in (False, True):
        with pytest.raises(retrain_pr.RefusedError, match=r"several open PRs .* \(#21, #22\)"):
            run("several", drift_passed)


def test_a_pr_a_person_opened_from_the_branch_is_not_rewritten() -> None:
    data = scenario("update")
    data["api"][0]["body"][0]["user"] = {"login": "dana", "id": 501, "type": "User"}
    fake = FakeOpener(data["api"])
    with pytest.raises(retrain_pr.RefusedError, match="opened by dana"):
        retrain_pr.open_or_update(Client(API, "t", fake), request())
    assert fake.writes() == []


def test_a_fork_pr_with_the_same_branch_name_is_not_the_episodes() -> None:
    data = scenario("create")
    fork = scenario("update")["api"][0]["body"][0]
    fork["head"]["repo"] = {**fork["head"]["repo"], "full_name": "forker/modelgate"}
    data["api"][0]["body"] = [fork]
    fake, _ = run("create", data=data)
    assert fake.writes() == [("POST", f"/repos/{REPO}/pulls")]


def test_drift_passed_comments_once_on_the_open_pr() -> None:
    fake, done = run("drift-passed", drift_passed=True)
    assert calls(fake) == [
        ("GET", f"/repos/{REPO}/pulls"),
        ("GET", f"/repos/{REPO}/issues/21/comments"),
        ("POST", f"/repos/{REPO}/issues/21/comments"),
    ]
    (body,) = sent(fake).values()
    assert body.startswith(retrain_pr.PASSED_MARK.format(sha=SHA) + "\n**The drift has passed**")
    assert BODY in body
    assert done == "told PR #21 that the drift has passed"


def test_drift_passed_without_an_open_pr_opens_none() -> None:
    fake, done = run("drift-passed-no-pr", drift_passed=True)
    assert calls(fake) == [("GET", f"/repos/{REPO}/pulls")]
    assert done.endswith("no PR from retrain/credit-risk/drift-2026-12-02 is open: nothing to say")


def test_what_the_bot_already_said_is_not_said_again() -> None:
    fake, done = run("already-said", drift_passed=True)
    assert fake.writes() == []
    assert done == "PR #21 was already told the drift has passed (at 7c3e9a1f5b)"


def test_after_a_new_commit_the_drift_passing_is_said_again() -> None:
    """The episode came back and the branch was rebuilt: the old note is about another head."""
    data = scenario("already-said")
    data["api"][0]["body"][0]["head"]["sha"] = "e41b7d09c3a25f68d1e0b9a7c6f5e4d3c2b1a098"
    data["api"].append(scenario("drift-passed")["api"][2])
    fake, _ = run("already-said", drift_passed=True, data=data)
    assert fake.writes() == [("POST", f"/repos/{REPO}/issues/21/comments")]


@pytest.mark.parametrize(
    ("bodies", "said"),
    [
        ([], False),
        ([("bot", "mark")], True),
        ([("bot", "mark"), ("bot", "other")], False),  # the bot spoke since: not its last word
        ([("bot", "mark"), ("person", "other")], True),
        ([("person", "mark")], False),  # a person's copy of the watermark
        ([("other-bot", "mark")], False),  # another bot's, e.g. the PR pipeline's
    ],
)
def test_only_the_bots_own_last_comment_counts(bodies: list[tuple[str, str]], said: bool) -> None:
    users = {
        "bot": {"login": BOT, "type": "Bot"},
        "person": {"login": BOT, "type": "User"},  # a user cannot be a Bot, even by name
        "other-bot": {"login": "github-actions[bot]", "type": "Bot"},
    }
    mark = retrain_pr.PASSED_MARK.format(sha=SHA) + "\ntext"
    comments = [{"user": users[u], "body": mark if b == "mark" else "hi"} for u, b in bodies]
    assert retrain_pr.already_said(comments, BOT, SHA) is said


def test_a_malformed_head_sha_is_an_error() -> None:
    data = scenario("drift-passed")
    data["api"][0]["body"][0]["head"]["sha"] = "-->"
    with pytest.raises(GitHubError, match="is not a commit"):
        run("drift-passed", drift_passed=True, data=data)


def test_the_body_is_sanitized_and_capped_at_githubs_limit() -> None:
    body = retrain_pr.pr_body(HOSTILE_REPORT + retrain_pr.BODY_MARK + "\n" + "x" * 100 + "\n")
    assert body.count(retrain_pr.BODY_MARK) == 1 and body.startswith(retrain_pr.BODY_MARK)
    assert not [local for local in LOCAL if local in body], body
    assert "[the docs](https://docs.github.com/en/rest)" in body
    long = retrain_pr.pr_body("| a | b |\n" * 20_000)
    assert len(long) <= sanitize.LIMIT and long.endswith(retrain_pr.TRUNCATED)


def test_titles_are_one_line_within_githubs_limit() -> None:
    assert retrain_pr.pr_title("a\n b\tc ") == "a b c"
    assert len(retrain_pr.pr_title("t" * 1000)) == retrain_pr.TITLE_LIMIT
    with pytest.raises(retrain_pr.RefusedError, match="empty"):
        retrain_pr.pr_title(" \n ")


@pytest.mark.parametrize(
    ("field", "value"),
    [("repo", "acme"), ("branch", "-x"), ("branch", "a..b"), ("base", "main branch")],
)
def test_malformed_names_are_refused(field: str, value: str) -> None:
    fields = {"repo": REPO, "branch": BRANCH, "base": "main"} | {field: value}
    with pytest.raises(retrain_pr.RefusedError):
        retrain_pr.Request(fields["repo"], fields["branch"], fields["base"], "t", "b", BOT)


# --- main ----------------------------------------------------------------------------------


def _argv(tmp_path: Path, *extra: str) -> list[str]:
    (tmp_path / "body.md").write_text(BODY)
    return [
        "--repo", REPO, "--branch", BRANCH, "--base", "main", "--title", "Retrain credit-risk",
        "--body-file", str(tmp_path / "body.md"), "--bot-login", BOT, *extra,
    ]  # fmt: skip


def _main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, *extra: str) -> Any:
    fake = FakeOpener(scenario(name)["api"])
    monkeypatch.setattr(github, "default_opener", lambda: fake)
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    monkeypatch.setenv("GITHUB_API_URL", API)
    return retrain_pr.main(_argv(tmp_path, *extra)), fake


def test_main_tells_the_pr_with_drift_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rc, fake = _main(tmp_path, monkeypatch, "drift-passed", "--drift-passed")
    assert rc == 0 and fake.writes() == [("POST", f"/repos/{REPO}/issues/21/comments")]
    assert "told PR #21 that the drift has passed" in caplog.text


def test_main_exits_1_on_several_prs_and_on_an_api_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rc, fake = _main(tmp_path, monkeypatch, "several")
    assert rc == 1 and fake.writes() == [] and "several open PRs" in caplog.text
    data = scenario("create")
    data["api"][1]["status"] = 422  # e.g. "No commits between main and the branch"
    fake = FakeOpener(data["api"])
    monkeypatch.setattr(github, "default_opener", lambda: fake)
    assert retrain_pr.main(_argv(tmp_path)) == 1
    assert "HTTP 422" in caplog.text


def test_main_needs_a_token_and_a_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert retrain_pr.main(_argv(tmp_path)) == 1
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    argv = _argv(tmp_path)
    argv[argv.index("--body-file") + 1] = str(tmp_path / "missing.md")
    assert retrain_pr.main(argv) == 1


def test_the_agreed_flags_parse(tmp_path: Path) -> None:
    """The CLI the shared context agreed on, plus --bot-login (the App's `<slug>[bot]`)."""
    argv = [*_argv(tmp_path)[:-2], "--drift-passed"]  # without --bot-login: its default
    args = retrain_pr._parser().parse_args(argv)
    assert (args.repo, args.branch, args.base, args.drift_passed) == (REPO, BRANCH, "main", True)
    assert args.body_file == tmp_path / "body.md" and args.bot_login == retrain_pr.BOT_LOGIN


# --- stdlib only ---------------------------------------------------------------------------


def test_the_import_closure_is_the_standard_library() -> None:
    """As tests/unit/test_ci_imports.py proves for the comment job: monitor.yml runs this with
    PYTHONPATH=src and no project environment needed."""
    seen, todo = set(), ["modelgate.ci.retrain_pr"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += [m for m in _imports(module) if m.split(".")[0] == "modelgate"]
            todo += [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
    outside = {m for s in seen if s.startswith("modelgate") for m in _imports(s)}
    assert not [
        m for m in outside if m.split(".")[0] not in {*sys.stdlib_module_names, "modelgate"}
    ]
    assert sorted(m for m in seen if m.startswith("modelgate.ci.")) == [
        "modelgate.ci.github", "modelgate.ci.retrain_pr", "modelgate.ci.sanitize",
    ]  # fmt: skip


# --- the real command, against a loopback server -------------------------------------------


@contextlib.contextmanager
def loopback(api: list[dict[str, Any]]) -> Iterator[tuple[str, Recorded]]:
    """A GitHub API on 127.0.0.1 answering the recorded exchanges `api`, and its record of
    every request (tests/unit/test_monitor_workflow.py runs the workflow's steps on it too)."""
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    handler.recorded = Recorded(api, base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, handler.recorded
    finally:
        server.shutdown()
        server.server_close()


PULLS, COMMENTS = f"/repos/{REPO}/pulls", f"/repos/{REPO}/issues/21/comments"
EXACT = {
    ("create", False): (0, [("GET", PULLS), ("POST", PULLS)]),
    ("update", False): (0, [("GET", PULLS), ("PATCH", f"{PULLS}/21")]),
    ("several", False): (1, [("GET", PULLS)]),
    ("drift-passed", True): (0, [("GET", PULLS), ("GET", COMMENTS), ("POST", COMMENTS)]),
    ("drift-passed-no-pr", True): (0, [("GET", PULLS)]),
    ("already-said", True): (0, [("GET", PULLS), ("GET", COMMENTS)]),
}


@pytest.mark.parametrize(("name", "drift_passed"), list(EXACT), ids=lambda v: str(v))
def test_the_command_makes_exactly_these_requests(
    name: str, drift_passed: bool, tmp_path: Path
) -> None:
    """As monitor.yml runs it (the runner's python, no site-packages): the only requests are
    the PR lookup and the one write; never /merge, a review, auto-merge or GraphQL."""
    (tmp_path / "body.md").write_text(HOSTILE_REPORT)
    argv = _argv(tmp_path, *(["--drift-passed"] if drift_passed else []))
    argv[argv.index("--body-file") + 1] = str(tmp_path / "body.md")
    with loopback(scenario(name)["api"]) as (base, recorded):
        env = {"PYTHONPATH": str(ROOT / "src"), "GITHUB_TOKEN": "t0ken", "GITHUB_API_URL": base}
        done = subprocess.run(
            [sys.executable, "-S", "-m", "modelgate.ci.retrain_pr", *argv],
            env={**env, "PATH": os.environ.get("PATH", "")},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    code, expected = EXACT[(name, drift_passed)]
    assert done.returncode == code, done.stderr
    assert_only_these(recorded, expected)


def assert_only_these(recorded: Recorded, expected: list[tuple[str, str]]) -> None:
    requests = recorded.requests
    assert [(method, path) for method, path, _, _ in requests] == expected
    assert not [p for _, p, _, _ in requests if "merge" in p or "review" in p or "graphql" in p]
    for method, _, _, payload in requests:
        if method != "GET":
            text = json.dumps(payload)
            assert "auto_merge" not in text and "merge_method" not in text
            assert not [local for local in LOCAL if local in text], text
            assert len(payload["body"]) <= sanitize.LIMIT
