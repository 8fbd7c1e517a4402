"""The release record in a tag message and the semver policy (no git, no GTO).

The real `gto` CLI runs in tests/integration/test_registry.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from modelgate.release import (
    CLOCK_SKEW,
    FIRST_VERSION,
    Deployment,
    RegistryError,
    Release,
    check_dates,
    check_stage,
    next_version,
    parse_semver,
)

RELEASE = Release(
    model_version="25513695d89f",
    schema_digest="98707de5ddcb",
    image="ghcr.io/acme/modelgate",
    digest="sha256:" + "a" * 64,
    revision="0" * 40,
)


def test_release_round_trips_through_its_tag_message() -> None:
    message = RELEASE.to_message("credit-risk")
    assert message.splitlines()[0] == (
        "credit-risk model 25513695d89f in ghcr.io/acme/modelgate:model-25513695d89f"
    )
    assert Release.from_message(message) == RELEASE


def test_a_message_without_the_record_names_what_is_missing() -> None:
    partial = "Registering artifact credit-risk\nmodel_version: abc\nimage: ghcr.io/a/b"
    with pytest.raises(RegistryError, match=r"credit-risk@v1\.0\.0's message lacks schema_digest"):
        Release.from_message(partial, "credit-risk@v1.0.0")


def test_image_tag_is_the_model_version() -> None:
    assert RELEASE.image_tag == "ghcr.io/acme/modelgate:model-25513695d89f"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"digest": "sha256:" + "b" * 64, "revision": "1" * 40}, "v1.4.3"),  # image rebuilt
        ({"model_version": "ffffffffffff"}, "v1.5.0"),  # new model, same schema
        ({"model_version": "ffffffffffff", "schema_digest": "eeeeeeeeeeee"}, "v2.0.0"),
    ],
)
def test_semver_says_what_changed(change: dict[str, str], expected: str) -> None:
    assert next_version("v1.4.2", RELEASE, replace(RELEASE, **change)) == expected


def test_first_version_and_unreadable_previous_record() -> None:
    assert next_version(None, None, RELEASE) == FIRST_VERSION == "v1.0.0"
    assert next_version("v0.3.1", None, RELEASE) == "v0.4.0"


@pytest.mark.parametrize("bad", ["1.2.3", "v1.2", "v1.2.3-rc1", "latest"])
def test_a_version_outside_semver_is_refused(bad: str) -> None:
    with pytest.raises(RegistryError, match=r"vMAJOR\.MINOR\.PATCH"):
        parse_semver(bad)


def test_deployment_outputs_name_the_image_by_tag_and_by_digest() -> None:
    deployment = Deployment(
        "credit-risk", "v1.0.0", "prod", "credit-risk#prod#3", "credit-risk#prod#3", RELEASE
    )
    outputs = deployment.outputs()
    assert outputs["image_tag"] == "ghcr.io/acme/modelgate:model-25513695d89f"
    assert outputs["image_ref"] == f"ghcr.io/acme/modelgate@sha256:{'a' * 64}"
    assert outputs["stage"] == "prod"
    assert outputs["version"] == "v1.0.0"


@pytest.mark.parametrize(
    "digest",
    ["sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha512:" + "a" * 64, "a" * 64, "", "latest"],
)
def test_a_record_with_a_malformed_digest_is_refused(digest: str) -> None:
    with pytest.raises(RegistryError, match=r"is not sha256:<64 lowercase hex>"):
        replace(RELEASE, digest=digest)


@pytest.mark.parametrize("revision", ["main", "abc1234", "A" * 40, "0" * 41, "", "HEAD"])
def test_a_record_with_a_revision_that_is_not_a_commit_id_is_refused(revision: str) -> None:
    with pytest.raises(RegistryError, match=r"is not a full git commit id \(40 lowercase hex\)"):
        replace(RELEASE, revision=revision)


def test_a_tag_message_with_a_malformed_record_names_the_tag() -> None:
    message = RELEASE.to_message("credit-risk").replace("a" * 64, "a" * 12)
    with pytest.raises(RegistryError, match=r"credit-risk@v1\.0\.0's record is refused: digest"):
        Release.from_message(message, "credit-risk@v1.0.0")


def test_only_the_stages_gto_lists_are_accepted() -> None:
    check_stage("prod", ("staging", "prod"), "credit-risk#prod#1")
    with pytest.raises(
        RegistryError, match=r"'credit-risk#prd#1' names stage 'prd', which \.gto does not list"
    ):
        check_stage("prd", ("staging", "prod"), "credit-risk#prd#1")
    with pytest.raises(RegistryError, match=r"\(stages: none\)"):
        check_stage("prod", (), "credit-risk#prod#1")


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_tag_within_the_clock_skew_is_accepted() -> None:
    assert timedelta(minutes=1) < CLOCK_SKEW <= timedelta(minutes=10)
    check_dates([("m#prod#1", NOW - timedelta(days=300)), ("m#prod#2", NOW + CLOCK_SKEW)], NOW)


def test_a_tag_dated_in_the_future_is_refused() -> None:
    future = NOW + CLOCK_SKEW + timedelta(seconds=1)
    events = [
        ("m#prod#1", NOW - timedelta(days=1)),
        ("m#prod#2", future),
        ("m#prod#3", datetime(2099, 1, 1, tzinfo=UTC)),
    ]
    with pytest.raises(RegistryError) as refused:
        check_dates(events, NOW)
    message = str(refused.value)
    assert "m#prod#2 (2026-03-01T12:05:01+00:00), m#prod#3 (2099-01-01T00:00:00+00:00)" in message
    assert "m#prod#1" not in message
    assert "+ 5 min" in message
    assert "GTO orders assignments by tagger date" in message
