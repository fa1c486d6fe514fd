"""Per-call overhead of the OpenAI-compatible transport (engines/llm/openai_api.py) against the `openai` SDK.

A fake server in a separate process answers at once (a streamed answer of 8 chunks, or one JSON body), so what
is measured is the client side: building the request, the HTTP round trip on loopback, reading the answer.
Rows: plain httpx (the floor), our transport (streamed: the text LLM's calls; JSON: the VLM's), and the
`openai` SDK's AsyncOpenAI when it is installed (`pip install openai`; it is no dependency of the service).

    .venv/bin/python benchmarks/bench_openai_transport.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHUNKS = 8


def fake_server_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        body = await request.json()
        if not body.get("stream"):
            return JSONResponse(
                {"choices": [{"index": 0, "message": {"role": "assistant", "content": "yes " * CHUNKS}}]}
            )

        async def events() -> Any:
            for _ in range(CHUNKS):
                chunk = {"choices": [{"index": 0, "delta": {"content": "yes "}}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def models(_: Request) -> Response:
        return JSONResponse({"data": [{"id": "fake"}]})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def timed(calls: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(min(50, calls)):  # warm the connection pool
        await call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return times


async def measure(base_url: str, calls: int) -> list[tuple[str, list[float]]]:
    import httpx

    from engines.llm.openai_api import OpenAICompatibleAPI
    from shared.settings import LLMSettings

    messages = [{"role": "user", "content": "Is it a dog?"}]
    body = {"model": "fake", "messages": messages, "temperature": 0.0, "max_tokens": 8}
    rows: list[tuple[str, list[float]]] = []

    async with httpx.AsyncClient(base_url=base_url + "/") as plain:

        async def plain_json() -> Any:
            return (await plain.post("chat/completions", json={**body, "stream": False})).json()

        rows.append(("httpx, JSON (floor)", await timed(calls, plain_json)))

    api = OpenAICompatibleAPI(LLMSettings(base_url=base_url, retries=1), app="bench")
    rows.append(
        (
            "ours, streamed (LLMClient)",
            await timed(calls, lambda: api.post_streamed_text("chat/completions", body, chat=True)),
        )
    )
    rows.append(("ours, JSON (VisionChatClient)", await timed(calls, lambda: api.post_json("chat/completions", body))))
    await api.aclose()

    try:
        from openai import AsyncOpenAI
    except ImportError:
        print("openai is not installed: no SDK rows (pip install openai)", file=sys.stderr)
        return rows
    sdk = AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=1)

    async def sdk_stream() -> str:
        stream = await sdk.chat.completions.create(model="fake", messages=messages, max_tokens=8, stream=True)  # type: ignore[arg-type]
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream])

    async def sdk_json() -> Any:
        return await sdk.chat.completions.create(model="fake", messages=messages, max_tokens=8)  # type: ignore[arg-type]

    rows.append(("openai SDK, streamed", await timed(calls, sdk_stream)))
    rows.append(("openai SDK, JSON", await timed(calls, sdk_json)))
    await sdk.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per row (after 50 warm-up calls)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the fake server's process
    args = parser.parse_args(argv)
    if args.serve:
        import uvicorn

        uvicorn.run(fake_server_app(), host="127.0.0.1", port=args.serve, log_level="warning")
        return 0
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        rows = asyncio.run(measure(base_url, args.calls))
    finally:
        server.terminate()
        server.wait()
    print(f"{args.calls} calls per row, fake server answering at once ({CHUNKS} chunks when streamed)\n")
    print("| client | mean ms | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for label, times in rows:
        ordered = sorted(times)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(
            f"| {label} | {1000 * statistics.fmean(times):.2f} | {1000 * statistics.median(times):.2f} "
            f"| {1000 * p95:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
