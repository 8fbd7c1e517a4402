"""Ingest: raw CSV -> typed Parquet that obeys the data contract, plus the feature schema.

The input is one CSV file, or a directory of CSV parts (`*.csv`, read in name order) for data
too large to hold at once (issue 13). Parts are read, checked and written one at a time, one
Parquet part per raw part; the output is then a partitioned dataset at the same path. Every
part is checked before anything is written in place, and the violations of all parts are
reported together, one per column and rule with the parts that break it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from modelgate import io, partitions
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import record
from modelgate.gates.contract import contract_gate
from modelgate.params import IngestParams, load_section
from modelgate.schema import (
    MAX_EXAMPLES,
    DataContractError,
    FeatureSchema,
    RawFileError,
    Violation,
    enforce_contract,
    read_raw,
)
from modelgate.tally import Tally

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartsViolation(Violation):
    """One rule broken in several raw parts: `rows` is their sum, `files` each part's share."""

    files: tuple[tuple[str, int], ...] = ()

    def __str__(self) -> str:
        where = ", ".join(f"{name} ({rows})" for name, rows in self.files)
        text = f"column {self.column!r}: {self.rows} row(s) break rule `{self.rule}` in {where}"
        return f"{text} (e.g. {', '.join(self.examples)})" if self.examples else text


def merge_violations(found: Sequence[tuple[str, Sequence[Violation]]]) -> list[Violation]:
    """One violation per (column, rule) from each part's own: rows summed, parts named in
    order, the first examples kept with the part they come from."""
    merged: dict[tuple[str, str], list[tuple[str, Violation]]] = {}
    for name, violations in found:
        for v in violations:
            merged.setdefault((v.column, v.rule), []).append((name, v))
    return [
        PartsViolation(
            column,
            rule,
            sum(v.rows for _, v in hits),
            tuple(f"{e} of {name}" for name, v in hits for e in v.examples)[:MAX_EXAMPLES],
            tuple((name, v.rows) for name, v in hits),
        )
        for (column, rule), hits in merged.items()
    ]


def typed_parts(
    paths: Sequence[Path], params: IngestParams, source: str, tally: Tally
) -> Iterator[pd.DataFrame]:
    """Each raw part typed by the contract, one in memory at a time. Every part is checked;
    a broken one stops the yielding, and DataContractError comes at the end with all parts'
    violations, so a writer consuming this never puts a partial dataset in place."""
    found: list[tuple[str, list[Violation]]] = []
    for path in paths:
        try:
            typed = enforce_contract(read_raw(path), params, str(path))
        except DataContractError as exc:
            found.append((path.name, exc.violations))
            continue
        tally.add(typed)
        if not found:
            yield typed
    if found:
        raise DataContractError(source, merge_violations(found))


def _ingest_parts(source: Path, target: Path, params: IngestParams) -> Tally:
    try:
        paths = partitions.parts(source, "csv")
    except partitions.PartitionError as exc:
        raise RawFileError(str(exc)) from exc
    tally = Tally(FeatureSchema.from_params(params))
    partitions.write_parts(target, typed_parts(paths, params, str(source), tally))
    return tally


def _ingest_file(source: Path, target: Path, params: IngestParams) -> Tally:
    typed = enforce_contract(read_raw(source), params, str(source))
    io.write_parquet(target, typed)
    return Tally(FeatureSchema.from_params(params)).add(typed)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    parser.add_argument("--input", type=Path, required=True, help="a CSV or a directory of them")
    parser.add_argument("--output", type=Path, required=True, help="typed Parquet")
    parser.add_argument("--schema", type=Path, required=True, help="feature schema JSON")
    parser.add_argument("--gates-dir", type=Path, default=None, help="where gate results go")
    parser.add_argument("--report", type=Path, default=None, help="combined gates.json")
    args = parser.parse_args(argv)
    params = load_section(args.params, "ingest", IngestParams)
    gated = args.gates_dir and args.report

    ingest = _ingest_parts if partitions.is_partitioned(args.input) else _ingest_file
    try:
        tally = ingest(args.input, args.output, params)
    except DataContractError as exc:
        if gated:
            record(contract_gate(exc, 0, 0), args.gates_dir, args.report)
        raise
    if gated:
        record(contract_gate(None, tally.rows, len(params.columns)), args.gates_dir, args.report)
    schema = FeatureSchema.from_params(params)
    io.write_json(args.schema, schema.to_dict())
    logger.info(
        "ingest: %d rows, %d features, %s -> %s",
        tally.rows,
        len(schema.features),
        tally.label(),
        args.output,
    )


if __name__ == "__main__":
    entry(main)
