"""The page against a real gateway that requires API keys: it asks for a key, sends it, and says when a key is
refused. The gateway's stages are down on purpose (an accepted key then gets NER's 503, not 401/403)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import hash_key
from tests.conftest import closed_port_url, free_port
from tests.integration.test_browser import POST, browser, submit  # noqa: F401  (browser: a fixture)

pytestmark = pytest.mark.integration

KEY = "gmner_browser_test_key"


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("keys")
    keys = folder / "keys.txt"
    keys.write_text(f"browser:{hash_key(KEY)}\n")
    port = free_port()
    env = dict(os.environ) | {
        "GMNER_GATEWAY_API_KEYS_FILE": str(keys),
        "GMNER_GATEWAY_NER_URL": closed_port_url(),
        "GMNER_GATEWAY_EXPANSION_URL": closed_port_url(),
        "GMNER_GATEWAY_VE_URL": "",
        "GMNER_GATEWAY_VG_URL": "",
        "GMNER_GATEWAY_SAM_URL": "",
    }
    command = [sys.executable, "-m", "uvicorn", "gateway.app:create_app", "--factory", "--port", str(port)]
    with (folder / "gateway.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None, Path(folder / "gateway.log").read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def keyed_page(browser: Any, keyed_gateway: str) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{keyed_gateway}/")
    yield page
    context.close()


def test_the_page_asks_for_a_key_and_sends_it(keyed_page: Any) -> None:
    page = keyed_page
    assert not page.is_visible("#api-key")
    submit(page, POST, None, task="mner")
    page.wait_for_selector("#error:not([hidden])")
    assert "needs an API key" in page.inner_text("#error")
    assert page.is_visible("#api-key")

    page.fill("#api-key", "wrong")
    page.click("#submit")
    page.wait_for_function("document.getElementById('error').innerText.includes('not accepted')")

    page.fill("#api-key", KEY)
    page.click("#submit")
    # Past the key check: NER is down here, so the gateway's 503 is what the page reports.
    page.wait_for_function("document.getElementById('error').innerText.includes('unavailable')")
    assert page.evaluate("sessionStorage.getItem('gmner-api-key')") == KEY


def test_predict_takes_a_key_from_the_flag_or_the_environment(
    keyed_gateway: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gmner.cli import main

    monkeypatch.delenv("GMNER_API_KEY", raising=False)
    base = ["predict", "--text", POST, "--tasks", "mner", "--url", keyed_gateway, "--retries", "0"]
    assert main(base) == 1
    assert "401 api_key_required" in capsys.readouterr().err
    assert main([*base, "--api-key", "wrong"]) == 1
    assert "403 api_key_invalid" in capsys.readouterr().err
    # Accepted: the request gets as far as NER, which is down here.
    assert main([*base, "--api-key", KEY]) == 1
    err = capsys.readouterr().err
    assert "503" in err and "api_key" not in err
    monkeypatch.setenv("GMNER_API_KEY", KEY)
    assert main(base) == 1
    assert "503" in capsys.readouterr().err
