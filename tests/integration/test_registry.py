"""Register, promote and roll back with the real `gto` CLI in a throwaway git repository.

This is the path the workflows take: deploy.yml runs `registry register` after pushing an
image, a person runs `gto assign` to roll back, and promote.yml runs `registry resolve` on the
pushed stage tag to find the image to deploy. Tags a person could push by hand (a stage
`.gto` does not list, a tagger date in the future) are made with plain `git tag`, which is all
it takes; `GIT_COMMITTER_DATE` sets an annotated tag's tagger date, the date GTO orders by.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from modelgate import registry
from modelgate.registry import Gto
from modelgate.release import RegistryError, Release
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

NAME = "credit-risk"
V1 = Release(
    model_version="111111111111",
    schema_digest="5c4e3a000000",
    image="ghcr.io/acme/modelgate",
    digest="sha256:" + "1" * 64,
    revision="0" * 40,  # each test registers at a real commit of its repository
)
V2 = replace(V1, model_version="222222222222", digest="sha256:" + "2" * 64)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit(repo: Path, message: str) -> str:
    _git(repo, "commit", "--quiet", "--allow-empty", "--message", message)
    return _git(repo, "rev-parse", "HEAD")


def _gto(repo: Path, *args: str) -> None:
    # GTO orders assignments by their tag's time, in whole seconds: start a fresh second so
    # that a rollback right after an assignment is unambiguously the later one.
    time.sleep(1 - time.time() % 1)
    subprocess.run(["gto", *args], cwd=repo, capture_output=True, text=True, check=True)


def _hand_tag(repo: Path, tag: str, commit: str, date: str | None = None) -> None:
    """An annotated tag made with git alone, dated `date` (ISO 8601) if given."""
    env = {**os.environ, **({"GIT_COMMITTER_DATE": date} if date else {})}
    subprocess.run(
        ["git", "tag", "--annotate", "--message", f"hand-made {tag}", tag, commit],
        cwd=repo, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with the project's GTO config and no tags."""
    for var, value in {"NAME": "Deploy Bot", "EMAIL": "deploy@example.com"}.items():
        monkeypatch.setenv(f"GIT_AUTHOR_{var}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{var}", value)
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "--quiet", "--initial-branch", "main")
    shutil.copy(ROOT / ".gto", repo / ".gto")
    _git(repo, "add", ".gto")
    return repo


@pytest.fixture
def two_deploys(repo: Path) -> tuple[Release, Release]:
    """Two merges deployed: v1 then v2, each registered and assigned to prod by the deploy."""
    first = replace(V1, revision=_commit(repo, "first model"))
    assert registry.register(Gto(repo), NAME, first, "prod") == {
        "name": NAME,
        "version": "v1.0.0",
        "tags": f"{NAME}#prod#1 {NAME}@v1.0.0",
        "stage_tag": f"{NAME}#prod#1",
    }
    second = replace(V2, revision=_commit(repo, "second model"))
    assert registry.register(Gto(repo), NAME, second, "prod")["version"] == "v1.1.0"
    return first, second


