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
    Base,
    ChampionParams,
    bootstrap_weights,
    champion_gate,
    find_base,
    paired_auc_interval,
    tolerance_conditions,
    unseen_rows,
    weighted_auc,
)
from modelgate.gates.results import GateResult, Status
from modelgate.gitdvc import BASE_REF_ENV
from modelgate.metrics import CostMatrix
from tests.conftest import TINY_PARAMS
from tests.integration.repo_copy import git
from tests.unit._pipeline import PipelineRun, args

MODEL = "models/model.onnx"
FIT = ("data/split/train.parquet", "data/split/validation.parquet")
METRICS = "reports/metrics.json"
CHAMPION: dict = {
    "n_bootstrap": 200,
    "confidence": 0.95,
    "seed": 0,
    "auc_tolerance": 0.01,
    "min_rows": 20,
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


def test_weighted_auc_equals_sklearn_on_each_resample_with_ties():
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.3).astype(np.int64)
    scores = np.round(rng.random(300) + 0.3 * y, 1)  # coarse scores: many ties
    weights = bootstrap_weights(len(y), 25, seed=4)

    fast = weighted_auc(y, scores, weights)

    for replicate, counts in enumerate(weights):
        rows = np.repeat(np.arange(len(y)), counts)
        assert fast[replicate] == pytest.approx(roc_auc_score(y[rows], scores[rows]), abs=1e-12)


def test_weighted_auc_is_nan_for_a_replicate_with_one_class():
    y = np.array([0, 0, 1, 1])
    weights = np.array([[1, 1, 1, 1], [2, 2, 0, 0]])

    auc = weighted_auc(y, np.array([0.1, 0.4, 0.35, 0.8]), weights)

    assert auc[0] == 0.75
    assert np.isnan(auc[1])


def test_bootstrap_weights_draw_every_row_count_once_per_replicate():
    weights = bootstrap_weights(rows=50, replicates=7, seed=0)

    assert weights.shape == (7, 50)
    assert (weights.sum(axis=1) == 50).all()
    assert (weights == bootstrap_weights(rows=50, replicates=7, seed=0)).all()
    assert (weights != bootstrap_weights(rows=50, replicates=7, seed=1)).any()


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
def onnx_model(exported_model: Path) -> bytes:
    """The challenger of these tests."""
    return exported_model.read_bytes()


@pytest.fixture(scope="module")
def committed(pipeline_run: PipelineRun) -> dict[str, float]:
    return io.read_json(pipeline_run.metrics)["test"]


@pytest.fixture(scope="module")
def base_repo(
    tmp_path_factory: pytest.TempPathFactory,
    onnx_model: bytes,
    committed: dict[str, float],
    pipeline_run: PipelineRun,
) -> Path:
    """A git repository with three tags: `lock-only` (a dvc.lock naming the model),
    `honest` (plus the model's own test metrics), `better` (metrics with a far higher ROC-AUC)."""
    repo = tmp_path_factory.mktemp("base_repo")
    git(repo, "init", "--quiet")
    md5 = hashlib.md5(onnx_model).hexdigest()
    split_outs = [
        {"path": path, "md5": hashlib.md5(pipeline_run.part(part).read_bytes()).hexdigest()}
        for part, path in zip(("train", "validation"), FIT, strict=True)
    ]
    stages = {"split": {"outs": split_outs}, "export": {"outs": [{"path": MODEL, "md5": md5}]}}
    lock = {"schema": "2.0", "stages": stages}
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
def cache_dir(
    tmp_path_factory: pytest.TempPathFactory, onnx_model: bytes, pipeline_run: PipelineRun
) -> Path:
    """A DVC cache holding the model and the split it was fitted on, where DVC 3 keeps them."""
    cache = tmp_path_factory.mktemp("dvc_cache")
    _cache(cache, onnx_model)
    for part in ("train", "validation"):
        _cache(cache, pipeline_run.part(part).read_bytes())
    return cache


@pytest.fixture(scope="module")
def model_only_cache(tmp_path_factory: pytest.TempPathFactory, onnx_model: bytes) -> Path:
    cache = tmp_path_factory.mktemp("model_only_cache")
    _cache(cache, onnx_model)
    return cache


