"""The one transport to an OpenAI-compatible server (vLLM in production, llama-server embedded).

Both model clients are built on it: the text LLM's (`engines.llm.client.LLMClient`: cache, single-flight,
cancellation) and the vision-language model's (`engines.vision.vlm.VisionChatClient`: image parts, log-probs).
It holds what they share: the connection pool with the bearer key, bounded retries of a busy or unreachable
server (`shared.retry`), one time bound on the whole call, readiness (`GET /models`), the latency metric, and
the mapping of every failure to one exception type with a reason.

Not the `openai` SDK: it would be a new dependency of four images for the same few lines of transport, and
neither client could keep what it needs from the HTTP layer: a streamed call whose connection closes when the
caller is cancelled (the server then stops generating, see `shared.cancellation`), vLLM's `structured_outputs`
and one retry loop shared with the stage clients. Per-call overhead of this transport against the SDK's:
`benchmarks/bench_openai_transport.py` (the numbers are on the Benchmarks page).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import httpx
from httpx_sse import EventSource

from shared.metrics import LLM_LATENCY
from shared.retry import RetryPolicy, send_with_retries

AnswerT = TypeVar("AnswerT")


class OpenAIAPIError(Exception):
    """The server gave no usable answer: down, timed out, refused, or an answer of the wrong shape."""


class ServerConfig(Protocol):
    """Where a server is and how long to wait for it: `LLMSettings` (GMNER_LLM_*) and `VLMConfig` both are one."""

    @property
    def base_url(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def retries(self) -> int: ...


class OpenAICompatibleAPI:
    """POSTs to one server's `/completions` or `/chat/completions` and returns the answer, streamed or not.

    `name` is how errors call the server ("LLM", "VLM"); `error` the exception type they are raised as, so each
    client keeps its own (`LLMError`, `VLMError`), both `OpenAIAPIError`s.
    """

    def __init__(
        self,
        server: ServerConfig,
        *,
        app: str,
        name: str = "LLM",
        error: type[OpenAIAPIError] = OpenAIAPIError,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.timeout_s = server.timeout_s
        self.app = app
        self.name = name
        self.error = error
        self._client = client or httpx.AsyncClient(
            base_url=server.base_url.rstrip("/") + "/",
            timeout=httpx.Timeout(server.timeout_s),
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
        # OpenAI-compatible servers send no Retry-After worth waiting for: a short backoff, then the next try.
        self.retry = RetryPolicy(retries=server.retries, backoff_s=0.2, honour_retry_after=False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def ready(self, timeout_s: float = 2.0) -> bool:
        try:
            response = await self._client.get("models", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer of a non-streamed call, as its JSON object."""
        answer = await self._post(path, {**body, "stream": False}, self._read_json)
        return answer if isinstance(answer, dict) else {}

    async def post_streamed_text(self, path: str, body: dict[str, Any], *, chat: bool) -> str:
        """The whole text of a streamed call (`stream: true`); a server that answers in one JSON body is read too.

        Streamed, though only the whole text is used: a server learns that its client left when it writes to a
        closed connection, which a streamed answer does at every token. Measured with llama-server
        (deploy/load/abandoned_posts.py --direct): non-streamed completions whose clients closed their
        connections after 0.5 s were all generated to their end; llama-cpp-python's server likewise only looks
        between streamed chunks.
        """

        async def read(response: httpx.Response) -> str:
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                return self._text_of(await self._read_json(response), chat)
            parts: list[str] = []
            async for event in EventSource(response).aiter_sse():
                if event.data.strip() == "[DONE]":
                    break
                try:
                    chunk = json.loads(event.data)
                except ValueError as exc:
                    raise self.error(f"malformed {self.name} stream event: {event.data[:200]}") from exc
                parts.append(self._chunk_text(chunk, chat))
            return "".join(parts).strip()

        return await self._post(path, {**body, "stream": True}, read)

    async def _post(
        self, path: str, body: dict[str, Any], read: Callable[[httpx.Response], Awaitable[AnswerT]]
    ) -> AnswerT:
        started = time.perf_counter()

        async def send(_: float | None) -> httpx.Response:
            return await self._client.send(self._client.build_request("POST", path, json=body), stream=True)

        try:
            # httpx's timeout is per read, and a streamed answer reads often: the whole call is bounded here.
            async with asyncio.timeout(self.timeout_s):
                response = await send_with_retries(send, self.retry)
                try:
                    await self._check_status(response)
                    answer = await read(response)
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise self.error(f"{self.name} timed out after {self.timeout_s}s") from exc
        except httpx.TransportError as exc:
            raise self.error(f"{self.name} unreachable: {str(exc) or type(exc).__name__}") from exc
        LLM_LATENCY.labels(self.app).observe(time.perf_counter() - started)
        return answer

    async def _check_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        if response.status_code in self.retry.statuses:
            raise self.error(f"{self.name} unreachable: {self.name} answered {response.status_code} (busy or down)")
        raise self.error(f"{self.name} answered {response.status_code}: {response.text[:200]}")

    async def _read_json(self, response: httpx.Response) -> Any:
        await response.aread()
        try:
            return response.json()
        except ValueError as exc:
            raise self.error(f"malformed {self.name} answer (not JSON): {response.text[:200]}") from exc

    def _chunk_text(self, chunk: Any, chat: bool) -> str:
        """The text of one streamed chunk: `choices[0].text` (completions) or `choices[0].delta.content` (chat)."""
        if isinstance(chunk, dict) and "error" in chunk:
            raise self.error(f"{self.name} failed while answering: {str(chunk['error'])[:200]}")
        try:
            choice = chunk["choices"][0] if chunk["choices"] else {}
            text = choice.get("delta", {}).get("content") if chat else choice.get("text")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self.error(f"malformed {self.name} stream event: {str(chunk)[:200]}") from exc
        return text or ""

    def _text_of(self, body: Any, chat: bool) -> str:
        try:
            choice = body["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise self.error(f"malformed {self.name} answer: {str(body)[:200]}") from exc
        return (text or "").strip()