def test_rollback_redeploys_the_previous_image(
    repo: Path, two_deploys: tuple[Release, Release], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_deploys
    deployed = registry.resolve(Gto(repo), f"{NAME}#prod#2")
    assert (deployed.version, deployed.stage, deployed.release) == ("v1.1.0", "prod", second)

    # The rollback; --force because v1.0.0 held prod before (GTO refuses otherwise).
    _gto(repo, "assign", NAME, "--version", "v1.0.0", "--stage", "prod", "--force")
    rollback_tag = f"{NAME}#prod#3"
    assert rollback_tag in _git(repo, "tag", "--list").split()

    # The CLI, as promote.yml calls it, prints outputs for $GITHUB_OUTPUT.
    assert registry.main(["--repo", str(repo), "resolve", rollback_tag]) == 0
    outputs = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert outputs["version"] == "v1.0.0"
    assert outputs["image_tag"] == "ghcr.io/acme/modelgate:model-111111111111"
    assert outputs["image_ref"] == f"ghcr.io/acme/modelgate@{first.digest}"
    assert outputs["revision"] == first.revision
    # A late run for the superseded tag deploys what prod holds now, not v1.1.0 again.
    late = registry.resolve(Gto(repo), f"{NAME}#prod#2")
    assert (late.version, late.assignment) == ("v1.0.0", rollback_tag)


def test_semver_follows_what_changed_and_reruns_register_nothing(
    repo: Path, two_deploys: tuple[Release, Release]
) -> None:
    _, second = two_deploys
    assert registry.register(Gto(repo), NAME, second, "prod") == {
        "name": NAME,
        "version": "v1.1.0",
        "tags": "",
        "stage_tag": "",
    }
    rebuilt = replace(second, digest="sha256:" + "3" * 64, revision=_commit(repo, "serving fix"))
    assert registry.register(Gto(repo), NAME, rebuilt, None) == {
        "name": NAME,
        "version": "v1.1.1",
        "tags": f"{NAME}@v1.1.1",
        "stage_tag": "",
    }
    new_schema = replace(
        rebuilt,
        model_version="444444444444",
        schema_digest="0ther5chema0",
        revision=_commit(repo, "new column"),
    )
    created = registry.register(Gto(repo), NAME, new_schema, "staging")
    assert created["version"] == "v2.0.0"
    assert "#staging#" in created["stage_tag"]
    assert registry.resolve(Gto(repo), created["stage_tag"]).release == new_schema


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        ("no-such-tag", r"'no-such-tag' is not a GTO tag in this repository"),
        (f"{NAME}#prod#99", r"is not a GTO tag in this repository"),
        (f"{NAME}@v1.0.0", r"registers credit-risk v1\.0\.0 but assigns no stage"),
    ],
)
def test_bad_refs_say_what_is_wrong(repo: Path, ref: str, error: str) -> None:
    registry.register(Gto(repo), NAME, replace(V1, revision=_commit(repo, "one")), "prod")
    with pytest.raises(RegistryError, match=error):
        registry.resolve(Gto(repo), ref)


def test_a_stage_left_empty_or_a_hand_made_version_cannot_be_deployed(repo: Path) -> None:
    _commit(repo, "hand-made")
    _gto(repo, "register", NAME, "--version", "v0.1.0")
    _gto(repo, "assign", NAME, "--version", "v0.1.0", "--stage", "prod")
    with pytest.raises(RegistryError, match=r"credit-risk@v0\.1\.0's message lacks model_version"):
        registry.resolve(Gto(repo), f"{NAME}#prod#1")
    _gto(repo, "deprecate", NAME, "v0.1.0", "prod")
    with pytest.raises(
        RegistryError, match="no version of credit-risk is assigned to stage 'prod'"
    ):
        registry.resolve(Gto(repo), f"{NAME}#prod!#2")


def test_the_registry_config_refuses_an_unknown_stage(repo: Path) -> None:
    registry.register(Gto(repo), NAME, replace(V1, revision=_commit(repo, "one")), None)
    with pytest.raises(subprocess.CalledProcessError):
        _gto(repo, "assign", NAME, "--version", "v1.0.0", "--stage", "prd")


