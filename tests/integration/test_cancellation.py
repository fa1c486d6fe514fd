"""Cancellation over real processes: a gateway and an expansion stage (uvicorn, as `gmner serve` runs them)
in front of a slow fake LLM (`fake_upstream.py`, which also plays NER).

When nobody waits for an answer any more (the client disconnected, or the gateway's deadline passed), the LLM
sees its connection closed within a second and no later stage is called; `gmner serve`'s shutdown does not
wait for the work in flight. Cheap on purpose (no model is loaded): these run in CI with the rest.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gmner.embedded.settings import EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack
from tests.app_processes import app_process as run_app
from tests.conftest import free_port
from tests.integration.conftest import metric_value
from tests.integration.fake_upstream import TEXT, FakeUpstream, fake_upstream

pytestmark = pytest.mark.integration

# The promise under test: a closed connection reaches the LLM within this long.
CLOSE_WITHIN_S = 1.0
# Bounds each wait so a regression fails instead of hanging; not a timing assertion.
NO_HANG_S = 60.0


def app_env(upstream: FakeUpstream, expansion_url: str, **extra: str) -> dict[str, str]:
    """What the apps are started with on top of this process's environment."""
    env = dict(
        {
            "GMNER_LLM_BASE_URL": f"{upstream.url}/v1",
            "GMNER_LLM_MODEL": "fake",
            "GMNER_LLM_API": "completions",
            "GMNER_LLM_TIMEOUT_S": "120",
            "GMNER_LLM_RETRIES": "0",
            # The promise under test is the closing itself: no grace for a retry to join the call (a default
            # of 1 s, tested in tests/shared/test_llm_single_flight.py).
            "GMNER_LLM_CANCEL_GRACE_S": "0",
            "GMNER_LLM_CACHE_PREFIX": f"gmner:test-cancel:{uuid.uuid4().hex}:",
            "GMNER_GATEWAY_NER_URL": upstream.url,
            "GMNER_GATEWAY_EXPANSION_URL": expansion_url,
            # VE answers 503 (fake_upstream): it must not even be called once the request is given up.
            "GMNER_GATEWAY_VE_URL": upstream.url,
            "GMNER_GATEWAY_VG_URL": upstream.url,
            "GMNER_GATEWAY_SAM_URL": "",
            "GMNER_GATEWAY_STAGE_RETRIES": "0",
            "GMNER_GATEWAY_EXPANSION_TIMEOUT_S": "120",
            "GMNER_LOG_JSON": "true",
        }
    )
    env.update(extra)
    return env


