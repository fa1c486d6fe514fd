"""The load-test tooling: the posts it sends, how the locustfile judges answers, run_load's percentiles."""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib.util
import io
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image

from tests.conftest import free_port
from tests.deploy.helpers import ROOT

LOAD_DIR = ROOT / "deploy" / "load"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(LOAD_DIR))
    try:
        spec = importlib.util.spec_from_file_location(f"deploy_load_{name}", LOAD_DIR / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(LOAD_DIR))


posts = _load("posts")
run_load = _load("run_load")


def test_posts_name_one_to_six_entities() -> None:
    names = [re.escape(n) for group in posts.SLOTS.values() for n in group]
    pattern = re.compile("|".join(sorted(names, key=len, reverse=True)))
    rng = random.Random(0)
    counts = Counter(len(pattern.findall(posts.make_post(rng))) for _ in range(300))
    assert set(counts) <= set(range(1, 7)) and {1, 6} <= set(counts), counts


def test_hot_posts_are_fixed_and_half_have_an_image() -> None:
    again = _load("posts")
    assert again.HOT_POSTS == posts.HOT_POSTS
    with_image = [image for _, image in posts.HOT_POSTS if image is not None]
    assert len(with_image) == len(posts.HOT_POSTS) // 2
    Image.open(io.BytesIO(with_image[0])).verify()


def test_percentiles_of_locust_histograms() -> None:
    times = Counter({100: 90, 5000: 9, 9000: 1})
    assert run_load._percentile(times, 0.50) == 100
    assert run_load._percentile(times, 0.95) == 5000
    assert run_load._percentile(times, 0.99) == 5000
    assert run_load._percentile(times, 1.0) == 9000


class StubGateway:
    """Answers /v1/gmner like the gateway does for good and bad posts, or with `forced_status`."""

    def __init__(self) -> None:
        self.forced_status: int | None = None
        self.port = free_port()
        app = FastAPI()

        @app.post("/v1/gmner")
        async def gmner(request: Request) -> JSONResponse:
            if self.forced_status is not None:
                return JSONResponse({"error": {"code": "boom"}}, status_code=self.forced_status)
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("application/json"):
                try:
                    body: dict[str, Any] = json.loads(await request.body())
                except ValueError:
                    return JSONResponse({"error": {"code": "malformed_json"}}, status_code=400)
                image = body.get("image_b64")
                if image:
                    try:
                        Image.open(io.BytesIO(base64.b64decode(image))).verify()
                    except (binascii.Error, OSError):
                        return JSONResponse({"error": {"code": "bad_image"}}, status_code=415)
            elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
                body = dict(await request.form())
            else:
                return JSONResponse({"error": {"code": "unsupported_content_type"}}, status_code=415)
            if not body.get("text") or body.get("tasks", "smner") not in ("mner", "gmner", "smner"):
                return JSONResponse({"error": {"code": "invalid_request"}}, status_code=422)
            return JSONResponse({"request_id": "rid-1", "entities": []}, headers={"X-Request-ID": "rid-1"})

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def stub_gateway() -> Iterator[StubGateway]:
    stub = StubGateway()
    stub.thread.start()
    deadline = time.monotonic() + 20
    while not stub.server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield stub
    stub.server.should_exit = True
    stub.thread.join(timeout=10)


def _locust(
    host: str, tmp_path: Path, seconds: int = 6, locustfile: str = "locustfile.py", **env: str
) -> dict[str, tuple[int, int]]:
    stats = tmp_path / "stats"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOAD_DIR / locustfile), "--headless", "--host", host,
        "--users", "4", "--spawn-rate", "4", "--run-time", f"{seconds}s", "--json-file", str(stats),
        "--only-summary", "--loglevel", "ERROR",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, env={**_clean_env(), **env})
    assert stats.with_suffix(".json").exists(), result.stderr[-2000:]
    entries = json.loads(stats.with_suffix(".json").read_text())
    return {e["name"]: (e["num_requests"], e["num_failures"]) for e in entries}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("LOAD_", "GMNER_"))}


# Only looked up, never imported here: importing locust monkey-patches this process with gevent.
needs_locust = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust is not installed")


@needs_locust
def test_locustfile_counts_right_answers_as_successes(stub_gateway: StubGateway, tmp_path: Path) -> None:
    stub_gateway.forced_status = None
    by_name = _locust(stub_gateway.url, tmp_path)
    assert sum(n for n, _ in by_name.values()) > 5, by_name
    assert all(failures == 0 for _, failures in by_name.values()), by_name


@needs_locust
def test_locustfile_counts_server_errors_as_failures(stub_gateway: StubGateway, tmp_path: Path) -> None:
    stub_gateway.forced_status = 503
    try:
        by_name = _locust(stub_gateway.url, tmp_path, seconds=4)
    finally:
        stub_gateway.forced_status = None
    assert by_name and all(requests == failures > 0 for requests, failures in by_name.values()), by_name


class ForgetfulGateway:
    """Answers a post only the second time it sees it, after `slow_s` the first time: an impatient client gives up
    on the first attempt and gets its answer from the retry."""

    def __init__(self, slow_s: float) -> None:
        self.seen: set[str] = set()
        self.port = free_port()
        app = FastAPI()

        @app.post("/v1/gmner")
        async def gmner(request: Request) -> JSONResponse:
            text = json.loads(await request.body())["text"]
            if text not in self.seen:
                self.seen.add(text)
                await asyncio.sleep(slow_s)
            return JSONResponse({"request_id": "rid", "entities": []})

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)


@needs_locust
def test_impatient_users_give_up_retry_and_count_answered_posts(tmp_path: Path) -> None:
    stub = ForgetfulGateway(slow_s=2.0)
    stub.thread.start()
    deadline = time.monotonic() + 20
    while not stub.server.started:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        by_name = _locust(
            f"http://127.0.0.1:{stub.port}",
            tmp_path,
            seconds=5,
            locustfile="impatient_locustfile.py",
            LOAD_PATIENCE_S="0.5",
            LOAD_RETRY_WAIT_S="0",
        )
    finally:
        stub.server.should_exit = True
        stub.thread.join(timeout=10)
    attempts, gave_up = by_name["/v1/gmner [attempt]"]
    answered, _ = by_name["post [answered]"]
    assert gave_up > 0 and answered > 0 and attempts >= answered + gave_up, by_name
    assert "post [abandoned]" not in by_name, by_name  # every post was answered by its retry
