"""A typed client for the gateway: `GMNERClient` (sync) and `AsyncGMNERClient` (asyncio), both on httpx.

    from gmner.client import GMNERClient

    with GMNERClient("http://127.0.0.1:8000") as client:
        answer = client.predict("Astronaut Eileen Collins waves", image="photo.jpg", tasks="smner")
        for entity in answer.entities:
            print(entity.text, entity.type.value, entity.box)

Answers are the gateway's own pydantic models (`GMNERResponse`). A 429 or 503 is retried after the server's
`Retry-After` (bounded by `max_retry_wait_s`, at most `max_retries` times); every other error, and the last
429/503, raises `GMNERAPIError` with the HTTP status and the gateway's error code and message.

`stream(...)` gives the answer stage by stage as the gateway's Server-Sent Events come (see
gateway/streaming.py); leaving the loop early closes the connection, and the gateway stops the work:

    for event in client.stream("Astronaut Eileen Collins waves", image="photo.jpg"):
        print(event.event, [e.text for e in event.entities])  # the last one: event.answer, the whole answer
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse, connect_sse

from shared.protocol.common import ErrorResponse
from shared.protocol.gateway import GMNERResponse, Task
from shared.protocol.gateway_stream import STAGE_EVENTS, IndexedEntity, StageEvent
from shared.retry import RetryPolicy, parse_retry_after, send_with_retries, send_with_retries_sync

DEFAULT_URL = os.environ.get("GMNER_URL", "http://127.0.0.1:8000")
API_KEY_ENV = "GMNER_API_KEY"
RETRY_STATUSES = frozenset({429, 503})

ImageInput = bytes | str | Path


class GMNERAPIError(Exception):
    """The gateway refused or failed a request. `status` is 0 when no HTTP answer came back at all."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        stage: str | None = None,
        retry_after_s: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.stage = stage
        self.retry_after_s = retry_after_s
        self.request_id = request_id


@dataclass(frozen=True)
class StreamEvent:
    """One event of a streamed answer. `event`: `entities`, `expressions`, `groundability`, `boxes`, `masks`
    (with `entities`: the entities that stage changed, each with its `index` in the answer) or `final` (with
    `answer`, the same `GMNERResponse` as `predict`). An `error` event is raised as `GMNERAPIError` (status 0:
    the HTTP status, 200, was sent before the error)."""

    event: str
    entities: list[IndexedEntity] = field(default_factory=list)
    answer: GMNERResponse | None = None


@dataclass(frozen=True)
class _Prepared:
    """One request's body, built once and sent again unchanged on a retry."""

    path: str
    json: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None

    def kwargs(self) -> dict[str, Any]:
        if self.files is not None:
            return {"data": self.data, "files": self.files}
        return {"json": self.json}


