"""Per-feature drift between the base's and the PR's training data: population stability index
(PSI) for every feature, plus the two-sample Kolmogorov-Smirnov test for numeric ones.

PSI bins come from the base: deciles for numbers, categories for the rest, missing values as a
bin of their own, so a feature that starts to go missing shows up too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

PSI_BINS = 10
PSI_FLOOR = 1e-4  # an empty bin would make PSI infinite
MODERATE_PSI, MAJOR_PSI = 0.1, 0.25  # the usual rule of thumb for PSI


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    psi: float
    ks: float | None = None
    ks_pvalue: float | None = None

    @property
    def level(self) -> str:
        if self.psi >= MAJOR_PSI:
            return "major shift"
        return "moderate shift" if self.psi >= MODERATE_PSI else "stable"


def psi(base_shares: np.ndarray, pr_shares: np.ndarray) -> float:
    b = np.clip(base_shares, PSI_FLOOR, None)
    p = np.clip(pr_shares, PSI_FLOOR, None)
    return float(np.sum((p - b) * np.log(p / b)))


def _shares(codes: pd.Series, n_bins: int) -> np.ndarray:
    counts = np.bincount(codes.to_numpy(int), minlength=n_bins).astype(float)
    return counts / max(counts.sum(), 1.0)


def numeric_drift(name: str, base: pd.Series, pr: pd.Series) -> FeatureDrift:
    base_num, pr_num = pd.to_numeric(base, errors="coerce"), pd.to_numeric(pr, errors="coerce")
    present = base_num.dropna().to_numpy(float)
    edges = (
        np.unique(np.quantile(present, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
        if len(present)
        else np.array([])
    )
    n_bins = len(edges) + 2  # value bins, then one for missing values

    def codes(values: pd.Series) -> pd.Series:
        binned = pd.Series(np.searchsorted(edges, values.to_numpy(float), side="right"))
        return binned.where(values.notna().to_numpy(), n_bins - 1)

    value = psi(_shares(codes(base_num), n_bins), _shares(codes(pr_num), n_bins))
    b, p = present, pr_num.dropna().to_numpy(float)
    if len(b) and len(p):
        test = stats.ks_2samp(b, p)
        return FeatureDrift(name, "numeric", value, float(test.statistic), float(test.pvalue))
    return FeatureDrift(name, "numeric", value)


def categorical_drift(name: str, base: pd.Series, pr: pd.Series) -> FeatureDrift:
    base_s, pr_s = (
        base.astype("string").fillna("(missing)"),
        pr.astype("string").fillna("(missing)"),
    )
    levels = sorted(set(base_s) | set(pr_s))
    index = {level: i for i, level in enumerate(levels)}
    value = psi(_shares(base_s.map(index), len(levels)), _shares(pr_s.map(index), len(levels)))
    return FeatureDrift(name, "categorical", value)


def feature_drift(
    base: pd.DataFrame, pr: pd.DataFrame, kinds: dict[str, str]
) -> list[FeatureDrift]:
    """Drift of every feature in `kinds` (name -> numeric | integer | categorical) found in
    both frames, most shifted first."""
    out = []
    for name, kind in kinds.items():
        if name not in base or name not in pr:
            continue
        measure = categorical_drift if kind == "categorical" else numeric_drift
        out.append(measure(name, base[name], pr[name]))
    return sorted(out, key=lambda d: -d.psi)
