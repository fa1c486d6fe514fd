"""The app shape of a stage that serves one model: load it at start-up, serve, report readiness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI

from shared.app import create_app
from shared.lifecycle import timed_load
from shared.settings import AppSettings

BackendT = TypeVar("BackendT")


def create_model_app(
    *,
    name: str,
    settings: AppSettings,
    router: APIRouter,
    description: str,
    backend_name: str,
    load: Callable[[], BackendT],
    make_serving: Callable[[BackendT], Any],
    backend: BackendT | None = None,
    torch_threads: int = 0,
) -> FastAPI:
    """`backend` lets a caller (tests) hand in an already loaded model; it then stays the caller's to close.

    The backend may define `async ready() -> str` (a readiness check) and `async aclose()` (cleanup).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if torch_threads:
            import torch

            torch.set_num_threads(torch_threads)
        loaded = backend
        if loaded is None:
            # In a thread: a slow load must not block /health, which liveness probes poll meanwhile.
            loaded = await asyncio.to_thread(timed_load, name, backend_name, load)
        app.state.backend = loaded
        app.state.serving = make_serving(loaded)
        try:
            yield
        finally:
            app.state.serving = None
            close: Callable[[], Awaitable[None]] | None = getattr(loaded, "aclose", None)
            if backend is None and close is not None:
                await close()

    async def readiness(app: FastAPI) -> dict[str, str]:
        if getattr(app.state, "serving", None) is None:
            return {"model": "loading"}
        ready: Callable[[], Awaitable[str]] | None = getattr(app.state.backend, "ready", None)
        return {"model": await ready() if ready is not None else "ok"}

    app = create_app(name=name, settings=settings, lifespan=lifespan, readiness=readiness, description=description)
    app.include_router(router)
    return app
