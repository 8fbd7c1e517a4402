"""The monitor's result as Prometheus metrics, and what reads them: the alert rules (checked and
unit-tested by promtool) and the Grafana dashboard (its structure, and that every metric it or an
alert reads is one the server or the monitor exports).

A real Prometheus scraping the real server is tests/integration/test_prometheus.py.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from modelgate.monitor import prometheus
from modelgate.serve.telemetry import Metrics

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "tests/testdata/monitoring/result.json"
RULES = ROOT / "monitoring/prometheus"
DASHBOARD = ROOT / "monitoring/grafana/modelgate.json"
RUNBOOK = ROOT / "monitoring/README.md"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)",
)
NOW = 1_790_000_000.0

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((f"modelgate_monitor_{name}", frozenset(labels.items())))


@pytest.fixture
def result() -> dict[str, Any]:
    return json.loads(RESULT.read_text())


@pytest.fixture
def exported(result: dict[str, Any]) -> Samples:
    return samples(prometheus.render(result, timestamp=NOW))


# --- the exporter -----------------------------------------------------------------------------


def test_each_feature_test_exports_its_evidence_and_its_size(exported: Samples):
    income = {"feature": "Income", "test": "ks"}
    assert value(exported, "feature_p_value", **income) == 1e-9
    assert value(exported, "feature_p_adjusted", **income) == 7e-9
    assert value(exported, "feature_effect", **income, measure="smd") == 0.31
    assert value(exported, "feature_effect_floor", **income) == 0.1
    assert value(exported, "feature_significant", **income) == 1
    assert value(exported, "feature_material", **income) == 1
    assert value(exported, "feature_drift", feature="Income", kind="numeric") == 1
    assert value(exported, "feature_drift", feature="Age", kind="integer") == 0
    assert value(exported, "feature_missing_rate", feature="Income", sample="window") == 0.012
    assert value(exported, "feature_new_categories", feature="Home") == 1
    assert value(exported, "score_p_adjusted", test="ks") == 0.072
    assert value(exported, "score_effect", test="ks", measure="smd") == 0.08


def test_the_verdict_is_a_state_set_with_its_flags(exported: Samples):
    states = {
        dict(labels)["status"]: v
        for (name, labels), v in exported.items()
        if name == "modelgate_monitor_status"
    }
    assert states == {s: float(s == "drift+degraded") for s in prometheus.STATUSES}
    assert value(exported, "drift") == 1 and value(exported, "degraded") == 1
    assert value(exported, "score_drift") == 0
    assert value(exported, "drifted_features") == 1
    assert value(exported, "drift_alpha", correction="holm") == 0.05


def test_performance_exports_intervals_limits_and_the_cohorts_below(exported: Samples):
    assert value(exported, "estimated_roc_auc") == 0.82
    assert value(exported, "estimated_roc_auc_low") == 0.80
    assert value(exported, "estimated_default_rate_high") == 0.30
    assert value(exported, "estimated_degraded") == 0
    assert value(exported, "realized_roc_auc_high", cohort="2026-08") == 0.745
    assert value(exported, "realized_ks", cohort="2026-08") == 0.31
    assert value(exported, "realized_degraded", cohort="2026-08") == 1
    below = {
        tuple(sorted(labels))
        for (name, labels), v in exported.items()
        if name == "modelgate_monitor_realized_below" and v == 1
    }
    assert below == {
        (("cohort", "2026-08"), ("metric", "ks")),
        (("cohort", "2026-08"), ("metric", "roc_auc")),
    }
    worse = {
        dict(labels)["metric"]
        for (name, labels), v in exported.items()
        if name == "modelgate_monitor_realized_worse_than_test" and v == 1
    }
    assert worse == {"roc_auc", "ks", "brier"}
    assert value(exported, "realized_labelled", cohort="2026-07") == 900
    assert value(exported, "realized_rows", cohort="2026-07") == 910
    assert value(exported, "realized_duplicate_predictions") == 1
    assert value(exported, "estimated_confidence") == 0.95
    assert value(exported, "realized_maturity_seconds") == 90 * 86400
    assert value(exported, "limit_min", metric="roc_auc") == 0.75
    assert value(exported, "limit_max", metric="brier") == 0.2
    assert value(exported, "test_metric", metric="roc_auc") == 0.8276


def test_nulls_are_left_out_rather_than_exported_as_numbers(exported: Samples):
    assert value(exported, "feature_p_value", feature="Records", test="chi2") is None
    assert value(exported, "feature_effect", feature="Records", test="chi2", measure="psi") is None
    assert value(exported, "feature_statistic", feature="Records", test="chi2") == 0.2
    assert value(exported, "realized_roc_auc", cohort="2026-09") is None
    assert value(exported, "realized_approval_rate", cohort="2026-09") == 0.6
    assert value(exported, "realized_judged", cohort="2026-09") == 0


def test_the_run_time_window_and_model_are_exported(exported: Samples):
    assert value(exported, "last_run_timestamp_seconds") == NOW
    assert value(exported, "window_rows") == 2000
    assert value(exported, "window_start_timestamp_seconds") == 1_793_491_200  # 2026-11-01Z
    assert value(exported, "window_end_timestamp_seconds") == 1_796_083_199
    model = frozenset({("name", "credit-risk"), ("version", "25513695d89f")})
    assert exported[("modelgate_monitor_model_info", model)] == 1


def test_a_window_too_small_for_a_verdict_exports_only_what_it_has(result: dict[str, Any]):
    small = {
        "model": result["model"],
        "window": {"rows": 12, "start": "2026-11-01T00:00:00", "end": None},
        "status": "insufficient",
        "drift": None,
        "estimated": None,
        "realized": None,
        "limits": result["limits"],
        "test_metrics": {"roc_auc": 0.83, "rows": 891, "note": "not a number"},
    }
    found = samples(prometheus.render(small, timestamp=NOW))

    names = {name.removeprefix("modelgate_monitor_") for name, _ in found}
    assert names == {
        "last_run_timestamp_seconds", "model_info", "status", "drift", "degraded",
        "window_rows", "window_start_timestamp_seconds", "limit_min", "limit_max", "test_metric",
    }  # fmt: skip
    assert value(found, "status", status="insufficient") == 1
    assert value(found, "drift") == 0
    assert value(found, "window_start_timestamp_seconds") == 1_793_491_200  # no zone: UTC
    assert value(found, "test_metric", metric="note") is None


def test_every_family_is_named_for_the_monitor_documented_and_passes_promtools_lint(
    result: dict[str, Any],
):
    text = prometheus.render(result, timestamp=NOW)
    families = list(text_string_to_metric_families(text))

    assert all(f.name.startswith("modelgate_monitor_") and f.documentation for f in families)
    declared = {f"modelgate_monitor_{name}" for name in prometheus.METRICS}
    assert {f.name for f in families} - declared == {"modelgate_monitor_model_info"}
    if PROMTOOL is not None:  # naming and unit conventions (e.g. seconds, not days)
        lint = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr


def test_write_replaces_the_textfile_atomically(result: dict[str, Any], tmp_path: Path):
    path = tmp_path / "modelgate_monitor.prom"
    path.write_text("# the previous run's metrics\n")

    prometheus.write(result, path, timestamp=NOW)

    assert path.read_text() == prometheus.render(result, timestamp=NOW)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_write_refuses_a_name_the_textfile_collector_would_ignore(
    result: dict[str, Any], tmp_path: Path
):
    with pytest.raises(ValueError, match=r"\.prom"):
        prometheus.write(result, tmp_path / "monitor.txt")
    assert not list(tmp_path.iterdir())


class _Gateway(BaseHTTPRequestHandler):
    """A Pushgateway stand-in that records what is pushed (the real one: the integration test)."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_push_replaces_the_jobs_whole_group(result: dict[str, Any]):
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    _Gateway.received.clear()

    prometheus.push(result, f"127.0.0.1:{server.server_port}", "modelgate-monitor", NOW)
    thread.join(10)
    server.server_close()

    [(method, path, body)] = _Gateway.received
    assert (method, path) == ("PUT", "/metrics/job/modelgate-monitor")  # PUT: replace, not add
    assert samples(body.decode()) == samples(prometheus.render(result, timestamp=NOW))


