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

KEY_METRICS = {
    "binary": ("roc_auc", "gini", "ks", "brier", "ece", "approval_rate", "expected_cost"),
    "regression": ("mae", "rmse", "wape", "bias", "r2", "mean_actual"),
}


def gates_line(gates: list[dict]) -> str:
    """Each gate's status and the record's overall one (`modelgate.gates.results`)."""
    each = ", ".join(f"{g['gate']} {g['status']}" for g in gates)
    return f"Gates: {each} -> {results.overall(gates).value.upper()}"


def _split_part(name: str, part: dict) -> str:
    if "positive_rate" in part:
        return f"{name} {part['rows']} ({part['positive_rate']:.1%} positive)"
    return f"{name} {part['rows']} (mean target {part['target_mean']:.4g})"


def _parity_part(name: str, part: dict) -> str:
    text = f"{name} max |diff| {part['max_abs_diff']:.1e}"
    if "flips" in part:
        return f"{text}, {part['flips']} flips"
    return f"{text}, max rel {part['max_rel_diff']:.1e}" if "max_rel_diff" in part else text


def render(
    metrics: dict, parity: dict, split: dict, gates: list[dict], model: Path, reports: Path
) -> str:
    """A binary model's metrics.json has a decision threshold; a regressor's has none."""
    test = metrics["test"]
    task = "binary" if "threshold" in metrics else "regression"
    lines = [
        gates_line(gates),
        f"Pipeline results (test set, {test['rows']} rows):",
        *(f"  {name:<14} {test[name]:.4f}" for name in KEY_METRICS[task]),
    ]
    if task == "binary":
        threshold = metrics["threshold"]
        lines.append(f"  {'threshold':<14} {threshold:.4f}  (decline when score >= threshold)")
    parts = (_parity_part(k, v) for k, v in parity.items() if isinstance(v, dict))
    lines += [
        "Split: " + ", ".join(_split_part(k, v) for k, v in split.items()),
        "ONNX parity: " + ", ".join(parts) + (" -> PASSED" if parity["passed"] else " -> FAILED"),
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
