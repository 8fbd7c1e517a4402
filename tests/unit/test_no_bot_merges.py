"""No workflow or script can merge, approve or enable auto-merge (issue 11.4): a person merges.

Every workflow, every Python and shell file under src/ and tools/ and the Makefile is read
without its comments and docstrings (which may well say "never merges") and searched for
what merges a pull request or a branch (REST /merge and /merges, `gh pr merge`, GraphQL
mutations, a `git push` to main), approves one (a review with event APPROVE, `gh pr review
--approve`, approving actions) or turns on auto-merge (the GraphQL mutation, `auto_merge`
fields, automerge actions, `cml ... --auto-merge`). The test fails naming file, line and
rule. The rules are tested too: a fake workflow holding each forbidden line must be caught.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

RULES: dict[str, re.Pattern[str]] = {
    "REST merge of a PR or a branch": re.compile(
        r"/pulls/[^\s/\"']+/merge\b|/merges\b|/merge-upstream\b"
    ),
    "gh pr merge": re.compile(r"\bgh\s+pr\s+merge\b"),
    "gh pr review --approve": re.compile(r"\bgh\s+pr\s+review\b.*\s(--approve|-a)\b"),
    "a PR review (REST)": re.compile(r"/pulls/[^\s/\"']+/reviews\b"),
    # The review event's value; the bare name APPROVE is the loan decision (serve.prediction_log).
    "a review event APPROVE": re.compile(r"(?:[\"'=]|\bevent\W{0,4})APPROVE\b"),
    "GraphQL merge, review or auto-merge": re.compile(
        r"\b(mergePullRequest|mergeBranch|enqueuePullRequest|addPullRequestReview"
        r"|submitPullRequestReview|enablePullRequestAutoMerge)\b"
    ),
    "auto-merge": re.compile(r"automerge|auto_merge\b|--auto-merge\b", re.IGNORECASE),
    "an action that merges or approves": re.compile(r"\buses:\s*\S*(merge|approve)", re.IGNORECASE),
    "auto-approve": re.compile(r"auto[-_]?approve", re.IGNORECASE),
    "cml merges": re.compile(r"\bcml\b.*\s--(merge|rebase|squash)\b"),
    "git push to main": re.compile(
        r"\bgit\b.*\bpush\b.*(\bmain\b|\bmaster\b|default_branch|DEFAULT_BRANCH|\$GITHUB_REF\b)"
    ),
    "a write to main's ref": re.compile(r"/git/refs/heads/(main|master)\b"),
}


def scanned_files() -> list[Path]:
    files = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
    for folder in ("src", "tools"):
        files += sorted(
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and _language(p) is not None
        )
    return [*files, ROOT / "Makefile"]


def _language(path: Path) -> str | None:
    if path.suffix == ".py":
        return "python"
    if path.suffix in (".sh", ".bash", ".yml", ".yaml") or path.name == "Makefile":
        return "hash"
    with path.open("rb") as f:
        first = f.readline(200)
    if first.startswith(b"#!") and re.search(rb"\b(ba|da|z)?sh\b", first):
        return "hash"
    return "python" if first.startswith(b"#!") and b"python" in first else None


def _strip_hash_comment(line: str) -> str:
    """The line without a `#` comment: a `#` at the start or after a blank, outside quotes
    (so `credit-risk#prod#3` and `"a # b"` stay)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _python_code(text: str) -> list[str]:
    """The source's lines with comments removed and docstrings (bare string statements)
    blanked; strings that are values (URLs, queries, commands) stay."""
    lines = text.splitlines()
    for node in ast.walk(ast.parse(text)):
        value = node.value if isinstance(node, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for n in range(node.lineno - 1, node.end_lineno or node.lineno):
                lines[n] = ""
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    return lines


def code_lines(text: str, language: str) -> list[tuple[int, str]]:
    """(line number, code) with continuation lines joined onto their first line."""
    lines = (
        _python_code(text)
        if language == "python"
        else [_strip_hash_comment(line) for line in text.splitlines()]
    )
    joined: list[tuple[int, str]] = []
    carry: tuple[int, str] | None = None
    for number, line in enumerate(lines, 1):
        start, so_far = carry or (number, "")
        if line.rstrip().endswith("\\"):
            carry = (start, so_far + line.rstrip()[:-1] + " ")
            continue
        joined.append((start, so_far + line))
        carry = None
    return joined


def findings(text: str, language: str, name: str) -> list[str]:
    return [
        f"{name}:{number}: {rule}: {line.strip()}"
        for number, line in code_lines(text, language)
        for rule, pattern in RULES.items()
        if pattern.search(line)
    ]


def test_nothing_in_the_repository_merges_approves_or_enables_auto_merge() -> None:
    found = [
        hit
        for path in scanned_files()
        for hit in findings(
            path.read_text(encoding="utf-8"),
            str(_language(path)),
            str(path.relative_to(ROOT)),
        )
    ]
    assert found == [], "\n".join(found)


def test_the_scan_covers_the_workflows_the_scripts_and_the_makefile() -> None:
    names = {str(p.relative_to(ROOT)) for p in scanned_files()}
    expected = {".github/workflows/monitor.yml", ".github/workflows/pr-comment.yml", "Makefile"}
    expected |= {"src/modelgate/ci/retrain_pr.py", "src/modelgate/ci/github.py"}
    expected |= {"tools/base-image.sh"}
    assert expected <= names
    assert {p.name for p in (ROOT / ".github" / "workflows").iterdir()} <= {
        Path(n).name for n in names if n.startswith(".github/")
    }


# Each forbidden line, as a workflow or script could write it; every rule must catch one.
FORBIDDEN = {
    "REST merge of a PR or a branch": [
        'gh api -X PUT "repos/$GITHUB_REPOSITORY/pulls/$PR/merge"',
        'curl -X POST "$API/repos/$REPO/merges" -d \'{"base":"main","head":"x"}\'',
        'gh api -X POST "repos/$GITHUB_REPOSITORY/merge-upstream" -f branch=main',
    ],
    "gh pr merge": ['gh pr merge "$PR" --squash', "gh pr merge --auto --merge 12"],
    "gh pr review --approve": ['gh pr review "$PR" --approve', "gh pr review 3 -a"],
    "a PR review (REST)": ['gh api "repos/$GITHUB_REPOSITORY/pulls/$PR/reviews" -f body=ok'],
    "a review event APPROVE": ["gh api repos/o/r/pulls/1/reviews -f event=APPROVE"],
    "GraphQL merge, review or auto-merge": [
        f"gh api graphql -f query='mutation {{ {name}(input: {{}}) {{ clientMutationId }} }}'"
        for name in ("enablePullRequestAutoMerge", "mergePullRequest", "addPullRequestReview")
    ],
    "auto-merge": [
        "cml pr create --auto-merge .",
        'gh api -X PATCH "repos/$GITHUB_REPOSITORY" -F allow_auto_merge=true',
    ],
    "an action that merges or approves": [
        "uses: peter-evans/enable-pull-request-automerge@v3",
        "uses: hmarr/auto-approve-action@v4",
        "uses: pascalgn/automerge-action@v0.16.4",
    ],
    "auto-approve": ["uses: ./.github/actions/auto-approve"],
    "cml merges": ["cml pr create --merge reports/", "cml pr --squash ."],
    "git push to main": [
        "git push origin HEAD:main",
        "git push origin HEAD:refs/heads/main",
        'git -c "http.extraheader=x" \\\n  push origin "HEAD:$DEFAULT_BRANCH"',
        'git push origin "HEAD:${{ github.event.repository.default_branch }}"',
    ],
    "a write to main's ref": ['gh api -X PATCH "repos/$R/git/refs/heads/main" -f sha="$SHA"'],
}


def _workflow(line: str) -> str:
    run = "\n".join(f"          {part}" for part in line.splitlines())
    uses = line.startswith("uses:")
    step = f"      - {line}" if uses else f"      - name: a step\n        run: |\n{run}"
    return f"name: fake\non: push\njobs:\n  a:\n    runs-on: ubuntu-22.04\n    steps:\n{step}\n"


@pytest.mark.parametrize(
    ("rule", "line"), [(rule, line) for rule, lines in FORBIDDEN.items() for line in lines]
)
def test_each_forbidden_line_in_a_fake_workflow_is_caught(rule: str, line: str) -> None:
    hits = findings(_workflow(line), "hash", "fake.yml")
    assert [h for h in hits if f": {rule}: " in h], (rule, line, hits)
    assert all(h.startswith("fake.yml:") for h in hits)


def test_every_rule_has_a_forbidden_line() -> None:
    assert set(FORBIDDEN) == set(RULES)


def test_the_same_calls_in_python_are_caught_and_comments_are_not() -> None:
    source = '''"""Never merges, approves or enables auto-merge; no `gh pr merge`."""
import subprocess
# gh pr merge would be wrong here, and so would /pulls/1/merge
APPROVE = "approve"  # a loan decision, not a review
def f(client, repo, n):
    """Docstrings may say gh pr merge."""
    client.send("PUT", f"/repos/{repo}/pulls/{n}/merge", {})
    client.send("POST", f"/repos/{repo}/pulls/{n}/reviews", {"event": "APPROVE"})
    subprocess.run(["git", "push", "origin", "HEAD:main"])
'''
    hits = findings(source, "python", "x.py")
    assert [h.split(": ")[1] for h in hits] == [
        "REST merge of a PR or a branch",
        "a PR review (REST)",
        "a review event APPROVE",
        "git push to main",
    ], hits
    assert [h.split(":")[1] for h in hits] == ["7", "8", "8", "9"]


def test_comments_are_stripped_but_quoted_hashes_and_tags_are_not() -> None:
    assert _strip_hash_comment("run: make x # gh pr merge") == "run: make x "
    assert _strip_hash_comment("# uses: hmarr/auto-approve-action@v4") == ""
    line = "gto assign credit-risk#prod#3; echo 'a # b' && gh pr merge 1"
    assert _strip_hash_comment(line) == line
    assert findings(_workflow("echo ' # ' && gh pr merge 1"), "hash", "f.yml")
