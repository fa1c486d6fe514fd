#!/usr/bin/env python3
"""Entrypoint of every gmner image, installed as `gmner-app`.

    gmner-app serve APP          run APP with uvicorn on the host/port of its settings (GMNER_<APP>_HOST/PORT)
    gmner-app health APP [PATH]  exit 0 when APP answers 200 on PATH (default /health): the HEALTHCHECK

The apps, their settings classes and default ports come from the registry `shared/app_registry.py`; the port comes from
the app's own settings class (each image sets GMNER_<APP>_PORT to that class's default, which tests/deploy
checks), so the container, its healthcheck and the settings never disagree about it.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from typing import Any

# The one registry of apps (factory, settings class, default port); it imports nothing heavy, so a healthcheck
# stays cheap.
from shared.app_registry import APPS


def load_settings(app: str) -> Any:
    return APPS[app].settings_class()()


def serve(app: str) -> int:
    import uvicorn

    settings = load_settings(app)
    uvicorn.run(
        APPS[app].factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Our middleware writes one JSON line per request; uvicorn's own access log would duplicate it.
        access_log=False,
        # One process per container: scale with replicas, so the in-flight limit holds per process.
        workers=1,
        timeout_graceful_shutdown=30,
        # h11 with a header read timeout (GMNER_HEADER_TIMEOUT_S): uvicorn alone waits forever for headers.
        http="shared.server:TimedH11Protocol",
    )
    return 0


def port_of(app: str) -> int:
    # What the settings would say (the environment, else the registry's default that the settings class takes)
    # without importing them: pydantic, numpy... would cost every healthcheck ~0.5 s CPU.
    value = os.environ.get(f"{APPS[app].env_prefix}PORT")
    return int(value) if value else APPS[app].port


def health(app: str, path: str = "/health", timeout_s: float = 4.0) -> int:
    url = f"http://127.0.0.1:{port_of(app)}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"{app} {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("serve", "health") or argv[2] not in APPS:
        print(f"usage: gmner-app serve|health {{{','.join(APPS)}}} [PATH]", file=sys.stderr)
        return 2
    if argv[1] == "serve":
        return serve(argv[2])
    return health(argv[2], *argv[3:4])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
