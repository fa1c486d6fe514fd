"""One embedded stack (real processes, real models) shared by every integration test of the session.

Tests that need a stage to be down start an extra gateway process pointed at the shared stages, with the
failing stage's URL replaced, so the shared stack is never broken for the tests after them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gmner.embedded.settings import EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack, StackError
from shared.app_registry import STAGES
from tests.conftest import closed_port_url, free_port

# Generous time limits: a 2-core CI machine runs the LLM, four models and the tests at once, and a test
# must check behaviour, not the machine's speed (benchmarks/ measures that).
STACK_ENV = {
    "GMNER_LLM_TIMEOUT_S": "240",
    "GMNER_GATEWAY_NER_TIMEOUT_S": "300",
    "GMNER_GATEWAY_EXPANSION_TIMEOUT_S": "300",
    "GMNER_GATEWAY_VE_TIMEOUT_S": "120",
    "GMNER_GATEWAY_VG_TIMEOUT_S": "120",
    "GMNER_GATEWAY_SAM_TIMEOUT_S": "240",
    "GMNER_GATEWAY_DEADLINE_S": "600",
}


def stages_under_test() -> list[str]:
    """Every stage, or the comma-separated $GMNER_TEST_STAGES (e.g. `ner,expansion` for a quick run)."""
    chosen = os.environ.get("GMNER_TEST_STAGES")
    return [s.strip() for s in chosen.split(",") if s.strip()] if chosen else list(STAGES)


def visual(stages: list[str]) -> bool:
    return {"ve", "vg", "sam"} <= set(stages)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    log_dir = tmp_path_factory.mktemp("stack-logs")
    ports = {f"{name}_port": free_port() for name in (*STAGES, "gateway", "llm")}
    settings = EmbeddedSettings(stages=stages_under_test(), log_dir=log_dir, ready_timeout_s=600, **ports)
    # A fresh cache namespace per session, so the first request of a post is a real miss.
    running = EmbeddedStack(
        settings, extra_env=STACK_ENV | {"GMNER_LLM_CACHE_PREFIX": f"gmner:test:{uuid.uuid4().hex}:"}
    )
    try:
        running.start()
    except StackError as exc:
        running.stop()
        tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in log_dir.glob("*.log"))
        pytest.fail(f"the embedded stack did not start: {exc}\n{tails}")
    yield running
    running.stop()


@pytest.fixture
def needs_visual(stack: EmbeddedStack) -> None:
    if not visual(stack.settings.stages):
        pytest.skip("the visual stages are not in GMNER_TEST_STAGES")


@contextmanager
def extra_gateway(stack: EmbeddedStack, log_dir: Path, **overrides: str | None) -> Iterator[str]:
    """A second gateway on the shared stages; `overrides` maps a stage to a URL (None: not deployed)."""
    port = free_port()
    env = dict(os.environ) | STACK_ENV
    for stage in STAGES:
        env[f"GMNER_GATEWAY_{stage.upper()}_URL"] = stack.url(stage) if stage in stack.settings.stages else ""
    for stage, url in overrides.items():
        env[f"GMNER_GATEWAY_{stage.upper()}_URL"] = url or ""
    env["GMNER_GATEWAY_STAGE_RETRIES"] = "0"
    command = [sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory", "--port", str(port)]
    with (log_dir / f"gateway-{port}.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(f"{url}/health", timeout=1)
                    break
                except httpx.HTTPError:
                    if process.poll() is not None:
                        raise RuntimeError("the extra gateway exited") from None
                    import time

                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def down() -> str:
    """A stage URL on which nothing listens."""
    return closed_port_url()


def metric_value(base_url: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`, scraped from `/metrics`."""
    text = httpx.get(f"{base_url}/metrics", timeout=5).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
