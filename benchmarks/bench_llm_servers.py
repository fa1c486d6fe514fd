"""The embedded LLM servers alone: aggregate tokens/s and per-request latency at 1, 2, 4, 8 concurrent
completions of the expansion prompt, for llama.cpp's llama-server and llama-cpp-python's server, same model
(the bundled gemma-3-270m), same thread count.

    python benchmarks/bench_llm_servers.py                        # both servers, 1,2,4,8 concurrent
    python benchmarks/bench_llm_servers.py --servers llama-server --concurrency 4 --threads 2

Every request has its own entity (no two prompts are equal), greedy, the expansion service's max_tokens and
stop sequences. Token counts are the servers' own `usage.completion_tokens`. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gmner.embedded.llm_model import GEMMA  # noqa: E402
from gmner.embedded.llm_server import llm_server_command  # noqa: E402
from gmner.embedded.settings import EmbeddedSettings  # noqa: E402
from services.expansion.prompt import build_expansion_prompt  # noqa: E402
from services.expansion.serving import STOP  # noqa: E402
from services.expansion.settings import ExpansionSettings  # noqa: E402

ENTITIES = [
    ("Actor Idris Elba became the first male to make the cover of Maxim", "Idris Elba"),
    ("Actor Idris Elba became the first male to make the cover of Maxim", "Maxim"),
    ("The Philadelphia Phillies are a good baseball team .", "Philadelphia Phillies"),
    ("Barack Obama and Angela Merkel meet in Berlin ahead of the G7 summit", "Barack Obama"),
    ("Barack Obama and Angela Merkel meet in Berlin ahead of the G7 summit", "Angela Merkel"),
    ("Barack Obama and Angela Merkel meet in Berlin ahead of the G7 summit", "Berlin"),
    ("Sunset over Lake Michigan from Navy Pier , Chicago", "Lake Michigan"),
    ("Sunset over Lake Michigan from Navy Pier , Chicago", "Chicago"),
    ("Kevin Durant scores 40 as the Warriors beat the Cavaliers", "Kevin Durant"),
    ("Kevin Durant scores 40 as the Warriors beat the Cavaliers", "Warriors"),
    ("Taylor Swift announces a new tour starting in London", "Taylor Swift"),
    ("Taylor Swift announces a new tour starting in London", "London"),
    ("NASA launches a new telescope from Cape Canaveral", "NASA"),
    ("NASA launches a new telescope from Cape Canaveral", "Cape Canaveral"),
    ("Lionel Messi signs with Inter Miami", "Lionel Messi"),
    ("Lionel Messi signs with Inter Miami", "Inter Miami"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, threads: int, parallel: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    settings = EmbeddedSettings(llm_server=kind, llm_port=free_port(), llm_threads=threads, llm_parallel=parallel)
    command = llm_server_command(settings, GEMMA.path(settings.cache_dir))
    process = subprocess.Popen(command.argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://{settings.host}:{settings.llm_port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{kind} exited: {log.read_text(errors='replace')[-1500:]}")
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"{kind} not ready after 180 s")


async def one(client: httpx.AsyncClient, base: str, prompt: str, max_tokens: int) -> tuple[float, int]:
    body = {"model": "gemma-3-270m", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stop": STOP}
    started = time.perf_counter()
    response = await client.post(f"{base}/completions", json=body)
    response.raise_for_status()
    return time.perf_counter() - started, int(response.json()["usage"]["completion_tokens"])


async def measure(base: str, concurrency: int, rounds: int, max_tokens: int, offset: int) -> dict[str, float]:
    latencies: list[float] = []
    tokens = 0
    wall = 0.0
    async with httpx.AsyncClient(timeout=600) as client:
        for r in range(rounds):
            picks = [ENTITIES[(offset + r * concurrency + i) % len(ENTITIES)] for i in range(concurrency)]
            # A round number in the background keeps every prompt unseen, so no server reuses a whole answer.
            prompts = [build_expansion_prompt(f"(run {offset + r})", text, ent) for text, ent in picks]
            started = time.perf_counter()
            results = await asyncio.gather(*(one(client, base, p, max_tokens) for p in prompts))
            wall += time.perf_counter() - started
            latencies += [lat for lat, _ in results]
            tokens += sum(n for _, n in results)
    latencies.sort()
    return {
        "tok_s": tokens / wall,
        "tokens_per_request": tokens / len(latencies),
        "mean_s": statistics.fmean(latencies),
        "p95_s": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="llama-server,llama-cpp-python")
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=3, help="batches of N concurrent requests per step")
    parser.add_argument("--threads", type=int, default=EmbeddedSettings().llm_threads)
    parser.add_argument("--parallel", type=int, default=EmbeddedSettings().llm_parallel, help="llama-server slots")
    args = parser.parse_args()
    max_tokens = ExpansionSettings().max_tokens
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average before {load}; threads={args.threads} slots={args.parallel} "
          f"max_tokens={max_tokens} rounds={args.rounds}")  # fmt: skip
    print(f"{'server':<18} {'conc':>4} {'agg tok/s':>9} {'tok/req':>7} {'mean s':>7} {'p95 s':>7}")
    logs = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    offset = 0
    for kind in [s.strip() for s in args.servers.split(",") if s.strip()]:
        process, base = start(kind, args.threads, args.parallel, logs / f"{kind}.log")
        try:
            asyncio.run(measure(base, 1, 1, max_tokens, 10_000))  # warm-up: first-call allocations
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                row = asyncio.run(measure(base, concurrency, args.rounds, max_tokens, offset))
                offset += args.rounds
                print(f"{kind:<18} {concurrency:>4} {row['tok_s']:>9.1f} {row['tokens_per_request']:>7.1f} "
                      f"{row['mean_s']:>7.2f} {row['p95_s']:>7.2f}", flush=True)  # fmt: skip
        finally:
            process.terminate()
            process.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
