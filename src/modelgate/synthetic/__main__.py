"""`python -m modelgate.synthetic`: write the parts, then point the params file at them."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import pyarrow.csv as pa_csv

from modelgate import partitions, synthetic
from modelgate.adopt import params_file, yaml_edit
from modelgate.adopt.profile import AdoptError
from modelgate.cli import entry
from modelgate.gates.params import ModelGateParams
from modelgate.params import IngestParams, ParamsError
from modelgate.synthetic.generate import generate_part

logger = logging.getLogger(__name__)


def write(out: Path, rows: int, parts: int, seed: int) -> None:
    """Write `rows` rows in `parts` CSV parts into `out`, replacing it only when all are."""
    if parts < 1 or rows < parts:
        raise ParamsError(f"--rows {rows} / --parts {parts}: every part needs at least one row")
    with partitions.atomic_dir(out) as tmp:
        for index in range(parts):
            size = rows // parts + (index < rows % parts)
            target = tmp / partitions.part_name(index, "csv")
            pa_csv.write_csv(generate_part(size, seed, index), target)


def params_text(path: Path, raw: str) -> str:
    """The params file with `ingest` pointing at the generated data (and `split.by`, the model
    gate's segments fitted to it), as text: a round-trip edit, so every other section keeps its
    text and comments. It must load through its models and name only declared columns."""
    try:
        document = yaml_edit.load_document(path)
    except AdoptError as exc:
        raise ParamsError(str(exc)) from exc
    yaml_edit.assign(document, "ingest", synthetic.ingest_section(raw), block=True)
    # What names the old data's columns: no date to split by, segments of this table.
    yaml_edit.assign(document, "split.by", None)
    yaml_edit.assign(document, "gates.model.segments.by", synthetic.SEGMENTS, block=True)
    text: str = yaml_edit.dump_document(document)
    params_file.validate(text, {"ingest": IngestParams, "gates.model": ModelGateParams}, path)
    params_file.check_references(text, path)
    return text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m modelgate.synthetic",
        description=synthetic.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--parts", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory of CSV parts")
    parser.add_argument("--params", type=Path, required=True, help="params file to rewrite")
    args = parser.parse_args(argv)
    text = params_text(args.params, str(args.out))  # a params file it cannot edit: no data
    write(args.out, args.rows, args.parts, args.seed)
    params_file.write(args.params, text)
    logger.info("synthetic: %d rows in %d parts -> %s", args.rows, args.parts, args.out)


if __name__ == "__main__":
    entry(main)
