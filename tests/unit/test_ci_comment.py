"""modelgate.ci.comment against recorded GitHub payloads (tests/testdata/github): which PR,
which comment, what body, and that nothing but the comment is ever written."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from modelgate.ci import comment, github, sanitize
from modelgate.ci.github import Client, GitHubError

DATA = Path(__file__).parents[1] / "testdata" / "github"
ROOT = Path(__file__).parents[2]
API = "https://api.github.com"
REPO = "acme/modelgate"


def scenario(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


class Recorded:
    """Serves a scenario's recorded answers and records every request it is sent."""

    def __init__(self, api: list[dict[str, Any]], base: str = API) -> None:
        self.api, self.base, self.requests = api, base, []

    def answer(self, method: str, url: str, body: bytes | None) -> tuple[int, dict, bytes]:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.requests.append((method, parts.path, query, json.loads(body) if body else None))
        for exchange in self.api:
            same_query = exchange.get("query", {}) == query or method != "GET"
            if (exchange["method"], exchange["path"]) == (method, parts.path) and same_query:
                headers = {k: v.replace(API, self.base) for k, v in exchange["headers"].items()}
                return exchange["status"], headers, json.dumps(exchange["body"]).encode()
        raise AssertionError(f"unrecorded request: {method} {url}")

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self.requests if m != "GET"]


class FakeOpener(Recorded):
    def open(self, request: urllib.request.Request, *, timeout: float) -> Any:
        assert request.full_url.startswith(API + "/")
        status, headers, body = self.answer(request.get_method(), request.full_url, request.data)
        message = Message()
        for key, value in headers.items():
            message[key] = value
        if status >= 400:
            raise urllib.error.HTTPError(
                request.full_url, status, "error", message, io.BytesIO(body)
            )
        response = urllib.request.addinfourl(io.BytesIO(body), message, request.full_url, status)
        return response


def post(name: str, report: str | None = "") -> tuple[FakeOpener, str]:
    data = scenario(name)
    fake = FakeOpener(data["api"])
    text = data.get("artifact", {}).get("report.md") if report == "" else report
    done = comment.post(Client(API, "t0ken", fake), REPO, data["event"], text, comment.BOT_LOGIN)
    return fake, done


def sent_body(fake: Recorded) -> str:
    (body,) = [b["body"] for m, _, _, b in fake.requests if m != "GET"]
    return str(body)


def test_a_normal_run_updates_the_bots_own_comment() -> None:
    fake, done = post("normal")
    assert [(m, p) for m, p, _, _ in fake.requests] == [
        ("GET", f"/repos/{REPO}/pulls"),
        ("GET", f"/repos/{REPO}/pulls/7/files"),
        ("GET", f"/repos/{REPO}/issues/7/comments"),
        ("PATCH", f"/repos/{REPO}/issues/comments/5002"),
    ]
    assert fake.requests[0][2] == {"state": "open", "head": "acme:tune-depth", "per_page": "100"}
    body = sent_body(fake)
    assert body.startswith(comment.WATERMARK + "\n")
    assert body.count(comment.WATERMARK) == 1  # the report's imitation is dropped
    assert "`3f1c9a0b7d`" in body and "concluded **success**" in body
    assert "(https://github.com/acme/modelgate/actions/runs/9876543210)" in body
    assert "[!WARNING]" not in body  # params.yaml and dvc.lock are not the pipeline's code
    assert "## PR report: gates pass" in body
    assert done == "updated comment 5002 on PR #7"


def test_a_spoofed_pr_number_in_the_artifact_is_ignored() -> None:
    data = scenario("spoofed_number")
    assert data["artifact"]["pr-number"].strip() == "1"
    fake, done = post("spoofed_number")
    assert fake.writes() == [("POST", f"/repos/{REPO}/issues/7/comments")]
    assert not [p for _, p, _, _ in fake.requests if "/1/" in p or p.endswith("/1")]
    assert done == "created the comment on PR #7"


def test_a_foreign_comment_carrying_the_watermark_is_never_touched() -> None:
    fake, _ = post("foreign_watermark")
    assert fake.writes() == [("POST", f"/repos/{REPO}/issues/7/comments")]


def test_the_bot_login_is_a_parameter() -> None:
    data = scenario("foreign_watermark")
    comments = data["api"][2]["body"]
    assert comment.own_comment(comments, "some-app[bot]")["id"] == 5202
    assert comment.own_comment(comments, "mallory") is None  # a User, not a Bot


