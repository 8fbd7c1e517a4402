"""The monitor's result as Markdown in the PR report's style, to be posted to GitHub as it is.

A verdict first (a GitHub alert), then input and score drift, performance estimated before
labels and realized after, charts and notes. Everything comes from the result dict; `render`
reads no file, and the Markdown links nothing local. Values from production inputs (category
names) are data about applicants: each goes in a code span, and only when at least
`MIN_SHOWN_ROWS` rows hold it, so no single applicant's entry reaches a pull request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelgate import io
from modelgate.monitor.status import DRIFT, INSUFFICIENT, OK
from modelgate.report import charts, md

MARKER = "<!-- modelgate:monitor-report -->"
FILE = "monitor.md"
MIN_SHOWN_ROWS = 5
MAX_CHARTED = 8  # features in the effect-size chart
ALERTS = {OK: "TIP", DRIFT: "WARNING", INSUFFICIENT: "WARNING"}  # the rest: CAUTION
NAMES = {"roc_auc": "ROC-AUC", "ks": "KS", "brier": "Brier", "ece": "ECE"}
ERROR_NAMES = {"mae": "MAE", "rmse": "RMSE", "bias": "bias"}  # a regressor's (realized_error)
Result = Mapping[str, Any]


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"


def _interval(block: Mapping[str, Any] | None) -> str:
    if not block or block.get("value") is None:
        return "n/a"
    if block.get("low") is None:
        return _f(block["value"])
    return f"{_f(block['value'])} [{_f(block['low'])}, {_f(block['high'])}]"


def _limit(rule: Mapping[str, float] | None) -> str:
    if not rule:
        return "-"
    return " and ".join(f"{'≥' if k == 'min' else '≤'} {v:g}" for k, v in rule.items())


def _names(metrics: Sequence[str]) -> str:
    return ", ".join((NAMES | ERROR_NAMES).get(m, m) for m in metrics)


def _regressor(result: Result) -> bool:
    return result.get("task") == "regression"


# --- verdict ----------------------------------------------------------------------------------


def _degraded_parts(result: Result) -> list[str]:
    parts = []
    estimated = result.get("estimated") or {}
    if estimated.get("degraded"):
        floor = (result.get("limits") or {}).get("roc_auc", {}).get("min")
        parts.append(
            f"estimated ROC-AUC {_interval(estimated['roc_auc'])} below the gate's {floor}"
        )
    realized = result.get("realized") or {}
    for c in realized.get("cohorts", []):
        if c["degraded"] and _regressor(result) and "mae" in c["below"]:
            parts.append(
                f"cohort {c['cohort']} MAE {_interval(c['mae'])}, more than "
                f"{realized['max_error_increase']:.0%} above the test set's"
            )
        elif c["degraded"]:
            parts.append(f"cohort {c['cohort']} past the limits on {_names(c['below'])}")
    return parts


def _drifted(result: Result) -> list[str]:
    drift = result.get("drift") or {}
    names = [md.code(f) for f in drift.get("drifted", [])]
    if (drift.get("score") or {}).get("drift"):
        names.append("the score")
    return names


def verdict(result: Result) -> str:
    """A GitHub alert saying healthy, drift in which features, degraded how, or too little
    data; then one line of facts about what was judged."""
    status = str(result.get("status"))
    drifted, degraded = _drifted(result), _degraded_parts(result)
    heads = []
    if status == INSUFFICIENT:
        reason = (result.get("drift") or {}).get("reason") or "too few predictions for a verdict"
        heads.append(f"**INSUFFICIENT DATA**: {reason}")
    if drifted:
        heads.append("**DRIFT** in " + ", ".join(drifted))
    if degraded:
        heads.append("**DEGRADED**: " + "; ".join(degraded))
    if not heads:
        heads.append("**HEALTHY**: no drift, performance within the gate's limits")
    alert = ALERTS.get(status, "CAUTION")
    return f"> [!{alert}]\n> " + ". ".join(heads) + ".\n>\n> " + " · ".join(_facts(result))


def _facts(result: Result) -> list[str]:
    model, window = result.get("model") or {}, result.get("window") or {}
    out = [f"model {md.code(model.get('name'))} version {md.code(model.get('version'))}"]
    out.append(
        f"{window.get('rows', 0):,} predictions from {window.get('start')} to {window.get('end')}"
    )
    realized = result.get("realized")
    if realized:
        out.append(
            f"outcomes as of {realized['as_of']}, {realized['maturity_days']} days to mature"
        )
    else:
        out.append("no outcomes supplied")
    return out


# --- drift ------------------------------------------------------------------------------------


def _reading(test: Mapping[str, Any]) -> str:
    if test.get("p_adjusted") is None:
        return "not run"
    if test["significant"] and test["material"]:
        return "**drift**"
    if test["significant"]:
        return "significant, below the floor"
    return "material, not significant" if test["material"] else "-"


def _test_row(feature: str, test: Mapping[str, Any]) -> list[str]:
    effect = test.get("effect")
    size = "n/a" if effect is None else f"{effect:.3g} {test.get('effect_measure', '')}".strip()
    floor = test.get("floor")
    return [
        md.code(feature),
        str(test["test"]),
        size + ("" if floor is None else f" (floor {floor:g})"),
        _p(test.get("p_value")),
        _p(test.get("p_adjusted")),
        _reading(test),
    ]


DRIFT_HEADER = ["feature", "test", "effect (floor)", "p-value", "adjusted p", "verdict"]


def _order(features: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Drifted first, then by the feature's smallest adjusted p-value."""

    def smallest(f: Mapping[str, Any]) -> float:
        ps = [t["p_adjusted"] for t in f["tests"] if t.get("p_adjusted") is not None]
        return min(ps, default=2.0)

    return sorted(features, key=lambda f: (not f.get("drift"), smallest(f)))


