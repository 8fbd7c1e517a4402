"""Write a promoted image digest into an environment's kustomize overlay (issue 13).

    python -m modelgate.deploy_overlay --env prod --digest sha256:... [--image ghcr.io/o/r]

Sets `digest` (and `newName`, given --image) of the serving image's entry in
deploy/overlays/<env>/kustomization.yaml `images:`; nothing else in the file changes (ruamel's
round trip keeps its comments and order). promote.yml runs it once the digest's signature is
verified and opens a pull request with the change: merging it deploys, a `git revert` of its
commit rolls back (deploy/README.md). Refused, the file untouched: a digest that is not
`sha256:<64 hex>` (a tag moves, a digest does not), an environment with no overlay, an overlay
without the serving image's entry or with a `newTag` beside it. The environments are the
overlays' directories; tests/unit/test_deploy_overlay.py holds them to the stages `.gto` lists.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from io import StringIO
from pathlib import Path
from typing import Any

from modelgate.io import write_bytes
from modelgate.oci import is_digest

logger = logging.getLogger(__name__)

ROOT = Path("deploy")
# The placeholder image of deploy/base/deployment.yaml, which an overlay's entry replaces.
SERVING_IMAGE = "modelgate-serve"
KUSTOMIZATION = "kustomization.yaml"
# A repository without tag or digest: registry host (and port), then lowercase path parts.
_REPOSITORY = re.compile(r"[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+")


class OverlayError(ValueError):
    """An environment, digest, image or overlay the promotion cannot write."""


def environments(root: Path) -> list[str]:
    """The environments that have an overlay: the directories of `root`/overlays."""
    return sorted(p.parent.name for p in (root / "overlays").glob(f"*/{KUSTOMIZATION}"))


def overlay_file(root: Path, env: str) -> Path:
    known = environments(root)
    if env not in known:
        listed = ", ".join(known) or "none"
        raise OverlayError(f"unknown environment {env!r}: {root}/overlays has {listed}")
    return root / "overlays" / env / KUSTOMIZATION


def _yaml() -> Any:
    from ruamel.yaml import YAML  # the registry env's (GTO's) ruamel, as modelgate.io does

    yaml = YAML()  # round trip: comments, order and block scalars stay as written
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def _serving_entry(document: Any) -> Any:
    entries = [e for e in (document or {}).get("images") or [] if e.get("name") == SERVING_IMAGE]
    if len(entries) != 1:
        raise OverlayError(
            f"images has {len(entries)} entries named {SERVING_IMAGE!r}, not one: "
            "add `- name: modelgate-serve` with newName and digest"
        )
    if "newTag" in entries[0]:
        raise OverlayError(f"images[{SERVING_IMAGE}] has a newTag: remove it, a tag moves")
    return entries[0]


def set_digest(text: str, digest: str, image: str | None = None) -> str:
    """The kustomization `text` with the serving image's digest (and repository) replaced."""
    if not is_digest(digest):
        raise OverlayError(
            f"digest {digest!r} is not sha256:<64 lowercase hex>: images[{SERVING_IMAGE}]"
            ".digest takes the promoted manifest's digest, never a tag"
        )
    if image is not None and not _REPOSITORY.fullmatch(image):
        raise OverlayError(f"image {image!r} is not a repository such as ghcr.io/owner/name")
    yaml = _yaml()
    document = yaml.load(text)
    entry = _serving_entry(document)
    entry["digest"] = digest
    if image is not None:
        entry["newName"] = image
    out = StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def promote(root: Path, env: str, digest: str, image: str | None = None) -> bool:
    """Write the digest into `env`'s overlay; whether the file changed."""
    path = overlay_file(root, env)
    text = path.read_text(encoding="utf-8")
    try:
        updated = set_digest(text, digest, image)
    except OverlayError as exc:
        raise OverlayError(f"{path}: {exc}") from None
    if updated == text:
        return False
    write_bytes(path, updated.encode("utf-8"))
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", required=True, help="an overlay under ROOT/overlays")
    parser.add_argument("--digest", required=True, help="sha256:<64 hex>, the signed manifest")
    parser.add_argument("--image", help="the repository, e.g. ghcr.io/owner/name")
    parser.add_argument("--root", type=Path, default=ROOT, help="the kustomize tree")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        changed = promote(args.root, args.env, args.digest, args.image)
    except (OverlayError, OSError) as exc:
        logger.error("%s", exc)
        return 1
    state = "now" if changed else "already"
    logger.info("%s overlay %s %s deploys %s", args.env, args.root, state, args.digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