def test_push_to_an_unreachable_gateway_raises_oserror(result: dict[str, Any]):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError):
        prometheus.push(result, f"http://127.0.0.1:{port}", "modelgate-monitor")


# --- the alert rules --------------------------------------------------------------------------


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((RULES / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=RULES, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_promtool_accepts_the_rules_and_the_example_config():
    rules = _promtool("check", "rules", "alerts.yml")
    config = _promtool("check", "config", "prometheus.yml")

    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"{len(_alerts())} rules found" in rules.stdout
    assert config.returncode == 0, config.stdout + config.stderr


@needs_promtool
def test_promtool_unit_tests_of_the_alerts_pass():
    run = _promtool("test", "rules", "alerts_test.yml")
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_has_a_firing_and_a_quiet_case():
    cases = yaml.safe_load((RULES / "alerts_test.yml").read_text())["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    names = {rule["alert"] for rule in _alerts()}

    firing = {c["alertname"] for c in checks if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in checks if not c.get("exp_alerts")}
    assert firing == names
    assert quiet == names


def test_every_alert_says_what_it_means_and_links_its_runbook_section():
    headings = {_github_anchor(h) for h in re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), re.M)}
    for rule in _alerts():
        name, notes = rule["alert"], rule["annotations"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["labels"]["component"] in {"serving", "monitoring"}, name
        assert notes["summary"] and len(notes["description"]) > 80, name
        page, anchor = notes["runbook"].split("#")
        assert page == "monitoring/README.md" and anchor == name.lower(), name
        assert anchor in headings, f"{name}: no section '{anchor}' in {RUNBOOK.name}"


def test_the_server_down_alert_watches_the_job_the_example_config_scrapes():
    config = yaml.safe_load((RULES / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    [rule] = [r for r in _alerts() if r["alert"] == "ModelgateServerDown"]
    [job] = re.findall(r'up\{job="([^"]+)"\}', rule["expr"])
    assert job in jobs


def _github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


# --- the dashboard, and the names everything reads ---------------------------------------------


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def test_the_dashboard_is_a_grafana_model_on_a_datasource_variable():
    dashboard = _dashboard()
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "DS_PROMETHEUS"]
    ids = [p["id"] for p in dashboard["panels"]]
    source = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    assert len(ids) == len(set(ids))
    for panel in _panels():
        assert panel["datasource"] == source, panel["title"]
        assert panel["description"], panel["title"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}, panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)) and all(
            t["datasource"] == source for t in panel["targets"]
        )


def test_the_dashboard_shows_what_the_issue_asks_for():
    exprs = " ".join(t["expr"] for p in _panels() for t in p["targets"])
    for wanted in (
        "modelgate_requests_total", 'status=~"5.."', "histogram_quantile(0.5",
        "histogram_quantile(0.99", "modelgate_ready", "modelgate_prediction_score_bucket",
        "modelgate_prediction_log_dropped_total", "modelgate_monitor_feature_effect",
        "modelgate_monitor_feature_p_adjusted", "modelgate_monitor_feature_drift",
        "modelgate_monitor_estimated_roc_auc", "modelgate_monitor_realized_roc_auc",
        "modelgate_monitor_window_rows", "modelgate_monitor_last_run_timestamp_seconds",
    ):  # fmt: skip
        assert wanted in exprs, wanted


def test_alerts_and_dashboard_read_only_metrics_the_server_or_the_monitor_exports(
    result: dict[str, Any],
):
    """A renamed metric would leave an alert silent forever: promtool cannot see that."""
    server = Metrics()
    server.observe("/predict", "POST", 200, 0.01)  # labelled series exist from their first use
    served = {s.name for family in server.registry.collect() for s in family.samples}
    monitored = set(n for n, _ in samples(prometheus.render(result)))
    exprs = [rule["expr"] for rule in _alerts()]
    exprs += [t["expr"] for p in _panels() for t in p["targets"]]

    read = {name for expr in exprs for name in re.findall(r"\bmodelgate_\w+", expr)}
    assert read - served - monitored == set()
