"""What abandoned posts cost the LLM: the issue's check, against the embedded stack (llama-server).

    .venv/bin/python deploy/load/abandoned_posts.py --posts 6 --leave-after 0.5
    .venv/bin/python deploy/load/abandoned_posts.py --cancellation off     # as before cancellation existed
    .venv/bin/python deploy/load/abandoned_posts.py --direct               # llama-server alone, no gmner app

Sends N fresh posts with `use_knowledge: true` (nothing cached), each abandoned by its client after
--leave-after seconds (the connection is closed), then counts what llama-server generates from the moment of
the last disconnect until it is idle again (`llamacpp:tokens_predicted_total` on its /metrics), and how long
that took. With `--direct`, the same with completion requests sent to llama-server itself: whether closing
the connection stops its generation at all.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from run_impatient import llm_busy, llm_metrics  # noqa: E402
from run_load import free_port, machine  # noqa: E402

from gmner.embedded.llm_model import bundled_llm  # noqa: E402
from gmner.embedded.llm_server import llm_server_command  # noqa: E402
from gmner.embedded.settings import EmbeddedSettings  # noqa: E402
from gmner.embedded.stack import EmbeddedStack  # noqa: E402
from shared.app_registry import STAGES  # noqa: E402

# Entities the bundled NER finds, in posts that differ by a word so no LLM answer is cached.
TEMPLATE = "Idris Elba met Angela Merkel in Berlin before the {} match at Wembley"


def post(url: str, path: str, payload: bytes) -> socket.socket:
    """POST on a raw socket, left open: closing it is the client leaving, and nothing else."""
    host, port = url.removeprefix("http://").split("/", 1)[0].split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    return sock


@contextmanager
def llm_only(stack: EmbeddedStack) -> Iterator[EmbeddedStack]:
    """Only the stack's LLM server, started as `gmner serve` starts it (no app in front of it)."""
    settings = stack.settings
    model_path = (
        Path(settings.llm_model_path)
        if settings.llm_model_path
        else bundled_llm(settings.bundled_llm_name).path(settings.cache_dir)
    )
    try:
        stack._spawn("llm", llm_server_command(settings, model_path).argv, f"{stack.llm_url}/models")
        stack.wait_ready()
        yield stack
    finally:
        stack.stop()


def wait_idle(llm_url: str, limit_s: float = 300.0) -> float:
    """Seconds until llama-server has nothing processing or waiting (bounded by `limit_s`)."""
    started = time.monotonic()
    while llm_busy(llm_url) and time.monotonic() - started < limit_s:
        time.sleep(0.25)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=6)
    parser.add_argument("--leave-after", type=float, default=0.5, help="seconds before each client leaves")
    parser.add_argument("--cancellation", choices=["on", "off"], default="on")
    parser.add_argument("--direct", action="store_true", help="send completions to llama-server itself")
    parser.add_argument("--max-tokens", type=int, default=512, help="with --direct: tokens each request asks for")
    parser.add_argument("--stream", action="store_true", help="with --direct: streamed completions")
    parser.add_argument("--log-dir", default=None)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}", flush=True)
    settings = EmbeddedSettings(
        **{f"{name}_port": free_port() for name in (*STAGES, "gateway", "llm")},
        stages=[] if args.direct else ["ner", "expansion"],
        log_dir=args.log_dir or Path("/tmp") / f"gmner-abandoned-{uuid.uuid4().hex[:8]}",
    )
    extra_env = {
        "GMNER_LLM_CACHE_PREFIX": f"gmner:abandoned:{uuid.uuid4().hex}:",
        "GMNER_CANCEL_ON_DISCONNECT": "true" if args.cancellation == "on" else "false",
    }
    stack = EmbeddedStack(settings, extra_env=extra_env)
    with stack if not args.direct else llm_only(stack):
        # A first request, answered, so that model loading and warm-up are not counted.
        if args.direct:
            warm = {"model": settings.served_llm_alias, "prompt": "Hello", "max_tokens": 4}
            httpx.post(f"{stack.llm_url}/completions", json=warm, timeout=600)
        else:
            warm = {"text": "Warm up in London", "tasks": "mner"}
            httpx.post(f"{stack.gateway_url}/v1/gmner", json=warm, timeout=600)
        wait_idle(stack.llm_url)
        before = llm_metrics(stack.llm_url)
        run = uuid.uuid4().hex[:6]
        clients = []
        for i in range(args.posts):  # all at once, as the six posts were
            if args.direct:
                body = (
                    f'{{"model": "{settings.served_llm_alias}", "prompt": "Write a long story number {run}{i}:", '
                    f'"max_tokens": {args.max_tokens}, "temperature": 0, "stream": {str(args.stream).lower()}}}'
                )
                clients.append(post(stack.llm_url, "/v1/completions", body.encode()))
            else:
                text = TEMPLATE.format(f"{run}-{i}")
                body = f'{{"text": "{text}", "tasks": "mner", "use_knowledge": true}}'
                clients.append(post(stack.gateway_url, "/v1/gmner", body.encode()))
        time.sleep(args.leave_after)
        for client in clients:
            client.close()
        at_leave = llm_metrics(stack.llm_url)
        busy_s = wait_idle(stack.llm_url)
        after = llm_metrics(stack.llm_url)

    def delta(name: str, start: dict[str, float], end: dict[str, float]) -> float:
        return end.get(name, 0.0) - start.get(name, 0.0)

    streamed = "streamed " if args.stream else "non-streamed "
    what = f"{streamed}completions sent to llama-server" if args.direct else "posts with use_knowledge"
    print(
        f"{args.posts} {what}, each abandoned after {args.leave_after}s (cancellation {args.cancellation}): "
        f"llama-server busy for {busy_s:.1f}s after the clients left; after they left: "
        f"{delta('n_decode_total', at_leave, after):.0f} decode steps, "
        f"{delta('tokens_predicted_total', at_leave, after):.0f} tokens of completions that finished; "
        f"while they waited: {delta('n_decode_total', before, at_leave):.0f} decode steps",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
