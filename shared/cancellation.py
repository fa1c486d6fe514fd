"""Stop a request's work when nobody waits for its answer any more (the client closed the connection).

Every app runs its handler through `run_until_disconnect` (from `shared.middleware`), so the rule holds for
the gateway and each stage alike: when the client goes away before the answer is complete, the handler's task
is cancelled. The cancellation travels down by itself. An `await` on a stage call (`shared.http`) or an LLM
call (`engines.llm.client`) raises `CancelledError`, httpx closes that connection, and the app on the other
end sees its own client disconnect and cancels in turn; `asyncio.to_thread` work queued but not started is
dropped (work already running in a thread finishes: Python cannot stop a thread).

The pattern is vLLM's `with_cancellation` (vllm/entrypoints/utils.py: the handler in one task, a task reading
`http.disconnect` in another, the first to finish cancels the other), moved from a decorator on each route to
the middleware, which already holds the whole body: after it, the connection only ever says `http.disconnect`,
so reading it cannot swallow a byte the app needs. `request.is_disconnected()` is no help: it only looks when
called, and nothing in a long `await` calls it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message, Receive

DISCONNECT: Message = {"type": "http.disconnect"}


class Outcome(enum.Enum):
    COMPLETED = "completed"  # the handler returned (or raised) by itself
    DISCONNECT = "disconnect"  # the client left before the response was complete: the handler was cancelled
    SHUTDOWN = "shutdown"  # our own task was cancelled (the server stopping): the handler was cancelled too


class Disconnect:
    """The connection's `receive` after the body was read: set when the client disconnects.

    `receive` is what the app gets once it has had its body: it waits for the disconnect, as uvicorn's own
    `receive` would, so a streaming response (sse-starlette) still sees the client leave.
    """

    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def receive(self) -> Message:
        await self.event.wait()
        return DISCONNECT


async def run_until_disconnect(
    handler: Callable[[], Awaitable[None]],
    wire_receive: Receive,
    disconnect: Disconnect,
    response_complete: Callable[[], bool],
) -> Outcome:
    """Run `handler()` until it finishes, or cancel it when `wire_receive` says the client disconnected while the
    response is not complete. `wire_receive` must have delivered the whole body already.

    A disconnect after the response is complete is no cancellation: uvicorn's `receive` also answers
    `http.disconnect` once the response is sent, and Starlette's background tasks may still be running then.
    """
    work = asyncio.ensure_future(handler())
    watcher = asyncio.ensure_future(_wait_for_disconnect(wire_receive))
    try:
        await asyncio.wait((work, watcher), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # Not the client: whoever runs us (uvicorn at shutdown) gave up on this request; so does its work.
        watcher.cancel()
        await _cancel(work)
        raise
    if work.done():
        watcher.cancel()
        work.result()  # the handler's own exception, if any, goes on as if it had been awaited directly
        return Outcome.COMPLETED
    disconnect.event.set()
    if response_complete():
        await work
        return Outcome.COMPLETED
    await _cancel(work)
    return Outcome.DISCONNECT


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass  # a body the app already has (a client sending after its declared length): nothing to keep


async def _cancel(task: asyncio.Future[None]) -> None:
    """Cancel `task` once and wait for it to unwind.

    `asyncio.wait`, not `await task`: if we are cancelled ourselves while waiting, `await task` would pass that
    on as a second cancellation, and a second `CancelledError` interrupts the cleanup the first one started:
    httpcore closes a cancelled request's connection in a shielded block that only holds off one cancellation,
    and a connection left open is exactly the signal the stage (or the LLM server) would never get.
    """
    cancel_once(task)
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved: the client is gone, an error while unwinding has nobody to go to


def cancel_once(task: asyncio.Future[Any]) -> None:
    """`task.cancel()`, unless a cancellation is already on its way to it (see `_cancel`)."""
    if task.done():
        return
    if isinstance(task, asyncio.Task) and task.cancelling():
        return
    task.cancel()
