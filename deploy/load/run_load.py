"""Starts the embedded stack, runs locust headless against it at increasing user counts, prints the numbers.

    .venv/bin/python deploy/load/run_load.py --users 1,2,4 --duration 60
    .venv/bin/python deploy/load/run_load.py --host http://127.0.0.1:8000   # an already running gateway

For each user count: requests/s, p50/p95/p99 latency and failures (see locustfile.py for the mix and what
counts as a failure), then the highest user count whose p95 stayed under --p95-limit-ms with no failure.
Every run is bounded: --duration seconds per step, a fixed list of user counts, then the stack is stopped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from gmner.embedded.settings import EmbeddedSettings  # noqa: E402
from gmner.embedded.stack import EmbeddedStack  # noqa: E402
from shared.app_registry import STAGES  # noqa: E402

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass
class Step:
    users: int
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    by_name: dict[str, tuple[int, int, float]]  # name -> (requests, failures, p95 ms)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, load average before the run {load}"


def run_step(host: str, users: int, duration_s: int, out_dir: Path) -> Step:
    """One headless locust run. Its final JSON stats include the requests still running at the end of the
    run (locust waits --stop-timeout for them), so slow requests are not left out of the percentiles."""
    stats_file = out_dir / f"u{users}.json"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{duration_s}s",
        "--stop-timeout", "120", "--json-file", str(stats_file.with_suffix("")), "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    with (out_dir / f"u{users}.log").open("wb") as log:
        subprocess.run(command, cwd=ROOT, check=False, timeout=duration_s + 240, stdout=log, stderr=subprocess.STDOUT)
    entries = json.loads(stats_file.read_text())
    by_name = {}
    for entry in entries:
        times = _times(entry)
        by_name[entry["name"]] = (entry["num_requests"], entry["num_failures"], _percentile(times, 0.95))
    times = Counter[int]()
    for entry in entries:
        times.update(_times(entry))
    requests = sum(e["num_requests"] for e in entries)
    started = min((e["start_time"] for e in entries), default=0.0)
    ended = max((e["last_request_timestamp"] or started for e in entries), default=0.0)
    return Step(
        users=users,
        requests=requests,
        failures=sum(e["num_failures"] for e in entries),
        rps=requests / max(ended - started, 1e-9),
        p50_ms=_percentile(times, 0.50),
        p95_ms=_percentile(times, 0.95),
        p99_ms=_percentile(times, 0.99),
        by_name=by_name,
    )


def _times(entry: dict) -> Counter[int]:
    """Locust's response-time histogram of one entry: {rounded ms: count}."""
    return Counter({int(float(ms)): int(count) for ms, count in entry["response_times"].items()})


def _percentile(times: Counter[int], fraction: float) -> float:
    total = sum(times.values())
    if total == 0:
        return float("nan")
    rank = fraction * total
    seen = 0
    for ms in sorted(times):
        seen += times[ms]
        if seen >= rank:
            return float(ms)
    return float(max(times))


def warm_up(host: str) -> None:
    """A text post and a post with an image, so first-call costs (allocation, lazy loads) stay out of the numbers."""
    image = Image.new("RGB", (320, 240), (90, 140, 200))
    ImageDraw.Draw(image).ellipse((120, 40, 200, 140), fill=(230, 190, 160))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    with httpx.Client(base_url=host, timeout=300) as client:
        client.post("/v1/gmner", json={"text": "Warm up with Idris Elba in London", "tasks": "mner"})
        client.post(
            "/v1/gmner",
            data={"text": "Idris Elba at the BBC", "tasks": "smner"},
            files={"image": ("warm.jpg", buffer.getvalue(), "image/jpeg")},
        )


def warm_hot_posts(host: str, passes: int = 3) -> None:
    """Posts every repeated post until its answer is complete (a timed-out LLM call is not cached), so that in
    the measured steps repeated posts are cache hits."""
    from posts import HOT_POSTS  # reads LOAD_IMAGE_DIR and LOAD_SEED, set above

    started = time.monotonic()
    pending = list(HOT_POSTS)
    with httpx.Client(base_url=host, timeout=300) as client:
        for _ in range(passes):
            incomplete = []
            for text, image in pending:
                files = {"image": ("post.jpg", image, "image/jpeg")} if image is not None else None
                tasks = "smner" if image is not None else "mner"
                response = client.post("/v1/gmner", data={"text": text, "tasks": tasks}, files=files)
                if response.status_code != 200 or response.json().get("degraded"):
                    incomplete.append((text, image))
            pending = incomplete
            if not pending:
                break
    cached = len(HOT_POSTS) - len(pending)
    print(f"{cached}/{len(HOT_POSTS)} repeated posts cached in {time.monotonic() - started:.0f}s", flush=True)


