"""`gmner serve`: run the whole service on this machine (embedded mode) until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from typing import Any

from gmner.embedded.llm_model import BUNDLED_LLMS
from gmner.embedded.settings import PROFILES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="start Redis (if needed), the LLM server, every stage and the gateway on this machine",
        description="Embedded mode. Every setting can also come from GMNER_EMBEDDED_* environment variables.",
    )
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="gateway port (default 8000)")
    parser.add_argument("--stages", help="comma-separated stages to start (default: ner,expansion,ve,vg,sam)")
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        help="quality (default): Qwen2.5-1.5B writes knowledge and descriptions for every post; balanced: the same "
        "with Qwen2.5-0.5B (faster); fast: gemma-3-270m, knowledge only when a request asks (weaker on new names)",
    )
    parser.add_argument(
        "--llm",
        choices=list(BUNDLED_LLMS),
        help="bundled LLM to serve (default: the profile's)",
    )
    parser.add_argument(
        "--knowledge",
        choices=["on", "off"],
        help="whether requests that do not say get the LLM knowledge step (default: the profile's)",
    )
    parser.add_argument("--log-dir", help="write each process's output to DIR/<name>.log (default ~/.cache/gmner/logs)")
    parser.add_argument(
        "--verbose", action="store_true", help="stream every process's output to this terminal instead of log files"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gmner.embedded.settings import EmbeddedSettings
    from gmner.embedded.stack import EmbeddedStack, StackError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s gmner serve: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per readiness poll is noise
    # Only what was given on the command line, so GMNER_EMBEDDED_* variables fill the rest.
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["gateway_port"] = args.port
    if args.stages:
        overrides["stages"] = [s.strip() for s in args.stages.split(",") if s.strip()]
    if args.profile:
        overrides["profile"] = args.profile
    if args.llm:
        overrides["llm"] = args.llm
    if args.knowledge:
        overrides["knowledge_by_default"] = args.knowledge == "on"
    if args.log_dir:
        overrides["log_dir"] = args.log_dir
    if args.verbose:
        overrides["stream_output"] = True
    settings = EmbeddedSettings(**overrides)
    stack = EmbeddedStack(settings)
    if settings.logs_path is not None:
        print(f"gmner serve: each process writes to {settings.logs_path}/<name>.log (--verbose: here)", flush=True)
    # SIGTERM behaves like Ctrl-C so `kill` stops every child too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        started = time.monotonic()
        stack.start()
        url, elapsed = stack.gateway_url, time.monotonic() - started
        print(f"gmner is ready in {elapsed:.1f} s: {url}  (API docs {url}/docs)", flush=True)
        for proc in stack.processes:
            if proc.ready_url:
                print(f"  {proc.name:<10} {proc.ready_url.rsplit('/', 1)[0]}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        # A process that exits is restarted with backoff (logged) while the others keep serving; only a
        # crash loop (see RestartPolicy) or Ctrl-C stops the stack.
        while True:
            stack.check()
            time.sleep(0.5)
    except StackError as exc:
        print(f"gmner serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping...", flush=True)
        return 0
    finally:
        stack.stop()
