"""What a registered model version records, and which semver it gets: no I/O.

A version is one deployable release: a model (the ONNX `model_version`) in one image. Its
record travels as `key: value` lines in the GTO registration tag's message. Semver says what a
caller must expect: major when the feature schema changed (requests must change), minor for a
new model, patch for the same model in a rebuilt image.

Promotion trusts a stage tag only as far as these rules allow: its stage must be one `.gto`
lists, and no tag of that stage may be dated in the future (GTO orders assignments by tagger
date, which whoever creates the tag sets: a tag dated 2099 would hold the stage until 2099).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from modelgate.oci import is_digest, is_revision

RECORD_KEYS = ("model_version", "schema_digest", "image", "digest", "revision")
FIRST_VERSION = "v1.0.0"
_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_RECORD_LINE = re.compile(r"^(\w+): (\S+)$", re.MULTILINE)
# How far ahead of this machine's clock a tag may be dated: clocks of the machines that create
# tags drift, a tag from 2099 is no drift.
CLOCK_SKEW = timedelta(minutes=5)


class RegistryError(RuntimeError):
    """A ref, tag message or registry state that cannot be turned into a deployment."""


@dataclass(frozen=True)
class Release:
    """What one registered version serves; stored as `key: value` lines in the tag message."""

    model_version: str
    schema_digest: str
    image: str  # repository, e.g. ghcr.io/owner/repo
    digest: str  # sha256:..., the pushed and signed manifest
    revision: str  # the git commit the image was built from

    def __post_init__(self) -> None:
        # What promotion verifies and deploys: a malformed value must fail here, not in cosign.
        if not is_digest(self.digest):
            raise RegistryError(f"digest '{self.digest}' is not sha256:<64 lowercase hex>")
        if not is_revision(self.revision):
            raise RegistryError(
                f"revision '{self.revision}' is not a full git commit id (40 lowercase hex)"
            )

    @property
    def image_tag(self) -> str:
        return f"{self.image}:model-{self.model_version}"

    def to_message(self, name: str) -> str:
        lines = [f"{key}: {value}" for key, value in asdict(self).items()]
        return f"{name} model {self.model_version} in {self.image_tag}\n\n" + "\n".join(lines)

    @classmethod
    def from_message(cls, message: str, tag: str = "the tag") -> Release:
        fields = dict(_RECORD_LINE.findall(message))
        missing = [key for key in RECORD_KEYS if key not in fields]
        if missing:
            raise RegistryError(
                f"{tag}'s message lacks {', '.join(missing)}: it was not registered by the deploy"
                " workflow (python -m modelgate.registry register), so its image is unknown"
            )
        try:
            return cls(**{key: fields[key] for key in RECORD_KEYS})
        except RegistryError as exc:
            raise RegistryError(f"{tag}'s record is refused: {exc}") from None


@dataclass(frozen=True)
class Deployment:
    """A stage and the release it holds now, as promotion needs them."""

    name: str
    version: str
    stage: str
    ref: str  # the tag that asked for this deployment
    assignment: str  # the stage's assignment tag in effect now
    release: Release

    def outputs(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "assignment": self.assignment,
            "image_tag": self.release.image_tag,
            "image_ref": f"{self.release.image}@{self.release.digest}",
            **asdict(self.release),
        }


def parse_semver(version: str) -> tuple[int, int, int]:
    match = _SEMVER.match(version)
    if not match:
        raise RegistryError(f"version '{version}' is not of the form vMAJOR.MINOR.PATCH")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def next_version(latest: str | None, previous: Release | None, new: Release) -> str:
    """The version `new` registers as, after `latest` whose record is `previous`.

    An unreadable previous record (a version tagged by hand) counts as a different model.
    """
    if latest is None:
        return FIRST_VERSION
    major, minor, patch = parse_semver(latest)
    if previous is None or previous.model_version != new.model_version:
        if previous is not None and previous.schema_digest != new.schema_digest:
            return f"v{major + 1}.0.0"
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def schema_digest(feature_schema: str) -> str:
    return hashlib.sha256(feature_schema.encode()).hexdigest()[:12]


def check_stage(stage: str, stages: Sequence[str], ref: str) -> None:
    """Refuse a stage `.gto` does not list: gto reads any `NAME#STAGE#N` tag pushed by hand."""
    if stage not in stages:
        listed = ", ".join(stages) or "none"
        raise RegistryError(
            f"'{ref}' names stage '{stage}', which .gto does not list (stages: {listed}): refused"
        )


def check_dates(events: Sequence[tuple[str, datetime]], now: datetime) -> None:
    """Refuse when any of a stage's tags (`(ref, tagger date)`) is dated after now + skew."""
    future = [(ref, when) for ref, when in events if when > now + CLOCK_SKEW]
    if future:
        dated = ", ".join(f"{ref} ({when.isoformat()})" for ref, when in future)
        skew = f"{CLOCK_SKEW.total_seconds() / 60:.0f} min"
        raise RegistryError(
            f"{dated} dated after now ({now.isoformat(timespec='seconds')}) + {skew}:"
            " GTO orders assignments by tagger date, so that tag would hold the stage until"
            " then; delete it (git push --delete origin TAG) and assign again"
        )