class _Base:
    def __init__(self, max_retries: int, max_retry_wait_s: float, backoff_s: float) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.max_retries = max_retries
        self.max_retry_wait_s = max_retry_wait_s
        self.backoff_s = backoff_s
        # Only a refused connection is sent again (nothing reached the server); a read error or a timeout
        # may come after the gateway started the work, so it is reported, not repeated.
        self.retry = RetryPolicy(
            retries=max_retries,
            backoff_s=backoff_s,
            max_wait_s=max_retry_wait_s,
            jitter=0.25,
            statuses=RETRY_STATUSES,
            retry_exceptions=(httpx.ConnectError,),
            never_retry=(),
        )

    @staticmethod
    def _prepare(
        path: str,
        text: str,
        image: ImageInput | None,
        *,
        caption: str | None,
        tasks: Task | str,
        use_knowledge: bool | None,
        knowledge: str | None,
        image_name: str | None,
    ) -> _Prepared:
        task = Task(tasks.value if isinstance(tasks, Task) else str(tasks).lower())
        if image is None:
            body: dict[str, Any] = {"text": text, "tasks": task.value}
            if caption is not None:
                body["caption"] = caption
            if use_knowledge is not None:
                body["use_knowledge"] = use_knowledge
            if knowledge is not None:
                body["knowledge"] = knowledge
            return _Prepared(path, json=body)
        # With an image, multipart: the bytes travel as they are (base64 in JSON would add a third).
        image_bytes, name = _read_image(image, image_name)
        data = {"text": text, "tasks": task.value}
        if caption is not None:
            data["caption"] = caption
        if use_knowledge is not None:
            data["use_knowledge"] = "true" if use_knowledge else "false"
        if knowledge is not None:
            data["knowledge"] = knowledge
        return _Prepared(path, data=data, files={"image": (name, image_bytes, "application/octet-stream")})

    @staticmethod
    def _check(response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        raise error_from_response(response)


class GMNERClient(_Base):
    """Synchronous client. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 3,
        max_retry_wait_s: float = 30.0,
        backoff_s: float = 0.5,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        api_key: str | None = None,
    ) -> None:
        super().__init__(max_retries, max_retry_wait_s, backoff_s)
        headers = _with_key(headers, api_key)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            headers=headers,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def predict(
        self,
        text: str,
        image: ImageInput | None = None,
        *,
        caption: str | None = None,
        tasks: Task | str = Task.SMNER,
        use_knowledge: bool | None = None,
        knowledge: str | None = None,
        image_name: str | None = None,
    ) -> GMNERResponse:
        """`POST /v1/gmner`: the entities of one post. `image` is bytes or a file path."""
        prepared = self._prepare(
            "/v1/gmner",
            text,
            image,
            caption=caption,
            tasks=tasks,
            use_knowledge=use_knowledge,
            knowledge=knowledge,
            image_name=image_name,
        )
        return GMNERResponse.model_validate_json(self._send(prepared).content)

    def overlay(
        self,
        text: str,
        image: ImageInput,
        *,
        caption: str | None = None,
        tasks: Task | str = Task.SMNER,
        use_knowledge: bool | None = None,
        knowledge: str | None = None,
        image_name: str | None = None,
    ) -> bytes:
        """`POST /v1/gmner/overlay`: the image with masks, boxes and labels drawn, as PNG bytes."""
        prepared = self._prepare(
            "/v1/gmner/overlay",
            text,
            image,
            caption=caption,
            tasks=tasks,
            use_knowledge=use_knowledge,
            knowledge=knowledge,
            image_name=image_name,
        )
        return self._send(prepared).content

    def stream(
        self,
        text: str,
        image: ImageInput | None = None,
        *,
        caption: str | None = None,
        tasks: Task | str = Task.SMNER,
        use_knowledge: bool | None = None,
        knowledge: str | None = None,
        image_name: str | None = None,
    ) -> Iterator[StreamEvent]:
        """`POST /v1/gmner` streamed: an event per stage as it answers, then `final`. Not retried (a refusal
        raises `GMNERAPIError` at the first `next`); breaking out of the loop cancels the work on the gateway."""
        prepared = self._prepare(
            "/v1/gmner",
            text,
            image,
            caption=caption,
            tasks=tasks,
            use_knowledge=use_knowledge,
            knowledge=knowledge,
            image_name=image_name,
        )
        try:
            # connect_sse asks for text/event-stream (Accept), which is what makes the gateway stream.
            with connect_sse(self._http, "POST", prepared.path, **prepared.kwargs()) as source:
                if not source.response.is_success:
                    source.response.read()
                    raise error_from_response(source.response)
                for sse in source.iter_sse():
                    event = stream_event(sse)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise _transport_error(self._http.base_url, exc, "event") from exc

    def ready(self) -> bool:
        """Whether the gateway and its hard dependencies answer `/ready` with 200."""
        try:
            return self._http.get("/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def _send(self, prepared: _Prepared) -> httpx.Response:
        try:
            response = send_with_retries_sync(lambda _: self._http.post(prepared.path, **prepared.kwargs()), self.retry)
        except httpx.HTTPError as exc:
            raise _transport_error(self._http.base_url, exc, "answer") from exc
        return self._check(response)


class AsyncGMNERClient(_Base):
    """Asynchronous client (asyncio). Use as an async context manager, or await `aclose()`."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 3,
        max_retry_wait_s: float = 30.0,
        backoff_s: float = 0.5,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        api_key: str | None = None,
    ) -> None:
        super().__init__(max_retries, max_retry_wait_s, backoff_s)
        headers = _with_key(headers, api_key)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            headers=headers,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def predict(
        self,
        text: str,
        image: ImageInput | None = None,
        *,
        caption: str | None = None,
        tasks: Task | str = Task.SMNER,
        use_knowledge: bool | None = None,
        knowledge: str | None = None,
        image_name: str | None = None,
    ) -> GMNERResponse:
        """`POST /v1/gmner`: the entities of one post. `image` is bytes or a file path."""
        prepared = await asyncio.to_thread(
            self._prepare,
            "/v1/gmner",
            text,
            image,
            caption=caption,
            tasks=tasks,
            use_knowledge=use_knowledge,
            knowledge=knowledge,
            image_name=image_name,
        )
        response = await self._send(prepared)
        return GMNERResponse.model_validate_json(response.content)

    async def overlay(
        self,
        text: str,
        image: ImageInput,
        *,
        caption: str | None = None,
        tasks: Task | str = Task.SMNER,
        use_knowledge: bool | None = None,
        knowledge: str | None = None,
        image_name: str | None = None,
    ) -> bytes:
        """`POST /v1/gmner/overlay`: the image with masks, boxes and labels drawn, as PNG bytes."""
        prepared = await asyncio.to_thread(
            self._prepare,
            "/v1/gmner/overlay",
            text,
            image,
            caption=caption,
            tasks=tasks,
            use_knowledge=use_knowledge,
            knowledge=knowledge,
            image_name=image_name,
        )
        return (await self._send(prepared)).content

    async def stream(
        self,
        text: str,
        image: ImageInput | None = None,
        *,
        caption: str | None = None,
        tasks: Task | str = Task.SMNER,
        use_knowledge: bool | None = None,
        knowledge: str | None = None,
        image_name: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """`GMNERClient.stream` for asyncio: `async for event in client.stream(...)`."""
        prepared = await asyncio.to_thread(
            self._prepare,
            "/v1/gmner",
            text,
            image,
            caption=caption,
            tasks=tasks,
            use_knowledge=use_knowledge,
            knowledge=knowledge,
            image_name=image_name,
        )
        try:
            async with aconnect_sse(self._http, "POST", prepared.path, **prepared.kwargs()) as source:
                if not source.response.is_success:
                    await source.response.aread()
                    raise error_from_response(source.response)
                async for sse in source.aiter_sse():
                    event = stream_event(sse)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise _transport_error(self._http.base_url, exc, "event") from exc

    async def ready(self) -> bool:
        try:
            return (await self._http.get("/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def _send(self, prepared: _Prepared) -> httpx.Response:
        try:
            response = await send_with_retries(
                lambda _: self._http.post(prepared.path, **prepared.kwargs()), self.retry
            )
        except httpx.HTTPError as exc:
            raise _transport_error(self._http.base_url, exc, "answer") from exc
        return self._check(response)


def error_from_response(response: httpx.Response) -> GMNERAPIError:
    """The gateway's `{"error": {"code", "message", "stage"}}` body as an exception; any other body as text."""
    code, message, stage = f"http_{response.status_code}", response.text.strip()[:500], None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        stage = error.get("stage")
    elif isinstance(body, dict) and "detail" in body:  # FastAPI's own errors, e.g. 404/405
        message = str(body["detail"])
    return GMNERAPIError(
        response.status_code,
        code,
        message or response.reason_phrase,
        stage=str(stage) if stage is not None else None,
        retry_after_s=parse_retry_after(response.headers.get("retry-after")),
        request_id=response.headers.get("x-request-id"),
    )


def stream_event(sse: ServerSentEvent) -> StreamEvent | None:
    """One Server-Sent Event as a `StreamEvent`; an `error` event raised; None for one this client does not know
    (a newer gateway's), which is skipped rather than failing the stream."""
    if sse.event == "final":
        return StreamEvent("final", answer=GMNERResponse.model_validate_json(sse.data))
    if sse.event == "error":
        error = ErrorResponse.model_validate_json(sse.data).error
        raise GMNERAPIError(0, error.code, error.message, stage=error.stage)
    if sse.event in STAGE_EVENTS:
        return StreamEvent(sse.event, entities=StageEvent.model_validate_json(sse.data).entities)
    return None


def _read_image(image: ImageInput, name: str | None) -> tuple[bytes, str]:
    if isinstance(image, bytes):
        return image, name or "image"
    path = Path(image)
    try:
        return path.read_bytes(), name or path.name
    except OSError as exc:
        raise GMNERAPIError(0, "image_unreadable", f"cannot read {path}: {exc.strerror or exc}") from exc


def _transport_error(base_url: httpx.URL, exc: httpx.HTTPError, waited: str) -> GMNERAPIError:
    """What a failed exchange with the gateway means to the caller: not reachable, too slow (no `waited` in
    time: "answer", or "event" when streaming), or another transport failure."""
    if isinstance(exc, httpx.ConnectError):
        return GMNERAPIError(0, "unreachable", f"cannot connect to {base_url} ({exc}); is the gateway running?")
    if isinstance(exc, httpx.TimeoutException):
        return GMNERAPIError(0, "timeout", f"no {waited} in time from {base_url}: {exc}")
    return GMNERAPIError(0, "transport_error", f"{type(exc).__name__}: {exc}")


def _with_key(headers: dict[str, str] | None, api_key: str | None) -> dict[str, str]:
    """`api_key`, else $GMNER_API_KEY, sent as a Bearer token (a gateway without keys ignores it)."""
    merged = dict(headers or {})
    key = api_key or os.environ.get(API_KEY_ENV)
    if key and not any(k.lower() == "authorization" for k in merged):
        merged["Authorization"] = f"Bearer {key}"
    return merged
