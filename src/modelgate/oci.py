"""Image digests, git revisions, and the digest a `docker push` reports: standard library only.

The deploy workflow's publish job holds the signing identity, so it runs no code the build job
could have touched and nothing from an environment: it checks out this one file at the
workflow's own commit and runs it with `python3 -I` (no venv, no site-packages, no PYTHONPATH),
which is why it imports nothing from modelgate:

    docker push --all-tags IMAGE | tee push.log
    python3 -I oci.py push-digest --repository IMAGE --tag TAG1 --tag TAG2 < push.log

prints `digest=sha256:...` for $GITHUB_OUTPUT: the digest the registry stored, as the push
reported it for every tag asked for, never a digest looked up afterwards by tag (which a
concurrent push could have moved).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_REVISION = re.compile(r"[0-9a-f]{40}")
# The daemon's own messages (moby distribution/push_v2.go and daemon/containerd/image_push.go):
# "The push refers to repository [%s]" once per push, "%s: digest: %s size: %d" per tag.
_REPOSITORY_LINE = re.compile(r"^The push refers to repository \[(?P<repository>[^\]]+)\]$")
_DIGEST_LINE = re.compile(r"^(?P<tag>[\w][\w.-]{0,127}): digest: (?P<digest>\S+) size: \d+$")


class OciError(ValueError):
    """A digest, revision or push output that cannot be trusted as what was pushed."""


def is_digest(value: str) -> bool:
    """`sha256:` and 64 lowercase hex digits: the only form the registry record accepts."""
    return _DIGEST.fullmatch(value) is not None


def is_revision(value: str) -> bool:
    """A full git commit id, 40 lowercase hex digits (never a branch, tag or short id)."""
    return _REVISION.fullmatch(value) is not None


def push_digest(output: str, repository: str, tags: Sequence[str]) -> str:
    """The one manifest digest that `docker push` reported for every tag in `tags`.

    Refused: output from another repository, a tag asked for but not reported, a tag reported
    but not asked for, two digests, or a digest not of the form `sha256:<64 hex>`.
    """
    lines = [line.rstrip() for line in output.splitlines()]
    pushed_to = {m["repository"] for m in map(_REPOSITORY_LINE.match, lines) if m}
    if not pushed_to:
        raise OciError("not the output of a docker push: no 'The push refers to repository' line")
    if pushed_to != {repository}:
        raise OciError(f"the push went to {', '.join(sorted(pushed_to))}, not {repository}")
    reported = [(m["tag"], m["digest"]) for m in map(_DIGEST_LINE.match, lines) if m]
    by_tag = dict(reported)
    missing = sorted(set(tags) - by_tag.keys())
    if missing:
        raise OciError(f"the push reported no digest for {', '.join(missing)}")
    extra = sorted(by_tag.keys() - set(tags))
    if extra:
        raise OciError(f"the push also pushed {', '.join(extra)}, which was not asked for")
    digests = {digest for _, digest in reported}
    if len(digests) != 1:
        raise OciError(f"the tags were pushed as different manifests: {', '.join(sorted(digests))}")
    digest = digests.pop()
    if not is_digest(digest):
        raise OciError(f"the push reported '{digest}', not sha256:<64 lowercase hex>")
    return digest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    push = commands.add_parser("push-digest", help="the digest in docker push output (stdin)")
    push.add_argument("--repository", required=True, help="e.g. ghcr.io/owner/repo")
    push.add_argument("--tag", action="append", required=True, help="every tag pushed")
    args = parser.parse_args(argv)
    try:
        digest = push_digest(sys.stdin.read(), args.repository, args.tag)
    except OciError as exc:
        sys.stderr.write(f"::error::{exc}\n")
        return 1
    sys.stdout.write(f"digest={digest}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