def test_a_stage_tag_dated_in_the_future_is_refused(
    repo: Path, two_deploys: tuple[Release, Release]
) -> None:
    """GTO orders assignments by tagger date: a tag dated 2099 would hold prod until 2099,
    whatever is assigned after it. Neither it nor any later tag of prod deploys."""
    first, _ = two_deploys
    pinned = f"{NAME}#prod#3"
    _hand_tag(repo, pinned, first.revision, date="2099-01-01T00:00:00+00:00")
    _gto(repo, "assign", NAME, "--version", "v1.1.0", "--stage", "prod", "--force")
    honest = f"{NAME}#prod#4"
    assert honest in _git(repo, "tag", "--list").split()
    # What GTO itself now says prod holds: the 2099 tag's version, despite the later one.
    show = subprocess.run(
        ["gto", "show", f"{NAME}#prod", "--json"], cwd=repo, capture_output=True, text=True
    )
    assert f'"ref": "{pinned}"' in show.stdout
    for ref in (pinned, honest, f"{NAME}#prod#1"):
        with pytest.raises(RegistryError, match=rf"{NAME}#prod#3 \(2099-01-01T00:00:00\+00:00\)"):
            registry.resolve(Gto(repo), ref)
    with pytest.raises(RegistryError, match="GTO orders assignments by tagger date"):
        registry.register(Gto(repo), NAME, replace(V2, revision=_commit(repo, "third")), "prod")
    # A tag of another stage is no reason to refuse this one.
    created = registry.register(
        Gto(repo), NAME, replace(V2, revision=_commit(repo, "4")), "staging"
    )
    assert registry.resolve(Gto(repo), created["stage_tag"]).stage == "staging"


def test_a_tag_a_few_seconds_ahead_is_clock_skew(repo: Path) -> None:
    first = replace(V1, revision=_commit(repo, "one"))
    registry.register(Gto(repo), NAME, first, None)
    soon = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 60))
    _hand_tag(repo, f"{NAME}#prod#1", first.revision, date=soon)
    assert registry.resolve(Gto(repo), f"{NAME}#prod#1").release == first


def test_a_stage_tag_outside_gto_is_refused_though_gto_reads_it(repo: Path) -> None:
    first = replace(V1, revision=_commit(repo, "one"))
    registry.register(Gto(repo), NAME, first, "prod")
    _hand_tag(repo, f"{NAME}#prd#1", first.revision)
    check = subprocess.run(
        ["gto", "check-ref", f"{NAME}#prd#1", "--json"], cwd=repo, capture_output=True, text=True
    )
    assert '"stage": "prd"' in check.stdout  # gto accepts the tag: .gto binds only `gto assign`
    with pytest.raises(RegistryError, match=r"names stage 'prd', which \.gto does not list"):
        registry.resolve(Gto(repo), f"{NAME}#prd#1")
    with pytest.raises(RegistryError, match=r"names stage 'prd', which \.gto does not list"):
        registry.register(Gto(repo), NAME, first, "prd")


def test_without_a_gto_file_no_stage_is_trusted(repo: Path) -> None:
    first = replace(V1, revision=_commit(repo, "one"))
    registry.register(Gto(repo), NAME, first, "prod")
    (repo / ".gto").unlink()  # gto would now accept any stage at all
    with pytest.raises(RegistryError, match=r"\.gto lists no stages"):
        registry.resolve(Gto(repo), f"{NAME}#prod#1")


def test_current_gives_what_a_stage_holds_now_for_the_monitor(
    repo: Path, two_deploys: tuple[Release, Release], capsys: pytest.CaptureFixture[str]
) -> None:
    """`make prod-revision` (monitor.yml): the revision prod serves, with promotion's checks."""
    first, second = two_deploys
    assert registry.main(["--repo", str(repo), "current", "--name", NAME, "--stage", "prod"]) == 0
    outputs = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert (outputs["name"], outputs["version"]) == (NAME, "v1.1.0")
    assert outputs["revision"] == second.revision
    _gto(repo, "assign", NAME, "--version", "v1.0.0", "--stage", "prod", "--force")
    assert registry.current(Gto(repo), NAME, "prod").release.revision == first.revision
    with pytest.raises(RegistryError, match="prd"):
        registry.current(Gto(repo), NAME, "prd")
    _hand_tag(repo, f"{NAME}#prod#9", first.revision, date="2099-01-01T00:00:00+00:00")
    with pytest.raises(RegistryError, match="2099"):
        registry.current(Gto(repo), NAME, "prod")
