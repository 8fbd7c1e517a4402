"""modelgate.deploy_overlay on a copy of the real deploy/ tree: the digest written and nothing else,
what is refused (and the file then untouched), the render after a promotion; and promote.yml's
overlay job held to the module's flags and path, to retrain_pr's, and to a recorded GitHub
payload for the pull request it opens."""

from __future__ import annotations

import json
import logging
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelgate import deploy_overlay
from modelgate.ci import retrain_pr
from modelgate.ci.github import Client
from modelgate.deploy_overlay import OverlayError, promote
from tests.conftest import ROOT
from tests.unit.test_ci_comment import FakeOpener

DIGEST = "sha256:" + "5e" * 32
IMAGE = "ghcr.io/acme/modelgate"
KUBECTL = shutil.which("kubectl")
WORKFLOW = yaml.safe_load((ROOT / ".github/workflows/promote.yml").read_text())
JOB = WORKFLOW["jobs"]["overlay"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "deploy"
    shutil.copytree(ROOT / "deploy", root, ignore=shutil.ignore_patterns("README.md"))
    return root


def _file(root: Path, env: str) -> Path:
    return root / "overlays" / env / deploy_overlay.KUSTOMIZATION


def _entry(root: Path, env: str) -> dict[str, Any]:
    images = yaml.safe_load(_file(root, env).read_text())["images"]
    (entry,) = [e for e in images if e["name"] == deploy_overlay.SERVING_IMAGE]
    return dict(entry)


def test_the_environments_are_the_stages_gto_lists() -> None:
    stages = yaml.safe_load((ROOT / ".gto").read_text())["stages"]
    assert deploy_overlay.environments(ROOT / "deploy") == sorted(stages)


def test_promotion_writes_the_digest_and_repository_and_nothing_else(tree: Path) -> None:
    before = _file(tree, "prod").read_text()
    staging = _file(tree, "staging").read_bytes()
    assert promote(tree, "prod", DIGEST, IMAGE) is True
    after = _file(tree, "prod").read_text()
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert [b.strip() for _, b in changed] == [f"newName: {IMAGE}", f"digest: {DIGEST}"]
    assert _entry(tree, "prod") == {"name": "modelgate-serve", "newName": IMAGE, "digest": DIGEST}
    assert _file(tree, "staging").read_bytes() == staging
    assert promote(tree, "prod", DIGEST, IMAGE) is False  # already there: nothing to propose
    assert _file(tree, "prod").read_text() == after


def test_without_an_image_the_repository_stays(tree: Path) -> None:
    name = _entry(tree, "staging")["newName"]
    assert promote(tree, "staging", DIGEST) is True
    assert _entry(tree, "staging") == {"name": "modelgate-serve", "newName": name, "digest": DIGEST}


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (with kustomize) is not on PATH")
@pytest.mark.parametrize("variant", ["overlays", "kserve"])
def test_the_render_after_a_promotion_runs_the_new_digest(tree: Path, variant: str) -> None:
    promote(tree, "prod", DIGEST, IMAGE)
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(tree / variant / "prod")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert re.findall(r"^\s+image: (\S+)$", done.stdout, re.MULTILINE) == [f"{IMAGE}@{DIGEST}"]


@pytest.mark.parametrize(
    "digest",
    [
        "latest",
        "model-1.2.0",
        "sha256:abc",
        "SHA256:" + "A" * 64,
        f"{IMAGE}@{DIGEST}",
        DIGEST + " ",
    ],
)
def test_a_digest_that_is_not_one_is_refused_naming_the_field(tree: Path, digest: str) -> None:
    before = _file(tree, "prod").read_bytes()
    with pytest.raises(OverlayError, match=r"images\[modelgate-serve\]\.digest") as caught:
        promote(tree, "prod", digest, IMAGE)
    assert repr(digest) in str(caught.value) and "kustomization.yaml" in str(caught.value)
    assert _file(tree, "prod").read_bytes() == before


def test_an_unknown_environment_is_refused_naming_it_and_the_known(tree: Path) -> None:
    with pytest.raises(OverlayError, match=r"unknown environment 'production'.*prod, staging"):
        promote(tree, "production", DIGEST)
    assert not (tree / "overlays" / "production").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("name: modelgate-serve", "name: other"), "0 entries named"),
        (lambda t: t.replace("    digest:", "    newTag: prod\n    digest:"), "newTag"),
    ],
)
def test_an_overlay_without_one_digest_entry_is_left_as_it_is(
    tree: Path, edit: Any, message: str
) -> None:
    path = _file(tree, "prod")
    path.write_text(edit(path.read_text()))
    before = path.read_bytes()
    with pytest.raises(OverlayError, match=message):
        promote(tree, "prod", DIGEST)
    assert path.read_bytes() == before


@pytest.mark.parametrize("image", ["ghcr.io/acme/modelgate:prod", "ghcr.io/Acme/x", "modelgate"])
def test_an_image_with_a_tag_or_no_registry_is_refused(tree: Path, image: str) -> None:
    with pytest.raises(OverlayError, match="is not a repository"):
        promote(tree, "prod", DIGEST, image)


