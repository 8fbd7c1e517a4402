"""The monitoring loop for real (issue 10, point 6): the pipeline's exported model served on
loopback with the prediction log on, held-out rows replayed over HTTP, then `modelgate
monitor` on the log it wrote.

- the held-out rows unchanged: no alarm (exit 0);
- one feature shifted on the way in: the monitor names that feature (exit 3);
- with the outcomes of those rows supplied: the realized ROC-AUC is the test set's, within the
  monitor's interval.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from modelgate.schema import FeatureSchema
from tests.integration.repo_copy import reproduced_main, stage_env
from tests.integration.test_serve_process import start
from tests.unit.test_serve_app import records

pytestmark = pytest.mark.slow

BATCH = 100
MONITOR_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reproduced_main(tmp_path_factory.mktemp("monitor") / "repo")


@pytest.fixture(scope="module")
def test_rows(repo: Path) -> pd.DataFrame:
    return pd.read_parquet(repo / "data/split/test.parquet")


@pytest.fixture(scope="module")
def schema(repo: Path) -> FeatureSchema:
    return FeatureSchema.from_dict(json.loads((repo / "data/processed/schema.json").read_text()))


def replay(
    repo: Path, rows: pd.DataFrame, schema: FeatureSchema, log_dir: Path, tmp_path: Path
) -> list[str]:
    """Serve the exported model with the log on, send `rows` in batches; the request ids."""
    server = start(repo / "models/model.onnx", tmp_path, MODELGATE_PREDICTION_LOG_DIR=str(log_dir))
    ids = []
    try:
        for start_row in range(0, len(rows), BATCH):
            ids.append(f"replay-{start_row:05d}")
            batch = records(rows.iloc[start_row : start_row + BATCH], schema)
            response = httpx.post(
                f"{server.url}/predict", json=batch, headers={"X-Request-ID": ids[-1]}, timeout=30
            )
            assert response.status_code == 200, response.text
    finally:
        assert server.stop() == 0  # SIGTERM writes the queue out and closes the open file
    return ids


def monitor(repo: Path, log_dir: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "modelgate", "monitor", "--log", str(log_dir),
        "--reference", str(repo / "models/reference.json"),
        "--model", str(repo / "models/model.onnx"),
        "--params", str(repo / "params.yaml"), "--out", str(out), *extra,
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=repo, env=stage_env(repo), capture_output=True, text=True,
        timeout=MONITOR_TIMEOUT_S, check=False,
    )  # fmt: skip


def _result(out: Path) -> dict:
    return json.loads((out / "monitor.json").read_text(encoding="utf-8"))


def _shift(column: str, sds: float) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def shifted(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.copy()
        rows[column] = rows[column] + sds * rows[column].std()
        return rows

    return shifted


def test_held_out_rows_served_unchanged_raise_no_alarm(
    repo: Path, test_rows: pd.DataFrame, schema: FeatureSchema, tmp_path: Path
) -> None:
    replay(repo, test_rows, schema, tmp_path / "log", tmp_path)

    run = monitor(repo, tmp_path / "log", tmp_path / "out")

    assert run.returncode == 0, run.stderr
    result = _result(tmp_path / "out")
    assert result["status"] == "ok" and result["drift"]["drifted"] == []
    assert result["window"]["rows"] == len(test_rows)
    assert (tmp_path / "out/monitor.md").is_file() and (tmp_path / "out/metrics.prom").is_file()


def test_one_shifted_feature_is_named(
    repo: Path, test_rows: pd.DataFrame, schema: FeatureSchema, tmp_path: Path
) -> None:
    replay(repo, _shift("Income", 0.5)(test_rows), schema, tmp_path / "log", tmp_path)

    run = monitor(repo, tmp_path / "log", tmp_path / "out")

    assert run.returncode == 3, run.stderr
    drifted = _result(tmp_path / "out")["drift"]["drifted"]
    assert [f for f in drifted if f != "score"] == ["Income"]
    assert "Income" in (tmp_path / "out/monitor.md").read_text(encoding="utf-8")


def test_realized_performance_matches_the_test_set(
    repo: Path, test_rows: pd.DataFrame, schema: FeatureSchema, tmp_path: Path
) -> None:
    ids = replay(repo, test_rows, schema, tmp_path / "log", tmp_path)
    decided = datetime.now(UTC).date()
    outcomes = pd.DataFrame(
        {
            "request_id": [ids[i // BATCH] for i in range(len(test_rows))],
            "row": [i % BATCH for i in range(len(test_rows))],
            "outcome": test_rows[schema.target].to_numpy(),
            "outcome_date": (decided + timedelta(days=60)).isoformat(),
        }
    )
    outcomes.to_csv(tmp_path / "outcomes.csv", index=False)
    as_of = (decided + timedelta(days=400)).isoformat()  # every decision past maturity

    run = monitor(
        repo, tmp_path / "log", tmp_path / "out", "--outcomes", str(tmp_path / "outcomes.csv"),
        "--as-of", as_of,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    result = _result(tmp_path / "out")
    (cohort,) = [c for c in result["realized"]["cohorts"] if c["judged"]]
    test_auc = json.loads((repo / "reports/metrics.json").read_text())["test"]["roc_auc"]
    auc = cohort["roc_auc"]
    assert cohort["rows"] == len(test_rows)
    assert abs(auc["value"] - test_auc) < 1e-4
    assert auc["low"] <= test_auc <= auc["high"]
    assert result["realized"]["unmatched_outcomes"] == 0
