"""The web page reading the streamed answer in a real browser (Debian's Chromium, as test_browser.py), against
the real gateway app with fake stages (test_serving_unit.py's) whose visual stages are slow: the entities are
listed before the boxes arrive, then the boxes and masks fill in. No model is loaded."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.overlay_router import STATIC_DIR, page_router
from gateway.router import router
from shared.base_app import create_base_app
from shared.settings import AppSettings
from tests.conftest import free_port
from tests.gateway.test_serving_unit import FakeStages, make_serving
from tests.integration.test_browser import CHROMIUM, CHROMIUM_ARGS, need_browser

pytestmark = pytest.mark.integration

# How long VG takes here: long enough for the page to be seen between NER's answer and the boxes.
SLOW_VG_S = 2.0


class SlowGround(FakeStages):
    async def slow_vg(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(SLOW_VG_S)
        return self.vg(request)


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    stages = SlowGround()
    stages.override["vg"] = stages.slow_vg
    serving = make_serving(stages)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.serving = serving
        yield
        await serving.clients.aclose()

    async def readiness(_: FastAPI) -> dict[str, str]:
        return {"gateway": "ok"}

    app = create_base_app(name="gateway", settings=AppSettings(log_json=False), lifespan=lifespan, readiness=readiness)
    app.include_router(router)
    app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(gateway: str) -> Iterator[Any]:
    sync_playwright = need_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{gateway}/")
        yield page
        context.close()
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_page_lists_entities_before_the_boxes_then_fills_them_in(page: Any, tmp_path: Path) -> None:
    from tests.gateway.test_serving_unit import IMAGE

    image = tmp_path / "post.png"
    image.write_bytes(IMAGE)
    page.fill("#text", "Idris Elba flew to London")
    page.set_input_files("#image", str(image))
    page.check('input[name="tasks"][value="smner"]')
    page.click("#submit")

    # NER, expansion and VE have answered, VG not yet: the rows are there, the boxes are not.
    page.wait_for_selector("#overlay[data-state=partial]", timeout=20_000)
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll("#entities tbody tr[data-index] .groundable"))
                 .some(cell => cell.textContent.startsWith("yes"))""",
        timeout=20_000,
    )
    partial = page.evaluate(
        """() => Array.from(document.querySelectorAll("#entities tbody tr[data-index]")).map(tr => ({
            entity: tr.querySelector(".entity").textContent,
            expression: tr.querySelector(".expression").textContent,
            groundable: tr.querySelector(".groundable").textContent,
        }))"""
    )
    assert [row["entity"] for row in partial] == ["Idris Elba", "London"]
    assert partial[0]["expression"] == "Idris Elba (PER) – described"
    assert partial[0]["groundable"] == "yes, no box"  # VE said yes; VG is still working
    assert page.get_attribute("#overlay", "data-state") == "partial"

    page.wait_for_selector("#overlay[data-state=ready]", timeout=20_000)
    answer = page.evaluate("() => window.gmnerLastAnswer")
    assert answer["entities"][0]["box"] is not None and answer["entities"][0]["mask"] is not None
    assert page.get_attribute("#overlay", "data-drawn") == "1"
    assert page.inner_text("#entities tbody tr[data-index='0'] .groundable").startswith("yes")
    assert page.is_hidden("#error")
