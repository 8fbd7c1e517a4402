"""The real `dvc repro` in a copy of this repository: it builds the model from a fresh clone,
reruns only what changed, rebuilds bit for bit, and stops at ingest on data that breaks the
contract.

The tests share one copy, so each one that edits it puts it back and checks that it did. They
all need `first_run` (one full build); the forced rebuild is a second one. Which stages exist
and what follows what is read from the copy's dvc.yaml, so gate stages are covered too.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.integration.repo_copy import (
    UP_TO_DATE,
    Stage,
    downstream,
    fresh_copy,
    pipeline,
    ran_stages,
    replace_file,
    run_dvc,
)

pytestmark = pytest.mark.slow

RAW_CSV = Path("data/raw/credit_data.csv")
DATASET = Path("data/processed/dataset.parquet")


@dataclass(frozen=True)
class FirstRun:
    output: str
    lock: bytes


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_copy(tmp_path_factory.mktemp("pipeline") / "repo")


@pytest.fixture(scope="module")
def stages(repo: Path) -> dict[str, Stage]:
    return pipeline(repo / "dvc.yaml")


@pytest.fixture(scope="module")
def first_run(repo: Path) -> FirstRun:
    result = run_dvc(repo, "repro")
    return FirstRun(result.stdout, (repo / "dvc.lock").read_bytes())


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _assert_ran_each_once(output: str, expected: set[str]) -> None:
    ran = ran_stages(output)
    assert sorted(ran) == sorted(expected), output


def _built_stages(stages: dict[str, Stage]) -> set[str]:
    """Stages with outputs: a fresh clone must run them. A stage without outputs (a check)
    is up to date in a clone whose committed dvc.lock already records its inputs."""
    return {name for name, stage in stages.items() if stage.outs}


def _assert_unchanged_since(repo: Path, first: FirstRun) -> None:
    """`repo` is in the state the first build left: same lock, nothing to run."""
    assert (repo / "dvc.lock").read_bytes() == first.lock
    assert UP_TO_DATE in run_dvc(repo, "status").stdout


def _restore(repo: Path, first: FirstRun, stages: dict[str, Stage], stale: set[str]) -> None:
    """Return to the first build once the edit that made `stale` stages out of date is undone.

    The run cache restores what it can; only stages it cannot hold may run again, and since
    every stage is deterministic, their outputs leave the other stages with nothing to do.
    """
    result = run_dvc(repo, "repro")
    ran = ran_stages(result.stdout)
    assert len(ran) == len(set(ran)), result.stdout
    assert set(ran) <= {name for name in stale if not stages[name].run_cacheable}, result.stdout
    _assert_unchanged_since(repo, first)


def test_repro_from_a_fresh_clone_builds_a_good_model(
    repo: Path, stages: dict[str, Stage], first_run: FirstRun
) -> None:
    assert {"ingest", "split", "train", "evaluate", "export"} <= _built_stages(stages)
    ran = ran_stages(first_run.output)
    assert len(ran) == len(set(ran)), first_run.output
    assert _built_stages(stages) <= set(ran) <= set(stages), first_run.output
    assert (repo / "models/model.onnx").stat().st_size > 0
    assert _read_json(repo / "reports/metrics.json")["test"]["roc_auc"] > 0.75
    parity = _read_json(repo / "reports/parity.json")
    assert parity["passed"] is True
    checks = {name: value for name, value in parity.items() if isinstance(value, dict)}
    assert set(checks) == {"test", "split_points"}
    for name, check in checks.items():
        assert check["rows"] > 0, name
        assert check["flips"] == 0, name
        assert check["max_abs_diff"] <= 1e-5, name


def test_second_repro_runs_nothing(repo: Path, first_run: FirstRun) -> None:
    result = run_dvc(repo, "repro")
    assert "Running stage" not in result.stdout
    _assert_unchanged_since(repo, first_run)


def test_forced_repro_rebuilds_byte_identical_outputs(
    repo: Path, stages: dict[str, Stage], first_run: FirstRun
) -> None:
    # dvc.lock holds the md5 of every output: the model, the ONNX file, metrics and gate reports.
    result = run_dvc(repo, "repro", "--force")
    _assert_ran_each_once(result.stdout, set(stages))
    _assert_unchanged_since(repo, first_run)


def test_train_param_change_reruns_train_and_what_follows_only(
    repo: Path, stages: dict[str, Stage], first_run: FirstRun
) -> None:
    params_path = repo / "params.yaml"
    original = params_path.read_bytes()
    params = yaml.safe_load(original)
    # Shallower trees: deeper ones trip the model gate's overfitting check, a test of its own.
    params["train"]["max_depth"] -= 1
    try:
        params_path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        result = run_dvc(repo, "repro")
        ran = ran_stages(result.stdout)
        assert ran[0] == "train", result.stdout
        assert {"train", "evaluate", "export"} <= set(ran)
        assert not {"ingest", "split"} & set(ran)
        _assert_ran_each_once(result.stdout, downstream(stages, "train"))
        assert (repo / "dvc.lock").read_bytes() != first_run.lock
    finally:
        params_path.write_bytes(original)
        _restore(repo, first_run, stages, stale=downstream(stages, "train"))


def _with_value(csv_bytes: bytes, column: str, value: str) -> bytes:
    """The CSV with `column` of its first data row set to `value`, all else unchanged."""
    rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8"))))
    rows[1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def test_contract_breach_stops_the_pipeline_at_ingest(
    repo: Path, stages: dict[str, Stage], first_run: FirstRun
) -> None:
    raw_path = repo / RAW_CSV
    original = raw_path.read_bytes()
    age_max = yaml.safe_load((repo / "params.yaml").read_text())["ingest"]["columns"]["Age"]["max"]
    bad = age_max + 50
    assert (repo / DATASET).exists()  # so its absence below means DVC removed a stale output
    try:
        replace_file(raw_path, _with_value(original, "Age", str(bad)))
        result = run_dvc(repo, "repro", check=False)
        assert result.returncode != 0
        assert ran_stages(result.stdout) == ["ingest"]
        assert f"column 'Age': 1 row(s) break rule `max: {age_max:g}`" in result.stdout
        assert f"'{bad}' at line 2" in result.stdout
        assert not (repo / DATASET).exists()
        assert (repo / "dvc.lock").read_bytes() == first_run.lock  # a failed stage locks nothing
    finally:
        replace_file(raw_path, original)
        _restore(repo, first_run, stages, stale={"ingest"})
