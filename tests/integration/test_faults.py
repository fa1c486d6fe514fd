"""Fault behaviour of a real gateway and NER stage (uvicorn processes) next to a fake LLM server that is slow
the way llama.cpp is while it generates: readiness stays 200, slow uploads never hold a slot, and a chunked
body over the limit is refused while streaming."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import closed_port_url, free_port

pytestmark = pytest.mark.integration

MAX_BODY = 8 * 1024 * 1024

# An OpenAI-compatible server whose /v1/models takes 6 s, as llama.cpp's does while it generates.
FAKE_LLM = r"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def _send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        time.sleep(6)
        self._send({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(1)
        self._send({"choices": [{"text": "Idris Elba is an actor.", "index": 0, "finish_reason": "stop"}]})

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@dataclass
class Deployment:
    gateway: str
    ner: str
    gateway_pid: int


def _wait(url: str, process: subprocess.Popen[bytes], limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    logs = tmp_path_factory.mktemp("fault-logs")
    llm_port, ner_port, gateway_port = free_port(), free_port(), free_port()
    env = dict(os.environ) | {
        "GMNER_LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
        "GMNER_LLM_CACHE_PREFIX": f"gmner:test:{uuid.uuid4().hex}:",
        "GMNER_GATEWAY_NER_URL": f"http://127.0.0.1:{ner_port}",
        "GMNER_GATEWAY_EXPANSION_URL": closed_port_url(),
        "GMNER_GATEWAY_VE_URL": "",
        "GMNER_GATEWAY_VG_URL": "",
        "GMNER_GATEWAY_SAM_URL": "",
        "GMNER_GATEWAY_STAGE_RETRIES": "0",
        "GMNER_GATEWAY_MAX_INFLIGHT": "2",
        "GMNER_GATEWAY_BODY_TIMEOUT_S": "2",
        "GMNER_GATEWAY_MIN_UPLOAD_BYTES_PER_S": "1000",
        "GMNER_GATEWAY_MAX_BODY_BYTES": str(MAX_BODY),
        "GMNER_HEADER_TIMEOUT_S": "2",
    }
    commands = {
        "llm": [sys.executable, "-c", FAKE_LLM, str(llm_port)],
        "ner": [sys.executable, "-m", "uvicorn", "services.ner.app:create_app", "--factory", "--port", str(ner_port)],
        "gateway": [
            sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory", "--port", str(gateway_port),
            "--http", "shared.server:TimedH11Protocol",
        ],
    }  # fmt: skip
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with (logs / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _wait(f"http://127.0.0.1:{ner_port}/health", processes["ner"])
        _wait(f"http://127.0.0.1:{gateway_port}/health", processes["gateway"])
        gateway = f"http://127.0.0.1:{gateway_port}"
        deadline = time.monotonic() + 300
        while httpx.get(f"{gateway}/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, (logs / "gateway.log").read_text()[-2000:]
            time.sleep(0.5)
        yield Deployment(gateway, f"http://127.0.0.1:{ner_port}", processes["gateway"].pid)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=20)


def test_ready_stays_200_while_the_llm_is_slow(deployment: Deployment) -> None:
    statuses, ner_checks = [], []
    for _ in range(8):
        # The k8s default probe timeout is 1 s; the LLM's /v1/models takes 6 s here.
        statuses.append(httpx.get(f"{deployment.gateway}/ready", timeout=5).status_code)
        ner = httpx.get(f"{deployment.ner}/ready", timeout=5)
        ner_checks.append((ner.status_code, ner.json()["checks"].get("llm", "")))
        time.sleep(0.5)
    assert statuses == [200] * 8
    assert all(status == 200 for status, _ in ner_checks)
    # The LLM is busy, not gone: NER reports it degraded (a soft dependency), never un-ready.
    assert all(check == "ok" or check.startswith("degraded") for _, check in ner_checks)


def _trickle(port: int, result: list[bytes], stop: threading.Event) -> None:
    """A client that sends the headers, then 3 bytes of body every 0.5 s: a slow-upload attack."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            b"POST /v1/gmner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        received = b""
        while not stop.is_set():
            try:
                sock.sendall(b'{"t')
            except OSError:
                break
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                received += chunk
        result.append(received)


def test_slow_uploads_are_dropped_and_others_keep_getting_answers(deployment: Deployment) -> None:
    port = int(deployment.gateway.rsplit(":", 1)[1])
    results: list[bytes] = []
    stop = threading.Event()
    # Twice the gateway's in-flight limit (2): before the fix these held every slot and the rest got 429.
    threads = [threading.Thread(target=_trickle, args=(port, results, stop)) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        statuses = []
        for _ in range(3):
            response = httpx.post(
                f"{deployment.gateway}/v1/gmner", json={"text": "Idris Elba in London", "tasks": "mner"}, timeout=120
            )
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200]
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == 4, "a slow client was never dropped"
        assert all(r.startswith(b"HTTP/1.1 408") for r in results), results
    finally:
        stop.set()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_chunked_multipart_over_the_limit_is_413_while_streaming(deployment: Deployment) -> None:
    port = int(deployment.gateway.rsplit(":", 1)[1])
    before = _peak_rss_kib(deployment.gateway_pid)
    chunk = b"x" * (256 * 1024)
    sent = 0
    response = b""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            b"POST /v1/gmner HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        )
        head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(head), head))
        while sent < 64 * 1024 * 1024:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break
            sent += len(chunk)
        try:
            while not response.endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                response += data
        except OSError:
            pass
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b"body_too_large" in response
    assert sent < 64 * 1024 * 1024  # refused mid-stream, not after reading everything
    grown_kib = _peak_rss_kib(deployment.gateway_pid) - before
    assert grown_kib < 2 * MAX_BODY // 1024, f"peak RSS grew by {grown_kib} KiB"


def test_a_connection_that_never_finishes_its_headers_is_closed(deployment: Deployment) -> None:
    port = int(deployment.gateway.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"POST /v1/gmner HTTP/1.1\r\nHost: x\r\nContent-Ty")
        assert sock.recv(1024) == b""  # closed by the server (a socket timeout would raise instead)
    assert httpx.get(f"{deployment.gateway}/health", timeout=10).status_code == 200
