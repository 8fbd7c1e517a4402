"""Champion gate: the paired bootstrap interval, the tolerance rules, and how the base model is
found through git and the DVC cache, falling back to committed metrics, then to a warning."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from modelgate import io
from modelgate.gates import champion
from modelgate.gates.champion import (
    BASE_REF_ENV,
    Base,
    ChampionParams,
    champion_gate,
    find_base,
    paired_auc_interval,
    tolerance_conditions,
)
from modelgate.gates.results import GateResult, Status
from modelgate.metrics import CostMatrix
from modelgate.stages import export
from tests.conftest import TINY_PARAMS
from tests.integration.repo_copy import git
from tests.unit._pipeline import PipelineRun, args

MODEL = "models/model.onnx"
METRICS = "reports/metrics.json"
CHAMPION: dict = {
    "base_ref": "main",
    "n_bootstrap": 200,
    "confidence": 0.95,
    "seed": 0,
    "auc_tolerance": 0.01,
    "metrics": {
        "roc_auc": {"better": "higher", "tolerance": 0.02},
        "brier": {"better": "lower", "tolerance": 0.10, "kind": "relative"},
    },
}
BOOTSTRAP = "ROC-AUC difference (paired bootstrap)"


def _params(**changes: object) -> ChampionParams:
    return ChampionParams.model_validate({**CHAMPION, **changes})


# --- the paired bootstrap --------------------------------------------------------------------


def _binormal(seed: int, rows: int = 800) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Labels, challenger and champion scores sharing per-row noise, and the true AUC gain.

    A score is `shift * y + shared + 0.6 * own` noise; per class it is normal with variance
    1.36, so its population ROC-AUC is Φ(shift / sqrt(2 * 1.36)).
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(np.int64)
    shared = rng.normal(size=rows)
    challenger = 1.5 * y + shared + 0.6 * rng.normal(size=rows)
    champion_ = 1.0 * y + shared + 0.6 * rng.normal(size=rows)
    spread = np.sqrt(2 * 1.36)
    return y, challenger, champion_, float(norm.cdf(1.5 / spread) - norm.cdf(1.0 / spread))


def test_paired_interval_contains_the_true_and_the_observed_difference():
    y, challenger, champion_, true_diff = _binormal(seed=0)
    observed = roc_auc_score(y, challenger) - roc_auc_score(y, champion_)

    low, high = paired_auc_interval(y, challenger, champion_, _params())

    assert low < true_diff < high
    assert low < observed < high
    assert low > 0  # a real gain of ~0.09 on 800 rows is significant
    assert high - low < 0.1


def test_paired_interval_is_seeded_and_widens_with_confidence():
    y, challenger, champion_, _ = _binormal(seed=1)

    params = _params(n_bootstrap=100)

    first = paired_auc_interval(y, challenger, champion_, params)
    again = paired_auc_interval(y, challenger, champion_, params)
    wider = paired_auc_interval(y, challenger, champion_, _params(n_bootstrap=100, confidence=0.99))

    assert first == again
    assert wider[0] < first[0] < first[1] < wider[1]


def test_the_same_scores_give_a_zero_interval():
    y, challenger, _, _ = _binormal(seed=2)

    params = _params(n_bootstrap=100)

    assert paired_auc_interval(y, challenger, challenger.copy(), params) == (0.0, 0.0)


# --- tolerance rules -------------------------------------------------------------------------
# Values are exact binary fractions, so "exactly at the tolerance" is exact.

TOLERANCE_CASES = {
    "higher absolute: better": ("higher", "absolute", 0.875, Status.PASS),
    "higher absolute: worse, within": ("higher", "absolute", 0.5, Status.PASS),
    "higher absolute: worse, beyond": ("higher", "absolute", 0.4375, Status.FAIL),
    "lower absolute: better": ("lower", "absolute", 0.5, Status.PASS),
    "lower absolute: worse, within": ("lower", "absolute", 1.0, Status.PASS),
    "lower absolute: worse, beyond": ("lower", "absolute", 1.0625, Status.FAIL),
    "higher relative: worse, within": ("higher", "relative", 0.5625, Status.PASS),
    "higher relative: worse, beyond": ("higher", "relative", 0.5, Status.FAIL),
    "lower relative: worse, within": ("lower", "relative", 0.9375, Status.PASS),
    "lower relative: worse, beyond": ("lower", "relative", 1.0, Status.FAIL),
}


@pytest.mark.parametrize(
    ("better", "kind", "challenger", "expected"), TOLERANCE_CASES.values(), ids=TOLERANCE_CASES
)
def test_tolerance_follows_direction_and_kind(
    better: str, kind: str, challenger: float, expected: Status
):
    # Champion 0.75; absolute tolerance 0.25; relative 0.25 of 0.75 = 0.1875.
    params = _params(metrics={"m": {"better": better, "tolerance": 0.25, "kind": kind}})

    (condition,) = tolerance_conditions({"m": challenger}, {"m": 0.75}, params)

    assert condition.status is expected
    assert condition.name == "m vs champion"
    assert condition.value == {
        "challenger": challenger,
        "champion": 0.75,
        "delta": challenger - 0.75,
    }


def test_relative_tolerance_scales_with_the_champion_magnitude():
    params = _params(metrics={"m": {"better": "lower", "tolerance": 0.5, "kind": "relative"}})

    (within,) = tolerance_conditions({"m": -0.25}, {"m": -0.5}, params)  # allowed 0.25
    (beyond,) = tolerance_conditions({"m": -0.125}, {"m": -0.5}, params)

    assert (within.status, beyond.status) == (Status.PASS, Status.FAIL)
    assert beyond.threshold == "worse by at most 0.5 (relative)"
    assert beyond.message.endswith("worse than the allowed 0.25")


def test_every_configured_metric_is_compared():
    challenger = {"roc_auc": 0.75, "brier": 0.25, "ks": 0.0}
    champion_ = {"roc_auc": 0.875, "brier": 0.125, "ks": 1.0}

    conditions = tolerance_conditions(challenger, champion_, _params())

    assert [(c.name, c.status) for c in conditions] == [
        ("roc_auc vs champion", Status.FAIL),
        ("brier vs champion", Status.FAIL),
    ]
    assert conditions[0].threshold == "worse by at most 0.02 (absolute)"


# --- finding the base, and the gate on each kind of base ---------------------------------------


@pytest.fixture(scope="module")
def onnx_model(pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The tiny pipeline exported as the export stage does: the challenger of these tests."""
    out = tmp_path_factory.mktemp("champion_export")
    export.main(pipeline_run.export_argv(out / "model.onnx", out / "parity.json"))
    return (out / "model.onnx").read_bytes()


