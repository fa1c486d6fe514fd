"""Load profile of the gmner gateway: `locust -f deploy/load/locustfile.py --host http://127.0.0.1:8000`.

The mix (per request; LOAD_REPEAT_SHARE sets the first share):
  ~30 %  a repeated post from a small hot set (same text, same image): LLM-cache and embedding-cache hits
  ~40 %  a fresh post with an image (JSON base64 or multipart; tasks smner or gmner)
  ~27 %  a fresh text-only post (tasks mner or smner without an image)
  ~3 %   a bad request (empty text, broken JSON, wrong content type, broken image, unknown task): must be 4xx
Posts name 1-6 entities (PER/LOC/ORG/MISC), more often few. Any 5xx, a 4xx on a good request, or a 2xx on a
bad one is a failure; so is a 429 (the in-flight limit was reached) and a 200 whose answer is `degraded` (a
stage failed or missed its deadline).
Posts and images come from posts.py (LOAD_IMAGE_DIR, LOAD_SEED).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
from typing import Any

from locust import HttpUser, between, task
from posts import BASE_IMAGES, HOT_POSTS, SEED, encode, make_post

# Shares of repeated posts, fresh posts with an image, fresh text-only posts and bad requests. LOAD_REPEAT_SHARE
# changes the first (the others keep their proportions): 1.0 measures the service with every LLM answer cached.
_REPEAT = float(os.environ.get("LOAD_REPEAT_SHARE", "0.30"))
_BAD = 0.03
_FRESH = max(0.0, 1 - _REPEAT - _BAD)
MIX_WEIGHTS = [_REPEAT, _FRESH * 40 / 67, _FRESH * 27 / 67, _BAD]


_USER_NUMBERS = itertools.count()


class GMNERUser(HttpUser):
    """One client posting to the gateway, with a think time between posts."""

    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        # The process id keeps fresh posts fresh across runs (a new locust process per step); LOAD_SEED and
        # the user's number keep users apart within one.
        self.rng = random.Random(f"{SEED}:{os.getpid()}:{next(_USER_NUMBERS)}")

    @task
    def post(self) -> None:
        kind = self.rng.choices(["repeat", "image", "text", "bad"], MIX_WEIGHTS)[0]
        if kind == "repeat":
            self.repeated_post()
        elif kind == "image":
            self.post_with_image()
        elif kind == "text":
            self.text_only_post()
        else:
            self.bad_request()

    def repeated_post(self) -> None:
        text, image = self.rng.choice(HOT_POSTS)
        self._good("repeat", text, image, "smner" if image is not None else "mner")

    def post_with_image(self) -> None:
        image = encode(self.rng.choice(BASE_IMAGES), self.rng)
        self._good("image", make_post(self.rng), image, self.rng.choice(["smner", "smner", "gmner"]))

    def text_only_post(self) -> None:
        self._good("text", make_post(self.rng), None, self.rng.choice(["mner", "smner"]))

    def bad_request(self) -> None:
        kind = self.rng.choice(["empty_text", "broken_json", "content_type", "broken_image", "unknown_task"])
        kwargs: dict[str, Any]
        if kind == "empty_text":
            kwargs = {"json": {"text": ""}}
        elif kind == "broken_json":
            kwargs = {"data": b'{"text": "unterminated', "headers": {"Content-Type": "application/json"}}
        elif kind == "content_type":
            kwargs = {"data": b"text=hello", "headers": {"Content-Type": "text/plain"}}
        elif kind == "broken_image":
            kwargs = {"json": {"text": make_post(self.rng), "image_b64": base64.b64encode(b"not an image").decode()}}
        else:
            kwargs = {"json": {"text": make_post(self.rng), "tasks": "everything"}}
        with self.client.post("/v1/gmner", name="/v1/gmner [bad]", catch_response=True, **kwargs) as response:
            if 400 <= response.status_code < 500 and response.status_code != 429:
                response.success()
            else:
                response.failure(f"{kind}: expected a 4xx, got {response.status_code}")

    def _good(self, label: str, text: str, image: bytes | None, tasks: str) -> None:
        name = f"/v1/gmner [{label}]"
        if self.rng.random() < 0.5:
            body: dict[str, Any] = {"text": text, "tasks": tasks}
            if image is not None:
                body["image_b64"] = base64.b64encode(image).decode("ascii")
            kwargs: dict[str, Any] = {"json": body}
        else:
            kwargs = {"data": {"text": text, "tasks": tasks}}
            if image is not None:
                kwargs["files"] = {"image": ("post.jpg", image, "image/jpeg")}
        with self.client.post("/v1/gmner", name=name, catch_response=True, **kwargs) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            try:
                answer = json.loads(response.text)
            except ValueError:
                response.failure("the answer is not JSON")
                return
            if "entities" not in answer or answer.get("request_id") != response.headers.get("X-Request-ID"):
                response.failure("the answer lacks entities or its request id")
            elif answer.get("degraded"):
                # A stage failed or ran out of time: the answer is incomplete, which counts as a failure here.
                response.failure(f"degraded: {answer['degraded']}")
            else:
                response.success()
