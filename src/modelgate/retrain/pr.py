"""The retraining pull request's title and body, as Markdown GitHub renders.

In the order a reviewer needs it: the title; that a human must review and merge; the verdict
of the retrained model's gates and of the out-of-time comparison; the monitor's report (what
drifted, by how much, over which window); the new training snapshot (policy, rows added,
quarantined with their reasons, held out); the out-of-time comparison; then the usual PR report
against the production model. Pure: every input is gathered by `modelgate.retrain.__main__`.

Values from production inputs never appear here beyond what the monitor's report shows (which
guards category values itself): the snapshot is described by counts and contract rules only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelgate.gates import paired
from modelgate.monitor import report as monitor_report
from modelgate.monitor.status import degraded, drifted
from modelgate.report import charts, md, performance, sections

MARKER = "<!-- modelgate:retrain-pr -->"
MAX_BODY_CHARS = 65_536  # GitHub refuses a longer pull-request body
EMBEDDED_MARKERS = (monitor_report.MARKER, sections.MARKER)  # each report's own watermark
_HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
Result = Mapping[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """How the next training snapshot was built, in counts (no row's values)."""

    raw_path: str
    policy: str  # retrain.policy: append | window
    window_months: int
    maturity_days: int
    logged: int  # logged predictions of the production model read
    labelled: int  # ... of which the outcome is known
    matured: int  # ... and matured by `as_of`
    quarantined: dict[str, int]  # contract rule(s) broken -> rows
    held_out: int  # the out-of-time test
    trainable: int
    added: int
    already_present: int
    outside_window: int
    current_rows: int
    next_rows: int
    old_md5: str | None = None
    new_md5: str | None = None
    # (decision month, rows trained on, rows held out), oldest first
    months: list[tuple[str, int, int]] = field(default_factory=list)
    held_out_span: tuple[str, str] | None = None  # first and last decision held out


@dataclass(frozen=True)
class Evidence:
    """Everything the body shows."""

    model: str
    branch: str
    base: str
    production: str  # the production revision's commit
    as_of: str
    monitor: Result  # monitor.json
    snapshot: Snapshot
    gates: list[dict[str, Any]]  # modelgate.gates.results.merge of the retrained pipeline
    oot: dict[str, Any] | None  # oot.compare's GateResult.to_dict(), None when not run
    oot_why: str = ""  # why it did not run
    pr_report: str | None = None  # reports/pr/report.md against the production revision


def what_happened(result: Result) -> str:
    """The monitor's finding in a phrase: drift in which inputs, degraded performance."""
    block = result.get("drift") or {}
    names = [md.code(f) for f in block.get("drifted") or []]
    if (block.get("score") or {}).get("drift"):
        names.append("the score")
    parts = [f"drift in {', '.join(names)}"] if drifted(result) else []
    if degraded(result):
        parts.append("degraded performance")
    return " and ".join(parts) or "no material drift or degradation"


def title(model: str, result: Result) -> str:
    """The pull request's title: plain text, as GitHub shows titles."""
    return f"Retrain {model}: {what_happened(result).replace('`', '')}"


# --- sections ---------------------------------------------------------------------------------


def demote(markdown: str) -> str:
    """Every heading one level down (outside code fences), and the report's own watermark
    dropped, so an embedded report nests under this body's title."""
    for marker in EMBEDDED_MARKERS:
        markdown = markdown.replace(marker + "\n", "").replace(marker, "")
    pieces, last = [], 0
    for fence in _FENCE.finditer(markdown):
        pieces += [_HEADING.sub(r"#\1 ", markdown[last : fence.start()]), fence.group(0)]
        last = fence.end()
    pieces.append(_HEADING.sub(r"#\1 ", markdown[last:]))
    return "".join(pieces).strip()


def review_notice() -> str:
    return (
        "> [!IMPORTANT]\n"
        "> **A human must review and merge this pull request.** `make retrain-pr` opened it "
        "from the monitor's verdict; no workflow or bot merges it, approves it or enables "
        "auto-merge. Merging it to `main` starts the deploy, which waits for the `prod` "
        "environment's approval."
    )


def _stopped(gates: Sequence[Mapping[str, Any]]) -> str:
    """Which gates failed and which did not run, in a phrase."""
    failed = [md.code(g["gate"]) for g in gates if g["status"] == "fail"]
    skipped = [md.code(g["gate"]) for g in gates if g["status"] == sections.NOT_RUN]
    parts = [f"{', '.join(failed)} failed"] if failed else []
    parts += [f"{', '.join(skipped)} did not run"] if skipped else []
    return "; ".join(parts) or "no gate results"


def verdict(e: Evidence) -> str:
    """One alert: the retrained model's gates, then the out-of-time comparison."""
    gates = sections.overall_status({"gates": e.gates} if e.gates else None)
    oot = (e.oot or {}).get("status", sections.NOT_RUN)
    if gates in ("pass", "warn"):
        head = "**Every gate passed** on the retrained model" + (
            " (some conditions warn)" if gates == "warn" else ""
        )
    else:
        head = f"**Gates failed**: {_stopped(e.gates)}. A failed retraining is evidence too: "
        head += "do not merge it as it is"
    head += f". Out-of-time comparison with production: **{sections.STATUS_WORDS[oot]}**"
    worst = "fail" if "fail" in (gates, oot) else gates if gates != "pass" else oot
    alert = sections.ALERTS.get(worst, "CAUTION")
    episode = e.branch.rsplit("/", 1)[-1]
    first_seen = re.search(r"\d{4}-\d{2}-\d{2}$", episode)
    facts = [
        (f"first seen {first_seen.group(0)} " if first_seen else "")
        + f"(episode {md.code(episode)}, branch {md.code(e.branch)})",
        f"production revision {md.code(e.production[:12])}",
        f"base {md.code(e.base)}",
        f"outcomes as of {e.as_of}",
    ]
    return f"> [!{alert}]\n> {head}.\n>\n> " + " · ".join(facts)


def _policy(s: Snapshot) -> str:
    if s.policy == "window":
        return f"`window`: production rows of the last {s.window_months} months only"
    return "`append`: the current snapshot plus the new matured rows"


def snapshot_section(s: Snapshot) -> str:
    span = f" (decided {s.held_out_span[0]} to {s.held_out_span[1]})" if s.held_out_span else ""
    rows: list[list[object]] = [
        ["logged predictions of the production model", f"{s.logged:,}"],
        ["with a known outcome", f"{s.labelled:,}"],
        [f"matured ({s.maturity_days} days old, outcome known, as of the run)", f"{s.matured:,}"],
        ["quarantined: break the data contract", f"{sum(s.quarantined.values()):,}"],
        [f"held out: the out-of-time test{span}", f"{s.held_out:,}"],
        ["may be trained on", f"{s.trainable:,}"],
        ["already in the current snapshot", f"{s.already_present:,}"],
    ]
    if s.policy == "window":
        rows.append([f"older than the {s.window_months}-month window", f"{s.outside_window:,}"])
    rows += [
        ["**added to the snapshot**", f"**{s.added:,}**"],
        ["current snapshot → next snapshot", f"{s.current_rows:,} → {s.next_rows:,}"],
    ]
    parts = [
        "## The new training snapshot",
        f"Policy {_policy(s)} (`retrain` in `params.yaml`). Raw file {md.code(s.raw_path)}, "
        f"md5 {md.code(s.old_md5 or 'n/a')} → {md.code(s.new_md5 or 'n/a')}.",
        md.table(["rows", "count"], rows),
        _quarantine(s.quarantined),
        months_chart(s.months),
    ]
    return "\n\n".join(p for p in parts if p)


def _quarantine(quarantined: Mapping[str, int]) -> str:
    if not quarantined:
        return "No matured row breaks the data contract: none quarantined."
    rows = sorted(quarantined.items(), key=lambda item: (-item[1], item[0]))
    table = md.table(["contract rule(s) broken", "rows"], [[md.code(r), n] for r, n in rows])
    return (
        "Quarantined rows are kept out of the snapshot and counted here, never dropped or kept "
        f"silently:\n\n{table}"
    )


def months_chart(months: Sequence[tuple[str, int, int]]) -> str:
    """Matured rows by decision month: those trained on beside those held out."""
    if not months:
        return ""
    bars = [
        charts.Series("trained on", [m[1] for m in months], charts.PR_COLOUR),
        charts.Series("held out", [m[2] for m in months], charts.BASE_COLOUR),
    ]
    palette = ", ".join(s.colour for s in bars)
    lines = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        '    title "Matured production rows by decision month"',
        '    x-axis "Decision month" [' + ", ".join(f'"{m[0]}"' for m in months) + "]",
        '    y-axis "Rows"',
        *(f'    bar "{s.name}" [{", ".join(str(int(v)) for v in s.values)}]' for s in bars),
        "```",
    ]
    return "Bars: trained on (blue), held out (grey).\n\n" + "\n".join(lines)


