"""The load mix of locustfile.py, plus one JSON line per request in $SOAK_EVENTS (for deploy/load/soak.py)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from locust import events
from locustfile import GMNERUser  # noqa: F401  (the user class locust runs)

_EVENTS = open(os.environ["SOAK_EVENTS"], "a", buffering=1)  # noqa: SIM115  (open for the whole run)


@events.request.add_listener
def _record(name: str, response_time: float, response: Any = None, exception: Any = None, **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    degraded: list[str] = []
    if status == 200 and "[bad]" not in name:
        try:
            degraded = list(json.loads(response.text).get("degraded") or [])
        except (ValueError, AttributeError):
            degraded = ["unparsable"]
    line = {"t": time.time(), "name": name, "status": status, "ms": response_time, "degraded": degraded}
    if exception is not None and status == 0:
        line["error"] = type(exception).__name__
    _EVENTS.write(json.dumps(line) + "\n")
