"""The one FastAPI dependency that hands a route its app's serving object.

Each router declares its alias once, typed with its own serving class:

    ServingDep = Annotated[ServingNER, Depends(get_serving)]
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from shared.errors import ServiceUnavailable

# A model load takes seconds to minutes: a client polling every second would only add load meanwhile.
LOADING_RETRY_AFTER_S = 5


def get_serving(request: Request) -> Any:
    """The app's `state.serving`; a 503 with Retry-After while it is not there (the lifespan has not built it yet
    or has torn it down), so a request never meets a half-started app as a 500."""
    serving = getattr(request.app.state, "serving", None)
    if serving is None:
        app = getattr(request.app.state, "app_name", "this app")
        raise ServiceUnavailable(
            "model_not_loaded",
            f"{app} is starting (loading its model) and cannot serve yet; retry in {LOADING_RETRY_AFTER_S} s.",
            headers={"Retry-After": str(LOADING_RETRY_AFTER_S)},
        )
    return serving
