"""Metrics, backpressure and request-id propagation, checked on the real apps (in process and as processes)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from services.expansion.app import create_app as create_expansion_app
from services.ner.app import create_app as create_ner_app
from services.ner.settings import NERSettings
from tests.app_processes import app_process
from tests.conftest import REDIS_URL, free_port

ROOT = Path(__file__).resolve().parents[2]
TWEET = "RT @Evode7: Actor Idris Elba became the first male to make the cover of Maxim in London"


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`, in a /metrics page."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


class StubLLM:
    """A minimal OpenAI-compatible server (the part our LLM client uses), answering after `delay_s`."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.calls = 0
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "stub", "object": "model"}]}

        @app.post("/v1/completions")
        async def completions() -> dict[str, Any]:
            self.calls += 1
            await asyncio.sleep(self.delay_s)
            return {"choices": [{"index": 0, "text": " a British actor known for Luther. More text."}]}

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> StubLLM:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "stub LLM did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def stub_llm() -> Iterator[StubLLM]:
    with StubLLM() as stub:
        yield stub


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GMNER_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    env.update(extra)
    return env


@contextmanager
def running_app(module: str, log_path: Path, **env: str) -> Iterator[str]:
    """A real uvicorn process serving `module`'s factory; yields its base URL once /health answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", module, "--factory", "--host", "127.0.0.1", "--port", str(port)]
    with app_process([*command, "--no-access-log"], url=url, env=_env(**env), log_path=log_path, probe="/health"):
        yield url


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Counters and histograms move (the real NER and expansion apps, in process)
# ---------------------------------------------------------------------------------------------------------------


def test_ner_request_moves_route_counters_latency_and_model_load_time() -> None:
    app = create_ner_app(NERSettings(knowledge_enabled=False))
    with TestClient(app) as client:
        before = client.get("/metrics").text
        response = client.post("/v1/ner", json={"text": TWEET})
        assert response.status_code == 200, response.text
        bad = client.post("/v1/ner", json={"text": ""})
        assert bad.status_code == 422
        after = client.get("/metrics").text

    ok = {"app": "ner", "route": "/v1/ner", "method": "POST"}
    assert (
        metric(after, "gmner_requests_total", **ok, status="200")
        == metric(before, "gmner_requests_total", **ok, status="200") + 1
    )
    assert (
        metric(after, "gmner_requests_total", **ok, status="422")
        == metric(before, "gmner_requests_total", **ok, status="422") + 1
    )
    latency = {"app": "ner", "route": "/v1/ner"}
    assert (
        metric(after, "gmner_request_latency_seconds_count", **latency)
        == metric(before, "gmner_request_latency_seconds_count", **latency) + 2
    )
    assert metric(after, "gmner_request_latency_seconds_sum", **latency) > metric(
        before, "gmner_request_latency_seconds_sum", **latency
    )
    assert metric(after, "gmner_model_load_seconds", app="ner", backend="crf") > 0
    assert metric(after, "gmner_in_flight_requests", app="ner") == 0
    # Probes and scrapes are counted under their own route, never as an API route.
    assert metric(after, "gmner_requests_total", app="ner", route="/metrics") >= 1


def test_llm_cache_misses_then_hits(stub_llm: StubLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GMNER_LLM_BASE_URL", stub_llm.base_url)
    monkeypatch.setenv("GMNER_LLM_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("GMNER_LLM_CACHE_PREFIX", f"gmner:test:{uuid.uuid4().hex}:")
    body = {"text": TWEET, "entities": [{"text": "Idris Elba", "type": "PER"}]}
    with TestClient(create_expansion_app()) as client:
        before = client.get("/metrics").text
        calls_before = stub_llm.calls
        first = client.post("/v1/expand", json=body)
        second = client.post("/v1/expand", json=body)
        after = client.get("/metrics").text
    assert first.status_code == second.status_code == 200, first.text
    assert first.json() == second.json()
    assert stub_llm.calls == calls_before + 1, "the second answer came from the cache"
    for result in ("miss", "hit"):
        delta = metric(after, "gmner_llm_cache_total", app="expansion", result=result) - metric(
            before, "gmner_llm_cache_total", app="expansion", result=result
        )
        assert delta == 1, result
    assert (
        metric(after, "gmner_llm_latency_seconds_count", app="expansion")
        == metric(before, "gmner_llm_latency_seconds_count", app="expansion") + 1
    )


def test_a_caller_request_id_is_echoed_and_a_bad_one_replaced(
    stub_llm: StubLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GMNER_LLM_BASE_URL", stub_llm.base_url)
    with TestClient(create_expansion_app()) as client:
        assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
        replaced = client.get("/health", headers={"X-Request-ID": "has spaces\tand tabs"}).headers["X-Request-ID"]
        assert replaced != "has spaces\tand tabs" and len(replaced) == 32


# ---------------------------------------------------------------------------------------------------------------
# Backpressure: a real uvicorn process with an in-flight limit of 1
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_requests_beyond_the_in_flight_limit_get_429_with_retry_after(stub_llm: StubLLM, tmp_path: Path) -> None:
    stub_llm.delay_s = 1.5  # each expansion holds its slot this long
    body = {"text": TWEET, "entities": [{"text": "Idris Elba", "type": "PER"}]}
    try:
        with running_app(
            "services.expansion.app:create_app",
            tmp_path / "expansion.log",
            GMNER_EXPANSION_MAX_INFLIGHT="1",
            GMNER_EXPANSION_RETRY_AFTER_S="3",
            GMNER_LLM_BASE_URL=stub_llm.base_url,
            GMNER_LLM_CACHE_ENABLED="false",  # every request goes to the slow LLM
        ) as url:

            async def fire() -> tuple[list[httpx.Response], str, int]:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    first = asyncio.create_task(client.post("/v1/expand", json=body))
                    # Fire the others once the first holds the only slot (the gauge says so).
                    for _ in range(500):
                        page = (await client.get("/metrics")).text
                        if metric(page, "gmner_in_flight_requests", app="expansion") >= 1 or first.done():
                            break
                        await asyncio.sleep(0.02)
                    others = [client.post("/v1/expand", json=body) for _ in range(5)]
                    # Probes and scrapes are never refused, even at the limit.
                    health = client.get("/health")
                    scrape = client.get("/metrics")
                    *rest, health_response, scrape_response = await asyncio.gather(*others, health, scrape)
                    return [await first, *rest], scrape_response.text, health_response.status_code

            responses, during, health_status = asyncio.run(fire())
            after = httpx.get(f"{url}/metrics", timeout=5).text
    finally:
        stub_llm.delay_s = 0.0

    statuses = [r.status_code for r in responses]
    assert statuses[0] == 200 and statuses[1:] == [429] * 5, statuses
    assert health_status == 200
    for rejected in responses[1:]:
        assert rejected.headers["Retry-After"] == "3"
        assert rejected.headers["X-Request-ID"]
        assert rejected.json()["error"]["code"] == "too_many_requests"
    assert metric(during, "gmner_in_flight_requests", app="expansion") == 1
    assert metric(after, "gmner_in_flight_requests", app="expansion") == 0
    assert metric(after, "gmner_rejected_total", app="expansion") == 5
    assert metric(after, "gmner_requests_total", app="expansion", route="rejected", status="429") == 5
    assert metric(after, "gmner_requests_total", app="expansion", route="/v1/expand", status="200") == 1


# ---------------------------------------------------------------------------------------------------------------
# The gateway carries the request id to every stage and counts its stage calls (real processes)
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_gateway_passes_the_request_id_to_each_stage_and_counts_its_calls(stub_llm: StubLLM, tmp_path: Path) -> None:
    llm_env = {
        "GMNER_LLM_BASE_URL": stub_llm.base_url,
        "GMNER_LLM_REDIS_URL": REDIS_URL,
        "GMNER_LLM_CACHE_PREFIX": f"gmner:test:{uuid.uuid4().hex}:",
    }
    ner_log, expansion_log, gateway_log = (tmp_path / f"{n}.log" for n in ("ner", "expansion", "gateway"))
    with (
        running_app("services.ner.app:create_app", ner_log, GMNER_NER_KNOWLEDGE_ENABLED="false") as ner_url,
        running_app("services.expansion.app:create_app", expansion_log, **llm_env) as expansion_url,
        running_app(
            "gateway.app:create_app",
            gateway_log,
            GMNER_GATEWAY_NER_URL=ner_url,
            GMNER_GATEWAY_EXPANSION_URL=expansion_url,
            GMNER_GATEWAY_VE_URL="",
            GMNER_GATEWAY_VG_URL="",
            GMNER_GATEWAY_SAM_URL="",
        ) as gateway_url,
    ):
        before = httpx.get(f"{gateway_url}/metrics", timeout=5).text
        request_id = f"obs-{uuid.uuid4().hex[:12]}"
        response = httpx.post(
            f"{gateway_url}/v1/gmner",
            json={"text": TWEET, "tasks": "mner"},
            headers={"X-Request-ID": request_id},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        after = httpx.get(f"{gateway_url}/metrics", timeout=5).text
        # The stages write their access lines after their responses: wait (bounded) until all three are there.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
            any(line.get("logger") == "gmner.access" and line.get("request_id") == request_id for line in log_lines(p))
            for p in (ner_log, expansion_log, gateway_log)
        ):
            time.sleep(0.05)

    body = response.json()
    assert response.headers["X-Request-ID"] == body["request_id"] == request_id
    entities = len(body["entities"])
    assert entities >= 1, body

    def access_lines(path: Path, route: str) -> list[dict[str, Any]]:
        return [line for line in log_lines(path) if line.get("logger") == "gmner.access" and line.get("path") == route]

    for path, route, count in (
        (ner_log, "/v1/ner", 1),
        (expansion_log, "/v1/expand", 1),  # every entity in one call
        (gateway_log, "/v1/gmner", 1),
    ):
        lines = [line for line in access_lines(path, route) if line.get("request_id") == request_id]
        assert len(lines) == count, f"{path.name}: {access_lines(path, route)}"
        assert lines[0]["status"] == 200 and "latency_ms" in lines[0]

    calls = {"app": "gateway", "outcome": "ok"}
    assert (
        metric(after, "gmner_stage_calls_total", **calls, stage="ner")
        == metric(before, "gmner_stage_calls_total", **calls, stage="ner") + 1
    )
    assert (
        metric(after, "gmner_stage_calls_total", **calls, stage="expansion")
        == metric(before, "gmner_stage_calls_total", **calls, stage="expansion") + 1
    )
    assert (
        metric(after, "gmner_stage_call_latency_seconds_count", app="gateway", stage="ner")
        == metric(before, "gmner_stage_call_latency_seconds_count", app="gateway", stage="ner") + 1
    )
    assert (
        metric(after, "gmner_requests_total", app="gateway", route="/v1/gmner", status="200")
        == metric(before, "gmner_requests_total", app="gateway", route="/v1/gmner", status="200") + 1
    )
