"""The one serving dependency: every app answers 503 `model_not_loaded` with Retry-After until it can serve."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from shared.dependencies import LOADING_RETRY_AFTER_S, get_serving
from shared.model_app import create_model_app
from shared.settings import AppSettings
from tests.visual_testing import expr


def _ner() -> FastAPI:
    from services.ner.app import create_app

    return create_app()


def _expansion() -> FastAPI:
    from services.expansion.app import create_app

    return create_app()


def _ve() -> FastAPI:
    from services.ve.app import create_app

    return create_app()


def _vg() -> FastAPI:
    from services.vg.app import create_app

    return create_app()


def _sam() -> FastAPI:
    from services.sam.app import create_app

    return create_app()


def _gateway() -> FastAPI:
    from gateway.app import create_app

    return create_app()


TEXT = "RT @Evode7: Actor Idris Elba became the first male to make the cover of Maxim"
# app -> (factory, a valid request, what /ready says before the lifespan has built the serving object)
APPS: dict[str, tuple[Callable[[], FastAPI], tuple[str, dict[str, Any]], dict[str, str]]] = {
    "ner": (_ner, ("/v1/ner", {"text": TEXT}), {"model": "loading"}),
    "expansion": (
        _expansion,
        ("/v1/expand", {"text": TEXT, "entities": [{"text": "Maxim", "type": "ORG"}]}),
        {"llm": "starting"},
    ),
    "ve": (_ve, ("/v1/entail", {"image_b64": "aGVsbG8=", "expressions": [expr("Idris Elba")]}), {"model": "loading"}),
    "vg": (_vg, ("/v1/ground", {"image_b64": "aGVsbG8=", "expressions": [expr("Idris Elba")]}), {"model": "loading"}),
    "sam": (_sam, ("/v1/segment", {"image_b64": "aGVsbG8=", "boxes": [[1, 2, 30, 40]]}), {"model": "loading"}),
    "gateway": (_gateway, ("/v1/gmner", {"text": TEXT}), {"gateway": "starting"}),
}


@pytest.mark.parametrize("app_name", list(APPS))
def test_every_app_answers_503_with_retry_after_until_its_serving_is_built(app_name: str) -> None:
    factory, (path, body), loading_checks = APPS[app_name]
    # No `with`: the lifespan does not run, so the app is as it is before its model has loaded.
    client = TestClient(factory())
    response = client.post(path, json=body)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(LOADING_RETRY_AFTER_S)
    error = response.json()["error"]
    assert error["code"] == "model_not_loaded" and error["stage"] == app_name
    assert app_name in error["message"]
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == loading_checks
    assert client.get("/health").status_code == 200


class _Toy:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class _ToyServing:
    def __init__(self, toy: _Toy) -> None:
        self.toy = toy


ToyServingDep = Annotated[_ToyServing, Depends(get_serving)]
toy_router = APIRouter()


@toy_router.post("/v1/toy")
async def toy(serving: ToyServingDep) -> dict[str, bool]:
    return {"served": not serving.toy.closed}


async def test_a_model_app_is_503_while_loading_then_serves_then_503_after_stopping() -> None:
    started, release = threading.Event(), threading.Event()
    toy_model = _Toy()

    def load() -> _Toy:
        started.set()
        assert release.wait(30), "the test never released the load"
        return toy_model

    app = create_model_app(
        name="toy",
        settings=AppSettings(),
        router=toy_router,
        description="",
        load=load,
        make_serving=_ToyServing,
        backend_name="toy",
    )
    lifespan = app.router.lifespan_context(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://toy") as client:
        starting = asyncio.create_task(lifespan.__aenter__())
        assert await asyncio.to_thread(started.wait, 30)
        loading = await client.post("/v1/toy")
        assert loading.status_code == 503 and loading.json()["error"]["code"] == "model_not_loaded"
        assert loading.headers["Retry-After"] == str(LOADING_RETRY_AFTER_S)
        assert (await client.get("/ready")).json() == {"ready": False, "app": "toy", "checks": {"model": "loading"}}

        release.set()
        await starting
        assert (await client.post("/v1/toy")).json() == {"served": True}
        assert (await client.get("/ready")).json()["checks"] == {"model": "ok"}

        await lifespan.__aexit__(None, None, None)
        assert toy_model.closed  # loaded by the app, so closed by it
        assert (await client.post("/v1/toy")).status_code == 503
