"""Static checks of the Kubernetes manifests in deploy/k8s."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.helpers import (
    APP_SETTINGS,
    GPU_APPS,
    K8S_DIR,
    all_gmner_env_names,
    app_env_names,
    default_port,
    image_is_pinned,
    k8s_documents,
    settings_for,
)

DOCUMENTS = k8s_documents()


def _by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in DOCUMENTS if doc["kind"] == kind}


DEPLOYMENTS = _by_kind("Deployment")
SERVICES = _by_kind("Service")
HPAS = _by_kind("HorizontalPodAutoscaler")
CONFIG = _by_kind("ConfigMap")["gmner-config"]["data"]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _container_ports(deployment: dict[str, Any]) -> dict[str, int]:
    return {p.get("name", str(p["containerPort"])): p["containerPort"] for p in _container(deployment)["ports"]}


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    for image in kustomization["images"]:
        assert image["newTag"] and image["newTag"] != "latest"


def test_a_deployment_and_a_service_per_app_plus_redis_and_the_llm() -> None:
    expected = set(APP_SETTINGS) | {"redis", "llm"}
    assert set(DEPLOYMENTS) == expected
    assert set(SERVICES) == expected


@pytest.mark.parametrize("app", list(APP_SETTINGS))
def test_app_probes_ports_and_config(app: str) -> None:
    deployment = DEPLOYMENTS[app]
    container = _container(deployment)
    port = default_port(app)
    assert _container_ports(deployment) == {"http": port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    # Model loads take minutes: liveness only starts once the startup probe has passed.
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["envFrom"] == [{"configMapRef": {"name": "gmner-config"}}]
    for variable in container.get("env", []):
        assert not variable["name"].startswith("GMNER_") or variable["name"] in app_env_names(app)
    assert container["image"] == f"gmner/{app}:0.1.0"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port) and annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("name", sorted(set(APP_SETTINGS) | {"llm", "redis"}))
def test_gpu_requests_on_gpu_deployments_only(name: str) -> None:
    resources = _container(DEPLOYMENTS[name])["resources"]
    if name in (*GPU_APPS, "llm"):
        assert resources["requests"]["nvidia.com/gpu"] == 1
        assert resources["limits"]["nvidia.com/gpu"] == 1
    else:
        assert "nvidia.com/gpu" not in resources.get("requests", {})
        assert "nvidia.com/gpu" not in resources.get("limits", {})
    assert "cpu" in resources["requests"], "the HPAs scale on CPU utilisation, which needs a request"


def test_services_select_their_deployment_and_target_its_container_ports() -> None:
    for name, service in SERVICES.items():
        deployment = DEPLOYMENTS[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        container_ports = _container_ports(deployment)
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert target in container_ports or target in container_ports.values(), f"{name}: {target}"
            # Service port = container port, so the URLs in gmner-config read like the apps' defaults.
            resolved = container_ports[target] if isinstance(target, str) else target
            assert port["port"] == resolved, name


def test_hpas_target_existing_deployments_of_the_stages() -> None:
    assert set(HPAS) == set(APP_SETTINGS)
    for name, hpa in HPAS.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        assert target["name"] in DEPLOYMENTS, name
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_config_names_only_real_settings_with_valid_values() -> None:
    every_setting = all_gmner_env_names()
    unknown = sorted(k for k in CONFIG if k.startswith("GMNER_") and k not in every_setting)
    assert not unknown, unknown
    for app in APP_SETTINGS:
        settings_for(app, CONFIG)


def test_config_urls_point_at_services_on_their_ports() -> None:
    for stage in set(APP_SETTINGS) - {"gateway"}:
        url = urlsplit(CONFIG[f"GMNER_GATEWAY_{stage.upper()}_URL"])
        assert url.hostname == stage and url.port == default_port(stage)
        assert SERVICES[stage]["spec"]["ports"][0]["port"] == url.port
    llm = urlsplit(CONFIG["GMNER_LLM_BASE_URL"])
    assert (llm.hostname, llm.port) == ("llm", SERVICES["llm"]["spec"]["ports"][0]["port"])
    redis = urlsplit(CONFIG["GMNER_LLM_REDIS_URL"])
    assert (redis.hostname, redis.port) == ("redis", SERVICES["redis"]["spec"]["ports"][0]["port"])


def test_llm_serves_the_configured_model_name() -> None:
    container = _container(DEPLOYMENTS["llm"])
    assert "--served-model-name=$(GMNER_LLM_MODEL)" in container["args"]
    defined = {variable["name"] for variable in container["env"]}
    referenced = {arg.split("$(", 1)[1].rstrip(")") for arg in container["args"] if "$(" in arg}
    assert referenced <= defined
    assert "--port=8010" in container["args"] and _container_ports(DEPLOYMENTS["llm"]) == {"http": 8010}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"


def test_images_are_pinned() -> None:
    for name, deployment in DEPLOYMENTS.items():
        image = _container(deployment)["image"]
        assert image_is_pinned(image), f"{name}: {image}"


def test_only_the_gateway_is_the_public_entry_point() -> None:
    for name, service in SERVICES.items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert all("nodePort" not in port for port in service["spec"]["ports"]), name


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl on this machine")
def test_kustomize_builds() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {doc["metadata"].get("namespace") for doc in built if doc["kind"] != "Namespace"} == {"gmner"}
    assert len(built) == len(DOCUMENTS)


def test_network_policies_let_only_the_gateway_reach_the_stages() -> None:
    policies = _by_kind("NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny

    def selected(spec: dict[str, Any]) -> set[str]:
        selector = spec["podSelector"]
        if "matchLabels" in selector:
            return {selector["matchLabels"]["app.kubernetes.io/name"]}
        (expression,) = selector["matchExpressions"]
        assert expression["operator"] == "In"
        return set(expression["values"])

    allowed: dict[str, set[str]] = {}  # pod -> who may call it
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []):
            callers = {"anyone"} if "from" not in rule else set().union(*(selected(f) for f in rule["from"]))
            for pod in selected(policy["spec"]):
                allowed.setdefault(pod, set()).update(callers)
                ports = {p["port"] for p in rule["ports"]}
                assert set(_container_ports(DEPLOYMENTS[pod]).values()) & ports, f"{name}: no port of {pod}"
    assert allowed.pop("gateway") == {"anyone"}
    for stage in ("ner", "expansion", "ve", "vg", "sam"):
        assert allowed[stage] == {"gateway"}, stage
    assert "gateway" not in allowed["llm"] | allowed["redis"]
    assert set(allowed) == set(DEPLOYMENTS) - {"gateway"}
