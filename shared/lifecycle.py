"""Start-up helpers shared by the apps' lifespans."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from shared.metrics import MODEL_LOAD_SECONDS

logger = logging.getLogger(__name__)
T = TypeVar("T")


def timed_load(app: str, backend: str, load: Callable[[], T]) -> T:
    """Run `load`, record its duration as the model-load metric, and log it."""
    started = time.perf_counter()
    loaded = load()
    elapsed = time.perf_counter() - started
    MODEL_LOAD_SECONDS.labels(app, backend).set(elapsed)
    logger.info("model loaded", extra={"backend": backend, "load_s": round(elapsed, 2)})
    return loaded
