"""The registry of apps (`shared/app_registry.py`) drives what the embedded runner starts, the settings' default
ports and the gateway's default stage URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import GatewaySettings
from gmner.embedded.settings import EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack
from shared.app_registry import APPS, STAGES

ROOT = Path(__file__).resolve().parents[2]


def test_every_settings_class_takes_its_default_port_from_the_registry() -> None:
    ports = set()
    for name, spec in APPS.items():
        settings_class = spec.settings_class()
        assert settings_class.model_fields["port"].default == spec.port
        assert settings_class.model_config["env_prefix"] == spec.env_prefix
        assert EmbeddedSettings().stage_port(name) == spec.port
        ports.add(spec.port)
    assert len(ports) == len(APPS)


def test_the_gateway_defaults_to_every_stage_on_its_registry_port() -> None:
    settings = GatewaySettings()
    for stage in STAGES:
        assert getattr(settings, f"{stage}_url") == f"http://127.0.0.1:{APPS[stage].port}"
    assert "gateway" not in STAGES


def test_the_runner_starts_the_registry_apps_on_the_chosen_ports() -> None:
    ports = {f"{name}_port": 19000 + i for i, name in enumerate(APPS)}
    stack = EmbeddedStack(EmbeddedSettings(host="127.0.0.2", **ports))
    launches = stack.app_launches()
    assert [launch.name for launch in launches] == list(APPS)  # the registry's order, the gateway last
    for launch in launches:
        port = ports[f"{launch.name}_port"]
        assert launch.port == port
        assert launch.ready_url == f"http://127.0.0.2:{port}/ready"
        command = launch.command
        assert command[1:4] == ["-m", "uvicorn", APPS[launch.name].factory] and "--factory" in command
        assert command[command.index("--host") + 1] == "127.0.0.2"
        assert command[command.index("--port") + 1] == str(port)


def test_the_runner_starts_only_the_chosen_stages_and_tells_the_gateway() -> None:
    stack = EmbeddedStack(EmbeddedSettings(stages=["expansion", "ner", "vg"]))
    assert [launch.name for launch in stack.app_launches()] == ["ner", "expansion", "vg", "gateway"]
    env = stack._env()
    assert env["GMNER_GATEWAY_NER_URL"] == stack.url("ner")
    assert env["GMNER_GATEWAY_EXPANSION_URL"] == stack.url("expansion")
    assert env["GMNER_GATEWAY_VG_URL"] == stack.url("vg")
    # Optional stages not started are "not deployed" for the gateway, not a URL where nothing listens.
    assert env["GMNER_GATEWAY_VE_URL"] == env["GMNER_GATEWAY_SAM_URL"] == ""


def test_unknown_stage_is_refused() -> None:
    from gmner.embedded.stack import StackError

    with pytest.raises(StackError, match="unknown stages"):
        EmbeddedStack(EmbeddedSettings(stages=["ner", "ocr"]))


def test_the_registry_imports_nothing_heavy() -> None:
    # The containers' healthcheck imports it on every probe; shared/ must not import services/ or gateway/.
    script = (
        "import json, sys; import shared.app_registry; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'fastapi', 'numpy', 'services', 'gateway', 'gmner'))))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
