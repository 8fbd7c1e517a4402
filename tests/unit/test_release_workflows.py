"""Contract tests of deploy.yml and promote.yml, which cannot run here (issue 9).

deploy.yml: building (which runs the pipeline, so whatever the DVC remote and the data feed it)
and publishing (which can push, sign and attest) are separate jobs, and the publishing job runs
nothing the build could have shaped. promote.yml: cosign accepts only the signature deploy.yml
made on main at the revision the release record names, taken from the resolve step.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from typing import Any

import pytest
from ruamel.yaml import YAML

from modelgate.release import Deployment, Release
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PRIVILEGES = {"id-token", "packages", "attestations"}
ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY = "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/.github/workflows/deploy.yml@refs/heads/main"


def _load(name: str) -> dict[str, Any]:
    return YAML(typ="safe", pure=True).load((WORKFLOWS / name).read_text())


DEPLOY = _load("deploy.yml")
PROMOTE = _load("promote.yml")


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def _action(step: dict[str, Any]) -> str:
    return step.get("uses", "").split("@")[0]


def _commands(step: dict[str, Any]) -> list[list[str]]:
    """Each shell line of a step's `run`, continuation lines joined, split as bash would."""
    script = step.get("run", "").replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in script.splitlines() if line.strip()]


def _privileged(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: job
        for name, job in workflow["jobs"].items()
        if "steps" in job
        and any(job.get("permissions", {}).get(scope) == "write" for scope in PRIVILEGES)
    }


