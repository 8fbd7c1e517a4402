"""The digest deploy.yml's publish job signs, read from `docker push` output.

tests/testdata/docker/push-all-tags.txt is stdout of `docker image push --all-tags` with two
local tags, as a workflow log shows it (not a terminal: no progress bars; Docker's trailing space
on status lines). Its message formats are the daemon's (moby `distribution/push_v2.go` and
`daemon/containerd/image_push.go`: "The push refers to repository [%s]", "%s: digest: %s size:
%d"); layer ids and digests are made up.
"""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from pathlib import Path

import pytest

from modelgate import oci
from modelgate.oci import OciError, is_digest, is_revision, push_digest
from tests.conftest import ROOT

PUSH = (ROOT / "tests/testdata/docker/push-all-tags.txt").read_text()
REPOSITORY = "ghcr.io/acme/modelgate"
SHA_TAG = "5b1e0c3d9f7a2e4b6c8d0f1a3b5c7d9e1f2a4b6c"
TAGS = [SHA_TAG, "model-25513695d89f"]
DIGEST = "sha256:7d2f4a1c9e8b3f6a0d5c2e7b9f1a4c6e8d0b3f5a7c9e1d2b4f6a8c0e2d4b6f8a"
MODULE = Path(oci.__file__)


def test_the_digest_is_the_one_reported_for_every_tag() -> None:
    assert push_digest(PUSH, REPOSITORY, TAGS) == DIGEST


@pytest.mark.parametrize(
    ("output", "repository", "tags", "error"),
    [
        (PUSH, "ghcr.io/acme/other", TAGS, r"went to ghcr\.io/acme/modelgate, not ghcr\.io/acme/o"),
        (PUSH, REPOSITORY, [*TAGS, "latest"], r"reported no digest for latest"),
        (PUSH, REPOSITORY, TAGS[:1], r"also pushed model-25513695d89f, which was not asked for"),
        ("Error response from daemon: denied", REPOSITORY, TAGS, r"not the output of a docker"),
        (PUSH.replace(": digest: sha256:7d2f", ": digest: sha256:0000", 1), REPOSITORY, TAGS,
         r"pushed as different manifests"),
        (PUSH.replace("sha256:7d2f", "sha256:7D2F"), REPOSITORY, TAGS, r"not sha256:<64 lowercase"),
        (PUSH.replace("4b6f8a size", "4b6f8 size"), REPOSITORY, TAGS, r"not sha256:<64 lowercase"),
        (PUSH + "The push refers to repository [docker.io/evil/x]\n", REPOSITORY, TAGS,
         r"went to docker\.io/evil/x, ghcr\.io/acme/modelgate"),
    ],
)  # fmt: skip
def test_a_push_output_that_cannot_be_trusted_is_refused(
    output: str, repository: str, tags: list[str], error: str
) -> None:
    with pytest.raises(OciError, match=error):
        push_digest(output, repository, tags)


@pytest.mark.parametrize(
    ("value", "digest", "revision"),
    [
        (DIGEST, True, False),
        ("sha256:" + "A" * 64, False, False),
        ("sha256:" + "a" * 63, False, False),
        ("sha512:" + "a" * 64, False, False),
        ("a" * 64, False, False),
        ("0" * 40, False, True),
        ("0" * 39, False, False),
        ("F" * 40, False, False),
        ("main", False, False),
        (f"{DIGEST}\n", False, False),
    ],
)
def test_digest_and_revision_forms(value: str, digest: bool, revision: bool) -> None:
    assert (is_digest(value), is_revision(value)) == (digest, revision)


def test_the_cli_writes_the_digest_for_github_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PUSH))
    args = ["push-digest", "--repository", REPOSITORY, "--tag", TAGS[0], "--tag", TAGS[1]]
    assert oci.main(args) == 0
    assert capsys.readouterr().out == f"digest={DIGEST}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(PUSH))
    assert oci.main(["push-digest", "--repository", "ghcr.io/a/b", "--tag", TAGS[0]]) == 1
    assert capsys.readouterr().err.startswith("::error::the push went to ghcr.io/acme/modelgate")


def test_it_runs_as_the_publish_job_runs_it(tmp_path: Path) -> None:
    """One file, `python3 -I`, from a directory holding nothing else: no package, no venv."""
    lone = tmp_path / "oci.py"
    lone.write_bytes(MODULE.read_bytes())
    command = ["python3", "-I", str(lone), "push-digest", "--repository", REPOSITORY]
    done = subprocess.run(
        [*command, "--tag", TAGS[0], "--tag", TAGS[1]],
        input=PUSH, capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, f"digest={DIGEST}\n", "")


def test_it_needs_only_the_standard_library_of_the_runners_python() -> None:
    """ubuntu-22.04's python3 is 3.10: the module must parse as 3.10 and import only stdlib."""
    tree = ast.parse(MODULE.read_text(), feature_version=(3, 10))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names, imported
