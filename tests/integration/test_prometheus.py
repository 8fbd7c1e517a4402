"""A real Prometheus on loopback, configured from monitoring/prometheus/prometheus.yml with its
alert rules, scrapes two real servers (one ready, one whose model cannot load) and a real
Pushgateway the monitor's result was pushed to. Every query of the Grafana dashboard must return
data, every rule must evaluate, and exactly the alerts this traffic and this result call for must
be on. The monitor's other route, a file for node_exporter's textfile collector, is read by a
real node_exporter.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pandas as pd
import pytest
import tritonclient.http as v2
import yaml
from prometheus_client.parser import text_string_to_metric_families

from modelgate.monitor import prometheus
from tests.integration.test_serve_process import Server, free_port, start
from tests.unit._pipeline import PipelineRun
from tests.unit.test_serve_app import NAME, records, triton_inputs

PROMETHEUS = shutil.which("prometheus")
PUSHGATEWAY = shutil.which("prometheus-pushgateway")
NODE_EXPORTER = shutil.which("prometheus-node-exporter")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        None in (PROMETHEUS, PUSHGATEWAY, NODE_EXPORTER),
        reason="prometheus, prometheus-pushgateway or prometheus-node-exporter is not installed "
        "(Debian packages of those names; .ci/run installs them)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RESULT = ROOT / "tests/testdata/monitoring/result.json"
JOB = "modelgate-monitor"
# Grafana's variables, as a 1-second scrape interval makes them
GRAFANA = {"$__rate_interval": "1m", "$__interval": "1s", "$__range": "5m"}
T = TypeVar("T")


@dataclass
class Process:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _launch(argv: list[str], url: str, log: Path) -> Process:
    process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    running = Process(process, url, log)
    if _settle(lambda: _status(f"{url}/-/ready"), lambda status: status == 200, 30) != 200:
        running.stop()
        raise AssertionError(f"{argv[0]} did not become ready: {log.read_text()[-3000:]}")
    return running


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=1).status_code
    except httpx.TransportError:
        return None


def _settle(get: Callable[[], T], done: Callable[[T], bool], seconds: float) -> T:
    """`get()` polled until `done` with it or `seconds` are over: its last answer either way."""
    deadline = time.monotonic() + seconds
    while not done(answer := get()) and time.monotonic() < deadline:
        time.sleep(0.25)
    return answer


@pytest.fixture
def servers(exported_model: Path, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07not a model")
    ready = start(exported_model, tmp_path, MODELGATE_PREDICTION_LOG_DIR=str(tmp_path / "log"))
    try:
        unready = start(broken, tmp_path, wait_ready=False)
        yield ready, unready
        unready.stop()
    finally:
        ready.stop()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Process]:
    assert PUSHGATEWAY is not None
    port = free_port()
    running = _launch(
        [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}",
        tmp_path / "pushgateway.log",
    )
    yield running
    running.stop()


def _config(tmp_path: Path, servers: tuple[Server, Server], gateway: Process) -> Path:
    """The example configuration, with loopback targets, 1-second intervals and no Alertmanager."""
    config = yaml.safe_load((MONITORING / "prometheus/prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(MONITORING / "prometheus" / f) for f in config["rule_files"]]
    del config["alerting"]
    targets = {
        "modelgate": [s.url.removeprefix("http://") for s in servers],
        "pushgateway": [gateway.url.removeprefix("http://")],
    }
    config["scrape_configs"] = [
        {**job, "static_configs": [{"targets": targets[job["job_name"]]}]}
        for job in config["scrape_configs"]
        if job["job_name"] in targets  # node_exporter's textfile route is not tested here
    ]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def server_and_monitor(
    servers: tuple[Server, Server], gateway: Process, tmp_path: Path
) -> Iterator[Process]:
    assert PROMETHEUS is not None
    port = free_port()
    running = _launch(
        [
            PROMETHEUS,
            f"--config.file={_config(tmp_path, servers, gateway)}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        f"http://127.0.0.1:{port}",
        tmp_path / "prometheus.log",
    )
    yield running
    running.stop()


def _traffic(servers: tuple[Server, Server], pipeline_run: PipelineRun) -> None:
    """Good and bad requests for a few seconds, so rates span several scrapes."""
    ready, unready = servers
    test = pd.read_parquet(pipeline_run.part("test"))
    rows = records(test.head(20), pipeline_run.schema)
    infer, _ = v2.InferenceServerClient.generate_request_body(
        triton_inputs(test.head(5), pipeline_run.schema, binary_data=False)
    )
    with httpx.Client(timeout=10) as client:
        for _ in range(12):
            assert client.post(f"{ready.url}/predict", json=rows).status_code == 200
            answer = client.post(f"{ready.url}/v2/models/{NAME}/infer", content=infer)
            assert answer.status_code == 200
            assert client.post(f"{ready.url}/predict", content=b"{").status_code == 400
            assert client.post(f"{ready.url}/v2/models/other/infer", json={}).status_code == 404
            assert client.post(f"{unready.url}/predict", json=rows).status_code == 503
            time.sleep(0.4)


def _targets(prom: Process) -> set[str]:
    """The health of every target ("unknown" before its first scrape)."""
    targets = httpx.get(f"{prom.url}/api/v1/targets", timeout=10).json()["data"]
    return {t["health"] for t in targets["activeTargets"]}


def _query(prom: Process, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prom.url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana/modelgate.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable, value in GRAFANA.items():
        exprs = [e.replace(variable, value) for e in exprs]
    assert not [e for e in exprs if "$" in e], "a Grafana variable this test does not know"
    return exprs


def _without_data(prom: Process) -> list[str]:
    """Dashboard queries with no result, or with no finite number in it."""
    return [
        expr
        for expr in _dashboard_queries()
        if not any(math.isfinite(float(r["value"][1])) for r in _query(prom, expr))
    ]


def test_push_replaces_the_whole_group_on_a_real_pushgateway(gateway: Process):
    result = json.loads(RESULT.read_text())
    prometheus.push(result, gateway.url, JOB)
    result["drift"]["features"] = result["drift"]["features"][:1]  # Income only
    prometheus.push(result, gateway.url, JOB)

    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    features = {
        s.labels.get("feature")
        for family in text_string_to_metric_families(text)
        if family.name == "modelgate_monitor_feature_drift"
        for s in family.samples
    }
    assert features == {"Income"}  # Age, Home and Records left with the first push


def test_node_exporters_textfile_collector_reads_what_write_writes(tmp_path: Path):
    assert NODE_EXPORTER is not None
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    result = json.loads(RESULT.read_text())
    prometheus.write(result, textfiles / "modelgate_monitor.prom", timestamp=1_790_000_000.0)
    port = free_port()
    node = subprocess.Popen(
        [
            NODE_EXPORTER, "--collector.disable-defaults", "--collector.textfile",
            f"--collector.textfile.directory={textfiles}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(tmp_path / "node.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        text = _settle(lambda: _text(url), lambda text: text is not None, 30)
    finally:
        node.terminate()
        node.wait(15)

    assert text is not None, (tmp_path / "node.log").read_text()
    read = _samples(text)
    assert read[("node_textfile_scrape_error", ())] == 0
    exported = _samples(prometheus.render(result, 1_790_000_000.0))
    assert {key: read.get(key) for key in exported} == exported


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _text(url: str) -> str | None:
    try:
        return httpx.get(url, timeout=1).text
    except httpx.TransportError:
        return None


def test_every_dashboard_query_rule_and_expected_alert_on_a_real_prometheus(
    servers: tuple[Server, Server],
    gateway: Process,
    server_and_monitor: Process,
    pipeline_run: PipelineRun,
):
    prom = server_and_monitor
    prometheus.push(json.loads(RESULT.read_text()), gateway.url, JOB)
    # Prometheus starts scraping a few seconds after it is ready: traffic before that would
    # appear at once, as series without an increase to rate.
    assert _settle(lambda: _targets(prom), lambda up: up == {"up"}, 30) == {"up"}
    _traffic(servers, pipeline_run)

    assert _settle(lambda: _without_data(prom), lambda missing: not missing, 30) == []
    rules = _settle(lambda: _rules(prom), lambda rules: all(rules.values()), 30)
    assert rules == dict.fromkeys(_alert_names(), True)  # every rule evaluated without error

    unready = servers[1].url.removeprefix("http://")
    expected = {
        ("ModelgateNotReady", "pending", unready),  # for: 5m
        ("ModelgateHighErrorRate", "pending", "modelgate"),  # the unready server's 503s
        ("ModelgateInputDrift", "firing", "Income"),
        ("ModelgateRealizedPerformanceBelowLimit", "firing", "2026-08 roc_auc"),
        ("ModelgateRealizedPerformanceBelowLimit", "firing", "2026-08 ks"),
    }
    assert _settle(lambda: _alerts(prom), lambda alerts: alerts == expected, 30) == expected


def _alert_names() -> list[str]:
    groups = yaml.safe_load((MONITORING / "prometheus/alerts.yml").read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


def _rules(prom: Process) -> dict[str, bool]:
    """Each rule's name, and whether it has been evaluated without error."""
    groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    return {r["name"]: r["health"] == "ok" and not r.get("lastError") for r in rules}


def _alerts(prom: Process) -> set[tuple[str, str, str]]:
    """(name, state, what it is about) of each active alert."""
    alerts = httpx.get(f"{prom.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return {(a["labels"]["alertname"], a["state"], _about(a["labels"])) for a in alerts}


def _about(labels: dict[str, str]) -> str:
    if "cohort" in labels:
        return f"{labels['cohort']} {labels['metric']}"
    return labels.get("feature") or labels.get("instance") or labels.get("job", "")
