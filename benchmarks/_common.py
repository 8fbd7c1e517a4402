"""What the benchmark scripts share: the load average, verdict lines and the results folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def load_average() -> str:
    """The 1-minute load average: on 2 cores anything else running inflates every figure."""
    return f"{os.getloadavg()[0]:.2f}"


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "MISS"


def target_line(name: str, value: float, shown: str, target: float, unit: str = "") -> str:
    """`name: shown (target <= target unit) PASS|MISS`, one line per target."""
    return f"{name}: {shown} (target <= {target:g}{unit}) {verdict(value, target)}"


def write_results(script: str, figures: dict[str, Any]) -> Path:
    """`benchmarks/results/<script>.json` (ignored by git)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{script}.json"
    out.write_text(json.dumps(figures, indent=2))
    return out
