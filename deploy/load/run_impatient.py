"""Impatient clients against the embedded stack, with cancellation on and off: what abandoned requests cost.

    .venv/bin/python deploy/load/run_impatient.py --users 4,8 --duration 120
    .venv/bin/python deploy/load/run_impatient.py --cancellation on --users 4   # one setting only

For each setting (the stack is started anew with GMNER_CANCEL_ON_DISCONNECT=true/false) and user count: the
posts answered per second, the p95 time to an answer (from the first attempt, retries included), the p95 of
the attempts that were answered, the attempts given up, and the LLM tokens generated per answered post
(llama-server's `llamacpp:tokens_predicted_total`, read after the abandoned work has drained). The clients are
deploy/load/impatient_locustfile.py (LOAD_PATIENCE_S, LOAD_RETRIES, LOAD_TASKS, LOAD_KNOWLEDGE).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from run_load import _percentile, _times, free_port, machine, warm_up  # noqa: E402

from gmner.embedded.settings import EmbeddedSettings  # noqa: E402
from gmner.embedded.stack import EmbeddedStack  # noqa: E402
from shared.app_registry import STAGES  # noqa: E402

LOCUSTFILE = Path(__file__).with_name("impatient_locustfile.py")
TOKENS = "llamacpp:tokens_predicted_total"
# The locustfile's request names (not imported: importing locust monkey-patches this process with gevent).
ATTEMPT, ANSWERED, ABANDONED = "/v1/gmner [attempt]", "post [answered]", "post [abandoned]"
# After a step, abandoned work may still run (that is what cancellation off means): wait for it, bounded.
DRAIN_S = 300


@dataclass
class Result:
    cancellation: str
    users: int
    answered: int
    abandoned: int
    attempts: int
    gave_up: int
    answered_per_s: float
    p95_answer_ms: float
    p95_attempt_ms: float
    tokens: float  # of the LLM completions that finished (see llm_tokens)
    decodes: float  # llama-server's decode steps: all generation work, cancelled or not

    @property
    def tokens_per_answer(self) -> float:
        return self.tokens / self.answered if self.answered else float("nan")

    def line(self) -> str:
        return (
            f"cancellation={self.cancellation:<3} users={self.users:<2} answered={self.answered:<4} "
            f"({self.answered_per_s:.3f}/s) p95 to answer={self.p95_answer_ms:7.0f}ms "
            f"p95 attempt={self.p95_attempt_ms:7.0f}ms attempts={self.attempts} gave up={self.gave_up} "
            f"abandoned posts={self.abandoned} LLM tokens={self.tokens:.0f} ({self.tokens_per_answer:.0f}/answer) "
            f"decode steps={self.decodes:.0f} ({self.decodes / max(self.answered, 1):.0f}/answer)"
        )


def llm_metrics(llm_url: str) -> dict[str, float]:
    """llama-server's /metrics (on with --metrics) as {name without `llamacpp:`: value}; {} where there is none."""
    base = llm_url.removesuffix("/v1")
    try:
        text = httpx.get(f"{base}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    values = {}
    for line in text.splitlines():
        if line.startswith("llamacpp:"):
            name, value = line.split()[:2]
            values[name.removeprefix("llamacpp:")] = float(value)
    return values


def llm_tokens(llm_url: str) -> float:
    """llama-server's generated-token counter, or NaN where there is none. It counts the tokens of completions
    that finished: a completion cancelled midway (its client left) adds nothing, though its tokens were
    generated; `n_decode_total` (decode steps, whoever they were for) and `llm_busy` see that work."""
    return llm_metrics(llm_url).get(TOKENS.removeprefix("llamacpp:"), float("nan"))


def llm_busy(llm_url: str) -> bool:
    """Whether llama-server is generating or has requests waiting."""
    metrics = llm_metrics(llm_url)
    return bool(metrics.get("requests_processing", 0) or metrics.get("requests_deferred", 0))


def in_flight(host: str) -> float:
    """The requests an app is serving now (its own /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(f"{host}/metrics", timeout=10).text
    except httpx.HTTPError:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gmner_in_flight_requests"
    )


def drain(stack: EmbeddedStack) -> None:
    """Until no request is in flight in any app and the LLM server is idle (bounded by DRAIN_S)."""
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        busy = any(in_flight(stack.url(name)) for name in stack.settings.stages) or in_flight(stack.gateway_url)
        if not busy and not llm_busy(stack.llm_url):
            return
        time.sleep(1)


def run_step(stack: EmbeddedStack, cancellation: str, users: int, duration_s: int, out_dir: Path) -> Result:
    stats = out_dir / f"{cancellation}-u{users}"
    before = llm_metrics(stack.llm_url)
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", stack.gateway_url,
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{duration_s}s",
        "--stop-timeout", "60", "--json-file", str(stats), "--only-summary", "--loglevel", "WARNING",
    ]  # fmt: skip
    with stats.with_suffix(".log").open("wb") as log:
        subprocess.run(command, cwd=ROOT, check=False, timeout=duration_s + 180, stdout=log, stderr=subprocess.STDOUT)
    drain(stack)
    after = llm_metrics(stack.llm_url)
    tokens = after.get("tokens_predicted_total", 0.0) - before.get("tokens_predicted_total", 0.0)
    decodes = after.get("n_decode_total", 0.0) - before.get("n_decode_total", 0.0)
    entries = {entry["name"]: entry for entry in json.loads(stats.with_suffix(".json").read_text())}
    empty = {"num_requests": 0, "num_failures": 0, "response_times": {}}
    answered = entries.get(ANSWERED, empty)
    abandoned = entries.get(ABANDONED, empty)
    attempts = entries.get(ATTEMPT, empty)
    # Locust keeps one histogram per name, failures included: the attempts' p95 counts the given-up ones (at
    # the patience) too, while the answered posts' times are their own.
    attempt_times: Counter[int] = _times(attempts) if attempts["response_times"] else Counter()
    return Result(
        cancellation=cancellation,
        users=users,
        answered=answered["num_requests"],
        abandoned=abandoned["num_requests"],
        attempts=attempts["num_requests"],
        gave_up=attempts["num_failures"],
        answered_per_s=answered["num_requests"] / duration_s,
        p95_answer_ms=_percentile(_times(answered), 0.95) if answered["response_times"] else float("nan"),
        p95_attempt_ms=_percentile(attempt_times, 0.95) if attempt_times else float("nan"),
        tokens=tokens,
        decodes=decodes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", default="4,8", help="comma-separated user counts, one step each")
    parser.add_argument("--duration", type=int, default=120, help="seconds per step (default 120)")
    parser.add_argument("--cancellation", choices=["both", "on", "off"], default="both")
    parser.add_argument("--stages", default="ner,expansion", help="stages the embedded stack starts")
    parser.add_argument("--patience", type=float, help="seconds a client waits before it gives up (default 5)")
    parser.add_argument("--out", help="where locust's stats and the stack's logs go (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.patience is not None:
        os.environ["LOAD_PATIENCE_S"] = str(args.patience)
    user_counts = [int(u) for u in args.users.split(",") if u.strip()]
    settings_to_run = ["on", "off"] if args.cancellation == "both" else [args.cancellation]
    out_dir = Path(args.out or tempfile.mkdtemp(prefix="gmner-impatient-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}", flush=True)
    results: list[Result] = []
    for cancellation in settings_to_run:
        settings = EmbeddedSettings(
            **{f"{name}_port": free_port() for name in (*STAGES, "gateway", "llm")},
            stages=[s.strip() for s in args.stages.split(",") if s.strip()],
            log_dir=out_dir / f"logs-{cancellation}",
        )
        extra_env = {
            "GMNER_LLM_CACHE_PREFIX": f"gmner:impatient:{uuid.uuid4().hex}:",
            "GMNER_CANCEL_ON_DISCONNECT": "true" if cancellation == "on" else "false",
        }
        with EmbeddedStack(settings, extra_env=extra_env) as stack:
            warm_up(stack.gateway_url)
            for users in user_counts:
                result = run_step(stack, cancellation, users, args.duration, out_dir)
                results.append(result)
                print(result.line(), flush=True)
    print(f"locust stats and logs: {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
