"""deploy/ rendered with the real `kubectl kustomize` (each overlay, and its KServe variant), every
object validated offline against Kubernetes' own schemas (kubernetes-validate, strict: an unknown
field fails), then held to what the image and the server need: the overlay's digest, the Open
Inference Protocol health routes on the container's port, the image's non-root uid and read-only
root, a grace period that outlasts the server's drain, selectors that select the pods. The
Prometheus Operator's and KServe's objects have no bundled schema: their key fields are checked
here instead (`test_crds_*`, `test_kserve_*`)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from modelgate import deploy_overlay, deploy_rules
from modelgate.serve.app import create_app
from modelgate.serve.settings import Settings
from tests.conftest import ROOT

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl (with kustomize) is not on PATH")
DEPLOY = ROOT / "deploy"
ENVS = deploy_overlay.environments(DEPLOY)
K8S_VERSION = "1.32.0"  # the cluster version the manifests target; kubernetes-validate bundles it
# Kinds from CRDs, which kubernetes-validate has no schema for: checked field by field below.
CRDS = {"PrometheusRule", "ServiceMonitor", "InferenceService"}
VARIANTS = [(env, variant) for env in ENVS for variant in ("overlays", "kserve")]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


@functools.cache
def render(path: Path) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, check=True
    )
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def objects(env: str, variant: str) -> dict[str, dict[str, Any]]:
    rendered = render(DEPLOY / variant / env)
    kinds = [doc["kind"] for doc in rendered]
    assert len(set(kinds)) == len(kinds), kinds
    return {doc["kind"]: doc for doc in rendered}


def overlay(env: str) -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "overlays" / env / "kustomization.yaml").read_text()))


def pod(env: str, variant: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod spec and its serving container, wherever the variant keeps them."""
    found = objects(env, variant)
    if variant == "kserve":
        spec = found["InferenceService"]["spec"]["predictor"]
        (container,) = [c for c in spec["containers"] if c["name"] == "kserve-container"]
    else:
        spec = found["Deployment"]["spec"]["template"]["spec"]
        (container,) = spec["containers"]
    return spec, container


def image_uid() -> int:
    assert re.search(r"^USER \$\{APP_UID\}:\$\{APP_UID\}$", DOCKERFILE, re.MULTILINE)
    match = re.search(r"^ARG APP_UID=(\d+)$", DOCKERFILE, re.MULTILINE)
    assert match, "the Dockerfile names no APP_UID"
    return int(match.group(1))


def image_port() -> int:
    match = re.search(r"^EXPOSE (\d+)$", DOCKERFILE, re.MULTILINE)
    assert match and f"MODELGATE_PORT={match.group(1)}" in DOCKERFILE
    return int(match.group(1))


def test_every_environment_has_both_variants() -> None:
    """An empty list would pass every test below: there are environments, each in both forms."""
    assert ENVS
    assert sorted(p.parent.name for p in (DEPLOY / "kserve").glob("*/kustomization.yaml")) == ENVS


@pytest.mark.parametrize(("env", "variant"), VARIANTS)
def test_every_object_is_valid_kubernetes_in_the_overlays_namespace(env: str, variant: str) -> None:
    for kind, doc in objects(env, variant).items():
        assert doc["metadata"]["namespace"] == overlay(env)["namespace"], kind
        if kind not in CRDS:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validation_fails_on_a_misspelt_field() -> None:
    deployment = objects("prod", "overlays")["Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    broken = {**deployment, "spec": {**deployment["spec"], "template": {"spec": {
        "containers": [{**container, "readinesProbe": container["readinessProbe"]}]}}}}  # fmt: skip
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


@pytest.mark.parametrize(("env", "variant"), VARIANTS)
def test_the_image_is_the_overlays_digest(env: str, variant: str) -> None:
    (entry,) = [e for e in overlay(env)["images"] if e["name"] == deploy_overlay.SERVING_IMAGE]
    _, container = pod(env, variant)
    assert container["image"] == f"{entry['newName']}@{entry['digest']}"
    assert re.fullmatch(r"[^:@]+(:\d+)?/[^:@]+@sha256:[0-9a-f]{64}", container["image"])


def test_the_base_names_the_placeholder_the_promotion_replaces() -> None:
    base = yaml.safe_load((DEPLOY / "base" / "deployment.yaml").read_text())
    (container,) = base["spec"]["template"]["spec"]["containers"]
    assert container["image"] == deploy_overlay.SERVING_IMAGE


