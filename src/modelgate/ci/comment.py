"""Post the PR report as ONE sticky comment, for pr-comment.yml (on workflow_run).

    PYTHONPATH=src python3 -m modelgate.ci.comment --event "$GITHUB_EVENT_PATH" \\
        --report artifact/report.md --repo "$GITHUB_REPOSITORY"

The PR is found from the run's trusted record (`workflow_run`: head repository, branch and
SHA) through the API, never from the artifact; `workflow_run.pull_requests` is empty for fork
PRs. Only a comment this bot wrote is updated. Reads GITHUB_TOKEN and GITHUB_API_URL.
Exit 0 when the comment was written or when there is rightly nothing to post (the run was
superseded, the PR is closed); 1 on an error.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelgate.ci import sanitize
from modelgate.ci.github import Client, GitHubError

logger = logging.getLogger(__name__)

# The sticky comment's first line, by which this job finds its comment again; sanitize drops any
# copy from the report. Not the report's own marker (modelgate.report.sections), whose module
# needs pandas.
WATERMARK = "<!-- modelgate:pr-comment -->"
BOT_LOGIN = "github-actions[bot]"  # who GITHUB_TOKEN comments as
# A PR that touches these wrote its own report: the PR job runs the PR's code and workflow.
PIPELINE_CODE = ("src/", ".github/", "Makefile", "dvc.yaml", "pyproject.toml", "uv.lock")
MAX_REPORT_BYTES = 4 * sanitize.LIMIT  # more cannot be posted anyway
TRUNCATED = (
    f"\n> [!NOTE]\n> The report was cut here to fit GitHub's {sanitize.LIMIT:,}-character "
    "comment limit; the whole report is in the run's job summary and its artifact.\n"
)
_SHA = re.compile(r"[0-9a-f]{40}")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class Skip(Exception):  # noqa: N818 -- not an error: rightly nothing to post
    """Nothing to post, for the reason given."""


@dataclass(frozen=True)
class Run:
    """The fields of the completed PR pipeline run that GitHub wrote, not the PR."""

    id: int
    event: str
    head_repo: str
    head_branch: str
    head_sha: str
    conclusion: str
    html_url: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Run:
        try:
            run = event["workflow_run"]
            out = cls(
                int(run["id"]),
                str(run["event"]),
                str(run["head_repository"]["full_name"]),
                str(run["head_branch"]),
                str(run["head_sha"]),
                str(run["conclusion"]),
                str(run["html_url"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a workflow_run event: {exc!r} missing or malformed") from exc
        if not _SHA.fullmatch(out.head_sha) or not _REPO.fullmatch(out.head_repo):
            raise ValueError("workflow_run: head_sha or head_repository is malformed")
        return out


def find_pr(client: Client, repo: str, run: Run) -> int:
    """The one open PR whose head is this run's head repository, branch and commit."""
    owner = run.head_repo.split("/")[0]
    query = {"state": "open", "head": f"{owner}:{run.head_branch}"}
    pulls = [
        p
        for p in client.paginate(f"/repos/{repo}/pulls", query)
        if ((p.get("head") or {}).get("repo") or {}).get("full_name") == run.head_repo
    ]
    where = f"{run.head_repo}@{run.head_branch}"
    if not pulls:
        raise Skip(f"no open PR has the head {where} (closed, or its branch deleted)")
    if len(pulls) > 1:
        numbers = ", ".join(f"#{p['number']}" for p in pulls)
        raise Skip(f"several open PRs have the head {where} ({numbers}): not guessing")
    pr = pulls[0]
    if pr["head"]["sha"] != run.head_sha:
        raise Skip(
            f"PR #{pr['number']}'s head is now {str(pr['head']['sha'])[:10]}, this run tested "
            f"{run.head_sha[:10]}: superseded, the newer commit's run will comment"
        )
    return int(pr["number"])