def test_the_cli_writes_or_says_why_not(tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    base = ["--root", str(tree), "--env", "prod"]
    assert deploy_overlay.main([*base, "--digest", DIGEST, "--image", IMAGE]) == 0
    assert _entry(tree, "prod")["digest"] == DIGEST
    with caplog.at_level(logging.ERROR):
        assert deploy_overlay.main([*base, "--digest", "latest"]) == 1
    assert "'latest' is not sha256" in caplog.text


def _step(starts: str) -> dict[str, Any]:
    (step,) = [s for s in JOB["steps"] if str(s.get("name", "")).startswith(starts)]
    return dict(step)


def _command(step: dict[str, Any], program: str) -> list[str]:
    """The step's one command, continuation lines joined, from `program` on."""
    words = shlex.split(step["run"].replace("\\\n", " "), comments=True)
    return words[words.index(program) :]


def test_the_workflow_writes_the_verified_digest_with_the_modules_flags() -> None:
    assert JOB["needs"] == ["resolve", "deploy"]  # after cosign verified the digest
    assert JOB["permissions"] == {"contents": "read"}
    assert JOB["environment"] == "promote-pr"
    step = _step("Write the digest")
    command = _command(step, "-m")[1:]
    args = deploy_overlay._parser().parse_args(command[1:])
    assert command[0] == "modelgate.deploy_overlay"
    assert (args.env, args.digest, args.image) == ("$STAGE", "$DIGEST", "$IMAGE")
    assert step["env"] == {
        "STAGE": "${{ needs.resolve.outputs.stage }}",
        "DIGEST": "${{ needs.resolve.outputs.digest }}",
        "IMAGE": "${{ needs.resolve.outputs.image }}",
    }
    commit = _step("Commit the overlay")
    written = deploy_overlay.ROOT / "overlays" / "$STAGE" / deploy_overlay.KUSTOMIZATION
    assert f'overlay="{written}"' in commit["run"]
    for step in JOB["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]
        uses = step.get("uses")
        assert uses is None or re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses


def test_the_workflow_pushes_the_promotion_branch_and_opens_its_pr() -> None:
    push = _step("Push the promotion branch")
    assert push["run"].rstrip().endswith('push --force origin "HEAD:refs/heads/$BRANCH"')
    assert 'echo "branch=promote/$STAGE"' in _step("Commit the overlay")["run"]
    step = _step("Open or update the overlay")
    command = _command(step, "-m")[1:]
    assert command[0] == "modelgate.ci.retrain_pr"
    args = retrain_pr._parser().parse_args(command[1:])
    assert (args.branch, args.base, args.bot_login) == ("$BRANCH", "main", "$BOT_LOGIN")
    assert step["env"]["BRANCH"] == push["env"]["BRANCH"] == "${{ steps.commit.outputs.branch }}"
    tokens = {s["id"]: s["with"] for s in JOB["steps"] if s.get("id", "").endswith("-token")}
    assert {k: [p for p in v if p.startswith("permission-")] for k, v in tokens.items()} == {
        "push-token": ["permission-contents"],
        "pr-token": ["permission-pull-requests"],
    }


def test_the_pr_the_workflow_asks_for_is_created_as_recorded() -> None:
    data = json.loads((ROOT / "tests/testdata/github/promote-create.json").read_text())
    fake = FakeOpener(data["api"])
    request = retrain_pr.Request(
        data["repo"], data["branch"], "main", "Deploy credit-risk v1.3.0 to prod",
        "credit-risk v1.3.0 goes to **prod** when this merges.", data["bot"],
    )  # fmt: skip
    done = retrain_pr.open_or_update(Client("https://api.github.com", "t0ken", fake), request)
    assert done.startswith("opened PR #21 from promote/prod")
    (created,) = [body for method, _, _, body in fake.requests if method == "POST"]
    assert (created["head"], created["base"], created["draft"]) == ("promote/prod", "main", False)


def test_the_workflow_runs_it_with_gtos_environment_alone(tree: Path) -> None:
    """The job's Python is `make registry-env`'s: GTO and its dependencies, ruamel among them.
    A real promotion, in a fresh interpreter, loads nothing else beyond the standard library."""
    code = (
        "import sys\nfrom modelgate import deploy_overlay\n"
        "assert deploy_overlay.main(sys.argv[1:]) == 0\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    argv = ["--root", str(tree), "--env", "prod", "--digest", DIGEST]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split()) - {*sys.stdlib_module_names, "modelgate"}
    # cython_runtime: ruamel.yaml.clib's, where installed (ruamel works without it).
    assert {m for m in loaded if not m.startswith("_")} - {"cython_runtime"} == {"ruamel"}
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (gto,) = [p for p in lock["package"] if p["name"] == "gto"]
    assert "ruamel-yaml" in {d["name"] for d in gto["dependencies"]}
    assert "make registry-env" in [s.get("run") for s in JOB["steps"]]
