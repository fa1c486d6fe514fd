"""Settings shared by every app; each app subclasses `AppSettings` with its own env prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    """Fields every app has. Subclasses set `env_prefix` (e.g. `GMNER_NER_`)."""

    model_config = SettingsConfigDict(env_prefix="GMNER_", extra="ignore", env_file=None)

    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    # Backpressure: beyond this many requests in flight the app answers 429 instead of queueing.
    max_inflight: int = Field(default=64, ge=1)
    retry_after_s: int = Field(default=1, ge=0)
    # Bodies are read whole before a request takes an in-flight slot, under these limits (413 / 408): the
    # size is checked while streaming (chunked bodies too), and a client must send at least
    # `min_upload_bytes_per_s` after the first `body_timeout_s` and never pause longer than `body_timeout_s`.
    # 32 MiB: a stage's JSON carries a 10 MiB image as base64 (13.4 MiB) plus the entities.
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    body_timeout_s: float = Field(default=15.0, gt=0)
    min_upload_bytes_per_s: int = Field(default=8192, ge=0)


class ImageLimits(BaseSettings):
    """Limits applied to every decoded image (bytes and pixels, against decompression bombs)."""

    model_config = SettingsConfigDict(env_prefix="GMNER_IMAGE_", extra="ignore")

    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=40_000_000, ge=1)
    max_side: int = Field(default=12_000, ge=1)
    # The decoded-image LRU is bounded by bytes (RGB, 3 bytes a pixel): a 40 MP image is 120 MB decoded.
    # `cache_items` caps the count as well; an image larger than a quarter of the budget is not cached.
    cache_mb: float = Field(default=256.0, ge=0)
    cache_items: int = Field(default=32, ge=0)


class LLMSettings(BaseSettings):
    """How an app reaches the OpenAI-compatible LLM server and caches its answers."""

    model_config = SettingsConfigDict(env_prefix="GMNER_LLM_", extra="ignore")

    base_url: str = "http://127.0.0.1:8010/v1"
    model: str = "gemma-3-270m"
    api_key: str = "not-needed"
    # "chat" uses /chat/completions, "completions" uses /completions with a raw prompt.
    api: str = Field(default="completions", pattern="^(chat|completions)$")
    # Below the gateway's stage timeouts, so a slow LLM degrades an answer instead of failing it.
    timeout_s: float = Field(default=30.0, gt=0)
    retries: int = Field(default=1, ge=0)
    max_tokens: int = Field(default=128, ge=1)
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=1)
    cache_enabled: bool = True
    cache_prefix: str = "gmner:llm:"
    # Concurrent calls with the same cache key wait for one LLM call: in this process (a shared task) and across
    # processes and replicas (a Redis lock on the key). False: every cache miss calls the LLM.
    single_flight: bool = True
    # How long the Redis lock lives, so a holder that died frees it; waiters give up waiting after as long and
    # call the LLM themselves. About one slow LLM call.
    single_flight_lock_s: float = Field(default=30.0, gt=0)
    # How often a waiter in another process looks for the holder's answer in Redis.
    single_flight_poll_s: float = Field(default=0.05, gt=0)
