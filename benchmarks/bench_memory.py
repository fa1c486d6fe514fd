"""Idle memory of the embedded stack, per process: RSS, PSS and private (USS) memory.

    python benchmarks/bench_memory.py                 # the default `gmner serve` configuration, on free ports
    python benchmarks/bench_memory.py --settle 30 --request

Starts the stack as `gmner serve` does (every stage, the bundled LLM), waits until every process is ready, lets
it settle for `--settle` seconds and reads /proc/<pid>/status (VmRSS) and /proc/<pid>/smaps_rollup (Pss,
Private_*, Anonymous) of every managed process and its children (the Node detector workers). `--request` also
measures after one `POST /v1/gmner` with an image, since the first request grows some processes (allocator
arenas, caches, lazily loaded models).

RSS counts every page a process maps, including the pages of files it shares with others (libtorch, the
mmap'ed GGUF); PSS divides shared pages among the processes that map them, so the PSS total is what the stack
really takes from the machine; USS is what exiting the process would free; anon is the part that is not backed
by a file (heap, tensors, KV cache), which the kernel cannot drop under pressure. Redis counts only when the
stack started it (not when one already ran). Prints MB (10^6 bytes); asserts nothing. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import io
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gmner.embedded.settings import EmbeddedSettings  # noqa: E402
from gmner.embedded.stack import EmbeddedStack  # noqa: E402
from shared.app_registry import STAGES  # noqa: E402


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    pss_kb: int | None
    uss_kb: int | None
    anon_kb: int | None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_of(pid: int) -> Memory | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    try:
        fields = {
            line.split(":")[0]: int(line.split()[1])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
        }
    except OSError:
        return Memory(rss, None, None, None)
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return Memory(rss, fields.get("Pss"), private, fields.get("Anonymous"))


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def command_name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return Path(argv[0].decode(errors="replace")).name if argv and argv[0] else "?"


def table(stack: EmbeddedStack) -> list[tuple[str, int, Memory]]:
    rows: list[tuple[str, int, Memory]] = []
    for proc in stack.processes:
        pending = [(proc.name, proc.process.pid)]
        while pending:
            name, pid = pending.pop(0)
            memory = memory_of(pid)
            if memory is not None:
                rows.append((name, pid, memory))
            pending += [(f"{proc.name}/{command_name(child)}", child) for child in children_of(pid)]
    return rows


def show(title: str, rows: list[tuple[str, int, Memory]]) -> None:
    def mb(kb: int | None) -> str:
        return "-" if kb is None else f"{kb * 1024 / 1e6:,.0f}"

    def line(name: str, pid: str, m: Memory) -> str:
        values = " | ".join(f"{mb(kb):>7}" for kb in (m.rss_kb, m.pss_kb, m.uss_kb, m.anon_kb))
        return f"| {name:<16} | {pid:>7} | {values} |"

    print(f"\n{title}")
    print(f"| {'process':<16} | {'pid':>7} | {'RSS MB':>7} | {'PSS MB':>7} | {'USS MB':>7} | {'anon MB':>7} |")
    print(f"|{'-' * 18}|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|")
    for name, pid, m in rows:
        print(line(name, str(pid), m))
    total = Memory(*(sum(getattr(m, f) or 0 for _, _, m in rows) for f in ("rss_kb", "pss_kb", "uss_kb", "anon_kb")))
    print(line("total", "", total))


def one_request(url: str) -> None:
    """A post that goes through every stage: scikit-image's astronaut photograph, a person to ground and mask."""
    from PIL import Image
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    response = httpx.post(
        f"{url}/v1/gmner",
        data={"text": "Astronaut Eileen Collins waves before the launch in Florida"},
        files={"image": ("astronaut.png", buffer.getvalue(), "image/png")},
        timeout=900,
    )
    masks = sum(1 for e in response.json().get("entities", []) if e.get("mask")) if response.is_success else 0
    print(f"\nPOST /v1/gmner: {response.status_code}, {masks} masks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds idle after ready before measuring")
    parser.add_argument("--request", action="store_true", help="also measure after one /v1/gmner request")
    parser.add_argument("--log-dir", type=Path, help="children's logs (default: a temporary directory)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for every child, to try a setting")
    args = parser.parse_args()

    ports: dict[str, Any] = {f"{name}_port": free_port() for name in (*STAGES, "gateway", "llm")}
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="gmner-bench-memory-"))
    settings = EmbeddedSettings(log_dir=log_dir, ready_timeout_s=900, **ports)
    started = time.monotonic()
    env = dict(item.split("=", 1) for item in args.env) | {"GMNER_LLM_CACHE_PREFIX": f"gmner:bench:{uuid.uuid4()}:"}
    with EmbeddedStack(settings, extra_env=env) as stack:
        print(f"all ready in {time.monotonic() - started:.1f} s (logs: {log_dir})")
        time.sleep(args.settle)
        show(f"idle, {args.settle:.0f} s after ready", table(stack))
        if args.request:
            one_request(stack.gateway_url)
            time.sleep(args.settle)
            show(f"{args.settle:.0f} s after one request", table(stack))


if __name__ == "__main__":
    main()
