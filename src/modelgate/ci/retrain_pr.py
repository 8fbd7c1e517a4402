"""Open or refresh the ONE retraining pull request of an episode, for monitor.yml (issue 11).

    PYTHONPATH=src python3 -m modelgate.ci.retrain_pr --repo OWNER/NAME --branch B \\
        --base main --title T --body-file reports/retrain/body.md [--drift-passed]

Finds the open PR whose head is OWNER:B. None: creates it; one: replaces its title and body;
several: an error, nothing written. With --drift-passed it never creates a PR: it tells the
open one, once per head commit, that the drift has passed. It writes nothing else: no merge,
no review, no auto-merge (tests/unit/test_no_bot_merges.py holds every workflow and script to
that). Reads GITHUB_TOKEN and GITHUB_API_URL. The token must be a GitHub App's installation
token: GitHub starts no workflow for a PR opened with a workflow's own GITHUB_TOKEN, and pr.yml
must run on this one like on any PR. Exit 0 when done or when there is rightly nothing to do;
1 on an error.
"""

from __future__ import annotations

import argparse
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

# First line of the PR body this job writes, which sanitize drops from the body text: a
# person reading the PR sees what a bot maintains.
BODY_MARK = "<!-- modelgate:retrain-pr -->"
# First line of the drift-passed comment, with the head commit it was said about: said again
# only after a new commit (the episode came back and the branch was rebuilt).
PASSED_KEY = "modelgate:retrain-drift-passed"
PASSED_MARK = "<!-- " + PASSED_KEY + " {sha} -->"
BOT_LOGIN = "github-actions[bot]"  # monitor.yml passes its App's `<slug>[bot]`
TITLE_LIMIT = 256  # GitHub's longest PR title
MAX_BODY_BYTES = 4 * sanitize.LIMIT  # more cannot be posted anyway
TRUNCATED = (
    f"\n> [!NOTE]\n> The text was cut here to fit GitHub's {sanitize.LIMIT:,}-character limit; "
    "the whole of it is in the monitor run's job summary and its artifact.\n"
)
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_BRANCH = re.compile(r"(?!-)[A-Za-z0-9._/-]{1,200}")
_SHA = re.compile(r"[0-9a-f]{40}")


class RefusedError(ValueError):
    """Not done, for the reason given: several PRs, a person's PR, malformed input."""


@dataclass(frozen=True)
class Request:
    repo: str
    branch: str
    base: str
    title: str
    body: str
    bot: str

    def __post_init__(self) -> None:
        if not _REPO.fullmatch(self.repo):
            raise RefusedError(f"--repo {self.repo!r} is not owner/name")
        for flag, value in (("--branch", self.branch), ("--base", self.base)):
            if not _BRANCH.fullmatch(value) or ".." in value:
                raise RefusedError(f"{flag} {value!r} is not a branch name")


def find_pr(client: Client, request: Request) -> dict[str, Any] | None:
    """The one open PR from this repository's `branch`; None when there is none."""
    owner = request.repo.split("/")[0]
    query = {"state": "open", "head": f"{owner}:{request.branch}"}
    pulls = [
        p
        for p in client.paginate(f"/repos/{request.repo}/pulls", query)
        if ((p.get("head") or {}).get("repo") or {}).get("full_name") == request.repo
        and (p.get("head") or {}).get("ref") == request.branch
    ]
    if len(pulls) > 1:
        numbers = ", ".join(f"#{p['number']}" for p in pulls)
        raise RefusedError(
            f"several open PRs have the head {request.branch} ({numbers}): not guessing"
        )
    return pulls[0] if pulls else None


def _by_bot(item: dict[str, Any], bot: str) -> bool:
    user = item.get("user") or {}
    return user.get("login") == bot and user.get("type") == "Bot"


def pr_body(text: str) -> str:
    return sanitize.cap(f"{BODY_MARK}\n{sanitize.sanitize(text, BODY_MARK)}", TRUNCATED)


def pr_title(text: str) -> str:
    """One line (GitHub would keep a newline in the title), at most GitHub's length."""
    title = " ".join(text.split())
    if not title:
        raise RefusedError("--title is empty")
    return title[:TITLE_LIMIT]