def drift_section(drift: Mapping[str, Any] | None) -> str:
    if not drift or drift.get("status") == INSUFFICIENT:
        reason = (drift or {}).get("reason") or "the window is too small for a verdict"
        return f"## Input drift\n\nNot tested: {reason}."
    features = _order(drift.get("features", []))
    intro = (
        f"{drift['tests']} tests on {len(features)} features and the score, "
        f"{drift['correction'].capitalize()}-corrected to a family-wise false-alarm rate of "
        f"{drift['alpha']:g}. A feature drifts when a test is significant after correction "
        "and its effect reaches the floor."
    )
    flagged = [
        (f["feature"], t) for f in features for t in f["tests"] if t["significant"] or t["material"]
    ]
    every = [_test_row(f["feature"], t) for f in features for t in f["tests"]]
    body = (
        md.table(DRIFT_HEADER, [_test_row(n, t) for n, t in flagged])
        if flagged
        else "No test is significant or reaches its floor."
    )
    full = md.details(f"Every drift test ({len(every)})", md.table(DRIFT_HEADER, every))
    return f"## Input drift\n\n{intro}\n\n{body}\n\n{full}"


def score_section(drift: Mapping[str, Any] | None) -> str:
    score = (drift or {}).get("score")
    if not score:
        return ""
    word = "drifted" if score.get("drift") else "did not drift"
    rows = [_test_row("score", t) for t in score["tests"]]
    return f"## Score drift\n\nThe model's score distribution {word}.\n\n" + md.table(
        DRIFT_HEADER, rows
    )


# --- performance ------------------------------------------------------------------------------


def _auc_reading(auc: Mapping[str, Any], floor: float | None) -> str:
    low, high = auc.get("low"), auc.get("high")
    if floor is None or low is None or high is None:
        return "-"
    if high < floor:
        return "**below the limit** (the whole interval)"
    return "above the limit" if low >= floor else "inconclusive: the interval spans the limit"


