"""Pure renderers of the report's sections, from parsed JSON to Markdown text."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from modelgate.gates.results import Status, overall
from modelgate.report import md

MARKER = "<!-- modelgate:pr-report -->"
NOT_RUN = Status.NOT_RUN.value
STATUS_WORDS = {"pass": "pass", "warn": "warn", "fail": "FAIL", NOT_RUN: "not run"}
ALERTS = {"pass": "TIP", "warn": "WARNING", "fail": "CAUTION", NOT_RUN: "CAUTION"}
MAX_LISTED = 4
MAX_VALUE_CHARS = 120


def overall_status(gates: Mapping[str, Any] | None) -> str:
    """The record's overall status (`modelgate.gates.results.overall`: a gate that did not run
    never passes); no gate results at all count as a failure to verify."""
    return overall((gates or {}).get("gates")).value


def stopped_before(gates: Mapping[str, Any] | None, stage_gates: Sequence[str]) -> str | None:
    """The first of `stage_gates` that failed or did not run: the pipeline stopped before the
    stage they guard, whose outputs on disk are then not this run's."""
    for gate in (gates or {}).get("gates", []):
        if gate["gate"] in stage_gates and gate["status"] in ("fail", NOT_RUN):
            return str(gate["gate"])
    return None


def value_text(value: Any) -> str:
    if isinstance(value, Mapping):
        text = ", ".join(f"{k} {md.num(v)}" for k, v in value.items())
    elif isinstance(value, list):
        text = json.dumps(value)
    else:
        text = md.num(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def condition_text(condition: Mapping[str, Any]) -> str:
    return (
        f"{condition['name']}: {value_text(condition.get('value'))}"
        f" vs {value_text(condition.get('threshold'))}"
    )


def _gate_failure(gate: Mapping[str, Any]) -> str:
    """One failed gate in a phrase: the condition with value and threshold when it is the only
    one, else the names of the failed conditions."""
    failed = [c for c in gate["conditions"] if c["status"] == "fail"]
    if len(failed) == 1:
        return f"gate `{gate['gate']}` failed ({condition_text(failed[0])})"
    names = [c["name"] for c in failed[:MAX_LISTED]]
    more = f" and {len(failed) - MAX_LISTED} more" if len(failed) > MAX_LISTED else ""
    return f"gate `{gate['gate']}` failed {len(failed)} conditions ({'; '.join(names)}{more})"


def verdict(gates: Mapping[str, Any] | None, facts: Sequence[str]) -> str:
    """A GitHub alert (red, yellow or green) with the verdict, then one line of facts."""
    status = overall_status(gates)
    if gates is None:
        head = "**FAIL**: no gate results (no `reports/gates.json`, no gate files: run `dvc repro`)"
    elif status == "fail":
        failed = [g for g in gates["gates"] if g["status"] == "fail"]
        head = "**FAIL**: " + "; ".join(_gate_failure(g) for g in failed)
    elif status == NOT_RUN:
        missing = [md.code(g["gate"]) for g in gates["gates"] if g["status"] == NOT_RUN]
        head = "**NOT VERIFIED**: gate " + ", ".join(missing) + " did not run"
    else:
        ran = sum(g["status"] != NOT_RUN for g in gates["gates"])
        head = f"**PASS**: all {ran} gates pass" + (
            " (some conditions warn, see below)" if status == "warn" else ""
        )
    return f"> [!{ALERTS[status]}]\n> {head}.\n>\n> " + " · ".join(facts)


def _flagged(gate: Mapping[str, Any]) -> str:
    flagged = [c for c in gate["conditions"] if c["status"] in ("fail", "warn")]
    flagged.sort(key=lambda c: c["status"] != "fail")
    texts = [f"{STATUS_WORDS[c['status']]}: {condition_text(c)}" for c in flagged[:MAX_LISTED]]
    if len(flagged) > MAX_LISTED:
        texts.append(f"and {len(flagged) - MAX_LISTED} more (see every condition below)")
    texts += [f"note: {n}" for n in gate.get("notes", []) if gate["status"] == NOT_RUN]
    return "<br>".join(texts) or "-"


def gate_table(gates: Mapping[str, Any] | None, note: str = "") -> str:
    if not gates:
        return "## Gates\n\nNo gate results: `reports/gates.json` and the gate files are missing."
    rows = [
        [g["gate"], STATUS_WORDS.get(g["status"], g["status"]), len(g["conditions"]), _flagged(g)]
        for g in gates["gates"]
    ]
    header = ["gate", "status", "conditions", "failed / warned (value vs threshold)"]
    return "## Gates\n\n" + (f"{note}\n\n" if note else "") + md.table(header, rows)


def conditions_details(gates: Mapping[str, Any] | None) -> str:
    if not gates:
        return ""
    parts = []
    for gate in gates["gates"]:
        notes = "".join(f"\n\n_{n}_" for n in gate.get("notes", []))
        rows = [
            [
                STATUS_WORDS.get(c["status"], c["status"]),
                c["name"],
                value_text(c.get("value")),
                value_text(c.get("threshold")),
                value_text(c.get("message", "")),
            ]
            for c in gate["conditions"]
        ]
        table = md.table(["status", "condition", "value", "threshold", "message"], rows)
        parts.append(f"**{gate['gate']}**: {gate['status']}{notes}\n\n{table if rows else ''}")
    total = sum(len(g["conditions"]) for g in gates["gates"])
    return md.details(f"Every gate condition ({total})", "\n\n".join(parts))


def _plain(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else md.num(value)


def params_section(diff: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The changed params, from `dvc params diff BASE --json`."""
    rows = [
        [
            name if path == "params.yaml" else f"{path}:{name}",
            _plain(v.get("old")),
            _plain(v.get("new")),
        ]
        for path, changes in diff.items()
        for name, v in sorted(changes.items())
    ]
    body = md.table(["param", "base", "PR"], rows) if rows else "No params changed."
    return "## Params\n\n" + body
