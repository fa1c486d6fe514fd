"""`POST /v1/gmner` as Server-Sent Events: each stage's part of the answer as soon as that stage answers.

Asked for with `Accept: text/event-stream` or `"stream": true` (a form field `stream=true`). Bad input is
refused before the stream starts, with the usual status and error body. Then, one event per stage that answered:

    event: entities        NER: every entity with its type and offsets
    event: expressions     one per expansion call: the entities it gave an expression (or marked degraded)
    event: groundability   VE: groundable and its score, or the reason (not_groundable)
    event: boxes           VG: the groundable entities' boxes (or not_found)
    event: masks           SAM: the boxed entities' masks
    event: final           the whole answer: the same JSON `POST /v1/gmner` answers without streaming

Each stage event's data (`shared/protocol/gateway_stream.py`) is `{"entities": [{"index": i, ...}]}`: the
entities that stage changed, with every field of the answer's entity as it stands now, so a client keeps a
list and replaces entry `index`. A stage that is not called (task `mner`, no image, an earlier visual stage
failed or found nothing) sends no event; `final` then says why, as the JSON answer does. An error that ends
the request once the stream has started (NER unavailable) is `event: error` with the documented error body
(`{"error": {"code", "message", "stage"}}`) as the last event. A client that drops the stream cancels the
pipeline (`shared/cancellation.py`).

Framing, keep-alive pings (comment lines every 15 s) and the client's disconnect are sse-starlette's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from fastapi import Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from gateway.inputs import Post
from gateway.progress import ENTITIES, listen
from gateway.serving import EntityState, ServingGateway
from shared.cancellation import cancel_once
from shared.errors import APIError, InternalError
from shared.images import DecodedImage
from shared.protocol.gateway import GMNERResponse
from shared.protocol.gateway_stream import IndexedEntity, StageEvent

logger = logging.getLogger(__name__)

EVENT_STREAM = "text/event-stream"
FINAL = "final"
ERROR = "error"
PING_S = 15


def wants_stream(request: Request, post: Post) -> bool:
    return post.stream or EVENT_STREAM in request.headers.get("accept", "").lower()


def stream_answer(serving: ServingGateway, post: Post, decoded: DecodedImage | None) -> EventSourceResponse:
    # no-store: an answer for one post is not for a cache; X-Accel-Buffering: nginx would otherwise hold the
    # events back until the stream ends, which is what streaming is for not to do.
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return EventSourceResponse(events(serving, post, decoded), ping=PING_S, headers=headers)


async def events(
    serving: ServingGateway, post: Post, decoded: DecodedImage | None = None
) -> AsyncIterator[ServerSentEvent]:
    """The stream's events, ending with `final` or `error`. Closing the iterator (the client left) cancels the
    pipeline and with it the stage calls in flight."""
    queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()
    indices: dict[int, int] = {}

    def heard(event: str, states: Sequence[EntityState]) -> None:
        if event == ENTITIES:
            indices.update({id(state): i for i, state in enumerate(states)})
        # Serialised now: the states go on changing as later stages answer.
        data = StageEvent(entities=[_indexed(indices[id(s)], s) for s in states]).model_dump_json()
        queue.put_nowait(ServerSentEvent(data=data, event=event))

    async def pipeline() -> GMNERResponse:
        listen(heard)  # this task's own context: another request's pipeline hears nothing of it
        try:
            return await serving.run(post, decoded)
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(pipeline())
    try:
        while (item := await queue.get()) is not None:
            yield item
        try:
            answer = await task
        except APIError as exc:
            yield _error(exc)
            return
        except Exception:  # a bug: the non-streamed request would answer 500 internal_error
            logger.exception("unhandled error in the streamed pipeline")
            yield _error(InternalError("internal_error", "The gateway failed while answering."))
            return
        yield ServerSentEvent(data=answer.model_dump_json(), event=FINAL)
    finally:
        if not task.done():
            cancel_once(task)
            # Not `await task`: sse-starlette's cancel scope cancels this generator's task again and again while
            # it unwinds, and `await` would pass each one on to the pipeline, interrupting the cleanup that
            # closes its stage connections (see shared/cancellation.py). Whatever it ends with has nobody to go to.
            with contextlib.suppress(BaseException):
                await asyncio.wait({task})


def _indexed(index: int, state: EntityState) -> IndexedEntity:
    return IndexedEntity.model_validate({**state.to_response().model_dump(), "index": index})


def _error(exc: APIError) -> ServerSentEvent:
    return ServerSentEvent(data=exc.to_response("gateway").model_dump_json(), event=ERROR)