def estimated_section(result: Result) -> str:
    estimated = result.get("estimated")
    if _regressor(result):
        note = result.get("estimate_note") or "no label-free estimate for regression"
        return f"## Estimated performance (before labels)\n\nNot estimated: {note}."
    if not estimated:
        return "## Estimated performance (before labels)\n\nNot estimated: no scores in the window."
    limits, test = result.get("limits") or {}, result.get("test_metrics") or {}
    level = f"{estimated.get('confidence', 0.95):.0%}"
    auc = estimated["roc_auc"]
    reading = _auc_reading(auc, (limits.get("roc_auc") or {}).get("min"))
    rows = [
        ["ROC-AUC", _interval(auc), _f(test.get("roc_auc")), _limit(limits.get("roc_auc")),
         reading],
        ["default rate", _interval(estimated["default_rate"]), _f(test.get("default_rate")),
         "-", "-"],
    ]  # fmt: skip
    header = ["metric", f"estimate [{level} interval]", "test set", "gate limit", "reading"]
    cal = estimated.get("calibration") or {}
    how = (
        f"From the scores of {estimated['rows']:,} predictions, recalibrated on the "
        f"reference's {cal.get('reference_rows', 'n/a')} validation rows (logistic: slope "
        f"{_f(cal.get('slope'))}, intercept {_f(cal.get('intercept'))}). The estimate holds "
        "while applicants change but their risk given the inputs does not: realized "
        "performance confirms it once outcomes arrive."
    )
    return f"## Estimated performance (before labels)\n\n{how}\n\n" + md.table(header, rows)


def _cohort_reading(c: Mapping[str, Any]) -> str:
    if not c["judged"]:
        return f"not judged: {c.get('note') or 'too small'}"
    if c["degraded"]:
        return f"**degraded**: {_names(c['below'])} past the limits"
    worse = c.get("worse_than_test") or []
    return f"within the limits; below the test set on {_names(worse)}" if worse else "ok"


METRICS_HEADER = ["ROC-AUC [interval]", "KS", "Brier", "ECE", "approval rate"]
REALIZED_HEADER = ["cohort", "decisions", "labelled", "defaults", *METRICS_HEADER, "verdict"]


def _metric_cells(values: Mapping[str, Any]) -> list[str]:
    auc = values.get("roc_auc")
    cells = [_interval(auc) if isinstance(auc, Mapping) else _f(auc)]
    return cells + [_f(values.get(m)) for m in ("ks", "brier", "ece", "approval_rate")]


def realized_section(result: Result) -> str:
    realized = result.get("realized")
    title = "## Realized performance (after labels)"
    if not realized:
        return f"{title}\n\nNo outcomes file: nothing to measure yet."
    if _regressor(result):
        return f"{title}\n\n" + error_table(result)
    limits, test = result.get("limits") or {}, result.get("test_metrics") or {}
    rows = [
        [c["cohort"], f"{c['rows']:,}", f"{c.get('labelled', c['rows']):,}", c["positives"],
         *_metric_cells(c), _cohort_reading(c)]
        for c in realized["cohorts"]
    ]  # fmt: skip
    rows.append(["_test set_", "", "", "", *_metric_cells(test), ""])
    rows.append(["_gate limit_", "", "", "", *(_limit(limits.get(m)) for m in NAMES), "-", ""])
    intro = (
        f"Cohorts by {realized.get('cohort', 'month')} of decision whose decisions are all "
        f"{realized['maturity_days']} days old at {realized['as_of']}. A limit is broken only "
        "when the metric's interval end most favourable to the model is past it."
    )
    if not realized["cohorts"]:
        return f"{title}\n\n{intro}\n\nNo cohort is mature yet."
    return f"{title}\n\n{intro}\n\n" + md.table(REALIZED_HEADER, rows)


def _error_reading(c: Mapping[str, Any], margin: float) -> str:
    if not c["judged"]:
        return f"not judged: {c.get('note') or 'too small'}"
    if c["degraded"]:
        return f"**degraded**: {_names(c['below'])}" + (
            f" more than {margin:.0%} above the test set's" if "mae" in c["below"] else ""
        )
    worse = c.get("worse_than_test") or []
    return f"ok; worse than the test set on {_names(worse)}" if worse else "ok"


ERROR_HEADER = ["cohort", "predictions", "with actuals", "MAE [interval]", "MAE vs test",
                "RMSE [interval]", "bias [interval]", "WAPE", "verdict"]  # fmt: skip


