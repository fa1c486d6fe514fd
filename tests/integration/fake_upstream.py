"""A slow fake upstream on a real socket, in a thread: an OpenAI-compatible LLM that never answers on its own,
and a NER stage that answers at once. It records when each LLM connection opened and when its client closed
it, which is what cancellation must bring about (`shared/cancellation.py`).

Plain asyncio streams, not an HTTP framework: a framework would hide the moment the peer closes, and that
moment is the measurement.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

NER_ENTITIES = [
    {"text": "Idris Elba", "type": "PER", "start": 0, "end": 10},
    {"text": "London", "type": "LOC", "start": 19, "end": 25},
]
TEXT = "Idris Elba flew to London"


@dataclass
class LLMCall:
    path: str
    body: dict[str, Any]
    opened: float  # time.monotonic()
    closed: float | None = None  # when the client closed the connection


@dataclass
class FakeUpstream:
    port: int = 0
    llm_calls: list[LLMCall] = field(default_factory=list)
    other_calls: list[str] = field(default_factory=list)  # paths of every non-LLM POST (NER, VE, ...)
    # Seconds before an LLM call answers; None: never (only the client's closing ends it).
    llm_delay_s: float | None = None
    ner_delay_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calls_to(self, path: str) -> int:
        with self._lock:
            return sum(1 for p in self.other_calls if p == path)

    def llm_snapshot(self) -> list[LLMCall]:
        with self._lock:
            return [LLMCall(c.path, c.body, c.opened, c.closed) for c in self.llm_calls]

    def wait_for_llm_calls(self, count: int, timeout_s: float = 60.0) -> list[LLMCall]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            calls = self.llm_snapshot()
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(f"{len(self.llm_snapshot())} LLM calls after {timeout_s}s, expected {count}")

    def wait_for_closed(self, count: int, timeout_s: float) -> list[LLMCall]:
        """The LLM calls once `count` of them were closed by their client, or AssertionError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            calls = self.llm_snapshot()
            if sum(1 for c in calls if c.closed is not None) >= count:
                return calls
            time.sleep(0.01)
        raise AssertionError(f"LLM connections still open after {timeout_s}s: {self.llm_snapshot()}")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one request after another on the connection
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                if method == "GET":
                    await self._answer(writer, 200, {"object": "list", "data": [{"id": "fake"}]})
                elif path.endswith("/completions"):
                    await self._llm(reader, writer, path, json.loads(body or b"{}"))
                    if writer.is_closing():
                        return
                else:
                    with self._lock:
                        self.other_calls.append(path)
                    if path == "/v1/ner":
                        await asyncio.sleep(self.ner_delay_s)
                        answer = {"entities": NER_ENTITIES, "knowledge_used": False, "backend": "fake"}
                        await self._answer(writer, 200, answer)
                    else:
                        error = {"error": {"code": "fake", "message": "not a stage here"}}
                        await self._answer(writer, 503, error)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _llm(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: dict[str, Any]
    ) -> None:
        call = LLMCall(path, body, time.monotonic())
        with self._lock:
            self.llm_calls.append(call)
        # The client sends nothing more on this connection until it has an answer: a read that ends means
        # the client closed it.
        eof = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait_for(asyncio.shield(eof), self.llm_delay_s)
        except TimeoutError:
            eof.cancel()
            text = " a described thing."
            await self._answer(writer, 200, {"choices": [{"text": text, "message": {"content": text}}]})
            return
        with self._lock:
            call.closed = time.monotonic()
        writer.close()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        writer.write(head.encode() + data)
        await writer.drain()


@contextmanager
def fake_upstream(**options: Any) -> Iterator[FakeUpstream]:
    upstream = FakeUpstream(**options)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    server: asyncio.Server | None = None

    async def serve() -> None:
        nonlocal server
        server = await asyncio.start_server(upstream._handle, "127.0.0.1", 0)
        upstream.port = server.sockets[0].getsockname()[1]
        started.set()

    thread = threading.Thread(target=loop.run_forever, name="fake-upstream", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    if not started.wait(10):
        raise RuntimeError("the fake upstream did not start")
    try:
        yield upstream
    finally:

        async def stop() -> None:
            assert server is not None
            server.close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
