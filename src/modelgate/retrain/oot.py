"""The retrain decision judged on today's data (issue 11.3): the production model and the
retrained one scored on the out-of-time rows, the newest matured production rows, which neither
trained on, with the champion gate's paired bootstrap of the ROC-AUC difference.
"""

from __future__ import annotations

import pandas as pd

from modelgate.gates.champion import Base, ChampionParams, champion_gate
from modelgate.gates.results import GateResult
from modelgate.metrics import CostMatrix
from modelgate.params import IngestParams
from modelgate.retrain.snapshot import DECIDED_AT
from modelgate.schema import FeatureSchema, enforce_contract

PRODUCTION = "production"  # the base's name in the gate's notes and the PR report


def compare(
    oot: pd.DataFrame,
    schema: FeatureSchema,
    production_model: bytes,
    retrained_model: bytes,
    champion: ChampionParams,
    costs: CostMatrix,
    bins: int,
    seen: pd.DataFrame | None = None,
) -> GateResult:
    """The champion gate with the retrained model as challenger and production as the base, on
    `oot` (raw rows from `snapshot.split_out_of_time`, typed here as ingest types test rows).

    `seen` (raw rows, e.g. the current snapshot) are rows either model may have trained on:
    out-of-time rows equal to one of them are left out, and the notes say how many. The newest
    matured rows are unseen by construction, unless an earlier retrain appended them.
    Raises DataContractError if a row breaks the contract: quarantine should have set it aside.
    """
    test = typed(oot, schema)
    # Without `seen`, the gate is told there is nothing to leave out by an empty frame, not
    # None: None means "the base's training rows are unknown", which adds a note that does not
    # hold here and skips the gate's row minimum (gates.champion.min_rows), which must apply.
    fit_data = test.iloc[:0] if seen is None or seen.empty else typed(seen, schema)
    base = Base(ref=PRODUCTION, model=production_model, fit_data=fit_data)
    result = champion_gate(test, schema, retrained_model, base, champion, costs, bins)
    result.notes.append(_rows_note(oot))
    return result


def typed(oot: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Raw-file rows typed by the contract that `schema` carries, as the ingest stage types them
    (extra columns such as `DECIDED_AT` dropped)."""
    contract = IngestParams(
        target=schema.target,
        positive_class=schema.classes[1],
        target_classes=schema.classes,
        columns=schema.columns,
        extra_columns="drop",
    )
    return enforce_contract(oot, contract, "out-of-time rows")


def _rows_note(oot: pd.DataFrame) -> str:
    note = f"out-of-time test: {len(oot)} matured production rows that neither model trained on"
    if DECIDED_AT in oot and len(oot):
        first, last = oot[DECIDED_AT].min(), oot[DECIDED_AT].max()
        note += f", decided {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    return note