@pytest.fixture(scope="module")
def committed(pipeline_run: PipelineRun) -> dict[str, float]:
    return io.read_json(pipeline_run.metrics)["test"]


@pytest.fixture(scope="module")
def base_repo(
    tmp_path_factory: pytest.TempPathFactory, onnx_model: bytes, committed: dict[str, float]
) -> Path:
    """A git repository with three tags: `lock-only` (a dvc.lock naming the model),
    `honest` (plus the model's own test metrics), `better` (metrics with a far higher ROC-AUC)."""
    repo = tmp_path_factory.mktemp("base_repo")
    git(repo, "init", "--quiet")
    md5 = hashlib.md5(onnx_model).hexdigest()
    lock = {"schema": "2.0", "stages": {"export": {"outs": [{"path": MODEL, "md5": md5}]}}}
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock), encoding="utf-8")
    for tag, metrics in (
        ("lock-only", None),
        ("honest", committed),
        ("better", {**committed, "roc_auc": committed["roc_auc"] + 0.1}),
    ):
        if metrics is not None:
            io.write_json(repo / METRICS, {"threshold": 0.5, "test": metrics})
        git(repo, "add", "--all")
        git(repo, "commit", "--quiet", "--allow-empty", "--message", tag)
        git(repo, "tag", tag)
    return repo


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory, onnx_model: bytes) -> Path:
    """A DVC cache holding the model, where DVC 3 keeps a file of that md5."""
    cache = tmp_path_factory.mktemp("dvc_cache")
    md5 = hashlib.md5(onnx_model).hexdigest()
    path = cache / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True)
    path.write_bytes(onnx_model)
    return cache


