"""modelgate.ci.artifacts follows upload-artifact's documented layout rule, and, through it,
pr.yml uploads what pr-comment.yml reads: the workflows themselves are parsed, so an edit to
either breaks this test, not the PR loop."""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from modelgate.ci.artifacts import download_paths, upload_layout
from modelgate.report import links

ROOT = Path(__file__).parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def tree(root: Path, *files: str) -> Path:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    return root


def layout(path_input: str, root: Path, **kwargs: Any) -> list[str]:
    return sorted(str(p) for p in upload_layout(path_input, root, **kwargs))


REPORTS = ("reports/pr/report.md", "reports/deepchecks/data.html", "reports/gates.json")


def test_several_paths_are_rooted_at_their_least_common_ancestor(tmp_path: Path) -> None:
    # The old pr.yml: report.md sat at pr/report.md, never at reports/pr/report.md.
    old = "reports/pr/\nreports/deepchecks/\nreports/gates.json\n"
    assert layout(old, tree(tmp_path, *REPORTS)) == [
        "deepchecks/data.html",
        "gates.json",
        "pr/report.md",
    ]


def test_one_directory_is_the_root_and_one_file_is_rooted_at_its_directory(tmp_path: Path) -> None:
    tree(tmp_path, *REPORTS)
    assert layout("reports/pr/", tmp_path) == ["report.md"]
    assert layout("reports/pr", tmp_path) == ["report.md"]
    assert layout("reports/gates.json", tmp_path) == ["gates.json"]


def test_a_wildcard_keeps_the_hierarchy_after_it(tmp_path: Path) -> None:
    # upload-artifact's README example.
    files = ("some/directory/foo1.txt", "some/directory/foo2.txt", "other/directory/foo1.txt")
    tree(tmp_path, *(f"path/to/{f}" for f in files), "path/to/other/directory/bar.txt")
    assert layout("path/to/*/directory/foo?.txt", tmp_path) == sorted(files)


def test_excludes_and_nested_search_paths_do_not_move_the_root(tmp_path: Path) -> None:
    tree(tmp_path, *REPORTS, "reports/gates/model.json")
    excluded = "reports/pr\n!reports/pr/report.md\n# a comment\n\nreports/deepchecks"
    assert layout(excluded, tmp_path) == ["deepchecks/data.html"]
    assert layout("reports/\nreports/pr/", tmp_path)[-1] == "pr/report.md"
    assert layout("reports/**/*.json", tmp_path) == ["gates.json", "gates/model.json"]


def test_hidden_files_stay_out_unless_asked_for(tmp_path: Path) -> None:
    tree(tmp_path, "reports/pr/report.md", "reports/pr/.env", "reports/pr/.cache/x")
    assert layout("reports/pr/", tmp_path) == ["report.md"]
    assert layout("reports/pr/", tmp_path, include_hidden=True) == [".cache/x", ".env", "report.md"]


def test_a_missing_path_uploads_nothing_and_dot_dot_is_refused(tmp_path: Path) -> None:
    assert upload_layout("reports/pr/", tmp_path) == {}
    with pytest.raises(ValueError, match=r"'\.\.'"):
        upload_layout("../secrets", tmp_path)


# --- the workflows, as written --------------------------------------------------------------


def _steps(workflow: str) -> list[dict[str, Any]]:
    jobs = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def _uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).startswith(f"{action}@")


def _report_paths() -> set[str]:
    """Every reports/ path dvc.yaml declares (outs, metrics, plots, command arguments), and
    the report `make pr-report` writes: what the PR job leaves in reports/."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            found.update(t for t in node.split() if t.startswith("reports/"))

    walk(yaml.safe_load((ROOT / "dvc.yaml").read_text()))
    for line in (ROOT / "Makefile").read_text().splitlines():
        if "-m modelgate.report.pr " in line:
            tokens = shlex.split(line.strip())
            found.add(tokens[tokens.index("--out") + 1])
    return found


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A workspace whose reports/ tree is the one the PR job produces."""
    paths = _report_paths()
    assert "reports/pr/report.md" in paths and "reports/gates.json" in paths
    for path in paths:
        tree(tmp_path, path if PurePosixPath(path).suffix else f"{path}/result.json")
    return tmp_path


def _uploads(workspace: Path) -> dict[str, dict[PurePosixPath, Path]]:
    uploads = {}
    for step in _steps("pr.yml"):
        if _uses(step, "actions/upload-artifact"):
            inputs = step["with"]
            hidden = str(inputs.get("include-hidden-files", "false")).lower() == "true"
            uploads[inputs["name"]] = upload_layout(
                inputs["path"], workspace, include_hidden=hidden
            )
    return uploads


def _download() -> dict[str, Any]:
    (step,) = [s for s in _steps("pr-comment.yml") if _uses(s, "actions/download-artifact")]
    return dict(step["with"])


def test_the_comment_job_finds_every_file_it_reads(workspace: Path) -> None:
    artifact = _download()
    uploaded = _uploads(workspace)[artifact["name"]]
    downloaded = download_paths(uploaded, artifact["path"], workspace)
    (command,) = [s["run"] for s in _steps("pr-comment.yml") if "ci.comment" in s.get("run", "")]
    tokens = shlex.split(command)
    read = [t for t in tokens if t.startswith(artifact["path"].rstrip("/") + "/")]
    assert tokens[tokens.index("--report") + 1] in read
    for path in read:
        assert workspace / path in downloaded, f"{path} is not in the downloaded artifact"


def test_the_comment_artifact_holds_the_report_alone(workspace: Path) -> None:
    uploaded = _uploads(workspace)[_download()["name"]]
    assert set(uploaded) == {PurePosixPath("report.md")}


def test_the_report_names_the_html_where_the_artifact_holds_it(workspace: Path) -> None:
    held = _uploads(workspace)[links.ARTIFACT]
    html = sorted((workspace / "reports" / "deepchecks").glob("*.html"))
    assert html, "dvc.yaml declares no Deepchecks HTML report"
    for path in html:
        assert PurePosixPath(links.ARTIFACT_DIR, path.name) in held