def _cache(cache: Path, content: bytes) -> None:
    md5 = hashlib.md5(content).hexdigest()
    path = cache / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


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
    result = _gate(pipeline_run, onnx_model, find_base("honest", MODEL, METRICS, cache_dir, FIT))

    assert result.status is Status.PASS
    assert result.notes[0] == "base: honest"
    bootstrap = result.conditions[0]
    assert bootstrap.name == BOOTSTRAP
    assert bootstrap.value == {"delta": 0.0, "ci_low": 0.0, "ci_high": 0.0, "confidence": 0.95}
    assert "no significant change" in bootstrap.message
    assert [c.name for c in result.conditions[1:]] == ["roc_auc vs champion", "brier vs champion"]


def test_base_fit_rows_come_from_the_dvc_cache(
    in_repo: Path, cache_dir: Path, pipeline_run: PipelineRun
):
    base = find_base("honest", MODEL, METRICS, cache_dir, FIT)

    expected = pd.concat(
        [pd.read_parquet(pipeline_run.part(p)) for p in ("train", "validation")], ignore_index=True
    )
    assert base.fit_data is not None
    pd.testing.assert_frame_equal(base.fit_data, expected)


def test_test_rows_the_base_trained_on_are_left_out(
    in_repo: Path, cache_dir: Path, pipeline_run: PipelineRun, onnx_model: bytes
):
    test = pd.read_parquet(pipeline_run.part("test"))
    base = find_base("honest", MODEL, METRICS, cache_dir, FIT)
    seen_by_base = test.iloc[::3]  # as if a re-drawn split had put these in the base's train set
    assert base.fit_data is not None
    base = Base(base.ref, model=base.model, fit_data=pd.concat([base.fit_data, seen_by_base]))

    result = _gate(pipeline_run, onnx_model, base)

    kept = int(unseen_rows(test, base.fit_data).sum())
    assert kept <= len(test) - len(seen_by_base)
    assert result.notes == [
        "base: honest",
        f"scored on the {kept} of {len(test)} test rows that the base model did not train on",
    ]
    assert result.conditions[0].name == BOOTSTRAP


def test_too_few_unseen_test_rows_give_no_verdict(
    in_repo: Path, cache_dir: Path, pipeline_run: PipelineRun, onnx_model: bytes
):
    test = pd.read_parquet(pipeline_run.part("test"))
    base = Base("honest", model=onnx_model, fit_data=test.iloc[5:])

    result = _gate(pipeline_run, onnx_model, base)

    assert result.status is Status.WARN
    assert [(c.name, c.value) for c in result.conditions] == [
        ("test rows neither model trained on", 5)
    ]


def test_base_without_its_fit_rows_says_seen_rows_stay_in(
    in_repo: Path, model_only_cache: Path, pipeline_run: PipelineRun, onnx_model: bytes
):
    base = find_base("honest", MODEL, METRICS, model_only_cache, FIT)

    result = _gate(pipeline_run, onnx_model, base)

    assert base.model == onnx_model and base.fit_data is None
    assert result.notes[1] == (
        "the rows 'honest' trained on are not in the DVC cache: "
        "test rows it has seen cannot be left out"
    )
    assert result.conditions[0].name == BOOTSTRAP


def test_unseen_rows_match_values_across_a_dtype_change():
    test = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"], "new": [0, 0, 0]})
    seen = pd.DataFrame({"a": [2.0, 9.0], "b": ["y", "y"]}).astype({"a": "float64"})

    assert unseen_rows(test, seen).tolist() == [True, False, True]
    assert unseen_rows(test.astype({"b": "category"}), seen).tolist() == [True, False, True]


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
    params.write_text(yaml.safe_dump({**TINY_PARAMS, "gates": {"champion": CHAMPION}}))
    (in_repo / MODEL).parent.mkdir(exist_ok=True)
    # The stage looks its --model path up in the base's dvc.lock, so it is repo-relative; the
    # file is untracked, as a freshly built model is, and git show never sees it.
    (in_repo / MODEL).write_bytes(onnx_model)
    monkeypatch.setenv(BASE_REF_ENV, "honest")

    champion.main(
        [
            *args(
                params=params,
                model=MODEL,
                test=pipeline_run.part("test"),
                schema=pipeline_run.schema_json,
                base_metrics=METRICS,
                gates_dir=tmp_path / "gates",
                report=tmp_path / "gates.json",
                cache_dir=cache_dir,
            ),
            "--base-fit-data",
            *FIT,
        ]
    )

    gate = io.read_json(tmp_path / "gates" / "champion.json")
    assert gate["notes"][0] == "base: honest"
    assert "not in the DVC cache" not in " ".join(gate["notes"])
    assert gate["conditions"][0]["name"] == BOOTSTRAP
    assert io.read_json(tmp_path / "gates.json")["gates"][-1]["gate"] == "champion"
