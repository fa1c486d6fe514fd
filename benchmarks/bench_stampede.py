"""Stampede: N identical fresh posts at once, and how many completions reach the LLM server.

    python benchmarks/bench_stampede.py --posts 5                  # single-flight on (the default)
    python benchmarks/bench_stampede.py --posts 5 --no-single-flight

Starts the embedded text stages (NER, expansion, gateway, the LLM server) with a counting proxy between the
stages and the LLM server: every completion the LLM server is asked for passes through it and is counted,
with the number of distinct prompts among them. Without single-flight each post's cache misses each call the
LLM; with it, one call per distinct prompt. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gmner.embedded.settings import EmbeddedSettings  # noqa: E402
from gmner.embedded.stack import EmbeddedStack  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CountingProxy:
    """Forwards /v1/* to the LLM server and counts the completions asked for."""

    def __init__(self, upstream: str, port: int) -> None:
        self.upstream = upstream
        self.port = port
        self.completions = 0
        self.prompts: set[str] = set()
        app = Starlette(routes=[Route("/v1/{path:path}", self.forward, methods=["GET", "POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def forward(self, request: Request) -> Response:
        body = await request.body()
        path = request.path_params["path"]
        if request.method == "POST" and path.endswith("completions"):
            self.completions += 1
            self.prompts.add(hashlib.sha256(body).hexdigest())
        async with httpx.AsyncClient(timeout=600) as client:
            answer = await client.request(
                request.method, f"{self.upstream}/{path}", content=body, headers={"content-type": "application/json"}
            )
        return Response(answer.content, status_code=answer.status_code, media_type="application/json")

    def __enter__(self) -> CountingProxy:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def stampede(gateway: str, text: str, posts: int) -> list[int]:
    async with httpx.AsyncClient(timeout=600) as client:
        answers = await asyncio.gather(
            *(client.post(f"{gateway}/v1/gmner", json={"text": text, "tasks": "mner"}) for _ in range(posts))
        )
    return [len(a.json().get("entities", [])) if a.status_code == 200 else -a.status_code for a in answers]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=5)
    parser.add_argument("--no-single-flight", action="store_true")
    parser.add_argument("--text", default="Barack Obama and Angela Merkel meet in Berlin ahead of the G7 summit")
    args = parser.parse_args()
    ports = {f"{name}_port": free_port() for name in ("ner", "expansion", "gateway", "llm")}
    logs = Path(tempfile.mkdtemp(prefix="stampede-"))
    settings = EmbeddedSettings(stages=["ner", "expansion"], log_dir=logs, **ports)
    proxy_port = free_port()
    env = {
        "GMNER_LLM_BASE_URL": f"http://127.0.0.1:{proxy_port}/v1",
        "GMNER_LLM_CACHE_PREFIX": f"gmner:stampede:{uuid.uuid4().hex}:",
        "GMNER_LLM_SINGLE_FLIGHT": "false" if args.no_single_flight else "true",
        "GMNER_LLM_TIMEOUT_S": "300",
        "GMNER_GATEWAY_EXPANSION_TIMEOUT_S": "300",
    }
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    # The proxy first: the stages' readiness probes reach the LLM through it.
    upstream = f"http://{settings.host}:{settings.llm_port}/v1"
    with CountingProxy(upstream, proxy_port) as proxy, EmbeddedStack(settings, extra_env=env) as stack:
        llm_kind = Path(str(next(p for p in stack.processes if p.name == "llm").process.args[0])).name
        text = f"{args.text} #{uuid.uuid4().hex[:6]}"  # fresh: nothing cached yet
        started = time.perf_counter()
        entities = asyncio.run(stampede(stack.gateway_url, text, args.posts))
        wall = time.perf_counter() - started
        first, distinct = proxy.completions, len(proxy.prompts)
        asyncio.run(stampede(stack.gateway_url, text, 1))
        repeat = proxy.completions - first
    print(f"load average before {load}; LLM server {llm_kind}; single-flight {not args.no_single_flight}")
    print(f"{args.posts} identical fresh posts at once: entities per answer {entities}, {wall:.1f} s")
    print(f"LLM completions: {first} (distinct prompts: {distinct}); the same post again: {repeat}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
