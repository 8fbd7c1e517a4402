"""Where to look further: the Deepchecks HTML reports and the CI run."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from modelgate.report import md

ARTIFACT = "pr-report"  # the artifact name in .github/workflows/pr.yml


def run_url(env: Mapping[str, str]) -> str | None:
    """The GitHub Actions run this report was written in, from the variables Actions sets."""
    parts = [env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    if not all(parts):
        return None
    server, repository, run_id = parts
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"


def section(html_files: Sequence[Path], out: Path, env: Mapping[str, str]) -> str:
    """A collapsed block of links, relative to the report so they work in the artifact."""
    lines = []
    for path in html_files:
        target = os.path.relpath(path, out.parent if str(out.parent) else ".")
        lines.append(f"- [{md.cell(path.name)}]({quote(Path(target).as_posix())})")
    if lines:
        lines.insert(
            0,
            f"Attached to the CI run as the `{ARTIFACT}` artifact; the links work inside the "
            "downloaded artifact, beside this report.\n",
        )
    else:
        lines.append("No Deepchecks reports: the gates wrote none in this run.")
    url = run_url(env)
    lines.append(f"\nCI run: {url}" if url else "\nCI run: not run in GitHub Actions.")
    return md.details("Deepchecks reports and the CI run", "\n".join(lines))