def _cells(condition: Mapping[str, Any]) -> list[str]:
    value = condition.get("value")
    if isinstance(value, Mapping) and {"champion", "challenger"} <= value.keys():
        numbers = [md.num(value[k]) for k in ("champion", "challenger")]
        numbers.append(md.signed(value["delta"]))
    else:
        numbers = ["", "", sections.value_text(value)]
    status = sections.STATUS_WORDS.get(condition["status"], condition["status"])
    return [condition["name"], status, *numbers, sections.value_text(condition.get("message"))]


def _auc_sentence(oot: Mapping[str, Any]) -> str:
    value = paired.interval(oot, paired.AUC_CONDITION)
    if value is None:
        return "No bootstrap interval of the ROC-AUC difference (see the notes)."
    low, high = float(value["ci_low"]), float(value["ci_high"])
    return (
        f"ROC-AUC, retrained minus production: {float(value['delta']):+.4f}, "
        f"{float(value['confidence']):.0%} paired bootstrap interval "
        f"[{low:+.4f}, {high:+.4f}]: **{performance.auc_reading(low, high)}**."
    )


def oot_section(e: Evidence) -> str:
    s = e.snapshot
    head = "## Out-of-time comparison: production against retrained"
    span = f", decided {s.held_out_span[0]} to {s.held_out_span[1]}" if s.held_out_span else ""
    intro = (
        f"Both models scored on the **{s.held_out:,} most recent matured production rows**"
        f"{span}, which neither trained on, with the champion gate's paired bootstrap "
        "(`gates.champion` in `params.yaml`)."
    )
    if e.oot is None:
        return f"{head}\n\n{intro}\n\nNot run: {e.oot_why or 'no retrained model'}."
    header = ["condition", "status", "production", "retrained", "difference", "message"]
    table = md.table(header, [_cells(c) for c in e.oot.get("conditions", [])])
    # The gate's "base: ..." note names the production model, as the intro does.
    notes = "\n".join(f"- {n}" for n in e.oot.get("notes", []) if not n.startswith("base: "))
    status = sections.STATUS_WORDS.get(e.oot["status"], e.oot["status"])
    reading = f"Verdict: **{status}**. {_auc_sentence(e.oot)}"
    return "\n\n".join(p for p in (head, intro, reading, table, notes) if p)


