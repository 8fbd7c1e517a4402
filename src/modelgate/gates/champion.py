"""Champion / challenger gate: the working tree's model against the base branch's model, both
scored on the same test rows, with a paired bootstrap interval of the task's metric: the ROC-AUC
difference for a classifier, the relative MAE change (challenger over champion, minus 1) for a
regressor. A base model of another task or feature set (the first run on adopted data) is not a
champion; the gate warns and says why instead of comparing the incomparable.

The base model is found through git, never the network: the base commit's `dvc.lock` names the
ONNX file's md5, looked up in the local DVC cache (CI restores it or `dvc fetch`es it first).
When it is not there, the gate compares against the base's git-tracked metrics and says so.
When the data changed, the split is drawn anew and some of the PR's test rows were in the base
model's training or validation rows; those rows, found through the base's split outputs in the
same cache, are left out so that both models are scored only on rows neither has seen.
The base is not a DVC dependency on purpose: which branch is the base is a fact about the pull
request, not an input of the model, and dvc.lock must be the same on every branch with the
same inputs. So this stage has no declared outputs; it writes its gate file beside the others.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
from pandas.api.types import is_numeric_dtype
from sklearn.metrics import roc_auc_score

from modelgate import gitdvc, io, metadata, metrics_regression
from modelgate.cli import entry, stage_parser
from modelgate.gates.common import finish
from modelgate.gates.paired import AUC_CONDITION, MAE_CONDITION
from modelgate.gates.params import ChampionParams
from modelgate.gates.results import Condition, GateResult, Status
from modelgate.gates.stats import bootstrap_weights, weighted_auc
from modelgate.metrics import CostMatrix, summarize
from modelgate.model import labels, model_frame
from modelgate.onnx_export import onnx_scores
from modelgate.params import EvaluateParams, load_section
from modelgate.schema import FeatureSchema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Base:
    ref: str
    model: bytes | None = None
    metrics: dict[str, float] | None = None
    why: str = ""
    # The rows the base model was fitted and tuned on; None when the cache lacks them.
    fit_data: pd.DataFrame | None = field(default=None, compare=False, repr=False)


def _git_show(ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{ref}:{path}"], capture_output=True, text=True, check=True
    ).stdout


def find_base(
    ref: str,
    model_path: str,
    metrics_path: str,
    cache_dir: Path,
    fit_paths: Sequence[str] = (),
) -> Base:
    """The base's ONNX model (with the rows it was fitted on) if the cache has it, else its
    committed metrics, else nothing."""
    try:
        lock_text = _git_show(ref, "dvc.lock")
    except subprocess.CalledProcessError as exc:
        return Base(ref, why=f"no dvc.lock at {ref!r} ({exc.stderr.strip() or 'unknown ref'})")
    cached = gitdvc.cached_out(lock_text, model_path, cache_dir)
    if cached is not None:
        fit_files = [gitdvc.cached_out(lock_text, path, cache_dir) for path in fit_paths]
        fit_data = (
            pd.concat([pd.read_parquet(f) for f in fit_files], ignore_index=True)
            if fit_files and None not in fit_files
            else None
        )
        return Base(ref, model=cached.read_bytes(), fit_data=fit_data)
    try:
        metrics = json.loads(_git_show(ref, metrics_path))["test"]
    except (subprocess.CalledProcessError, KeyError, json.JSONDecodeError):
        return Base(ref, why=f"neither the model nor {metrics_path} of {ref!r} is available")
    return Base(ref, metrics=metrics, why=f"the model of {ref!r} is not in the DVC cache")


def unseen_rows(test: pd.DataFrame, seen: pd.DataFrame) -> np.ndarray:
    """Mask of the test rows whose values (on the columns both share) are not among `seen`.

    A column numeric on both sides is compared as float, any other as text, so a column whose
    dtype changed between base and PR (int to float, category to object) still matches.
    """
    columns = [c for c in test.columns if c in seen.columns]

    def keys(frame: pd.DataFrame) -> pd.Series:
        same = {
            c: "float64" if is_numeric_dtype(test[c]) and is_numeric_dtype(seen[c]) else "string"
            for c in columns
        }
        return pd.util.hash_pandas_object(frame[columns].astype(same), index=False)

    return ~keys(test).isin(set(keys(seen))).to_numpy()


def _interval(diffs: np.ndarray, confidence: float) -> tuple[float, float]:
    diffs = diffs[~np.isnan(diffs)]  # replicates that drew a single class
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return float(low), float(high)


def paired_auc_interval(
    y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, params: ChampionParams
) -> tuple[float, float]:
    weights = bootstrap_weights(len(y), params.n_bootstrap, params.seed)
    diffs = weighted_auc(y, challenger, weights) - weighted_auc(y, champion, weights)
    return _interval(diffs, params.confidence)


def paired_mae_interval(
    y: np.ndarray, challenger: np.ndarray, champion: np.ndarray, params: ChampionParams
) -> tuple[float, float]:
    """Interval of MAE(challenger) / MAE(champion) - 1 over the same bootstrap draws of rows."""
    weights = bootstrap_weights(len(y), params.n_bootstrap, params.seed).astype(np.float64)
    mae_ch = weights @ np.abs(challenger - y)
    mae_base = weights @ np.abs(champion - y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _interval(mae_ch / mae_base - 1, params.confidence)


def tolerance_conditions(
    challenger: dict[str, float], champion: dict[str, float], params: ChampionParams
) -> list[Condition]:
    out = []
    for name, rule in params.metrics.items():
        if name not in challenger or name not in champion:
            side = "the base" if name not in champion else "this model"
            out.append(Condition(f"{name} vs champion", Status.WARN, None, "both have it",
                                 f"{side} has no {name}: not comparable"))  # fmt: skip
            continue
        delta = challenger[name] - champion[name]
        worse_by = -delta if rule.better == "higher" else delta
        allowed = rule.tolerance * (abs(champion[name]) if rule.kind == "relative" else 1.0)
        ok = worse_by <= allowed
        out.append(
            Condition(
                f"{name} vs champion",
                Status.PASS if ok else Status.FAIL,
                {"challenger": challenger[name], "champion": champion[name], "delta": delta},
                f"worse by at most {rule.tolerance:g} ({rule.kind})",
                f"{name} {challenger[name]:.4g} vs {champion[name]:.4g} ({delta:+.4g}); "
                + ("within tolerance" if ok else f"worse than the allowed {allowed:.4g}"),
            )
        )
    return out


@dataclass(frozen=True)
class _Scored:
    scores: np.ndarray
    threshold: float | None  # None for a regressor


def _summary(task: str, costs: CostMatrix, bins: int) -> Callable[..., dict[str, float]]:
    if task == "regression":
        return lambda y, scored: metrics_regression.summarize(y, scored.scores)
    return lambda y, scored: summarize(y, scored.scores, scored.threshold, costs, bins)


def champion_gate(
    test: pd.DataFrame,
    schema: FeatureSchema,
    challenger_model: bytes,
    base: Base,
    params: ChampionParams,
    costs: CostMatrix,
    bins: int,
) -> GateResult:
    result = GateResult("champion", notes=[f"base: {base.ref}"])
    tolerance = params.tolerance(schema.task)
    summary = _summary(schema.task, costs, bins)
    y = labels(test, schema)
    challenger = _score(_Model.load(challenger_model), test)
    ch_metrics = summary(y, challenger)
    base_model = None if base.model is None else _Model.load(base.model)
    why_not = None if base_model is None else _incomparable(base_model.schema, schema, test)
    if base_model is None or why_not:
        why = why_not or base.why
        metrics = None if why_not else base.metrics
        result.notes.append(
            f"{why}; "
            + (
                "compared with its committed test metrics, without a confidence interval"
                if metrics
                else "nothing to compare against (first run?)"
            )
        )
        if metrics is None:
            result.conditions.append(
                Condition("champion available", Status.WARN, None, "a base model", why)
            )
            return result
        result.conditions += tolerance_conditions(ch_metrics, metrics, params)
        return result
    if base.fit_data is None:
        result.notes.append(
            f"the rows {base.ref!r} trained on are not in the DVC cache: "
            "test rows it has seen cannot be left out"
        )
    else:
        unseen = unseen_rows(test, base.fit_data)
        if not unseen.all():
            result.notes.append(
                f"scored on the {unseen.sum()} of {len(test)} test rows that the base model "
                "did not train on"
            )
            test, y = test[unseen], y[unseen]
            challenger = _Scored(challenger.scores[unseen], challenger.threshold)
            ch_metrics = summary(y, challenger)
        binary = schema.task != "regression"
        if len(y) < params.min_rows or (binary and len(np.unique(y)) < 2):
            result.conditions.append(
                Condition(
                    "test rows neither model trained on",
                    Status.WARN,
                    len(y),
                    f">= {params.min_rows} rows" + (", both classes" if binary else ""),
                    "too few rows to compare the models on",
                )
            )
            return result
    champion = _score(base_model, test)
    result.conditions.append(
        _paired_condition(schema.task, y, challenger.scores, champion.scores, params, tolerance)
    )
    result.conditions += tolerance_conditions(ch_metrics, summary(y, champion), params)
    return result


def _paired_condition(
    task: str, y: np.ndarray, challenger: np.ndarray, champion: np.ndarray,
    params: ChampionParams, tolerance: float,
) -> Condition:  # fmt: skip
    """The paired bootstrap verdict: fail only when worse beyond `tolerance` with confidence."""
    level = f"{params.confidence:.0%} CI"
    value = {"confidence": params.confidence}
    if task == "regression":
        low, high = paired_mae_interval(y, challenger, champion, params)
        delta = float(np.mean(np.abs(challenger - y)) / np.mean(np.abs(champion - y)) - 1)
        worse, gain, same = low > tolerance, high < 0, low <= 0
        name, limit = MAE_CONDITION, f"lower bound <= +{tolerance:.0%}"
        said = f"MAE {delta:+.2%}, {level} [{low:+.2%}, {high:+.2%}]: "
    else:
        low, high = paired_auc_interval(y, challenger, champion, params)
        delta = float(roc_auc_score(y, challenger) - roc_auc_score(y, champion))
        worse, gain, same = high < -tolerance, low > 0, high >= 0
        name, limit = AUC_CONDITION, f"upper bound >= -{tolerance:g}"
        said = f"ΔROC-AUC {delta:+.4f}, {level} [{low:+.4f}, {high:+.4f}]: "
    verdict = (
        "worse beyond tolerance with confidence" if worse else "significant gain" if gain
        else "no significant change" if same else "within tolerance"
    )  # fmt: skip
    return Condition(
        name,
        Status.FAIL if worse else Status.PASS,
        {**value, "delta": delta, "ci_low": low, "ci_high": high},
        limit,
        said + verdict,
    )


@dataclass(frozen=True)
class _Model:
    """An ONNX model loaded once: its session and the feature schema it carries."""

    session: ort.InferenceSession
    schema: FeatureSchema

    @classmethod
    def load(cls, model: bytes) -> _Model:
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        meta = metadata.read(session)
        return cls(session, FeatureSchema.from_dict(json.loads(meta[metadata.FEATURE_SCHEMA])))


def _incomparable(base: FeatureSchema, schema: FeatureSchema, test: pd.DataFrame) -> str | None:
    """Why the base model cannot be scored against this one, or None when it can."""
    if base.task != schema.task:
        return f"the base model is a {base.task} model, this one {schema.task}"
    if base.target != schema.target:
        return f"the base model predicts {base.target!r}, this one {schema.target!r}"
    missing = [f for f in base.features if f not in test]
    if missing:
        return f"the base model needs feature(s) the test data lacks: {missing}"
    return None


def _score(model: _Model, test: pd.DataFrame) -> _Scored:
    """Scores (and threshold, for a classifier) of an ONNX model, by the schema it carries."""
    missing = [f for f in model.schema.features if f not in test]
    if missing:
        raise ValueError(f"the model needs feature(s) the test data lacks: {missing}")
    scores = onnx_scores(model.session, model_frame(test, model.schema), model.schema)
    meta = metadata.read(model.session)
    threshold = float(meta[metadata.THRESHOLD]) if metadata.THRESHOLD in meta else None
    return _Scored(scores, threshold)


def main(argv: Sequence[str] | None = None) -> None:
    parser = stage_parser(__doc__ or "")
    for name in ("model", "test", "schema", "gates-dir", "report"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--base-metrics", required=True, help="git path of the metrics JSON")
    parser.add_argument(
        "--base-fit-data",
        nargs="*",
        default=[],
        help="git paths of the split outputs the base model was fitted and tuned on",
    )
    parser.add_argument("--cache-dir", type=Path, default=Path(".dvc/cache"))
    args = parser.parse_args(argv)
    params = load_section(args.params, "gates.champion", ChampionParams)
    evaluate = load_section(args.params, "evaluate", EvaluateParams)
    ref = gitdvc.base_ref()
    base = find_base(ref, str(args.model), args.base_metrics, args.cache_dir, args.base_fit_data)
    result = champion_gate(
        pd.read_parquet(args.test),
        FeatureSchema.from_dict(io.read_json(args.schema)),
        args.model.read_bytes(),
        base,
        params,
        CostMatrix(evaluate.cost_false_negative, evaluate.cost_false_positive),
        evaluate.calibration_bins,
    )
    finish(result, args.gates_dir, args.report)


if __name__ == "__main__":
    entry(main)
