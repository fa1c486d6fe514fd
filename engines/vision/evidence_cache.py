"""The visual evidence of an image (detections, OCR lines), shared by the VE and VG processes through Redis.

VE and VG are separate services and each runs the detector (and OCR, when needed) on the post's image; on one
machine the second run is the same computation again. This cache is content-addressed: the key is the image's
SHA-256 and a hash of the configuration that produced the evidence (detector or OCR settings), so a VG
finds what VE computed for the same bytes and the same settings, and never reuses evidence made differently.

Redis is optional: when it cannot be reached, each call computes its own evidence (logged once), as before, and
Redis is not asked again for `retry_after_s` (an unreachable host would otherwise cost a timeout per call).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engines.vision.detector import Detection
from engines.vision.ocr import TextHit

logger = logging.getLogger(__name__)


class EvidenceCacheConfig(BaseModel):
    """Env: `GMNER_VE_EVIDENCE_CACHE__<FIELD>` / `GMNER_VG_EVIDENCE_CACHE__<FIELD>`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Share detections and OCR lines with the other stage via Redis.")
    redis_url: str | None = Field(
        default=None,
        description="The Redis to share through; null: the LLM cache's (`GMNER_LLM_REDIS_URL`, which the embedded "
        "stack sets for every stage).",
    )
    ttl_s: int = Field(
        default=600, ge=1, description="How long an image's evidence is kept: long enough for VG to follow VE."
    )
    prefix: str = Field(default="gmner:evidence:", description="The prefix of the cache's Redis keys.")
    socket_timeout_s: float = Field(default=0.2, gt=0, description="Redis connect and read timeout.")
    retry_after_s: float = Field(
        default=30.0, ge=0, description="After a Redis error, how long each stage computes its own without asking."
    )


def config_hash(config: BaseModel) -> str:
    return hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:16]


class EvidenceCache:
    def __init__(self, config: EvidenceCacheConfig | None = None) -> None:
        import redis

        self.config = config or EvidenceCacheConfig()
        url = self.config.redis_url or os.environ.get("GMNER_LLM_REDIS_URL", "redis://127.0.0.1:6379/0")
        timeout = self.config.socket_timeout_s
        self._redis: Any = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._warned = False
        self._down_until = 0.0
        self.hits = 0
        self.misses = 0

    def _failed(self, op: str, exc: Exception) -> None:
        self._down_until = time.monotonic() + self.config.retry_after_s
        if not self._warned:
            logger.warning("evidence cache unavailable (%s: %s); computing evidence here", op, exc)
            self._warned = True

    def _get(self, key: str) -> Any | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            raw = self._redis.get(self.config.prefix + key)
        except Exception as exc:  # any Redis or socket error: compute locally
            self._failed("get", exc)
            return None
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(raw)

    def _set(self, key: str, value: Any) -> None:
        if time.monotonic() < self._down_until:
            return
        try:
            self._redis.set(self.config.prefix + key, json.dumps(value), ex=self.config.ttl_s)
        except Exception as exc:
            self._failed("set", exc)

    def detections(self, sha256: str, config_key: str) -> list[Detection] | None:
        data = self._get(f"det:{config_key}:{sha256}")
        if data is None:
            return None
        return [Detection(label=d["label"], score=d["score"], box=tuple(d["box"])) for d in data]

    def put_detections(self, sha256: str, config_key: str, detections: list[Detection]) -> None:
        value = [{"label": d.label, "score": d.score, "box": list(d.box)} for d in detections]
        self._set(f"det:{config_key}:{sha256}", value)

    def text(self, sha256: str, config_key: str) -> list[TextHit] | None:
        data = self._get(f"ocr:{config_key}:{sha256}")
        if data is None:
            return None
        return [TextHit(text=t["text"], score=t["score"], box=tuple(t["box"])) for t in data]

    def put_text(self, sha256: str, config_key: str, hits: list[TextHit]) -> None:
        self._set(f"ocr:{config_key}:{sha256}", [{"text": t.text, "score": t.score, "box": list(t.box)} for t in hits])

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a client that never connected
            self._redis.close()
