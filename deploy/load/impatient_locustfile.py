"""Impatient clients: `locust -f deploy/load/impatient_locustfile.py --host http://127.0.0.1:8000`.

A realistic client gives up: each user posts a fresh post (nothing cached), waits at most LOAD_PATIENCE_S
(default 5) for the answer, then drops the connection and sends the same post again, up to LOAD_RETRIES times
(default 2) after LOAD_RETRY_WAIT_S (default 0.5). With cancellation on, the gateway stops what a dropped
request was doing; off (GMNER_CANCEL_ON_DISCONNECT=false on the service), the abandoned work runs on behind
the retry. deploy/load/run_impatient.py runs both and compares.

What locust records, by name:
  /v1/gmner [attempt]   every HTTP attempt: a failure "gave up" when the patience ran out
  post [answered]       a post that got its answer, its time from the first attempt (retries included)
  post [abandoned]      a post still unanswered after every retry (a failure)
Posts are fresh text posts (posts.py) with `use_knowledge` (LOAD_KNOWLEDGE, default true: the LLM-heavy path)
and task LOAD_TASKS (default mner).
"""

from __future__ import annotations

import itertools
import os
import random
import time

from locust import HttpUser, between, task
from posts import SEED, make_post

PATIENCE_S = float(os.environ.get("LOAD_PATIENCE_S", "5"))
RETRIES = int(os.environ.get("LOAD_RETRIES", "2"))
RETRY_WAIT_S = float(os.environ.get("LOAD_RETRY_WAIT_S", "0.5"))
KNOWLEDGE = os.environ.get("LOAD_KNOWLEDGE", "true").lower() in {"1", "true", "yes", "on"}
TASKS = os.environ.get("LOAD_TASKS", "mner")

ATTEMPT = "/v1/gmner [attempt]"
ANSWERED = "post [answered]"
ABANDONED = "post [abandoned]"

_USER_NUMBERS = itertools.count()


class ImpatientUser(HttpUser):
    """One client that gives up after `PATIENCE_S` and tries again."""

    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.rng = random.Random(f"impatient:{SEED}:{os.getpid()}:{next(_USER_NUMBERS)}")

    @task
    def post(self) -> None:
        body = {"text": make_post(self.rng), "tasks": TASKS, "use_knowledge": KNOWLEDGE}
        started = time.perf_counter()
        for attempt in range(RETRIES + 1):
            if attempt:
                time.sleep(RETRY_WAIT_S)
            if self._attempt(body):
                self._record(ANSWERED, started)
                return
        self._record(ABANDONED, started, RuntimeError(f"no answer after {RETRIES + 1} attempts of {PATIENCE_S}s"))

    def _attempt(self, body: dict[str, object]) -> bool:
        """One try: True when it got a usable answer. The timeout closes the connection, which is what the
        gateway sees as the client leaving."""
        with self.client.post(
            "/v1/gmner", json=body, name=ATTEMPT, timeout=PATIENCE_S, catch_response=True
        ) as response:
            if response.status_code == 200:
                response.success()
                return True
            if response.status_code == 0:  # no answer: requests gave up at the timeout (or the connection broke)
                response.failure(f"gave up after {PATIENCE_S}s")
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            return False

    def _record(self, name: str, started: float, exception: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="POST",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context={},
        )