def pipeline_changes(files: list[dict[str, Any]]) -> list[str]:
    """The changed files (either side of a rename) that are the pipeline's own code."""
    names = {f.get(key) for f in files for key in ("filename", "previous_filename")}
    return sorted(n for n in names if isinstance(n, str) and n.startswith(PIPELINE_CODE))


def header(run: Run, number: int, code: list[str]) -> str:
    """What the comment job vouches for, from the run's record and the API alone."""
    run_ref = f"run {run.id}"
    link = f"[{run_ref}]({run.html_url})" if sanitize.is_https(run.html_url) else run_ref
    lines = [
        WATERMARK,
        f"**modelgate PR pipeline** on `{run.head_sha[:10]}` (PR #{number}): "
        f"{link} concluded **{_word(run.conclusion)}**.",
    ]
    if code:
        shown = ", ".join(f"`{_word(n)}`" for n in code[:5]) + (", ..." if len(code) > 5 else "")
        lines += [
            "",
            "> [!WARNING]",
            f"> This PR changes the pipeline's own code ({shown}), and the report below was "
            "written by that code: it is the PR's account of itself. Check the run's log.",
        ]
    lines += [
        "",
        "<sub>Below: the report the run wrote. Links to anything but https removed.</sub>",
    ]
    return "\n".join(lines) + "\n\n---\n\n"


def _word(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_./ -]", "", text)[:120]


def body(run: Run, number: int, code: list[str], report: str | None) -> str:
    if report is None:
        report = "No report: the PR job stopped before writing one. The run's log says why.\n"
    return sanitize.cap(header(run, number, code) + sanitize.sanitize(report, WATERMARK), TRUNCATED)


def own_comment(comments: list[dict[str, Any]], bot_login: str) -> dict[str, Any] | None:
    """The first comment that this bot wrote and that starts with the watermark."""
    for comment in comments:
        user = comment.get("user") or {}
        if (
            user.get("login") == bot_login
            and user.get("type") == "Bot"
            and str(comment.get("body") or "").startswith(WATERMARK)
        ):
            return comment
    return None


def post(client: Client, repo: str, event: dict[str, Any], report: str | None, bot: str) -> str:
    """Create or update the comment; returns what was done, for the log."""
    run = Run.from_event(event)
    if run.event != "pull_request":
        raise Skip(f"the run was triggered by {run.event!r}, not by a pull request")
    number = find_pr(client, repo, run)
    code = pipeline_changes(client.paginate(f"/repos/{repo}/pulls/{number}/files"))
    text = body(run, number, code, report)
    mine = own_comment(client.paginate(f"/repos/{repo}/issues/{number}/comments"), bot)
    if mine is None:
        client.send("POST", f"/repos/{repo}/issues/{number}/comments", {"body": text})
        return f"created the comment on PR #{number}"
    client.send("PATCH", f"/repos/{repo}/issues/comments/{int(mine['id'])}", {"body": text})
    return f"updated comment {mine['id']} on PR #{number}"


def _read_report(path: Path) -> str | None:
    if not path.is_file():
        return None
    with path.open("rb") as f:
        return f.read(MAX_REPORT_BYTES).decode("utf-8", "replace")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--event", type=Path, required=True, help="the workflow_run event JSON")
    parser.add_argument("--report", type=Path, required=True, help="report.md (may be missing)")
    parser.add_argument("--repo", required=True, help="owner/name of the base repository")
    parser.add_argument("--bot-login", default=BOT_LOGIN, help="the token's comment author")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The prefix keeps untrusted text (a branch name) from starting a log line, where the
    # runner would read it as a workflow command.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if not _REPO.fullmatch(args.repo):
            raise ValueError(f"--repo {args.repo!r} is not owner/name")
        event = json.loads(args.event.read_text(encoding="utf-8"))
        client = Client.from_environment()
        logger.info("%s", post(client, args.repo, event, _read_report(args.report), args.bot_login))
    except Skip as reason:
        logger.warning("nothing posted: %s", reason)
    except (GitHubError, ValueError, KeyError, TypeError, OSError) as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