def error_table(result: Result) -> str:
    """A regressor's cohorts: errors with their t-intervals against the test set's."""
    realized, test = result["realized"], result.get("test_metrics") or {}
    margin = float(realized["max_error_increase"])
    rows = [
        [c["cohort"], f"{c['rows']:,}", f"{c['labelled']:,}", _interval(c["mae"]),
         _relative(c.get("mae_increase")), _interval(c["rmse"]), _interval(c["bias"]),
         _f(c.get("wape")), _error_reading(c, margin)]
        for c in realized["cohorts"]
    ]  # fmt: skip
    rows.append(["_test set_", "", "", _f(test.get("mae")), "", _f(test.get("rmse")),
                 _f(test.get("bias")), _f(test.get("wape")), ""])  # fmt: skip
    level = f"{realized.get('confidence', 0.95):.0%}"
    intro = (
        f"Cohorts by {realized.get('cohort', 'month')} of prediction whose predictions are all "
        f"{realized['maturity_days']} days old at {realized['as_of']}; {level} t-intervals. "
        f"A cohort is degraded when even its MAE interval's lower end is more than "
        f"{margin:.0%} above the test set's MAE ({_f(realized.get('test_mae'))})."
    )
    if not realized["cohorts"]:
        return f"{intro}\n\nNo cohort is mature yet."
    return f"{intro}\n\n" + md.table(ERROR_HEADER, rows)


def _relative(block: Mapping[str, Any] | None) -> str:
    if not block or block.get("value") is None:
        return "n/a"
    return f"{block['value']:+.1%} [{block['low']:+.1%}, {block['high']:+.1%}]"


# --- charts -----------------------------------------------------------------------------------


def _xychart(
    title: str, x_label: str, ticks: Sequence[str], y_label: str,
    bars: Sequence[charts.Series], lines: Sequence[charts.Series],
) -> str:  # fmt: skip
    """charts.xychart with named (not numeric) ticks and bars before lines."""
    palette = ", ".join(s.colour for s in [*bars, *lines])
    out = [
        "```mermaid",
        '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + palette + '"}}}}%%',
        "xychart-beta",
        f'    title "{_text(title)}"',
        f'    x-axis "{_text(x_label)}" [' + ", ".join(f'"{_text(t)}"' for t in ticks) + "]",
        f'    y-axis "{_text(y_label)}"',
    ]
    for kind, series in (("bar", bars), ("line", lines)):
        for s in series:
            values = ", ".join(f"{float(v):.4f}" for v in s.values)
            out.append(f'    {kind} "{_text(s.name)}" [{values}]')
    return "\n".join([*out, "```"])


def _text(text: str) -> str:
    return str(text).replace('"', "'")


def auc_chart(result: Result) -> str:
    """Realized ROC-AUC per judged cohort with its interval, the estimate where the run gave
    one, and the gate's minimum."""
    judged = [c for c in (result.get("realized") or {}).get("cohorts", []) if c["judged"]]
    if len(judged) < 2 or _regressor(result):
        return ""
    auc = [c["roc_auc"] for c in judged]
    lines = [
        charts.Series("realized ROC-AUC", [a["value"] for a in auc], charts.PR_COLOUR),
        charts.Series("interval, low", [a["low"] for a in auc], charts.REFERENCE_COLOUR),
        charts.Series("interval, high", [a["high"] for a in auc], charts.REFERENCE_COLOUR),
    ]
    estimated = [(c.get("estimated_roc_auc") or {}).get("value") for c in judged]
    if None not in estimated:
        values = [float(e) for e in estimated if e is not None]
        lines.append(charts.Series("estimated ROC-AUC", values, charts.BASE_COLOUR))
    floor = (result.get("limits") or {}).get("roc_auc", {}).get("min")
    if floor is not None:
        lines.append(charts.Series("gate minimum", [floor] * len(judged), charts.PR_POS_COLOUR))
    chart = _xychart(
        "ROC-AUC per cohort", "Cohort", [c["cohort"] for c in judged], "ROC-AUC", [], lines
    )
    return f"### ROC-AUC per cohort\n\n{charts.caption(lines)}\n\n{chart}"


