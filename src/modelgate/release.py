"""What a registered model version records, and which semver it gets: no I/O.

A version is one deployable release: a model (the ONNX `model_version`) in one image. Its
record travels as `key: value` lines in the GTO registration tag's message. Semver says what a
caller must expect: major when the feature schema changed (requests must change), minor for a
new model, patch for the same model in a rebuilt image.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

RECORD_KEYS = ("model_version", "schema_digest", "image", "digest", "revision")
FIRST_VERSION = "v1.0.0"
_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
_RECORD_LINE = re.compile(r"^(\w+): (\S+)$", re.MULTILINE)


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
        return cls(**{key: fields[key] for key in RECORD_KEYS})


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
