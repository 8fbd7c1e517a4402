"""The model registry: GTO's git tags mapped to the signed images that serve each version.

GTO (https://dvc.org/doc/gto) keeps versions as annotated tags `NAME@vX.Y.Z` and stage
assignments as `NAME#STAGE#N`. Each registration tag's message carries a `Release` record
(modelgate.release): the ONNX `model_version`, a digest of the feature schema, the image
repository and digest, and the git revision, which is what promotion needs.

The deploy and promote workflows call this module, so the mapping is tested here rather than
written in YAML. It needs only the standard library, the `gto` CLI and the YAML reader gto
itself reads `.gto` with (ruamel.yaml), which is all the promote job installs.

A stage tag is trusted only within `.gto`'s stages and only if none of that stage's tags is
dated in the future (modelgate.release says why); gto itself reads any tag it can parse.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelgate import metadata
from modelgate.release import (
    RECORD_KEYS,
    Deployment,
    RegistryError,
    Release,
    check_dates,
    check_stage,
    next_version,
    parse_semver,
    schema_digest,
)

logger = logging.getLogger(__name__)


class Gto:
    """The `gto` CLI on one repository, with JSON in and out; GTO's own errors surface as-is."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        # This interpreter's own gto first: the version uv.lock pins.
        gto = shutil.which("gto", path=str(Path(sys.executable).parent)) or shutil.which("gto")
        if gto is None:
            raise RegistryError("the gto CLI is not installed: run make env (or registry-env)")
        self.exe = gto

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.exe, *args], cwd=self.repo, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RegistryError(f"gto {args[0]} failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    def json(self, *args: str) -> Any:
        out = self.run(*args, "--json").strip()
        return json.loads(out) if out else None

    def tags(self) -> set[str]:
        out = subprocess.run(
            ["git", "tag", "--list"], cwd=self.repo, capture_output=True, text=True, check=True
        )
        return set(out.stdout.split())


def read_stages(repo: Path) -> tuple[str, ...]:
    """The stages `.gto` lists. Without the file or the list, gto accepts any stage; so no
    stage is accepted here, rather than all."""
    from ruamel.yaml import YAML  # gto's dependency and its reader of .gto

    path = repo / ".gto"
    config = YAML(typ="safe", pure=True).load(path.read_text()) if path.is_file() else None
    stages = config.get("stages") if isinstance(config, dict) else None
    if not isinstance(stages, list) or not stages:
        raise RegistryError(f"{path} lists no stages: no stage tag can be trusted")
    return tuple(str(stage) for stage in stages)


def _check_stage_tags(gto: Gto, name: str, stage: str, now: datetime | None) -> None:
    """Refuse a stage any of whose tags, in effect or not, is dated in the future."""
    events = [
        (event["ref"], datetime.fromisoformat(event["timestamp"]))
        for event in gto.json("history", name) or []
        if event.get("stage") == stage
    ]
    check_dates(events, now or datetime.now(UTC))


def _release_of(entry: dict[str, Any]) -> Release:
    """The record in a version's registration message (GTO's `show --json` entry)."""
    messages = [r.get("message", "") for r in entry.get("registrations", [])]
    return Release.from_message(messages[-1] if messages else "", entry.get("ref", "the tag"))


def resolve(gto: Gto, ref: str, now: datetime | None = None) -> Deployment:
    """Map a GTO stage tag to the release its stage holds now.

    Promotion deploys the stage's current assignment, not the tag's version: a delayed or
    re-run job then never deploys a state that a later assignment or rollback replaced.
    `now` (default: this machine's clock) is what no stage tag may be dated after.
    """
    event = gto.json("check-ref", ref)
    if not event:
        raise RegistryError(
            f"'{ref}' is not a GTO tag in this repository: expected NAME#STAGE#N (a stage"
            " assignment) or NAME@vX.Y.Z, and the tag must exist locally (git fetch --tags)"
        )
    name, stage = event["artifact"], event.get("stage")
    if not stage:
        raise RegistryError(
            f"'{ref}' registers {name} {event['version']} but assigns no stage: nothing to"
            f" deploy (gto assign {name} --version {event['version']} --stage STAGE)"
        )
    deployment = current(gto, name, stage, ref, now)
    if deployment.version != event["version"]:
        logger.info(
            "%s assigned %s, but %s now holds %s (%s): deploying that",
            ref,
            event["version"],
            stage,
            deployment.version,
            deployment.assignment,
        )
    return deployment


def current(
    gto: Gto, name: str, stage: str, ref: str | None = None, now: datetime | None = None
) -> Deployment:
    """The release `stage` of `name` holds now, with promotion's checks: the stage is one of
    `.gto`'s and none of its tags is dated in the future. `ref` is what asked (default
    NAME#STAGE), for the record."""
    ref = ref or f"{name}#{stage}"
    check_stage(stage, read_stages(gto.repo), ref)
    _check_stage_tags(gto, name, stage, now)
    held = gto.json("show", f"{name}#{stage}")
    if not held:
        raise RegistryError(f"no version of {name} is assigned to stage '{stage}' any more")
    entry = held[0]
    release = _release_of(entry)
    assignment = next(s["ref"] for s in entry["stages"] if s["stage"] == stage)
    return Deployment(name, entry["version"], stage, ref, assignment, release)


def _versions(gto: Gto, name: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The registered versions of `name`, newest first, and the version each stage holds."""
    summary = (gto.json("show") or {}).get(name)
    if summary is None:
        return [], {}
    entries = gto.json("show", name, "--ro")
    newest_first = sorted(entries, key=lambda e: parse_semver(e["version"]), reverse=True)
    return newest_first, summary.get("stage") or {}


def _next(versions: list[dict[str, Any]], release: Release) -> str:
    if not versions:
        return next_version(None, None, release)
    previous = None
    try:
        previous = _release_of(versions[0])
    except RegistryError as exc:
        logger.warning("%s; counting this release as a new model", exc)
    return next_version(versions[0]["version"], previous, release)


def register(
    gto: Gto, name: str, release: Release, stage: str | None, now: datetime | None = None
) -> dict[str, str]:
    """Register `release` as the next version of `name` at its revision; assign `stage`.

    Returns the version, the tags created (to push) and the stage tag among them. A revision
    already registered is reused, so a re-run deploy creates no second version of it. A stage
    that promotion would refuse (not in `.gto`, or a tag of it dated in the future) is refused
    before anything is tagged.
    """
    if stage:
        check_stage(stage, read_stages(gto.repo), f"--stage {stage}")
        _check_stage_tags(gto, name, stage, now)
    versions, stages = _versions(gto, name)
    before = gto.tags()
    same = [e["version"] for e in versions if e["commit_hexsha"] == release.revision]
    if same:
        version = same[0]
        logger.info("%s is already registered at %s as %s", name, release.revision, version)
    else:
        version = _next(versions, release)
        message = release.to_message(name)
        gto.run("register", name, release.revision, "--version", version, "-m", message)
    if stage and stages.get(stage) != version:
        # --force: GTO refuses a version that held the stage before (a redeploy after a
        # rollback) although the stage's newest assignment is another version.
        gto.run("assign", name, "--version", version, "--stage", stage, "--force")
    created = sorted(gto.tags() - before)
    assigned = next((tag for tag in created if "#" in tag), "")
    return {"name": name, "version": version, "tags": " ".join(created), "stage_tag": assigned}


def describe(model: Path) -> dict[str, str]:
    """The registry's view of an exported model: its name, version and schema digest."""
    keys = (metadata.MODEL_NAME, metadata.MODEL_VERSION, metadata.FEATURE_SCHEMA)
    try:
        meta = metadata.read(model)  # imports onnxruntime: the pipeline environment only
    except Exception as exc:  # ONNX Runtime raises its own Fail types, not OSError
        raise RegistryError(f"{model} is not a readable ONNX model: {exc}") from exc
    missing = metadata.missing(meta, keys)
    if missing:
        raise RegistryError(f"{model} lacks ONNX metadata {', '.join(missing)}: re-run export")
    return {
        "name": meta[metadata.MODEL_NAME],
        "model_version": meta[metadata.MODEL_VERSION],
        "schema_digest": schema_digest(meta[metadata.FEATURE_SCHEMA]),
    }


def _write_outputs(values: dict[str, str]) -> None:
    """`key=value` lines on stdout, ready for `>> "$GITHUB_OUTPUT"`."""
    for key, value in values.items():
        if "\n" in value:
            raise RegistryError(f"output {key} spans lines")
        sys.stdout.write(f"{key}={value}\n")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repo", type=Path, default=Path(), help="git repository")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("describe", help="name, model_version, schema_digest of a model")
    show.add_argument("--model", type=Path, required=True)
    reg = commands.add_parser("register", help="register a pushed image as the next version")
    reg.add_argument("--name", required=True)
    for key in RECORD_KEYS:
        reg.add_argument(f"--{key.replace('_', '-')}", required=True)
    reg.add_argument("--stage", help="also assign this stage (the deploy assigns prod)")
    res = commands.add_parser("resolve", help="the release a stage tag's stage holds now")
    res.add_argument("ref", help="a GTO tag, e.g. credit-risk#prod#3")
    cur = commands.add_parser("current", help="the release a stage of a model holds now")
    cur.add_argument("--name", required=True, help="the model, e.g. credit-risk")
    cur.add_argument("--stage", required=True, help="a stage of .gto, e.g. prod")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "describe":
            _write_outputs(describe(args.model))
        elif args.command == "register":
            release = Release(**{key: getattr(args, key) for key in RECORD_KEYS})
            _write_outputs(register(Gto(args.repo), args.name, release, args.stage))
        elif args.command == "current":
            _write_outputs(current(Gto(args.repo), args.name, args.stage).outputs())
        else:
            _write_outputs(resolve(Gto(args.repo), args.ref).outputs())
    except RegistryError as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