def test_a_force_pushed_head_posts_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(comment.Skip, match="superseded"):
        post("force_pushed")


def test_a_fork_pr_is_found_through_the_api() -> None:
    data = scenario("fork")
    assert data["event"]["workflow_run"]["pull_requests"] == []
    fake, done = post("fork")
    assert fake.requests[0][2]["head"] == "forker:main"
    assert fake.writes() == [("POST", f"/repos/{REPO}/issues/12/comments")]
    body = sent_body(fake)
    assert "[!WARNING]" in body
    assert "`.github/workflows/pr.yml`, `src/modelgate/gates/model.py`" in body
    assert "params.yaml" not in body.split("---")[0]
    assert done == "created the comment on PR #12"


def test_pagination_follows_next_links_to_the_last_page() -> None:
    fake, done = post("pagination")
    pages = [(p, q.get("page")) for m, p, q, _ in fake.requests if m == "GET"]
    assert ("/repositories/123456789/issues/7/comments", "2") in pages
    assert ("/repositories/123456789/pulls/7/files", "2") in pages
    assert done == "updated comment 7002 on PR #7"
    # The rename on page 2 moved pipeline code: both of its names count.
    assert "`src/modelgate/model.py`, `src/modelgate/old_model.py`" in sent_body(fake)


def _with_pulls(pulls: list[dict[str, Any]]) -> dict[str, Any]:
    data = scenario("normal")
    data["api"][0]["body"] = pulls
    return data


@pytest.mark.parametrize(
    ("pulls", "reason"),
    [([], "no open PR has the head"), (None, "several open PRs"), ("other-repo", "no open PR")],
)
def test_no_pr_or_several_post_nothing(pulls: Any, reason: str) -> None:
    pr = scenario("normal")["api"][0]["body"][0]
    if pulls is None:
        pulls = [pr, {**pr, "number": 8}]
    elif pulls == "other-repo":  # same owner and branch, another repository: not this head
        pulls = [{**pr, "head": {**pr["head"], "repo": {"full_name": "acme/other"}}}]
    data = _with_pulls(pulls)
    fake = FakeOpener(data["api"])
    with pytest.raises(comment.Skip, match=reason):
        comment.post(Client(API, "t", fake), REPO, data["event"], "", comment.BOT_LOGIN)
    assert fake.writes() == []


def test_a_missing_report_still_comments_and_says_so() -> None:
    fake, _ = post("normal", report=None)
    assert "No report: the PR job stopped before writing one." in sent_body(fake)


def test_a_next_link_off_the_api_is_refused() -> None:
    data = scenario("pagination")
    data["api"][1]["headers"] = {"Link": '<https://evil.example/steal?page=2>; rel="next"'}
    fake = FakeOpener(data["api"])
    with pytest.raises(GitHubError, match="off the API"):
        comment.post(Client(API, "t", fake), REPO, data["event"], "", comment.BOT_LOGIN)
    assert all(p.startswith(("/repos/", "/repositories/")) for _, p, _, _ in fake.requests)


def _main(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, **edits: Any) -> Any:
    data = scenario(name)
    for index, status in edits.items():
        data["api"][int(index.removeprefix("status"))]["status"] = status
    fake = FakeOpener(data["api"])
    (tmp_path / "event.json").write_text(json.dumps(data["event"]))
    monkeypatch.setattr(github, "default_opener", lambda: fake)
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    monkeypatch.setenv("GITHUB_API_URL", API)
    argv = ["--event", str(tmp_path / "event.json"), "--report", str(tmp_path / "none.md")]
    return comment.main([*argv, "--repo", REPO]), fake


def test_main_exits_0_when_superseded_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rc, fake = _main(tmp_path, "force_pushed", monkeypatch)
    assert rc == 0 and fake.writes() == []
    assert "nothing posted: PR #7's head is now 9e8d7c6b5a" in caplog.text


def test_main_exits_1_on_an_api_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rc, fake = _main(tmp_path, "normal", monkeypatch, status0=502)
    assert rc == 1 and fake.writes() == []
    assert "HTTP 502" in caplog.text


def test_main_exits_1_on_an_event_that_is_not_workflow_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "event.json").write_text(json.dumps({"pull_request": {"number": 1}}))
    monkeypatch.setenv("GITHUB_TOKEN", "t")
    argv = ["--event", str(tmp_path / "event.json"), "--report", "x.md", "--repo", REPO]
    assert comment.main(argv) == 1


