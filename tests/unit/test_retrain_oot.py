"""The out-of-time comparison: the champion gate's paired bootstrap on raw matured rows, with
production as the base; every row is scored (none is taken for a row the base has seen), the
gate's row minimum still holds, and the notes say how many rows and when they were decided."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from modelgate.gates.champion import ChampionParams
from modelgate.gates.results import Status
from modelgate.metrics import CostMatrix
from modelgate.params import IngestParams
from modelgate.retrain.oot import PRODUCTION, compare, typed
from modelgate.retrain.snapshot import DECIDED_AT
from modelgate.schema import DataContractError, FeatureSchema, read_raw
from tests.conftest import TINY_PARAMS, make_tiny_frame

SCHEMA = FeatureSchema.from_params(IngestParams.model_validate(TINY_PARAMS["ingest"]))
CHAMPION = ChampionParams.model_validate(
    {
        "n_bootstrap": 200,
        "confidence": 0.95,
        "seed": 0,
        "auc_tolerance": 0.01,
        "min_rows": 50,
        "metrics": {"roc_auc": {"better": "higher", "tolerance": 0.02}},
    }
)
COSTS = CostMatrix(5.0, 1.0)
BOOTSTRAP = "ROC-AUC difference (paired bootstrap)"


def _oot(tmp_path: Path, rows: int = 300) -> pd.DataFrame:
    """Raw rows (text, as read_raw reads them) the tiny model never saw, with decision times."""
    path = tmp_path / "oot.csv"
    make_tiny_frame(rows, seed=11).to_csv(path, index=False)
    raw = read_raw(path)
    raw[DECIDED_AT] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(range(rows), unit="h")
    return raw


def test_a_model_compared_with_itself_differs_by_nothing_and_passes(
    exported_model: Path, tmp_path: Path
):
    model = exported_model.read_bytes()

    result = compare(_oot(tmp_path), SCHEMA, model, model, CHAMPION, COSTS, bins=5)

    assert result.status is Status.PASS
    bootstrap = next(c for c in result.conditions if c.name == BOOTSTRAP)
    assert bootstrap.value == {"delta": 0.0, "ci_low": 0.0, "ci_high": 0.0, "confidence": 0.95}
    assert result.notes == [
        f"base: {PRODUCTION}",
        "out-of-time test: 300 matured production rows that neither model trained on, "
        "decided 2026-01-01 to 2026-01-13",
    ]  # nothing about rows left out: every row was scored


def test_too_few_rows_get_no_verdict(exported_model: Path, tmp_path: Path):
    model = exported_model.read_bytes()

    result = compare(_oot(tmp_path, rows=30), SCHEMA, model, model, CHAMPION, COSTS, bins=5)

    assert result.status is Status.WARN
    assert [c.name for c in result.conditions] == ["test rows neither model trained on"]
    assert result.conditions[0].value == 30


def test_rows_are_typed_as_ingest_types_them(tmp_path: Path):
    rows = typed(_oot(tmp_path), SCHEMA)
    assert list(rows.columns) == [SCHEMA.target, *SCHEMA.columns]  # DECIDED_AT dropped
    assert rows["hour"].dtype == "int64"
    assert rows["amount"].dtype == "float64"
    assert isinstance(rows["channel"].dtype, pd.CategoricalDtype)


def test_a_row_breaking_the_contract_is_an_error(exported_model: Path, tmp_path: Path):
    oot = _oot(tmp_path)
    oot.loc[3, "hour"] = "25"
    model = exported_model.read_bytes()
    with pytest.raises(DataContractError, match="out-of-time rows breaks the data contract"):
        compare(oot, SCHEMA, model, model, CHAMPION, COSTS, bins=5)


def test_rows_either_model_may_have_trained_on_are_left_out(exported_model: Path, tmp_path: Path):
    oot = _oot(tmp_path)
    seen = oot.iloc[:40].drop(columns=DECIDED_AT)  # appended to the snapshot by a past retrain
    model = exported_model.read_bytes()

    result = compare(oot, SCHEMA, model, model, CHAMPION, COSTS, bins=5, seen=seen)

    assert result.status is Status.PASS
    assert "scored on the 260 of 300 test rows that the base model did not train on" in (
        result.notes
    )
