"""Both embedded LLM servers for real, with the bundled GGUF: the completions API the stages rely on."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engines.llm.cache import LLMCache
from engines.llm.client import LLMClient
from gmner.embedded.llm_model import GEMMA
from gmner.embedded.llm_server import LLAMA_CPP_PYTHON, LLAMA_SERVER, find_llama_server, llm_server_command
from gmner.embedded.settings import EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack
from shared.settings import LLMSettings
from tests.conftest import REDIS_URL, free_port

pytestmark = pytest.mark.integration

# setup.sh builds llama-server unless told not to; only then may its absence skip these tests.
BUILT = os.environ.get("GMNER_BUILD_LLAMA_SERVER", "1") != "0"


def require_built(settings: EmbeddedSettings) -> None:
    if find_llama_server(settings) is None:
        if BUILT:
            pytest.fail("llama-server is not built: run scripts/build_llama_server.sh (setup.sh does)")
        pytest.skip("GMNER_BUILD_LLAMA_SERVER=0: llama-server not built")


@pytest.fixture(params=[LLAMA_SERVER, LLAMA_CPP_PYTHON])
def llm_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, base URL) of a running server of that kind on a free port."""
    settings = EmbeddedSettings(
        profile="fast", llm_server=request.param, llm_port=free_port(), llm_threads=1, llm_parallel=2
    )
    if request.param == LLAMA_SERVER:
        require_built(settings)
    command = llm_server_command(settings, GEMMA.path(settings.cache_dir))
    assert command.kind == request.param
    base = f"http://{settings.host}:{settings.llm_port}/v1"
    with (tmp_path / "llm.log").open("wb") as log:
        process = subprocess.Popen(command.argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                assert process.poll() is None, (tmp_path / "llm.log").read_text(errors="replace")[-2000:]
                try:
                    if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "LLM server not ready after 180 s"
                time.sleep(0.3)
            yield request.param, base
        finally:
            process.terminate()
            process.wait(timeout=20)


def test_completions_api_honours_max_tokens_stop_and_reports_usage(llm_server: tuple[str, str]) -> None:
    _, base = llm_server
    body = {"model": "gemma-3-270m", "prompt": "Fruits:\n1. apple\n2. pear\n3.", "temperature": 0}
    capped = httpx.post(f"{base}/completions", json=body | {"max_tokens": 3}, timeout=120).json()
    assert capped["usage"]["completion_tokens"] <= 3
    assert capped["usage"]["prompt_tokens"] > 0
    stopped = httpx.post(f"{base}/completions", json=body | {"max_tokens": 40, "stop": ["\n"]}, timeout=120).json()
    text = stopped["choices"][0]["text"]
    assert text.strip() and "\n" not in text
    assert stopped["choices"][0]["finish_reason"] == "stop"
    assert stopped["usage"]["completion_tokens"] < 40


async def test_llm_client_concurrent_calls_on_the_real_server(llm_server: tuple[str, str]) -> None:
    _, base = llm_server
    settings = LLMSettings(base_url=base, cache_prefix=f"gmner:test:{uuid.uuid4().hex}:", timeout_s=240)
    client = LLMClient(settings, LLMCache(REDIS_URL, 60, app="test"))
    prompts = [f"Question: what is {name}?\nAnswer:" for name in ("Paris", "Berlin", "Paris", "Paris")]
    try:
        answers = await asyncio.gather(*(client.complete(p, max_tokens=12, stop=["\n"]) for p in prompts))
    finally:
        await client.aclose()
    assert all(answers) and answers[0] == answers[2] == answers[3]
    assert client.coalesced["process"] == 2  # the two repeats of Paris joined the first call
    assert client.cache.stats()["misses"] == 4


def test_the_embedded_stack_runs_llama_server(stack: EmbeddedStack) -> None:
    """`gmner serve` is this stack: its LLM process is the built llama-server and it answers the stages' calls."""
    require_built(stack.settings)
    llm = next(p for p in stack.processes if p.name == "llm")
    assert Path(str(llm.process.args[0])).name == "llama-server"
    post = {"text": f"Barack Obama visited Paris {uuid.uuid4().hex[:6]}", "tasks": "mner"}
    answer = httpx.post(f"{stack.gateway_url}/v1/gmner", json=post, timeout=600)
    assert answer.status_code == 200
    metrics = httpx.get(f"http://{stack.settings.host}:{stack.settings.llm_port}/metrics", timeout=10).text
    predicted = [line for line in metrics.splitlines() if line.startswith("llamacpp:tokens_predicted_total")]
    assert predicted and float(predicted[0].split()[-1]) > 0
