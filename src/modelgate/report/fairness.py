"""The fairness gate's results in the PR report (issue 12.5), from `reports/gates/fairness.json`.

The file is the gate's record (`modelgate.gates.results.GateResult.to_dict`: gate, status,
notes, conditions) with a `groups` block: per protected column, a list of groups, each with
`group` and any of `rows`, `favourable_rate`, `adverse_impact_ratio` (a number, or
`{"value", "low", "high"}` for its interval), `roc_auc`, `auc_gap`, `mae`, `mean_prediction`.
The section shows what is there and leaves out what is not: no file, no section; no protected
column, the gate's note. Group names are values of the data: each is shown in a code span,
whitespace folded and cut short, and the whole report goes through `modelgate.ci.sanitize`
before it is posted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelgate.report import md

FILE = "fairness.json"
MAX_NAME_CHARS = 40
# (key in a group's entry, column title), in the order shown.
COLUMNS = (
    ("rows", "rows"),
    ("favourable_rate", "favourable rate"),
    ("adverse_impact_ratio", "adverse impact ratio [interval]"),
    ("roc_auc", "ROC-AUC"),
    ("auc_gap", "ROC-AUC gap"),
    ("mae", "MAE"),
    ("mean_prediction", "mean prediction"),
)
STATUS_WORDS = {"pass": "pass", "warn": "warn", "fail": "FAIL", "not run": "not run"}


def name(value: object) -> str:
    """A group or column name from the data, safe to show."""
    text = " ".join(str(value).split())
    return md.code(text if len(text) <= MAX_NAME_CHARS else text[: MAX_NAME_CHARS - 3] + "...")


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return f"{value:,}" if isinstance(value, int) else f"{value:.3f}"


def _cell(value: object) -> str:
    if isinstance(value, Mapping):
        text = _number(value.get("value"))
        if value.get("low") is not None and value.get("high") is not None:
            text += f" [{_number(value['low'])}, {_number(value['high'])}]"
        return text
    return _number(value)


def group_table(groups: Sequence[Mapping[str, Any]]) -> str:
    shown = [(k, title) for k, title in COLUMNS if any(k in g for g in groups)]
    rows = [[name(g.get("group")), *(_cell(g.get(k)) for k, _ in shown)] for g in groups]
    return md.table(["group", *(title for _, title in shown)], rows)


def _conditions(gate: Mapping[str, Any]) -> str:
    flagged = [c for c in gate.get("conditions", []) if c.get("status") in ("fail", "warn")]
    return "\n".join(
        f"- {STATUS_WORDS.get(c['status'], c['status'])}: {md.cell(c.get('name', ''))}"
        + (f" ({md.cell(c['message'])})" if c.get("message") else "")
        for c in flagged
    )


def _groups(gate: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per column, its groups: the `groups` block, or the gate's flat `tables.groups` rows
    (modelgate.gates.fairness: `column`, `group`, ..., `impact_ratio`, `ratio_low/high`)."""
    if gate.get("groups"):
        return dict(gate["groups"])
    out: dict[str, list[dict[str, Any]]] = {}
    for row in (gate.get("tables") or {}).get("groups") or []:
        entry = dict(row)
        if "impact_ratio" in entry:
            entry["adverse_impact_ratio"] = {"value": entry.pop("impact_ratio"),
                                             "low": entry.pop("ratio_low", None),
                                             "high": entry.pop("ratio_high", None)}  # fmt: skip
        out.setdefault(str(entry.pop("column", "")), []).append(entry)
    return out


def section(gate: Mapping[str, Any] | None) -> str:
    """`## Fairness`, or nothing when the gate wrote no file."""
    if gate is None:
        return ""
    status = STATUS_WORDS.get(str(gate.get("status")), str(gate.get("status")))
    parts = [f"## Fairness\n\nGate `fairness`: **{status}**."]
    parts += [f"_{md.cell(n)}_" for n in gate.get("notes", [])]
    groups = _groups(gate)
    if not groups:
        parts.append("No protected columns (`ingest.protected` is empty): nothing to compare.")
    for column, entries in groups.items():
        parts.append(f"### {name(column)}\n\n" + group_table(entries))
    flagged = _conditions(gate)
    if flagged:
        parts.append(flagged)
    return "\n\n".join(parts)
