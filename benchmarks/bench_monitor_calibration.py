"""Calibration of the drift monitor (issue 10.4): how often it alarms on windows without drift,
at every window size, and how often it finds drift that is there, on the bundled data.

Targets: the family-wise false-alarm rate (the share of no-drift windows in which any test
alarms) <= 5% at 100, 500, 2,000, 20,000 and 100,000 rows, the upper end of its 95%
Clopper-Pearson interval included; power >= 90% for a 0.25-SD mean shift of one numeric feature
at 500 rows and a 0.1-SD shift at 20,000; a category's share doubling found at 2,000 rows.

The null. A window of 100,000 rows resampled from the 891 held-out test rows is not a sample of
the population the reference came from: it holds at most 891 distinct rows, so it reproduces
the test set's own sampling noise (its Income sits 0.09 SD, in Wasserstein distance, from the
reference's), and at 100,000 rows every test sees that noise as drift; measured against a fixed
reference this way, any test's false alarms grow with the window. So each replicate draws, with
replacement and independently, from one pool (all 4,454 bundled rows, scored by
`models/model.onnx`):

- a reference of as many rows as train + validation (3,563), built by `Reference.build` with
  `monitor.reference_sample` and `monitor.seed`, its last 891 rows playing the validation rows
  (their scores are the reference's scores, their labels its labels);
- one window per scenario, of the scenario's size.

Both are samples of one population, the pool's distribution, ties and missing values included,
so every alarm is a false one. Every replicate's reference serves every scenario of that
replicate. The real case is printed as well, at the sizes the held-out rows support: windows of
100 and 500 of the 891 test rows (drawn without replacement) against the pipeline's reference
(train + validation, validation scores). Those windows overlap and share one test set, so the
rate is conditional on that set and its interval only indicative.

Shifts. A number moves by d standard deviations of the pool's non-missing values, missing values
staying missing. Income (a float) gets +d SD. Age is an integer and stays one: each row moves by
floor(d SD) or that plus 1, the larger with chance frac(d SD), so the mean moves by exactly d SD
and every value stays on the integer lattice the contract demands (adding 2.75 years to every
age would put every window value between the reference's and any test would see that at once,
which is not the power in question). A category's share doubles by drawing the window with
weight 2 on its rows and (1 - 2p) / (1 - p) on the others, p its share of the pool. The window's
scores are the model's scores of the rows as shifted (each pool row is scored shifted up front).
Power counts the windows whose `drifted` names the shifted feature; "any alarm" counts windows
with any alarm; "held by floors" those with a test significant after Holm whose effect fell
short of its floor (materiality at work).

Baseline: the PSI rule as teams run it (the issue's), on the same windows: PSI per feature over
the reference's deciles (a category per bin; missing values a bin of their own; shares floored
at 1e-4), alarm when any feature reaches 0.1 (or 0.25); on shifted windows, when the shifted
feature does.

    .venv/bin/python benchmarks/bench_monitor_calibration.py [--replicates 1000] [--seed 0]
        [--json]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort
import pandas as pd
from _common import ROOT, load_average, write_results
from scipy import stats

from modelgate import io
from modelgate.model import labels, model_frame
from modelgate.monitor.check import check_drift
from modelgate.monitor.reference import Reference
from modelgate.onnx_export import onnx_scores
from modelgate.params import MonitorParams, load_section
from modelgate.schema import FeatureSchema

NULL_SIZES = (100, 500, 2_000, 20_000, 100_000)
HELD_OUT_SIZES = (100, 500)
FALSE_ALARMS, POWER = 0.05, 0.90
PSI_FLOOR = 1e-4  # the share an empty bin gets in common PSI implementations
PSI_LINES = (0.1, 0.25)
Draw = Callable[[np.random.Generator, int], dict[str, np.ndarray]]


@dataclass
class Pool:
    """Every bundled row: as the contract types them (for Reference.build), as the log gives
    them (numbers float64 with NaN, categories str with ''), with the model's scores."""

    schema: FeatureSchema
    session: ort.InferenceSession
    frame: pd.DataFrame
    model: pd.DataFrame
    columns: dict[str, np.ndarray]
    labels: np.ndarray
    reference_rows: int
    validation_rows: int

    def window(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {name: values[idx] for name, values in self.columns.items()}

    def scores(self, feature: str, values: np.ndarray) -> np.ndarray:
        model = self.model.copy()
        model[feature] = values.astype(np.float32)
        return onnx_scores(self.session, model, self.schema).astype(np.float64)


def load_pool() -> Pool:
    schema = FeatureSchema.from_dict(io.read_json(ROOT / "data/processed/schema.json"))
    session = ort.InferenceSession(str(ROOT / "models/model.onnx"))
    parts = [pd.read_parquet(ROOT / f"data/split/{p}.parquet") for p in ("train", "validation")]
    test = pd.read_parquet(ROOT / "data/split/test.parquet")
    frame = pd.concat([*parts, test], ignore_index=True)
    model = model_frame(frame, schema)
    columns = {n: model[n].to_numpy(np.float64) for n in schema.numeric}
    columns |= {n: model[n].to_numpy(object) for n in schema.categorical}
    columns["score"] = onnx_scores(session, model, schema).astype(np.float64)
    return Pool(schema, session, frame, model, columns, labels(frame, schema),
                len(parts[0]) + len(parts[1]), len(parts[1]))  # fmt: skip


def draw_reference(pool: Pool, rng: np.random.Generator, params: MonitorParams) -> Reference:
    idx = rng.integers(0, len(pool.frame), pool.reference_rows)
    validation = idx[-pool.validation_rows :]
    return Reference.build(
        pool.frame.iloc[idx], pool.schema, pool.columns["score"][validation],
        pool.labels[validation], "benchmark", params.reference_sample, params.seed,
    )  # fmt: skip


def unchanged(pool: Pool) -> Draw:
    return lambda rng, rows: pool.window(rng.integers(0, len(pool.frame), rows))


def shifted(pool: Pool, feature: str, sds: float) -> Draw:
    values = pool.columns[feature]
    delta = sds * float(np.nanstd(values))
    integer = pool.schema.columns[feature].kind == "integer"
    low = np.floor(delta) if integer else delta
    chance = delta - low if integer else 0.0
    variants = [values + low, values + low + 1]  # the second only for integers
    scores = [pool.scores(feature, v) for v in variants]

    def draw(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
        idx = rng.integers(0, len(pool.frame), rows)
        up = rng.random(rows) < chance
        out = pool.window(idx)
        out[feature] = np.where(up, variants[1][idx], variants[0][idx])
        out["score"] = np.where(up, scores[1][idx], scores[0][idx])
        return out

    return draw


def doubled(pool: Pool, feature: str, category: str) -> Draw:
    hit = pool.columns[feature] == category
    share = hit.mean()
    cumulative = np.cumsum(np.where(hit, 2.0, (1 - 2 * share) / (1 - share)))

    def draw(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
        idx = np.searchsorted(cumulative, rng.random(rows) * cumulative[-1], side="right")
        return pool.window(idx)

    return draw


@dataclass
class Scenario:
    name: str
    rows: int
    draw: Draw
    feature: str | None = None  # the one shifted; None: no drift
    judged: bool = True  # False: reported without a target
    alarms: int = 0
    detected: int = 0
    immaterial: int = 0  # windows with a significant test but no alarm: the floors held them
    psi: dict[float, int] = field(default_factory=lambda: dict.fromkeys(PSI_LINES, 0))
    tests: Counter[str] = field(default_factory=Counter)
    windows: int = 0
    seconds: float = 0.0

    def record(self, block: dict, psi: dict[str, float]) -> None:
        self.windows += 1
        self.alarms += block["status"] == "drift"
        items = [*block["features"], block["score"]]
        significant = any(t["significant"] for item in items for t in item["tests"])
        self.immaterial += significant and block["status"] != "drift"
        self.detected += self.feature in block["drifted"]
        judged = psi.values() if self.feature is None else [psi[self.feature]]
        for line in PSI_LINES:
            self.psi[line] += max(judged) >= line
        for item in items:
            self.tests.update(f"{item['feature']}:{t['test']}" for t in item["tests"] if t["drift"])


def scenarios(pool: Pool) -> list[Scenario]:
    out = [Scenario(f"no drift, {n:,} rows", n, unchanged(pool)) for n in NULL_SIZES]
    for feature in ("Age", "Income"):
        out.append(Scenario(f"{feature} +0.25 SD", 500, shifted(pool, feature, 0.25), feature))
        out.append(Scenario(f"{feature} +0.1 SD", 20_000, shifted(pool, feature, 0.1), feature))
    for feature, category in (("Job", "partime"), ("Marital", "separated")):
        out.append(Scenario(f"{feature}={category} x2", 2_000, doubled(pool, feature, category),
                            feature))  # fmt: skip
    return out


def psi_rule(reference: Reference, window: dict[str, np.ndarray]) -> dict[str, float]:
    """PSI per feature over the reference's deciles (categories), missing values a bin."""
    out = {}
    for name, ref in reference.numeric.items():
        edges = np.unique(np.quantile(ref.values, np.arange(1, 10) / 10))
        values = window[name]
        present = ~np.isnan(values)
        bins = len(edges) + 1
        p = np.bincount(np.searchsorted(edges, ref.values, "right"), minlength=bins)
        p = np.r_[p / p.sum() * (1 - ref.missing / ref.rows), ref.missing / ref.rows]
        q = np.bincount(np.searchsorted(edges, values[present], "right"), minlength=bins)
        out[name] = _psi(p, np.r_[q, (~present).sum()] / len(values))
    for name, cat in reference.categorical.items():
        found = Counter(window[name].tolist())
        keys = sorted({*cat.counts, *found, ""})
        p = np.array([cat.counts.get(k, cat.missing if k == "" else 0) for k in keys]) / cat.rows
        out[name] = _psi(p, np.array([found.get(k, 0) for k in keys]) / len(window[name]))
    return out


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def run(
    pool: Pool, params: MonitorParams, replicates: int, seed: int
) -> tuple[list[Scenario], list[Scenario]]:
    simulated = scenarios(pool)
    for r in range(replicates):
        reference = draw_reference(pool, np.random.default_rng([seed, r]), params)
        for i, scenario in enumerate(simulated):
            window = scenario.draw(np.random.default_rng([seed, r, i]), scenario.rows)
            start = time.perf_counter()
            block = check_drift(reference, pd.DataFrame(window), params.drift)
            scenario.seconds += time.perf_counter() - start
            scenario.record(block, psi_rule(reference, window))
    return simulated, held_out(pool, params, replicates, seed)


def held_out(pool: Pool, params: MonitorParams, replicates: int, seed: int) -> list[Scenario]:
    """Windows of the test rows against the pipeline's own reference."""
    fit = np.arange(pool.reference_rows)
    validation = fit[-pool.validation_rows :]
    reference = Reference.build(
        pool.frame.iloc[fit], pool.schema, pool.columns["score"][validation],
        pool.labels[validation], "pipeline", params.reference_sample, params.seed,
    )  # fmt: skip
    test = np.arange(pool.reference_rows, len(pool.frame))
    out = []
    for rows in HELD_OUT_SIZES:
        scenario = Scenario(f"held-out rows, {rows:,}", rows, unchanged(pool), judged=False)
        for r in range(replicates):
            rng = np.random.default_rng([seed, r, rows])
            window = pool.window(rng.choice(test, rows, replace=False))
            start = time.perf_counter()
            block = check_drift(reference, pd.DataFrame(window), params.drift)
            scenario.seconds += time.perf_counter() - start
            scenario.record(block, psi_rule(reference, window))
        out.append(scenario)
    return out


def clopper_pearson(hits: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    tail = (1 - level) / 2
    low = stats.beta.ppf(tail, hits, trials - hits + 1) if hits else 0.0
    high = stats.beta.ppf(1 - tail, hits + 1, trials - hits) if hits < trials else 1.0
    return float(low), float(high)


def figures(scenario: Scenario) -> dict[str, object]:
    null = scenario.feature is None
    hits = scenario.alarms if null else scenario.detected
    low, high = clopper_pearson(hits, scenario.windows)
    rate = hits / scenario.windows
    passed = high <= FALSE_ALARMS if null else rate >= POWER
    target = f"<= {FALSE_ALARMS:.0%} (upper)" if null else f">= {POWER:.0%}"
    return {
        "rows": scenario.rows, "windows": scenario.windows, "measure": "false alarms" if null
        else "power", "rate": rate, "low": low, "high": high,
        "target": target if scenario.judged else "- (one test set)",
        "verdict": ("PASS" if passed else "MISS") if scenario.judged else "-",
        "any_alarm": scenario.alarms / scenario.windows,
        "held_by_floors": scenario.immaterial / scenario.windows,
        **{f"psi_{line}": n / scenario.windows for line, n in scenario.psi.items()},
        "check_ms": 1000 * scenario.seconds / scenario.windows,
        "alarming_tests": dict(scenario.tests.most_common()),
    }  # fmt: skip


def table(results: dict[str, dict]) -> list[str]:
    lines = ["| scenario | rows | windows | measured | 95% interval | target | verdict | any alarm"
             " | held by floors | PSI >= 0.1 | PSI >= 0.25 | check (ms) |",
             "|" + " --- |" * 12]  # fmt: skip
    for name, f in results.items():
        lines.append(
            f"| {name} | {f['rows']:,} | {f['windows']:,} | {f['measure']} {f['rate']:.1%} | "
            f"[{f['low']:.1%}, {f['high']:.1%}] | {f['target']} | {f['verdict']} | "
            f"{f['any_alarm']:.1%} | {f['held_by_floors']:.1%} | {f['psi_0.1']:.1%} | "
            f"{f['psi_0.25']:.1%} | "
            f"{f['check_ms']:.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000, help="windows per scenario")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="write benchmarks/results/")
    args = parser.parse_args()
    params = load_section(ROOT / "params.yaml", "monitor", MonitorParams)
    print(f"load average at start: {load_average()}")
    start = time.perf_counter()
    simulated, real = run(load_pool(), params, args.replicates, args.seed)
    results = {s.name: figures(s) for s in [*simulated, *real]}
    print(f"\nalpha {params.drift.alpha}, Holm; floors: numeric {params.drift.numeric_floor}, "
          f"score {params.drift.score_floor}, PSI {params.drift.categorical_floor}\n")  # fmt: skip
    print("\n".join(table(results)))
    print("\nalarming tests in no-drift windows (windows in which each alarmed):")
    for name, f in results.items():
        if f["measure"] == "false alarms" and f["alarming_tests"]:
            print(f"  {name}: {f['alarming_tests']}")
    elapsed = time.perf_counter() - start
    print(f"\n{elapsed:.0f} s; load average at end: {load_average()}")
    if args.json:
        print(f"written: {write_results('bench_monitor_calibration', results)}")


if __name__ == "__main__":
    main()