@pytest.fixture
def in_repo(base_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(base_repo)  # find_base asks git in the working directory
    return base_repo


def _gate(pipeline_run: PipelineRun, challenger: bytes, base: Base) -> GateResult:
    costs = CostMatrix(
        TINY_PARAMS["evaluate"]["cost_false_negative"],
        TINY_PARAMS["evaluate"]["cost_false_positive"],
    )
    test = pd.read_parquet(pipeline_run.part("test"))
    return champion_gate(test, pipeline_run.schema, challenger, base, _params(), costs, 5)


def test_base_model_comes_from_the_dvc_cache(in_repo: Path, cache_dir: Path, onnx_model: bytes):
    base = find_base("honest", MODEL, METRICS, cache_dir)

    assert base == Base("honest", model=onnx_model)


@pytest.mark.parametrize("ref", ["honest", "better"])
def test_model_not_in_the_cache_falls_back_to_committed_metrics(
    in_repo: Path, tmp_path: Path, ref: str
):
    base = find_base(ref, MODEL, METRICS, tmp_path / "empty_cache")

    committed = json.loads(git(in_repo, "show", f"{ref}:{METRICS}"))["test"]
    assert base == Base(ref, metrics=committed, why=f"the model of {ref!r} is not in the DVC cache")


def test_a_lock_without_the_model_path_falls_back_to_committed_metrics(
    in_repo: Path, cache_dir: Path
):
    base = find_base("honest", "models/other.onnx", METRICS, cache_dir)

    assert base.model is None
    assert base.metrics is not None


def test_unknown_ref_has_no_dvc_lock(in_repo: Path, cache_dir: Path):
    base = find_base("no-such-ref", MODEL, METRICS, cache_dir)

    assert (base.model, base.metrics) == (None, None)
    assert base.why.startswith("no dvc.lock at 'no-such-ref' (")


def test_neither_model_nor_metrics_at_the_ref(in_repo: Path, tmp_path: Path):
    base = find_base("lock-only", MODEL, METRICS, tmp_path / "empty_cache")

    assert base == Base(
        "lock-only", why=f"neither the model nor {METRICS} of 'lock-only' is available"
    )


def test_gate_with_the_base_model_runs_the_paired_bootstrap(
    in_repo: Path, cache_dir: Path, pipeline_run: PipelineRun, onnx_model: bytes
):
    result = _gate(pipeline_run, onnx_model, find_base("honest", MODEL, METRICS, cache_dir))

    assert result.status is Status.PASS
    assert result.notes == ["base: honest"]
    bootstrap = result.conditions[0]
    assert bootstrap.name == BOOTSTRAP
    assert bootstrap.value == {"delta": 0.0, "ci_low": 0.0, "ci_high": 0.0, "confidence": 0.95}
    assert "no significant change" in bootstrap.message
    assert [c.name for c in result.conditions[1:]] == ["roc_auc vs champion", "brier vs champion"]


@pytest.mark.parametrize(("ref", "expected"), [("honest", Status.PASS), ("better", Status.FAIL)])
def test_gate_without_the_base_model_compares_committed_metrics(
    in_repo: Path,
    tmp_path: Path,
    pipeline_run: PipelineRun,
    onnx_model: bytes,
    ref: str,
    expected: Status,
):
    result = _gate(pipeline_run, onnx_model, find_base(ref, MODEL, METRICS, tmp_path / "empty"))

    assert result.status is expected
    assert BOOTSTRAP not in [c.name for c in result.conditions]
    assert [c.name for c in result.failed] == (
        ["roc_auc vs champion"] if expected is Status.FAIL else []
    )
    assert result.notes == [
        f"base: {ref}",
        f"the model of {ref!r} is not in the DVC cache; "
        "compared with its committed test metrics, without a confidence interval",
    ]


def test_gate_without_any_base_warns(
    in_repo: Path, cache_dir: Path, pipeline_run: PipelineRun, onnx_model: bytes
):
    base = find_base("no-such-ref", MODEL, METRICS, cache_dir)

    result = _gate(pipeline_run, onnx_model, base)

    assert result.status is Status.WARN
    assert [(c.name, c.status) for c in result.conditions] == [("champion available", Status.WARN)]
    assert result.notes[1].startswith("no dvc.lock at 'no-such-ref'")
    assert result.notes[1].endswith("; nothing to compare against (first run?)")


def test_gate_rejects_test_data_that_lacks_a_model_feature(
    pipeline_run: PipelineRun, onnx_model: bytes
):
    test = pd.read_parquet(pipeline_run.part("test")).drop(columns="amount")

    with pytest.raises(
        ValueError, match=r"the model needs feature\(s\) the test data lacks: \['amount'\]"
    ):
        champion_gate(
            test, pipeline_run.schema, onnx_model, Base("x"), _params(), CostMatrix(5, 1), 5
        )


def test_stage_takes_the_base_ref_from_the_environment(
    in_repo: Path,
    cache_dir: Path,
    pipeline_run: PipelineRun,
    onnx_model: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {**TINY_PARAMS, "gates": {"champion": {**CHAMPION, "base_ref": "no-such-ref"}}}
        )
    )
    (in_repo / MODEL).parent.mkdir(exist_ok=True)
    # The stage looks its --model path up in the base's dvc.lock, so it is repo-relative; the
    # file is untracked, as a freshly built model is, and git show never sees it.
    (in_repo / MODEL).write_bytes(onnx_model)
    monkeypatch.setenv(BASE_REF_ENV, "honest")

    champion.main(
        args(
            params=params,
            model=MODEL,
            test=pipeline_run.part("test"),
            schema=pipeline_run.schema_json,
            base_metrics=METRICS,
            gates_dir=tmp_path / "gates",
            report=tmp_path / "gates.json",
            cache_dir=cache_dir,
        )
    )

    gate = io.read_json(tmp_path / "gates" / "champion.json")
    assert gate["notes"] == ["base: honest"]
    assert gate["conditions"][0]["name"] == BOOTSTRAP
    assert io.read_json(tmp_path / "gates.json")["gates"] == [gate]