def pr_report_section(e: Evidence) -> str:
    head = f"## The PR report, against production ({md.code(e.production[:12])})"
    if not e.pr_report:
        return f"{head}\n\nNot written: `make pr-report BASE={e.production}` failed."
    return f"{head}\n\n{demote(e.pr_report)}"


def render(e: Evidence) -> str:
    """The whole body; past GitHub's limit the PR report gives way to a pointer to the PR's
    sticky report comment, which carries the same report."""
    parts = [
        MARKER,
        f"# {title(e.model, e.monitor)}",
        review_notice(),
        verdict(e),
        demote(monitor_report.render(e.monitor)),
        snapshot_section(e.snapshot),
        oot_section(e),
        pr_report_section(e),
    ]
    body = "\n\n".join(parts) + "\n"
    if len(body) <= MAX_BODY_CHARS:
        return body
    parts[-1] = (
        "## The PR report\n\nToo long for this body: it is the report comment on this pull "
        "request, and the `pr-report` artifact of its CI run."
    )
    return ("\n\n".join(parts) + "\n")[:MAX_BODY_CHARS]


def drift_passed(model: str, branch: str, result: Result) -> str:
    """The comment for an open retraining PR whose drift has passed (a comment, not a body:
    without the body's marker)."""
    news = (
        f"**The monitor's latest run finds no material drift or degradation for {model}** "
        f"(status {md.code(result.get('status'))}): the episode of {md.code(branch)} has "
        "passed. This pull request stays open for a human to merge or close; no bot does either."
    )
    report = md.details("The monitor's report", demote(monitor_report.render(result)))
    return f"{news}\n\n{report}\n"