def open_or_update(client: Client, request: Request) -> str:
    """Create the PR, or replace the title and body of the open one; what was done."""
    pr = find_pr(client, request)
    payload = {"title": pr_title(request.title), "body": pr_body(request.body)}
    if pr is None:
        created = client.send(
            "POST",
            f"/repos/{request.repo}/pulls",
            {
                **payload,
                "head": request.branch,
                "base": request.base,
                # Only a fork's PR uses it; said plainly: the head grants nobody extra edits.
                "maintainer_can_modify": False,
                # Ready for review: a draft requests none from the code owners.
                "draft": False,
            },
        )
        return f"opened PR #{created['number']} from {request.branch}: {created.get('html_url')}"
    number = int(pr["number"])
    if not _by_bot(pr, request.bot):
        who = (pr.get("user") or {}).get("login")
        raise RefusedError(
            f"PR #{number} from {request.branch} was opened by {who}, not {request.bot}: "
            "a person's text is not rewritten"
        )
    base = (pr.get("base") or {}).get("ref")
    if base != request.base:  # a person retargeted it: theirs to decide
        logger.warning("PR #%d merges into %s, not %s: left so", number, base, request.base)
    client.send("PATCH", f"/repos/{request.repo}/pulls/{number}", payload)
    return f"updated PR #{number} from {request.branch}"


def already_said(comments: list[dict[str, Any]], bot: str, head_sha: str) -> bool:
    """Whether this bot's last comment is the drift-passed note about this head commit."""
    own = [c for c in comments if _by_bot(c, bot)]
    return bool(own) and str(own[-1].get("body") or "").startswith(PASSED_MARK.format(sha=head_sha))


def drift_passed(client: Client, request: Request) -> str:
    """Comment on the open PR that the drift has passed, once; never opens one."""
    pr = find_pr(client, request)
    if pr is None:
        return f"the drift has passed and no PR from {request.branch} is open: nothing to say"
    number, sha = int(pr["number"]), str((pr.get("head") or {}).get("sha"))
    if not _SHA.fullmatch(sha):
        raise GitHubError(f"PR #{number}: head.sha {sha!r} is not a commit")
    comments = client.paginate(f"/repos/{request.repo}/issues/{number}/comments")
    if already_said(comments, request.bot, sha):
        return f"PR #{number} was already told the drift has passed (at {sha[:10]})"
    text = sanitize.cap(
        f"{PASSED_MARK.format(sha=sha)}\n**The drift has passed** (checked on `{sha[:10]}`): "
        "the monitor's latest run found nothing that calls for this retraining. A person "
        "decides whether to merge or close it.\n\n"
        + sanitize.sanitize(request.body, f"<!-- {PASSED_KEY} -->"),
        TRUNCATED,
    )
    client.send("POST", f"/repos/{request.repo}/issues/{number}/comments", {"body": text})
    return f"told PR #{number} that the drift has passed"


def _read_body(path: Path) -> str:
    with path.open("rb") as f:
        return f.read(MAX_BODY_BYTES).decode("utf-8", "replace")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", required=True, help="owner/name of the repository")
    parser.add_argument("--branch", required=True, help="the PR's head branch, in --repo")
    parser.add_argument("--base", required=True, help="the branch the PR merges into")
    parser.add_argument("--title", required=True)
    parser.add_argument("--body-file", type=Path, required=True, help="the PR body (Markdown)")
    parser.add_argument(
        "--drift-passed", action="store_true", help="tell the open PR; never open one"
    )
    parser.add_argument("--bot-login", default=BOT_LOGIN, help="the token's author login")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The prefix keeps untrusted text from starting a log line, where the runner would read
    # it as a workflow command.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        client = Client.from_environment()
        body = _read_body(args.body_file)
        request = Request(args.repo, args.branch, args.base, args.title, body, args.bot_login)
        act = drift_passed if args.drift_passed else open_or_update
        logger.info("%s", act(client, request))
    except (GitHubError, ValueError, KeyError, TypeError, OSError) as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
