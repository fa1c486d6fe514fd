"""Soak under faults: the locust mix against the embedded stack while a stage (or Redis, or the LLM) is
killed every few minutes; the stack's supervisor restarts it. Prints what happened.

    .venv/bin/python deploy/load/soak.py --duration 1800 --users 2 --fault-every 150

The stack gets its own ports and its own redis-server (never a shared one: Redis is one of the victims).
Reported: requests by status, degraded answers by stage, answers slower than the gateway's deadline (must be
0), gateway /ready results, every fault with the time until the process answered again, restarts, and the
RSS of every process at the start and the end. Everything also goes to <out>/soak.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from run_load import free_port, machine, warm_up  # noqa: E402

from gmner.embedded.settings import EmbeddedSettings  # noqa: E402
from gmner.embedded.stack import EmbeddedStack, port_open  # noqa: E402
from shared.app_registry import STAGES  # noqa: E402

VICTIMS = ("ve", "redis", "ner", "vg", "llm", "sam", "expansion")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def snapshot(stack: EmbeddedStack) -> dict[str, float]:
    return {p.name: rss_mb(p.process.pid) for p in stack.processes}


def answers_again(stack: EmbeddedStack, name: str) -> bool:
    proc = next(p for p in stack.processes if p.name == name)
    if proc.process.poll() is not None:
        return False
    if not proc.ready_url:  # Redis: the port answers
        return port_open(stack.settings.host, stack.settings.redis_port)
    try:
        return httpx.get(proc.ready_url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def fault_loop(stack: EmbeddedStack, every_s: float, stop: threading.Event, faults: list[dict]) -> None:
    names = {p.name for p in stack.processes}
    for victim in itertools.cycle([v for v in VICTIMS if v in names]):
        if stop.wait(every_s):
            return
        proc = next(p for p in stack.processes if p.name == victim)
        killed_at = time.monotonic()
        pid = proc.process.pid
        os.kill(pid, signal.SIGKILL)
        fault: dict = {"process": victim, "pid": pid, "at_s": round(time.time() - START, 1), "back_after_s": None}
        faults.append(fault)
        print(f"[{fault['at_s']:7.1f}s] killed {victim} (pid {pid})", flush=True)
        while not stop.is_set() and time.monotonic() - killed_at < every_s - 1:
            # A new pid first: right after the kill the old process may not be reaped yet (its port still open).
            if proc.process.pid != pid and answers_again(stack, victim):
                fault["back_after_s"] = round(time.monotonic() - killed_at, 1)
                print(f"           {victim} answers again after {fault['back_after_s']}s", flush=True)
                break
            time.sleep(0.5)


def ready_loop(url: str, stop: threading.Event, results: Counter[str]) -> None:
    while not stop.wait(5):
        try:
            results[str(httpx.get(f"{url}/ready", timeout=2).status_code)] += 1
        except httpx.HTTPError as exc:
            results[type(exc).__name__] += 1


START = time.time()


def main(argv: list[str] | None = None) -> int:
    global START
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=1800, help="seconds of load (default 1800)")
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--fault-every", type=float, default=150.0, help="seconds between kills (default 150)")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--out", help="stats, events and the stack's logs (default: a temp dir)")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="gmner-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}", flush=True)
    ports = {f"{name}_port": free_port() for name in (*STAGES, "gateway", "llm", "redis")}
    settings = EmbeddedSettings(
        stages=[s for s in args.stages.split(",") if s], log_dir=out / "logs", ready_timeout_s=900, **ports
    )
    stack = EmbeddedStack(settings, extra_env={"GMNER_LLM_CACHE_PREFIX": f"gmner:soak:{uuid.uuid4().hex}:"})
    deadline_s = float(os.environ.get("GMNER_GATEWAY_DEADLINE_S", "120"))
    events_path = out / "events.jsonl"
    stop = threading.Event()
    faults: list[dict] = []
    ready: Counter[str] = Counter()
    with stack:
        stack.supervise()
        warm_up(stack.gateway_url)
        START = time.time()
        rss_start = snapshot(stack)
        print(f"stack ready; RSS MB at start: {rss_start}", flush=True)
        threads = [
            threading.Thread(target=fault_loop, args=(stack, args.fault_every, stop, faults), daemon=True),
            threading.Thread(target=ready_loop, args=(stack.gateway_url, stop, ready), daemon=True),
        ]
        for thread in threads:
            thread.start()
        command = [
            sys.executable, "-m", "locust", "-f", str(Path(__file__).with_name("soak_locustfile.py")), "--headless",
            "--host", stack.gateway_url, "--users", str(args.users), "--spawn-rate", str(args.users),
            "--run-time", f"{args.duration}s", "--stop-timeout", "180", "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip
        env = dict(os.environ) | {"SOAK_EVENTS": str(events_path)}
        with (out / "locust.log").open("wb") as log:
            subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=log, stderr=subprocess.STDOUT)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        rss_end = snapshot(stack)
        restarts = stack.restarts()
        supervisor_error = str(stack.supervisor_error) if stack.supervisor_error else None
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [json.loads(line) for line in events_path.read_text().splitlines() if line.strip()]
    good = [e for e in lines if "[bad]" not in e["name"]]
    statuses = Counter(str(e["status"]) for e in lines)
    degraded_by_stage = Counter(stage for e in good for stage in e["degraded"])
    report = {
        "duration_s": args.duration,
        "users": args.users,
        "fault_every_s": args.fault_every,
        "requests": len(lines),
        "statuses": dict(statuses),
        "good_requests": len(good),
        "good_200": sum(1 for e in good if e["status"] == 200),
        "degraded_answers": sum(1 for e in good if e["degraded"]),
        "degraded_by_stage": dict(degraded_by_stage),
        "bad_requests_4xx": sum(1 for e in lines if "[bad]" in e["name"] and 400 <= e["status"] < 500),
        "deadline_s": deadline_s,
        "past_deadline": sum(1 for e in lines if e["ms"] > deadline_s * 1000),
        "max_ms": round(max((e["ms"] for e in lines), default=0.0)),
        "ready_polls": dict(ready),
        "faults": faults,
        "restarts": restarts,
        "supervisor_error": supervisor_error,
        "rss_mb_start": rss_start,
        "rss_mb_end": rss_end,
        "load_average_at_end": load,
    }
    (out / "soak.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2), flush=True)
    print(f"details in {out}", flush=True)
    return 0 if report["past_deadline"] == 0 and supervisor_error is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
