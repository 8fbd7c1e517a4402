"""`modelgate adopt --data file.csv --target column ...` (the rules: modelgate.adopt)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelgate.adopt import params_file, place, yaml_edit
from modelgate.adopt.decide import Adoption, Request, decide, model_name
from modelgate.adopt.profile import AdoptError
from modelgate.adopt.summary import render
from modelgate.cli import EXPECTED_FAILURES, configure_logging

# read_raw is ingest's own reader: adopt must see the file exactly as ingest will.
from modelgate.schema import read_raw

logger = logging.getLogger(__name__)


def _names(value: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in value.split(",") if name.strip())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="modelgate adopt", description=__doc__)
    p.add_argument("--data", type=Path, required=True, help="the CSV to adopt")
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument("--positive", default=None, help="binary: the class the model scores")
    p.add_argument("--task", choices=("binary", "regression"), default=None)
    p.add_argument("--date", default=None, help="the date column that orders the split")
    p.add_argument("--protected", type=_names, default=(), help="a,b: fairness only")
    p.add_argument("--drop", type=_names, default=(), help="a,b: columns to leave out")
    p.add_argument("--name", default=None, help="the model's serving name (a DNS label)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--repo", type=Path, default=Path(), help="the repository root")
    return p


def apply(document: Any, adoption: Adoption, raw_path: str, name: str) -> None:
    """Write the adoption into the round-trip params `document`."""
    templates = params_file.templates()
    task = adoption.target.task
    yaml_edit.assign(document, "ingest", adoption.ingest(raw_path), block=True)
    yaml_edit.assign(document, "split.by", adoption.split_by)
    yaml_edit.assign(document, "export.model_name", name)
    dated = "dated" if adoption.split_by else "undated"
    settings = {**templates["always"], **templates[task], **templates[dated]}
    for dotted, value in settings.items():
        yaml_edit.assign(document, dotted, value)
    yaml_edit.assign(document, "gates.model.segments.by", adoption.segments, block=True)
    comments = {**templates["comments"]["always"], **templates["comments"][task]}
    for dotted, text in comments.items():
        if _has(document, dotted):
            yaml_edit.comment_at(document, dotted, text)


def _has(document: Any, dotted: str) -> bool:
    node = document
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def adopt(args: argparse.Namespace) -> str:
    repo = args.repo.resolve()
    params_path = args.params if args.params.is_absolute() else repo / args.params
    raw = read_raw(args.data)
    request = Request(args.target, args.task, args.positive, args.protected, args.date, args.drop)
    adoption = decide(raw, request, str(args.data))
    name = args.name or model_name(args.data.stem)
    raw_path = f"data/raw/{args.data.name}"

    document = yaml_edit.load_document(params_path)
    old_raw = (document.get("ingest") or {}).get("raw")
    apply(document, adoption, raw_path, name)
    text = yaml_edit.dump_document(document)
    params_file.validate(text, params_file.section_models(), params_path)
    params_file.check_references(text, params_path)

    copied = place.copy_in(args.data, repo / raw_path)
    place.track(repo, raw_path, copied)
    params_file.write(params_path, text)
    note = place.untrack(repo, old_raw, raw_path)
    return render(adoption, raw_path, [note] if note else [])


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = parser().parse_args(argv)
    try:
        report = adopt(args)
    except (AdoptError, *EXPECTED_FAILURES) as exc:
        sys.stderr.write(f"modelgate adopt: {exc}\n")
        return 1
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