@contextmanager
def app_process(factory: str, port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """One app under uvicorn, started the way `gmner serve` starts it (EmbeddedStack._app_launch)."""
    settings = EmbeddedSettings(stages=[], gateway_port=port)
    launch = EmbeddedStack(settings)._app_launch("gateway")
    command = [part if part != "gateway.app:create_app" else factory for part in launch.command]
    url = f"http://127.0.0.1:{port}"
    with run_app(command, url=url, env=os.environ | env, log_path=log, start_s=NO_HANG_S) as process:
        yield process


@contextmanager
def pipeline(tmp_path: Path, **gateway_env: str) -> Iterator[tuple[FakeUpstream, str, str]]:
    """The fake upstream, an expansion stage and a gateway: (upstream, gateway URL, expansion URL)."""
    with fake_upstream() as upstream:
        expansion_port, gateway_port = free_port(), free_port()
        expansion_url = f"http://127.0.0.1:{expansion_port}"
        env = app_env(upstream, expansion_url)
        with (
            app_process("services.expansion.app:create_app", expansion_port, env, tmp_path / "expansion.log"),
            app_process("gateway.app:create_app", gateway_port, env | gateway_env, tmp_path / "gateway.log"),
        ):
            yield upstream, f"http://127.0.0.1:{gateway_port}", expansion_url


def post_and_leave(gateway_url: str, upstream: FakeUpstream, body: dict[str, object]) -> float:
    """Send a post on a raw socket, wait until its LLM calls are under way, close the socket: when it closed."""
    port = int(gateway_url.rsplit(":", 1)[1])
    payload = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=NO_HANG_S)
    sock.sendall(
        b"POST /v1/gmner HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    upstream.wait_for_llm_calls(2, NO_HANG_S)  # one per entity: expansion is at work
    sock.close()
    return time.monotonic()


def access_lines(log: Path, path: str) -> list[dict[str, object]]:
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("msg") == "request" and record.get("path") == path:
                lines.append(record)
    return lines


def wait_for_access_line(log: Path, path: str) -> dict[str, object]:
    # Written once the app has unwound the request: after the client saw the connection close.
    deadline = time.monotonic() + NO_HANG_S
    while not (lines := access_lines(log, path)):
        assert time.monotonic() < deadline, f"no access line for {path} in {log}"
        time.sleep(0.05)
    return lines[-1]


def test_a_client_that_leaves_stops_the_llm_and_every_later_stage(tmp_path: Path) -> None:
    with pipeline(tmp_path) as (upstream, gateway, expansion):
        left = post_and_leave(gateway, upstream, {"text": TEXT, "tasks": "smner", "image_b64": None})
        calls = upstream.wait_for_closed(2, NO_HANG_S)
        assert all(c.closed is not None and c.closed - left < CLOSE_WITHIN_S for c in calls), calls
        time.sleep(0.5)  # room for a wrongly continued pipeline to call on
        assert upstream.calls_to("/v1/entail") == 0 and upstream.calls_to("/v1/ground") == 0
        assert len(upstream.llm_snapshot()) == 2  # no retry of the cancelled calls

        gateway_line = wait_for_access_line(tmp_path / "gateway.log", "/v1/gmner")
        stage_line = wait_for_access_line(tmp_path / "expansion.log", "/v1/expand")
        assert (gateway_line["status"], gateway_line["cancelled"]) == (499, "disconnect")
        assert (stage_line["status"], stage_line["cancelled"]) == (499, "disconnect")
        assert isinstance(gateway_line["latency_ms"], float)
        assert metric_value(expansion, "gmner_cancelled_requests_total", app="expansion", reason="disconnect") == 1
        assert metric_value(gateway, "gmner_cancelled_requests_total", app="gateway", reason="disconnect") == 1
        assert metric_value(gateway, "gmner_stage_calls_total", stage="expansion", outcome="cancelled") == 1


def test_a_deadline_that_passes_stops_the_llm_and_every_later_stage(tmp_path: Path) -> None:
    deadline_s = 2.0
    with pipeline(tmp_path, GMNER_GATEWAY_DEADLINE_S=str(deadline_s)) as (upstream, gateway, _):
        sent = time.monotonic()
        answer = httpx.post(f"{gateway}/v1/gmner", json={"text": TEXT, "tasks": "gmner"}, timeout=NO_HANG_S)
        # The client waited: it gets what there is, the missing parts marked degraded.
        assert answer.status_code == 200
        assert "expansion" in answer.json()["degraded"]
        calls = upstream.wait_for_closed(2, NO_HANG_S)
        assert all(c.closed is not None and c.closed - sent < deadline_s + CLOSE_WITHIN_S for c in calls), calls
        assert upstream.calls_to("/v1/entail") == 0 and upstream.calls_to("/v1/ground") == 0
        stage_line = wait_for_access_line(tmp_path / "expansion.log", "/v1/expand")
        assert (stage_line["status"], stage_line["cancelled"]) == (499, "disconnect")


def test_dropping_the_stream_stops_the_llm(tmp_path: Path) -> None:
    with pipeline(tmp_path) as (upstream, gateway, _), httpx.Client(timeout=NO_HANG_S) as client:
        body = {"text": TEXT, "tasks": "mner", "stream": True}
        with client.stream("POST", f"{gateway}/v1/gmner", json=body) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: entities"
            upstream.wait_for_llm_calls(2, NO_HANG_S)
            left = time.monotonic()
        calls = upstream.wait_for_closed(2, NO_HANG_S)
        assert all(c.closed is not None and c.closed - left < CLOSE_WITHIN_S for c in calls), calls
        line = wait_for_access_line(tmp_path / "gateway.log", "/v1/gmner")
        assert (line["status"], line["cancelled"]) == (499, "disconnect")


def test_gmner_serve_stops_within_seconds_with_work_in_flight(tmp_path: Path) -> None:
    with fake_upstream() as upstream:
        settings = EmbeddedSettings(stages=[], log_dir=tmp_path, gateway_port=free_port(), expansion_port=free_port())
        probe = EmbeddedStack(settings)
        # The stack's own environment for its apps, with the fake in place of the LLM server and NER.
        stack = EmbeddedStack(settings, extra_env=app_env(upstream, probe.url("expansion")))
        try:
            for name in ("expansion", "gateway"):
                launch = stack._app_launch(name)
                stack._spawn(name, launch.command, launch.ready_url)
            stack.wait_ready()
            outcome: dict[str, object] = {}

            def client() -> None:
                try:
                    outcome["status"] = httpx.post(
                        f"{stack.gateway_url}/v1/gmner", json={"text": TEXT, "tasks": "mner"}, timeout=NO_HANG_S
                    ).status_code
                except httpx.HTTPError as exc:
                    outcome["error"] = type(exc).__name__

            waiting = threading.Thread(target=client, daemon=True)
            waiting.start()
            upstream.wait_for_llm_calls(2, NO_HANG_S)
        finally:
            started = time.monotonic()
            stack.stop()
            stopped_in = time.monotonic() - started
        assert stopped_in < 10, f"stopping took {stopped_in:.1f}s"
        # The LLM was told too (its connection closed), not left generating for nobody.
        upstream.wait_for_closed(2, NO_HANG_S)
        waiting.join(NO_HANG_S)
        assert outcome, "the client is still waiting"
