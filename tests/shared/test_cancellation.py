"""The middleware's cancellation at the ASGI level: a client that leaves before its answer is complete cancels
the handler (499 in the access log, counted per app); one that leaves after it does not, and neither does a
fast answer. tests/integration/test_cancellation.py checks the same over real processes and sockets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message

from shared.middleware import RequestMiddleware

# Bounds each wait so a regression fails instead of hanging; not a timing assertion.
NO_HANG_S = 10.0


class Recorder:
    """What the handlers saw: the ones cancelled, the background work done, a stream's events sent."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled: list[str] = []
        self.background_done = asyncio.Event()

    def app(self, name: str) -> RequestMiddleware:
        async def slow(request: Request) -> Response:
            await request.body()
            self.started.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append("slow")
                raise
            return JSONResponse({"ok": True}, background=BackgroundTask(self._background))

        async def stream(request: Request) -> Response:
            async def events() -> AsyncIterator[dict[str, str]]:
                yield {"event": "first", "data": "1"}
                self.started.set()
                try:
                    await self.release.wait()
                except asyncio.CancelledError:
                    self.cancelled.append("stream")
                    raise
                yield {"event": "second", "data": "2"}

            return EventSourceResponse(events())

        routes = [Route("/slow", slow, methods=["POST"]), Route("/stream", stream, methods=["POST"])]
        return RequestMiddleware(Starlette(routes=routes), app_name=name, max_inflight=8, retry_after_s=1)

    async def _background(self) -> None:
        await asyncio.sleep(0.05)
        self.background_done.set()


class Connection:
    """One client connection as the ASGI server presents it: the body, then `http.disconnect` once `leave` is
    set (the client closed) or, as uvicorn does, once the response is complete."""

    def __init__(self) -> None:
        self.leave = asyncio.Event()
        self.messages: list[Message] = []
        self._body_sent = False

    async def receive(self) -> Message:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await self.leave.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.leave.set()

    @property
    def status(self) -> int | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


def scope(path: str) -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def cancelled_count(app: str, reason: str) -> float:
    return REGISTRY.get_sample_value("gmner_cancelled_requests_total", {"app": app, "reason": reason}) or 0.0


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gmner.access" and r.getMessage() == "request"]


async def test_a_client_that_leaves_cancels_the_handler_and_is_logged_499(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gmner.access")
    recorder, connection = Recorder(), Connection()
    before = cancelled_count("leaver", "disconnect")
    serving = asyncio.create_task(recorder.app("leaver")(scope("/slow"), connection.receive, connection.send))
    await asyncio.wait_for(recorder.started.wait(), NO_HANG_S)
    connection.leave.set()
    await asyncio.wait_for(serving, NO_HANG_S)
    assert recorder.cancelled == ["slow"]
    assert connection.status is None  # nothing is sent to a client that is gone
    assert cancelled_count("leaver", "disconnect") == before + 1
    record = access_records(caplog)[-1]
    assert (record.status, record.cancelled) == (499, "disconnect")  # type: ignore[attr-defined]
    assert record.latency_ms >= 0  # type: ignore[attr-defined]


async def test_leaving_after_the_answer_cancels_nothing_not_even_background_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gmner.access")
    recorder, connection = Recorder(), Connection()
    recorder.release.set()
    before = cancelled_count("patient", "disconnect")
    await asyncio.wait_for(recorder.app("patient")(scope("/slow"), connection.receive, connection.send), NO_HANG_S)
    # uvicorn says `http.disconnect` once the response is complete (Connection does too): not a cancellation.
    assert connection.status == 200 and recorder.cancelled == []
    assert recorder.background_done.is_set()
    assert cancelled_count("patient", "disconnect") == before
    record = access_records(caplog)[-1]
    assert record.status == 200 and not hasattr(record, "cancelled")


async def test_a_client_that_drops_a_stream_cancels_its_generator(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gmner.access")
    recorder, connection = Recorder(), Connection()
    serving = asyncio.create_task(recorder.app("streamer")(scope("/stream"), connection.receive, connection.send))
    await asyncio.wait_for(recorder.started.wait(), NO_HANG_S)
    assert connection.status == 200 and b"event: first" in connection.body
    connection.leave.set()
    await asyncio.wait_for(serving, NO_HANG_S)
    assert recorder.cancelled == ["stream"]
    assert b"event: second" not in connection.body
    record = access_records(caplog)[-1]
    # The status line went out before the client left; the log says what became of the request.
    assert (record.status, record.cancelled) == (499, "disconnect")  # type: ignore[attr-defined]


async def test_the_server_cancelling_a_request_cancels_its_handler() -> None:
    recorder, connection = Recorder(), Connection()
    before = cancelled_count("stopping", "shutdown")
    serving = asyncio.create_task(recorder.app("stopping")(scope("/slow"), connection.receive, connection.send))
    await asyncio.wait_for(recorder.started.wait(), NO_HANG_S)
    serving.cancel()  # what uvicorn does to the requests still running after its graceful-shutdown timeout
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert recorder.cancelled == ["slow"]
    assert cancelled_count("stopping", "shutdown") == before + 1
