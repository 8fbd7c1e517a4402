"""Print what the last pipeline run produced: key metrics and where the artefacts are."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from modelgate import io
from modelgate.gates import results

logger = logging.getLogger(__name__)

KEY_METRICS = ("roc_auc", "gini", "ks", "brier", "ece", "approval_rate", "expected_cost")


def gates_line(gates: list[dict]) -> str:
    """Each gate's status and the record's overall one (`modelgate.gates.results`)."""
    each = ", ".join(f"{g['gate']} {g['status']}" for g in gates)
    return f"Gates: {each} -> {results.overall(gates).value.upper()}"


def render(
    metrics: dict, parity: dict, split: dict, gates: list[dict], model: Path, reports: Path
) -> str:
    test = metrics["test"]
    lines = [
        gates_line(gates),
        f"Pipeline results (test set, {test['rows']} rows):",
        *(f"  {name:<14} {test[name]:.4f}" for name in KEY_METRICS),
        f"  {'threshold':<14} {metrics['threshold']:.4f}  (decline when score >= threshold)",
        "Split: "
        + ", ".join(
            f"{k} {v['rows']} ({v['positive_rate']:.1%} positive)" for k, v in split.items()
        ),
        "ONNX parity: "
        + ", ".join(
            f"{k} max |dp| {v['max_abs_diff']:.1e}, {v['flips']} flips"
            for k, v in parity.items()
            if isinstance(v, dict)
        )
        + (" -> PASSED" if parity["passed"] else " -> FAILED"),
        f"Model:   {model} ({model.stat().st_size // 1024} kB)",
        f"Reports: {reports}/ (metrics.json, parity.json, split.json, plots/, predictions/)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--model", type=Path, default=Path("models/model.onnx"))
    args = parser.parse_args(argv)
    text = render(
        io.read_json(args.reports / "metrics.json"),
        io.read_json(args.reports / "parity.json"),
        io.read_json(args.reports / "split.json"),
        results.merge(args.reports / "gates"),
        args.model,
        args.reports,
    )
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