def effect_chart(result: Result) -> str:
    """Each feature's largest effect as a multiple of its floor: 1 is where it turns material."""
    ratios = []
    for f in (result.get("drift") or {}).get("features", []):
        sizes = [
            t["effect"] / t["floor"]
            for t in f["tests"]
            if t.get("effect") is not None and t.get("floor")
        ]
        if sizes:
            ratios.append((max(sizes), f["feature"]))
    top = sorted(ratios, reverse=True)[:MAX_CHARTED]
    if not top:
        return ""
    bars = [charts.Series("effect / floor", [r for r, _ in top], charts.PR_COLOUR)]
    lines = [charts.Series("floor", [1.0] * len(top), charts.PR_POS_COLOUR)]
    names = [n for _, n in top]
    chart = _xychart("Largest effect per feature, in floors", "Feature", names, "Effect / floor",
                     bars, lines)  # fmt: skip
    caption = "Bars: effect / floor (blue); line: the floor (red)."
    return f"### Effect sizes of the most shifted features\n\n{caption}\n\n{chart}"


# --- notes ------------------------------------------------------------------------------------


def _category_note(feature: Mapping[str, Any]) -> str | None:
    new = (feature.get("window") or {}).get("new_categories") or {}
    if not new:
        return None
    rows = sum(new.values())
    shown = [
        f"{md.code(' '.join(str(k).split())[:30])}: {v}"
        for k, v in sorted(new.items(), key=lambda kv: -kv[1])
        if v >= MIN_SHOWN_ROWS
    ]
    hidden = len(new) - len(shown)
    text = f"{md.code(feature['feature'])}: {rows} rows hold categories training never saw"
    if shown:
        text += " (" + ", ".join(shown) + ")"
    if hidden:
        text += f"; values held by fewer than {MIN_SHOWN_ROWS} rows are not shown ({hidden})"
    return text + "."


COUNT_NOTES = {
    "immature_rows": "Decisions younger than {maturity_days} days at {as_of} (their cohorts wait)",
    "unlabelled_rows": "Decisions in mature cohorts without an outcome (declined applicants get "
    "no loan: realized metrics describe the approved ones unless the lender reports every "
    "outcome)",
    "unlabelled_predictions": "Predictions in mature cohorts without an actual value yet",
    "outcomes_after_as_of": "Outcomes dated after the as-of date, not used",
    "unmatched_outcomes": "Outcomes of no logged decision in the window",
    "duplicate_predictions": "Logged predictions repeating a request row, a client's retry (the "
    "latest counts)",
}


def notes(result: Result) -> list[str]:
    out = []
    for f in (result.get("drift") or {}).get("features", []):
        out += [
            f"{md.code(f['feature'])}: the {t['test']} test could not run."
            for t in f["tests"]
            if t.get("p_adjusted") is None
        ]
        out += [n for n in [_category_note(f)] if n]
    realized = result.get("realized") or {}
    out += [
        f"Cohort {c['cohort']} not judged: {c.get('note') or 'too small'}."
        for c in realized.get("cohorts", [])
        if not c["judged"]
    ]
    counts = dict(realized)
    if _regressor(result):  # a regressor decides nothing: its rows are predictions
        counts["unlabelled_predictions"] = counts.pop("unlabelled_rows", 0)
    out += [
        text.format(**realized) + f": {counts[key]:,}."
        for key, text in COUNT_NOTES.items()
        if counts.get(key)
    ]
    return out


# --- the whole ---------------------------------------------------------------------------------


def render(result: Result) -> str:
    """The Markdown report of one monitor run."""
    model = (result.get("model") or {}).get("name", "model")
    drift = result.get("drift")
    note_lines = notes(result)
    charted = [c for c in (auc_chart(result), effect_chart(result)) if c]
    parts = [
        MARKER,
        f"# Monitoring: {model}",
        verdict(result),
        drift_section(drift),
        score_section(drift),
        estimated_section(result),
        realized_section(result),
        "## Charts\n\n" + "\n\n".join(charted) if charted else "",
        "## Notes\n\n" + "\n".join(f"- {n}" for n in note_lines) if note_lines else "",
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def write(result: Result, out_dir: Path) -> Path:
    """`out_dir/monitor.md`, written atomically."""
    target = out_dir / FILE
    io.write_bytes(target, render(result).encode("utf-8"))
    return target
