"""Per-stage and end-to-end latency of the text path (NER with knowledge + expansion), cold and warm.

    python benchmarks/bench_text.py                         # starts the embedded text stages on free ports
    python benchmarks/bench_text.py --llm qwen2.5-1.5b      # the same with another bundled LLM
    python benchmarks/bench_text.py --url URL               # measures a running gateway instead

"Cold" runs each post with a fresh LLM-cache namespace (every LLM call is made); "warm" repeats the same
posts, so every LLM output comes from Redis. Prints a table of milliseconds; nothing is asserted. With the
embedded stack it first times one uncached generation straight against the LLM server (the token counts are the
server's own `usage`) to give its prompt and generation speed.
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


SPEED_PROMPT = (
    "Text: {name} visits Berlin ahead of the G7 summit\n"
    "Question: List everything you know about {name}, one fact per line.\nAnswer:"
)


def _generate(
    client: httpx.Client, llm_url: str, model: str, api: str, prompt: str, max_tokens: int
) -> tuple[float, int, int]:
    body: dict[str, object] = {"model": model, "temperature": 0.0, "max_tokens": max_tokens}
    if api == "chat":
        path, body["messages"] = "chat/completions", [{"role": "user", "content": prompt}]
    else:
        path, body["prompt"] = "completions", prompt
    started = time.perf_counter()
    usage = client.post(f"{llm_url}/{path}", json=body).raise_for_status().json()["usage"]
    return time.perf_counter() - started, usage["prompt_tokens"], usage["completion_tokens"]


def llm_speed(llm_url: str, model: str, api: str, max_tokens: int = 64) -> None:
    """Prompt speed from a 1-token answer, generation speed from the extra time of a long one (other names, so
    neither call reuses the other's prompt cache)."""
    with httpx.Client(timeout=600) as client:
        short_s, prompt, _ = _generate(client, llm_url, model, api, SPEED_PROMPT.format(name="Angela Merkel"), 1)
        long_s, _, generated = _generate(
            client, llm_url, model, api, SPEED_PROMPT.format(name="Barack Obama"), max_tokens
        )
    generation = generated / (long_s - short_s) if generated > 1 and long_s > short_s else float("nan")
    print(
        f"LLM alone ({model}, {api}): {prompt} prompt tokens in {short_s:.2f} s ({prompt / short_s:.1f} tok/s); "
        f"{generated} generated tokens in {long_s:.2f} s, {generation:.1f} generated tok/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running gateway; default: start the embedded text stages")
    parser.add_argument("--warm-rounds", type=int, default=3)
    parser.add_argument("--llm", help="bundled LLM for the embedded stack (default: GMNER_EMBEDDED_LLM or gemma)")
    args = parser.parse_args()
    if args.url:
        run_posts(args.url, "as configured (cache state unknown)", 1)
        run_posts(args.url, "warm (repeated posts)", args.warm_rounds)
        return

    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack

    ports = {f"{name}_port": free_port() for name in ("gateway", "ner", "expansion", "llm")}
    chosen = {"llm": args.llm} if args.llm else {}
    settings = EmbeddedSettings(stages=["ner", "expansion"], log_dir=Path(tempfile.mkdtemp()), **ports, **chosen)
    prefix = f"gmner:bench:{uuid.uuid4().hex}:"
    started = time.perf_counter()
    with EmbeddedStack(settings, extra_env={"GMNER_LLM_CACHE_PREFIX": prefix}) as stack:
        print(f"stack ready in {time.perf_counter() - started:.1f} s (LLM server, NER, expansion, gateway)")
        llm_speed(stack.llm_url, settings.served_llm_alias, settings.served_llm_api)
        run_posts(stack.gateway_url, "cold (fresh LLM cache)", 1)
        run_posts(stack.gateway_url, "warm (LLM outputs from Redis)", args.warm_rounds)


if __name__ == "__main__":
    main()
