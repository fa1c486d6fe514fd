"""Settings shared by every app; each app subclasses `AppSettings` with its own env prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    """Fields every app has. Subclasses set `env_prefix` (e.g. `GMNER_NER_`)."""

    model_config = SettingsConfigDict(env_prefix="GMNER_", extra="ignore", env_file=None)

    host: str = Field(default="127.0.0.1", description="Address the app listens on (`0.0.0.0` in the containers).")
    port: int = Field(default=8000, description="Port the app listens on; each app has its own default.")
    log_level: str = Field(default="INFO", description="Log level: DEBUG, INFO, WARNING, ERROR.")
    log_json: bool = Field(
        default=True, description="One JSON object per log line, with `request_id`; false: plain text lines."
    )
    # Backpressure: beyond this many requests in flight the app answers 429 instead of queueing.
    max_inflight: int = Field(
        default=64,
        ge=1,
        description="Requests served at once; beyond it the app answers 429 `too_many_requests` and never queues.",
    )
    retry_after_s: int = Field(default=1, ge=0, description="The `Retry-After` value (seconds) sent with a 429.")
    # Bodies are read whole before a request takes an in-flight slot, under these limits (413 / 408): the
    # size is checked while streaming (chunked bodies too), and a client must send at least
    # `min_upload_bytes_per_s` after the first `body_timeout_s` and never pause longer than `body_timeout_s`.
    # 32 MiB: a stage's JSON carries a 10 MiB image as base64 (13.4 MiB) plus the entities.
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest request body, checked while it streams (chunked bodies too): 413 past it.",
    )
    body_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="Longest pause within a body, and the grace before the minimum upload rate applies: 408 past it.",
    )
    min_upload_bytes_per_s: int = Field(
        default=8192, ge=0, description="Slowest accepted upload after `body_timeout_s` (0: no minimum): 408 below it."
    )


class ImageLimits(BaseSettings):
    """Limits applied to every decoded image (bytes and pixels, against decompression bombs)."""

    model_config = SettingsConfigDict(env_prefix="GMNER_IMAGE_", extra="ignore")

    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="Largest encoded image: 413 `image_too_large`.")
    max_pixels: int = Field(
        default=40_000_000, ge=1, description="Most pixels (width x height) of a decoded image: 413 `too_many_pixels`."
    )
    max_side: int = Field(default=12_000, ge=1, description="Longest side of a decoded image, in pixels: 413.")
    # The decoded-image LRU is bounded by bytes (RGB, 3 bytes a pixel): a 40 MP image is 120 MB decoded.
    # `cache_items` caps the count as well; an image larger than a quarter of the budget is not cached.
    cache_mb: float = Field(
        default=256.0,
        ge=0,
        description="Decoded images kept by content hash, in MB of pixels; an image over a quarter of it is not kept.",
    )
    cache_items: int = Field(default=32, ge=0, description="Most decoded images kept, on top of `cache_mb`.")


class LLMSettings(BaseSettings):
    """How an app reaches the OpenAI-compatible LLM server and caches its answers."""

    model_config = SettingsConfigDict(env_prefix="GMNER_LLM_", extra="ignore")

    base_url: str = Field(
        default="http://127.0.0.1:8010/v1",
        description="Base URL of the OpenAI-compatible LLM server (vLLM, llama.cpp).",
    )
    model: str = Field(default="gemma-3-270m", description="The model name sent with every request.")
    api_key: str = Field(default="not-needed", description="Bearer token for the LLM server.")
    api: str = Field(
        default="completions",
        pattern="^(chat|completions)$",
        description="`chat`: /chat/completions (instruct models); `completions`: /completions with a raw prompt.",
    )
    # Below the gateway's stage timeouts, so a slow LLM degrades an answer instead of failing it.
    timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one LLM call, in seconds.")
    retries: int = Field(
        default=1, ge=0, description="Retries of a failed LLM call (connection errors, 429, 502-504; not timeouts)."
    )
    max_tokens: int = Field(default=128, ge=1, description="Default `max_tokens` of a call; each stage sets its own.")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis for the LLM answer cache.")
    cache_ttl_s: int = Field(default=7 * 24 * 3600, ge=1, description="How long a cached LLM answer is kept, seconds.")
    cache_enabled: bool = Field(default=True, description="Cache LLM answers in Redis (decoding is greedy).")
    cache_prefix: str = Field(
        default="gmner:llm:", description="Prefix of the cache keys (the rest is a SHA-256 of the call)."
    )
    # Concurrent calls with the same cache key wait for one LLM call: in this process (a shared task) and across
    # processes and replicas (a Redis lock on the key). False: every cache miss calls the LLM.
    single_flight: bool = Field(
        default=True, description="Concurrent identical calls (same cache key) wait for one LLM call."
    )
    # How long the Redis lock lives, so a holder that died frees it; waiters give up waiting after as long and
    # call the LLM themselves. About one slow LLM call.
    single_flight_lock_s: float = Field(
        default=30.0,
        gt=0,
        description="Lifetime of the Redis lock on a key, and the longest a caller waits for another's answer.",
    )
    # How often a waiter in another process looks for the holder's answer in Redis.
    single_flight_poll_s: float = Field(
        default=0.05, gt=0, description="How often a caller in another process looks for the answer in Redis."
    )
    # A client that timed out usually sends the same post again at once: its retry joins the call still running
    # instead of starting over, at the price of this much generation when nobody comes back (engines/llm/client.py).
    cancel_grace_s: float = Field(
        default=1.0,
        ge=0,
        description="How long an LLM call goes on after its last caller left (cancelled), for a retry to join it.",
    )