def stage_totals(host: str) -> dict[str, tuple[float, float]]:
    """The gateway's cumulative (seconds, calls) per stage, from gmner_stage_call_latency_seconds on /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, list[float]] = {}
    try:
        text = httpx.get(f"{host}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("gmner_stage_call_latency_seconds") and "stage" in sample.labels:
                slot = totals.setdefault(sample.labels["stage"], [0.0, 0.0])
                if sample.name.endswith("_sum"):
                    slot[0] += sample.value
                elif sample.name.endswith("_count"):
                    slot[1] += sample.value
    return {stage: (seconds, calls) for stage, (seconds, calls) in totals.items()}


def stage_means(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> str:
    """Mean latency of each stage call made during one step (a post makes one call per stage it reaches)."""
    parts = []
    for stage in sorted(after):
        seconds = after[stage][0] - before.get(stage, (0.0, 0.0))[0]
        calls = after[stage][1] - before.get(stage, (0.0, 0.0))[1]
        if calls:
            parts.append(f"{stage} {1000 * seconds / calls:.0f}ms x{calls:.0f}")
    return ", ".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="1,2,4", help="comma-separated user counts, one step each")
    parser.add_argument("--duration", type=int, default=60, help="seconds per step (default 60)")
    parser.add_argument("--p95-limit-ms", type=float, default=5000.0)
    parser.add_argument("--host", help="run against this gateway instead of starting the embedded stack")
    parser.add_argument("--stages", default=",".join(STAGES), help="stages the embedded stack starts")
    parser.add_argument("--image-dir", help="photos to post (default: scikit-image's, else drawn ones)")
    parser.add_argument(
        "--repeat-share", type=float, help="share of repeated posts (default 0.30; 1.0: every LLM answer cached)"
    )
    parser.add_argument("--warm-hot", action="store_true", help="post the repeated posts once before measuring")
    parser.add_argument("--out", help="where locust's stats and the stack's logs go (default: a temp dir)")
    args = parser.parse_args(argv)
    user_counts = [int(u) for u in args.users.split(",") if u.strip()]
    out_dir = Path(args.out or tempfile.mkdtemp(prefix="gmner-load-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    # The locustfile reads these (locust runs as a child process and inherits them).
    if args.image_dir:
        os.environ["LOAD_IMAGE_DIR"] = str(Path(args.image_dir).resolve())
    if args.repeat_share is not None:
        os.environ["LOAD_REPEAT_SHARE"] = str(args.repeat_share)

    print(f"machine: {machine()}", flush=True)

    stack = None
    host = args.host
    if host is None:
        settings = EmbeddedSettings(
            **{f"{name}_port": free_port() for name in (*STAGES, "gateway", "llm")},
            stages=[s.strip() for s in args.stages.split(",") if s.strip()],
            log_dir=out_dir / "logs",
        )
        # A fresh LLM-cache namespace: fresh posts miss, repeated ones hit after their first time.
        stack = EmbeddedStack(settings, extra_env={"GMNER_LLM_CACHE_PREFIX": f"gmner:load:{uuid.uuid4().hex}:"})
        started = time.monotonic()
        stack.start()
        host = stack.gateway_url
        print(f"embedded stack ready in {time.monotonic() - started:.0f}s at {host} (logs: {out_dir / 'logs'})")
    try:
        warm_up(host)
        if args.warm_hot:
            warm_hot_posts(host)
        steps = []
        for users in user_counts:
            totals_before = stage_totals(host)
            step = run_step(host, users, args.duration, out_dir)
            steps.append(step)
            per_stage = stage_means(totals_before, stage_totals(host))
            print(
                f"users={step.users:<3} requests={step.requests:<5} rps={step.rps:6.2f} p50={step.p50_ms:7.0f}ms "
                f"p95={step.p95_ms:7.0f}ms p99={step.p99_ms:7.0f}ms failures={step.failures}",
                flush=True,
            )
            for name, (count, failures, p95) in sorted(step.by_name.items()):
                print(f"    {name:<24} requests={count:<5} failures={failures:<4} p95={p95:7.0f}ms")
            if per_stage:
                print(f"    mean stage call (gateway /metrics): {per_stage}", flush=True)
    finally:
        if stack is not None:
            stack.stop()

    passing = [s.users for s in steps if s.failures == 0 and s.p95_ms < args.p95_limit_ms]
    best = max(passing) if passing else None
    print(f"highest user count with p95 < {args.p95_limit_ms:.0f} ms and no failure: {best}")
    print(f"locust stats and logs: {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
