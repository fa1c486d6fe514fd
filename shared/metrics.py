"""Prometheus metrics. Defined once per process and labelled by app, so tests can host several apps."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter("gmner_requests_total", "HTTP requests served", ["app", "route", "method", "status"])
REQUEST_LATENCY = Histogram(
    "gmner_request_latency_seconds", "HTTP request latency", ["app", "route"], buckets=LATENCY_BUCKETS
)
IN_FLIGHT = Gauge("gmner_in_flight_requests", "Requests being served", ["app"])
REJECTED = Counter("gmner_rejected_total", "Requests refused with 429 by the in-flight limit", ["app"])
STAGE_CALLS = Counter("gmner_stage_calls_total", "Calls from one app to a stage", ["app", "stage", "outcome"])
STAGE_LATENCY = Histogram(
    "gmner_stage_call_latency_seconds", "Latency of calls to a stage", ["app", "stage"], buckets=LATENCY_BUCKETS
)
# Body bytes of calls to a stage (counted once per call; a retry resends them): what the data path costs the network.
STAGE_REQUEST_BYTES = Counter("gmner_stage_request_bytes_total", "Request body bytes sent to a stage", ["app", "stage"])
LLM_CACHE = Counter("gmner_llm_cache_total", "LLM cache lookups", ["app", "result"])  # hit, miss, error
# Calls answered by another caller's LLM call for the same key: "process" (same process), "redis" (another one).
LLM_COALESCED = Counter("gmner_llm_coalesced_total", "LLM calls coalesced by single-flight", ["app", "scope"])
LLM_LATENCY = Histogram("gmner_llm_latency_seconds", "LLM call latency (uncached)", ["app"], buckets=LATENCY_BUCKETS)
MODEL_LOAD_SECONDS = Gauge("gmner_model_load_seconds", "Time taken to load the app's model", ["app", "backend"])
MEMORY_CACHE = Counter("gmner_memory_cache_total", "In-process LRU lookups (shared/lru.py)", ["cache", "result"])
EMBEDDING_CACHE = Counter("gmner_sam_embedding_cache_total", "SAM image-embedding cache lookups", ["app", "result"])
# Labelled by the API key's name (never the key): bounded by the keys file, not by callers.
KEY_REQUESTS = Counter("gmner_requests_by_key_total", "Gateway requests per API key name", ["app", "key", "status"])
# Requests whose work was stopped because nobody waits for the answer any more: `reason` is "disconnect" (the
# client closed the connection: a person, the gateway giving up on a stage, a proxy) or "shutdown" (the server
# stopping cancelled it). Per app, so each stage counts what it stopped.
CANCELLED = Counter("gmner_cancelled_requests_total", "Requests cancelled before their answer", ["app", "reason"])
# Shared LLM calls stopped because every caller waiting for them left (single-flight keeps a call while one waits).
LLM_CANCELLED = Counter("gmner_llm_cancelled_total", "LLM calls cancelled because no caller waited", ["app"])
