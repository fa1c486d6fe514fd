"""Per-stage and end-to-end latency of the text path (NER with knowledge + expansion), cold and warm.

    python benchmarks/bench_text.py                 # starts the embedded text stages on free ports
    python benchmarks/bench_text.py --url URL       # measures a running gateway instead

"Cold" runs each post with a fresh LLM-cache namespace (every LLM call is made); "warm" repeats the same
posts, so every LLM output comes from Redis. Prints a table of milliseconds; nothing is asserted.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

POSTS = [
    "RT @Evode7: Actor Idris Elba became the first male to make the cover of Maxim",
    "The Philadelphia Phillies are a good baseball team .",
    "Barack Obama and Angela Merkel meet in Berlin ahead of the G7 summit",
    "Sunset over Lake Michigan from Navy Pier , Chicago",
    "Kevin Durant scores 40 as the Warriors beat the Cavaliers",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_posts(url: str, label: str, rounds: int) -> list[dict[str, float]]:
    rows = []
    with httpx.Client(timeout=300) as client:
        for _ in range(rounds):
            for text in POSTS:
                started = time.perf_counter()
                response = client.post(f"{url}/v1/gmner", json={"text": text, "tasks": "mner", "use_knowledge": True})
                total = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                body = response.json()
                rows.append({"total": total, **body["timings_ms"], "entities": len(body["entities"])})
    print_table(label, rows)
    return rows


def print_table(label: str, rows: list[dict[str, float]]) -> None:
    keys = ["total", "ner", "expansion", "entities"]
    print(f"\n{label}: {len(rows)} requests")
    print(f"{'metric':<12}{'mean':>10}{'p50':>10}{'max':>10}")
    for key in keys:
        values = [row.get(key, 0.0) for row in rows]
        print(f"{key:<12}{statistics.mean(values):>10.1f}{statistics.median(values):>10.1f}{max(values):>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running gateway; default: start the embedded text stages")
    parser.add_argument("--warm-rounds", type=int, default=3)
    args = parser.parse_args()
    if args.url:
        run_posts(args.url, "as configured (cache state unknown)", 1)
        run_posts(args.url, "warm (repeated posts)", args.warm_rounds)
        return

    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack

    ports = {f"{name}_port": free_port() for name in ("gateway", "ner", "expansion", "llm")}
    settings = EmbeddedSettings(stages=["ner", "expansion"], log_dir=Path(tempfile.mkdtemp()), **ports)
    prefix = f"gmner:bench:{uuid.uuid4().hex}:"
    started = time.perf_counter()
    with EmbeddedStack(settings, extra_env={"GMNER_LLM_CACHE_PREFIX": prefix}) as stack:
        print(f"stack ready in {time.perf_counter() - started:.1f} s (LLM server, NER, expansion, gateway)")
        run_posts(stack.gateway_url, "cold (fresh LLM cache)", 1)
        run_posts(stack.gateway_url, "warm (LLM outputs from Redis)", args.warm_rounds)


if __name__ == "__main__":
    main()