@pytest.mark.parametrize(("env", "variant"), VARIANTS)
def test_probes_ask_the_servers_own_health_routes_on_its_port(env: str, variant: str) -> None:
    _, container = pod(env, variant)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [image_port()]
    routes = {getattr(r, "path", None) for r in create_app(Settings()).routes}
    expected = {"readinessProbe": "/v2/health/ready", "livenessProbe": "/v2/health/live"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path and path in routes
        assert ports.get(get["port"], get["port"]) == image_port()


@pytest.mark.parametrize(("env", "variant"), VARIANTS)
def test_the_pod_runs_as_the_images_uid_with_nothing_to_escalate(env: str, variant: str) -> None:
    spec, container = pod(env, variant)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == image_uid()
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert spec["automountServiceAccountToken"] is False
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}, bound
    # The read-only root: what may be written goes to an emptyDir.
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def server_settings(container: dict[str, Any]) -> Settings:
    """The server's settings from the container's MODELGATE_* variables, as it will read them."""
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    prefix = Settings.model_config["env_prefix"]
    fields = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    assert set(fields) <= set(Settings.model_fields), "a MODELGATE_ variable the server ignores"
    return Settings(**fields)


@pytest.mark.parametrize(("env", "variant"), VARIANTS)
def test_the_grace_period_outlasts_the_servers_drain(env: str, variant: str) -> None:
    spec, container = pod(env, variant)
    settings = server_settings(container)
    # Readiness turns false at SIGTERM and the server keeps serving while endpoints catch up.
    assert settings.drain_seconds > 0
    shutdown = settings.drain_seconds + settings.graceful_timeout_seconds
    if settings.prediction_log_dir is not None:
        shutdown += settings.prediction_log_shutdown_seconds
    assert spec["terminationGracePeriodSeconds"] > shutdown


@pytest.mark.parametrize("env", ENVS)
def test_the_autoscaler_the_budget_and_the_service_find_the_pods(env: str) -> None:
    found = objects(env, "overlays")
    deployment, service = found["Deployment"], found["Service"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "replicas" not in deployment["spec"]  # the autoscaler's to set
    hpa = found["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"], "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }  # fmt: skip
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    pdb = found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    assert pdb and pdb.items() <= labels.items()
    assert service["spec"]["selector"] and service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert port["targetPort"] in [p["name"] for p in container["ports"]]


def test_prod_and_staging_differ_in_namespace_and_size() -> None:
    prod, staging = objects("prod", "overlays"), objects("staging", "overlays")
    assert len({o["Deployment"]["metadata"]["namespace"] for o in (prod, staging)}) == 2
    bounds = [o["HorizontalPodAutoscaler"]["spec"] for o in (prod, staging)]
    assert all(bounds[0][key] > bounds[1][key] for key in ("minReplicas", "maxReplicas"))


@pytest.mark.parametrize("env", ENVS)
def test_crds_the_service_monitor_scrapes_the_job_the_alerts_watch(env: str) -> None:
    found = objects(env, "overlays")
    monitor, service = found["ServiceMonitor"], found["Service"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in [p["name"] for p in service["spec"]["ports"]]
    assert endpoint["path"] == "/metrics"
    # The operator names the job after the Service: the job prometheus.yml scrapes /metrics as.
    scrapes = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
    jobs = [s["job_name"] for s in scrapes["scrape_configs"] if s.get("metrics_path") == "/metrics"]
    assert jobs == [service["metadata"]["name"]]


@pytest.mark.parametrize(("env", "variant"), VARIANTS)
def test_crds_the_prometheus_rule_is_alerts_yml(env: str, variant: str) -> None:
    """alerts.yml owns the rules; the checked-in object is generated from it (deploy_rules)."""
    alerts = (ROOT / deploy_rules.ALERTS).read_text()
    assert (ROOT / deploy_rules.OUT).read_text() == deploy_rules.render(alerts), (
        f"{deploy_rules.OUT} is stale: run python -m modelgate.deploy_rules"
    )
    rule = objects(env, variant)["PrometheusRule"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == yaml.safe_load(alerts)["groups"]


@pytest.mark.parametrize("env", ENVS)
def test_kserve_serves_the_same_pod_as_a_v2_custom_predictor(env: str) -> None:
    found = objects(env, "kserve")
    assert set(found) == {"InferenceService", "PrometheusRule"}
    service = found["InferenceService"]
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    assert service["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    predictor, container = pod(env, "kserve")
    plain, plain_container = pod(env, "overlays")
    assert {"name": "PROTOCOL", "value": "v2"} in container["env"]
    copied = {**container, "name": "server", "env": container["env"][:-1]}
    assert copied == plain_container
    for field in ("securityContext", "terminationGracePeriodSeconds", "volumes"):
        assert predictor[field] == plain[field], field
    hpa = objects(env, "overlays")["HorizontalPodAutoscaler"]["spec"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (
        hpa["minReplicas"], hpa["maxReplicas"])  # fmt: skip