# A report the PR's own code could write: every way Markdown and HTML can point at a file.
HOSTILE_REPORT = """<!-- modelgate:pr-report -->
<!--MODELGATE:PR-COMMENT--> a watermark, as if this were the bot's comment
## PR report
- [data_integrity.html](../deepchecks/data_integrity.html)
- ![roc](reports/plots/roc.png "ROC")
- [passwd](file:///etc/passwd)
- [![badge](https://img.shields.io/badge/x-y-green)](/home/runner/work/modelgate/secrets.txt)
- <img src="/home/runner/work/modelgate/modelgate/reports/cm.png"> and <a href='./local.html'>x</a>
- <file:///tmp/evidence.html>
- [the docs](https://docs.github.com/en/rest)

[ref]: ./reports/pr/notes.html
"""
LOCAL = ("deepchecks/", "reports/", "file:", "/home/runner", "./local", "/etc/passwd", "/tmp/")


class _Handler(BaseHTTPRequestHandler):
    recorded: Recorded

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        assert self.headers["Authorization"] == "Bearer t0ken"
        status, headers, payload = self.recorded.answer(self.command, self.path, body)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve  # noqa: N815 -- http.server's names
    do_POST = _serve  # noqa: N815
    do_PATCH = _serve  # noqa: N815
    do_PUT = _serve  # noqa: N815
    do_DELETE = _serve  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def github_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _python310() -> list[str]:
    """A Python 3.10's real path, if this machine has one: ubuntu-22.04's python3 is 3.10.
    (A pyenv shim answers only for a selected version, hence PYENV_VERSION.)"""
    found = shutil.which("python3.10")
    if found is None:
        return []
    done = subprocess.run(
        [found, "-c", "import sys; print(sys.executable)"],
        env={**os.environ, "PYENV_VERSION": "3.10"},
        capture_output=True,
        text=True,
        check=False,
    )
    return [done.stdout.strip()] if done.returncode == 0 else []


PYTHONS = [sys.executable, *_python310()]


@pytest.mark.parametrize("python", PYTHONS, ids=lambda p: Path(p).name)
@pytest.mark.parametrize(("name", "number"), [("normal", 7), ("fork", 12), ("pagination", 7)])
def test_the_comment_command_cannot_upload(
    name: str,
    number: int,
    python: str,
    tmp_path: Path,
    github_server: tuple[str, type[_Handler]],
) -> None:
    """The real command, as pr-comment.yml runs it (no site-packages), against a local
    server: it reads the PR, its files and comments, and writes one comment, nothing else."""
    base, handler = github_server
    data = scenario(name)
    handler.recorded = Recorded(data["api"], base)
    (tmp_path / "event.json").write_text(json.dumps(data["event"]))
    (tmp_path / "report.md").write_text(HOSTILE_REPORT)
    env = {"PYTHONPATH": str(ROOT / "src"), "GITHUB_TOKEN": "t0ken", "GITHUB_API_URL": base}
    argv = ["--event", str(tmp_path / "event.json"), "--report", str(tmp_path / "report.md")]
    done = subprocess.run(
        [python, "-S", "-m", "modelgate.ci.comment", *argv, "--repo", REPO],
        env={**env, "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    reads = {f"/repos/{REPO}/pulls"} | {
        f"{prefix}/{kind}"
        for prefix in (f"/repos/{REPO}", "/repositories/123456789")
        for kind in (f"pulls/{number}/files", f"issues/{number}/comments")
    }
    requests = handler.recorded.requests
    assert {p for m, p, _, _ in requests if m == "GET"} <= reads
    ((method, path),) = handler.recorded.writes()
    own = [c["id"] for c in _comments(data) if c["user"]["login"] == comment.BOT_LOGIN]
    writes = {("POST", f"/repos/{REPO}/issues/{number}/comments")}
    writes |= {("PATCH", f"/repos/{REPO}/issues/comments/{i}") for i in own}
    assert (method, path) in writes
    body = sent_body(handler.recorded)
    assert not [local for local in LOCAL if local in body], body
    assert body.lower().count("modelgate:pr-comment") == 1 and len(body) <= sanitize.LIMIT
    assert "[the docs](https://docs.github.com/en/rest)" in body
    assert "![badge](https://img.shields.io/badge/x-y-green)" in body


def _comments(data: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [e["body"] for e in data["api"] if e["method"] == "GET" and "comments" in e["path"]]
    return [c for page in pages for c in page]