def _secret_uses(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [hit for key, value in node.items() for hit in _secret_uses(value, f"{path}/{key}")]
    if isinstance(node, list):
        return [hit for i, value in enumerate(node) for hit in _secret_uses(value, f"{path}/{i}")]
    return [path] if "secrets." in str(node) else []


def test_only_publish_holds_write_signing_or_attestation_grants() -> None:
    jobs = DEPLOY["jobs"]
    assert DEPLOY["permissions"] == {"contents": "read"}
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert list(_privileged(DEPLOY)) == ["publish"]
    assert jobs["publish"]["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }
    assert jobs["register"]["permissions"] == {"contents": "write"}
    assert jobs["publish"]["needs"] == "build"


@pytest.mark.parametrize("name", ["publish"])
def test_the_privileged_job_runs_no_cache_make_venv_or_build_code(name: str) -> None:
    job = _privileged(DEPLOY)[name]
    actions = [_action(step) for step in _steps(job)]
    assert "actions/cache" not in actions
    assert "actions/setup-python" not in actions  # no interpreter but the runner's own
    for step in _steps(job):
        for command in _commands(step):
            words = set(command)
            assert not words & {"make", "pip", "uv", "dvc", "source", "."}, (step, command)
            assert not any(".venv" in word or ".tools" in word for word in command), command
            # The only python it runs: one stdlib-only file of the checkout, isolated mode.
            if any(word.startswith("python") for word in command):
                assert command[:3] == ["python3", "-I", "src/modelgate/oci.py"], command
            # Nothing from the artifact is executed, only loaded as an image archive.
            assert not any("RUNNER_TEMP/image" in word for word in command[:1]), command


def test_the_privileged_job_checks_out_only_the_stdlib_push_reader() -> None:
    """tests/unit/test_oci.py proves that file imports only the standard library."""
    checkouts = [s for s in _steps(DEPLOY["jobs"]["publish"]) if _action(s) == "actions/checkout"]
    assert len(checkouts) == 1
    options = checkouts[0]["with"]
    assert options["sparse-checkout"].split() == ["src/modelgate/oci.py"]
    assert options["sparse-checkout-cone-mode"] is False  # cone mode adds every top-level file
    assert options["persist-credentials"] is False
    assert "ref" not in options  # this run's own commit, never an input


def test_secrets_appear_only_in_the_step_that_pulls_the_raw_data() -> None:
    pull = next(i for i, s in enumerate(_steps(DEPLOY["jobs"]["build"])) if "dvc" in str(s))
    prefix = f"/jobs/build/steps/{pull}/env/"
    assert _secret_uses(DEPLOY) == [f"{prefix}AWS_ACCESS_KEY_ID", f"{prefix}AWS_SECRET_ACCESS_KEY"]
    step = _steps(DEPLOY["jobs"]["build"])[pull]
    assert _commands(step)[-1] == [".venv/bin/dvc", "pull", "data/raw/*.dvc"]
    assert "make" not in step["run"]  # only the pull sees the credentials, not the pipeline


def test_build_reproduces_every_stage_and_records_the_image_id() -> None:
    build = DEPLOY["jobs"]["build"]
    runs = [command for step in _steps(build) for command in _commands(step)]
    assert ["make", "ci-repro"] in runs
    assert any(c[:3] == ["make", "deploy-check", "BASE=HEAD~1"] for c in runs)
    assert ["make", "repro"] not in runs and ["make", "pull"] not in runs
    assert "actions/cache" not in [_action(step) for step in _steps(build)]
    assert build["outputs"]["image_id"] == "${{ steps.save.outputs.image_id }}"
    upload = next(s for s in _steps(build) if _action(s) == "actions/upload-artifact")
    download = next(
        s for s in _steps(DEPLOY["jobs"]["publish"]) if _action(s) == "actions/download-artifact"
    )
    assert upload["with"]["name"] == download["with"]["name"]


def test_publish_pushes_the_recorded_image_and_signs_the_pushed_digest() -> None:
    publish = DEPLOY["jobs"]["publish"]
    by_id = {step.get("id"): step for step in _steps(publish)}
    load = next(s for s in _steps(publish) if "docker image load" in s.get("run", ""))
    assert load["env"]["IMAGE_ID"] == "${{ needs.build.outputs.image_id }}"
    assert '"$loaded" == "$IMAGE_ID"' in load["run"]
    push = by_id["push"]
    commands = _commands(push)
    tags = [c[3:] for c in commands if c[:3] == ["docker", "image", "tag"]]
    assert [source for source, _ in tags] == ["$IMAGE_ID", "$IMAGE_ID"]  # by ID, not by name
    assert all(target.startswith("$IMAGE:") for _, target in tags)
    assert commands[2][:7] == ["docker", "image", "push", "--all-tags", "$IMAGE", "|", "tee"]
    reader = commands[3]
    assert reader[3:6] == ["push-digest", "--repository", "$IMAGE"]
    tagged = [target.split(":", 1)[1] for _, target in tags]
    assert [reader[i + 1] for i, word in enumerate(reader) if word == "--tag"] == tagged
    assert publish["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    signing = next(s for s in _steps(publish) if "cosign sign" in s.get("run", ""))
    assert signing["env"]["IMAGE_REF"].endswith("@${{ steps.push.outputs.digest }}")
    register = DEPLOY["jobs"]["register"]
    gto = next(s for s in _steps(register) if s.get("id") == "gto")
    assert gto["env"]["DIGEST"] == "${{ needs.publish.outputs.digest }}"
    assert '--revision "$GITHUB_SHA"' in gto["run"]  # the workflow sha cosign will pin


def _verify_step() -> tuple[dict[str, Any], list[str]]:
    steps = _steps(PROMOTE["jobs"]["deploy"])
    step = next(s for s in steps if "cosign verify" in s.get("run", ""))
    (command,) = [c for c in _commands(step) if c[:2] == ["cosign", "verify"]]
    return step, command


def _option(command: list[str], name: str) -> str:
    values = [command[i + 1] for i, word in enumerate(command) if word == name]
    assert len(values) == 1, f"{name} given {len(values)} times in {command}"
    return values[0]


def test_cosign_verify_pins_identity_issuer_and_the_registered_revision() -> None:
    step, command = _verify_step()
    assert not any(word.endswith("-regexp") for word in command), command
    assert _option(command, "--certificate-identity") == IDENTITY
    assert _option(command, "--certificate-oidc-issuer") == ISSUER
    assert _option(command, "--certificate-github-workflow-sha") == "$REVISION"
    assert step["env"]["REVISION"] == "${{ needs.resolve.outputs.revision }}"
    assert command[2] == "$IMAGE_REF"
    assert step["env"]["IMAGE_REF"] == "${{ needs.resolve.outputs.image_ref }}"
    # The resolve job's outputs are the resolve step's, which prints Deployment.outputs().
    resolve = PROMOTE["jobs"]["resolve"]
    assert resolve["outputs"]["revision"] == "${{ steps.stage.outputs.revision }}"
    assert resolve["outputs"]["image_ref"] == "${{ steps.stage.outputs.image_ref }}"
    stage_step = next(s for s in _steps(resolve) if s.get("id") == "stage")
    assert "modelgate.registry resolve" in stage_step["run"]
    release = Release("m", "s", "ghcr.io/a/b", "sha256:" + "a" * 64, "b" * 40)
    keys = Deployment("n", "v1.0.0", "prod", "r", "r", release).outputs().keys()
    referenced = re.findall(r"steps\.stage\.outputs\.(\w+)", str(resolve["outputs"]))
    assert set(referenced) <= keys and "revision" in referenced


def test_the_signature_checked_is_the_one_deploy_makes_and_checked_before_the_retag() -> None:
    """The identity names deploy.yml on main; deploy.yml's publish job is what signs."""
    assert any("cosign sign" in s.get("run", "") for s in _steps(DEPLOY["jobs"]["publish"]))
    assert DEPLOY["on"]["push"]["branches"] == ["main"]
    steps = _steps(PROMOTE["jobs"]["deploy"])
    verify, _ = _verify_step()
    retag = next(s for s in steps if "imagetools create" in s.get("run", ""))
    assert steps.index(verify) < steps.index(retag)
    assert retag["env"]["IMAGE_REF"] == verify["env"]["IMAGE_REF"]


def test_promotion_runs_in_the_stages_environment_without_code_or_make() -> None:
    deploy = PROMOTE["jobs"]["deploy"]
    assert deploy["environment"] == "${{ needs.resolve.outputs.stage }}"
    assert deploy["permissions"] == {"packages": "write"}
    assert PROMOTE["jobs"]["resolve"]["permissions"] == {"contents": "read"}
    assert "actions/checkout" not in [_action(s) for s in _steps(deploy)]
    assert not any("make" in c for s in _steps(deploy) for c in _commands(s))


def test_the_base_image_is_pinned_where_dependabot_can_bump_it() -> None:
    """A literal FROM with a digest (Dependabot cannot bump a FROM that goes through an ARG);
    both build stages derive from it, so `podman build --from` swaps the one base."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    froms = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    first = lines[froms[0]]
    assert re.fullmatch(r"FROM python:3\.11-slim@sha256:[0-9a-f]{64} AS base", first), first
    assert not any(line.startswith("ARG ") for line in lines[: froms[0]])
    assert [lines[i] for i in froms[1:]] == ["FROM base AS builder", "FROM base"]
    dependabot = YAML(typ="safe", pure=True).load((ROOT / ".github/dependabot.yml").read_text())
    docker = [u for u in dependabot["updates"] if u["package-ecosystem"] == "docker"]
    assert [u["directory"] for u in docker] == ["/"]


@pytest.mark.parametrize(("engine", "swap"), [("podman", True), ("docker", False)])
def test_make_image_swaps_the_base_with_podman_only(engine: str, swap: bool) -> None:
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "image", f"CONTAINER_ENGINE={engine}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    build = next(
        line for line in dry.stdout.splitlines() if f"{engine} " in line and "build" in line
    )
    assert ("--from localhost/debian-python:bookworm" in build) is swap, build
    assert "BASE_IMAGE" not in dry.stdout
