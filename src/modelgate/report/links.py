"""Where to look further: the Deepchecks HTML reports and the CI run.

The report becomes a PR comment, which can link only what is online, so the HTML reports are
named, not linked: they are in the run's `gate-reports` artifact, for download (pr.yml).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from modelgate.report import md

# The HTML reports' artifact in .github/workflows/pr.yml, and their directory inside it;
# tests/unit/test_ci_artifacts.py holds both to the workflow.
ARTIFACT = "gate-reports"
ARTIFACT_DIR = "deepchecks"


def run_url(env: Mapping[str, str]) -> str | None:
    """The GitHub Actions run this report was written in, from the variables Actions sets."""
    parts = [env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if not all(parts):
        return None
    server, repository, run_id = parts
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"


def section(html_files: Sequence[Path], env: Mapping[str, str]) -> str:
    """A collapsed block naming the HTML reports where the artifact holds them; nothing local
    is linked, so no tool can upload it."""
    lines = [f"- {md.code(f'{ARTIFACT_DIR}/{path.name}')}" for path in html_files]
    if lines:
        lines.insert(
            0,
            f"In the `{ARTIFACT}` artifact of the CI run (download it from the run's page; a "
            "comment cannot link a file of the run):\n",
        )
    else:
        lines.append("No Deepchecks reports: the gates wrote none in this run.")
    url = run_url(env)
    lines.append(f"\nCI run: {url}" if url else "\nCI run: not run in GitHub Actions.")
    return md.details("Deepchecks reports and the CI run", "\n".join(lines))
