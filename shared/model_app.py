"""The app shape of a stage: load its model(s) at start-up, build its serving object, report readiness.

Every stage (NER, expansion, VE, VG, SAM) is built here, so they share one lifecycle: `app.state.serving` is
None until the load is done (routes answer 503 through `shared.dependencies.get_serving`, `/ready` says
`loading_checks`), and the loaded object is closed when the app stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI

from shared.base_app import create_base_app
from shared.lifecycle import timed_load
from shared.settings import AppSettings

BackendT = TypeVar("BackendT")


def create_model_app(
    *,
    name: str,
    settings: AppSettings,
    router: APIRouter,
    description: str,
    load: Callable[[], BackendT],
    make_serving: Callable[[BackendT], Any],
    backend_name: str | None = None,
    backend: BackendT | None = None,
    torch_threads: int = 0,
    readiness: Callable[[BackendT], Awaitable[dict[str, str]]] | None = None,
    loading_checks: dict[str, str] | None = None,
) -> FastAPI:
    """`load` runs once at start-up, in a thread; what it returns ("the backend": a model, or whatever bundle of
    models and clients the stage needs) is handed to `make_serving`.

    - `backend_name`: the load is timed under this label (the model-load metric); None when `load` times its
      own parts, or has nothing worth timing (an HTTP client).
    - `backend`: an already loaded one (tests); it then stays the caller's to close. Otherwise the backend's
      `async aclose()`, if it has one, runs when the app stops.
    - `readiness(backend)`: the checks of `/ready` once loaded. Default: `{"model": await backend.ready()}`
      when the backend has `async ready() -> str`, else `{"model": "ok"}`.
    - `loading_checks`: what `/ready` says before that (a 503), default `{"model": "loading"}`.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if torch_threads:
            import torch

            torch.set_num_threads(torch_threads)
        loaded = backend
        if loaded is None:
            timed = (lambda: timed_load(name, backend_name, load)) if backend_name is not None else load
            # In a thread, so the event loop still answers (503 through get_serving) wherever requests can arrive
            # during start-up: in-process ASGI clients. (uvicorn itself listens only once the lifespan has started.)
            loaded = await asyncio.to_thread(timed)
        app.state.backend = loaded
        app.state.serving = make_serving(loaded)
        try:
            yield
        finally:
            app.state.serving = None
            close: Callable[[], Awaitable[None]] | None = getattr(loaded, "aclose", None)
            if backend is None and close is not None:
                await close()

    async def app_readiness(app: FastAPI) -> dict[str, str]:
        if getattr(app.state, "serving", None) is None:
            return dict(loading_checks or {"model": "loading"})
        loaded = app.state.backend
        if readiness is not None:
            return await readiness(loaded)
        ready: Callable[[], Awaitable[str]] | None = getattr(loaded, "ready", None)
        return {"model": await ready() if ready is not None else "ok"}

    app = create_base_app(
        name=name, settings=settings, lifespan=lifespan, readiness=app_readiness, description=description
    )
    app.include_router(router)
    return app
