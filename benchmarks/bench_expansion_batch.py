"""The gateway's expansion calls for a 3-entity post: one `/v1/expand` call per entity (concurrently) or one call
with every entity (the schema takes a list), against the embedded LLM.

    python benchmarks/bench_expansion_batch.py [--cold 4] [--warm 20]

Starts the embedded text stages (LLM server, NER, expansion) on free ports and calls the expansion stage with
the gateway's own `StageClient`. Cold: every round has a new post text (a new tag at its end), so every LLM call
is made; warm: the same posts again, every LLM output from Redis. The modes alternate round by round. Prints
milliseconds per post; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from shared.http import StageClient
from shared.protocol.common import EntityRef, EntityType
from shared.protocol.expansion import ExpandRequest, ExpandResponse

TEXT = "Eileen Collins , Sally Ride and Mae Jemison smile for the camera"
ENTITIES = [EntityRef(text=name, type=EntityType.PER) for name in ("Eileen Collins", "Sally Ride", "Mae Jemison")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def per_entity(client: StageClient, text: str) -> float:
    started = time.perf_counter()
    await asyncio.gather(
        *(client.post("/v1/expand", ExpandRequest(text=text, entities=[e]), ExpandResponse) for e in ENTITIES)
    )
    return (time.perf_counter() - started) * 1000


async def batched(client: StageClient, text: str) -> float:
    started = time.perf_counter()
    await client.post("/v1/expand", ExpandRequest(text=text, entities=ENTITIES), ExpandResponse)
    return (time.perf_counter() - started) * 1000


async def measure(url: str, cold: int, warm: int) -> dict[tuple[str, str], list[float]]:
    client = StageClient("expansion", url, timeout_s=300.0, retries=0, caller="bench")
    modes = {"per entity": per_entity, "batched": batched}
    rows: dict[tuple[str, str], list[float]] = {}
    texts: dict[str, list[str]] = {name: [] for name in modes}
    await batched(client, f"{TEXT} #warmup")  # the LLM server's first call loads its prompt cache
    try:
        for round_ in range(cold):
            order = list(modes) if round_ % 2 == 0 else list(reversed(modes))
            for name in order:
                text = f"{TEXT} #{uuid.uuid4().hex[:8]}"
                texts[name].append(text)
                rows.setdefault(("cold", name), []).append(await modes[name](client, text))
        for round_ in range(warm):
            for name in modes if round_ % 2 == 0 else reversed(list(modes)):
                text = texts[name][round_ % len(texts[name])]
                rows.setdefault(("warm", name), []).append(await modes[name](client, text))
    finally:
        await client.aclose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=4)
    parser.add_argument("--warm", type=int, default=20)
    args = parser.parse_args()

    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack

    names = ("gateway", "ner", "expansion", "llm")
    settings = EmbeddedSettings(
        log_dir=Path(tempfile.mkdtemp()), stages=["ner", "expansion"], **{f"{n}_port": free_port() for n in names}
    )
    env = {"GMNER_LLM_CACHE_PREFIX": f"gmner:bench-expansion:{uuid.uuid4()}:"}
    with EmbeddedStack(settings, extra_env=env) as stack:
        rows = asyncio.run(measure(stack.url("expansion"), args.cold, args.warm))
    print(f"\nexpansion of a 3-entity post, ms per post ({TEXT!r})")
    print(f"{'cache':>6} {'mode':>11} {'n':>3} {'mean':>9} {'median':>9} {'min':>9} {'max':>9}")
    for (cache, mode), values in rows.items():
        print(
            f"{cache:>6} {mode:>11} {len(values):>3} {statistics.mean(values):>9.1f} {statistics.median(values):>9.1f}"
            f" {min(values):>9.1f} {max(values):>9.1f}"
        )


if __name__ == "__main__":
    main()
