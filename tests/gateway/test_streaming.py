"""The streamed answer (`gateway/streaming.py`): the events in stage order, `final` equal to the JSON answer,
a stage failure mid-stream, an error event, the route's choice between JSON and events, and the Python
client's iterator. Stages are the fakes of test_serving_unit.py (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx_sse import aconnect_sse

from gateway.router import router
from gateway.streaming import events
from gmner.client import AsyncGMNERClient, GMNERAPIError
from shared.base_app import create_base_app
from shared.protocol.gateway import GMNERResponse, Task
from shared.protocol.gateway_stream import StageEvent
from shared.settings import AppSettings
from tests.gateway.test_serving_unit import IMAGE, TEXT, FakeStages, error, make_serving, post

NO_HANG_S = 10.0


def comparable(answer: GMNERResponse) -> dict[str, Any]:
    """An answer without what differs between two runs of the same post (its timings)."""
    return answer.model_dump(exclude={"timings_ms"})


async def collect(stages: FakeStages, tasks: Task = Task.SMNER, image: bytes | None = IMAGE) -> list[tuple[str, str]]:
    serving = make_serving(stages)
    try:
        return [(e.event or "", e.data) async for e in events(serving, post(tasks=tasks, image=image))]
    finally:
        await serving.clients.aclose()


async def test_events_come_in_stage_order_and_final_equals_the_json_answer() -> None:
    streamed = await collect(FakeStages())
    assert [name for name, _ in streamed] == ["entities", "expressions", "groundability", "boxes", "masks", "final"]
    by_name = {name: data for name, data in streamed}

    entities = StageEvent.model_validate_json(by_name["entities"]).entities
    assert [(e.index, e.text, e.type.value) for e in entities] == [(0, "Idris Elba", "PER"), (1, "London", "LOC")]
    assert all(e.expression is None and e.box is None for e in entities)  # only what NER said, so far
    expressions = StageEvent.model_validate_json(by_name["expressions"]).entities
    assert [e.expression for e in expressions] == ["Idris Elba (PER) – described", "London (LOC) – described"]
    groundability = StageEvent.model_validate_json(by_name["groundability"]).entities
    assert [(e.groundable, e.visual_reason) for e in groundability] == [(True, None), (False, "not_groundable")]
    boxes = StageEvent.model_validate_json(by_name["boxes"]).entities
    assert [(e.index, e.box is not None) for e in boxes] == [(0, True)]  # only the groundable one was grounded
    masks = StageEvent.model_validate_json(by_name["masks"]).entities
    assert [(e.index, e.mask is not None) for e in masks] == [(0, True)]

    final = GMNERResponse.model_validate_json(by_name["final"])
    serving = make_serving(FakeStages())
    try:
        plain = await serving.run(post())
    finally:
        await serving.clients.aclose()
    assert comparable(final) == comparable(plain)
    # The last stage event of each entity is the final answer's entity.
    last = {e.index: e for name in ("entities", "expressions", "groundability", "boxes", "masks")
            for e in StageEvent.model_validate_json(by_name[name]).entities}  # fmt: skip
    assert [last[i].model_dump(exclude={"index"}) for i in sorted(last)] == [e.model_dump() for e in final.entities]


async def test_a_stage_not_called_sends_no_event() -> None:
    streamed = await collect(FakeStages(), tasks=Task.MNER)
    assert [name for name, _ in streamed] == ["entities", "expressions", "final"]
    final = GMNERResponse.model_validate_json(streamed[-1][1])
    assert {e.visual_reason for e in final.entities} == {"not_requested"}


async def test_a_stage_failing_mid_stream_is_told_in_its_event_and_the_stream_goes_on() -> None:
    stages = FakeStages(override={"expansion": lambda request: error(500)})
    streamed = await collect(stages)
    assert [name for name, _ in streamed] == ["entities", "expressions", "groundability", "boxes", "masks", "final"]
    expressions = StageEvent.model_validate_json(streamed[1][1]).entities
    assert all(e.expression is None and e.degraded == ["expansion"] for e in expressions)
    assert "expansion" in GMNERResponse.model_validate_json(streamed[-1][1]).degraded


async def test_an_error_that_ends_the_request_is_the_last_event_with_the_error_body() -> None:
    stages = FakeStages(override={"ner": lambda request: error(503, "busy")})
    streamed = await collect(stages)
    assert [name for name, _ in streamed] == ["error"]
    body = json.loads(streamed[0][1])
    assert body["error"]["code"] == "stage_unavailable" and body["error"]["stage"] == "ner"


async def test_closing_the_stream_cancels_the_stage_call_in_flight() -> None:
    held = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow_expansion(request: httpx.Request) -> httpx.Response:
        held.set()
        try:
            await asyncio.sleep(NO_HANG_S)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("not cancelled")

    stages = FakeStages(override={"expansion": slow_expansion})
    serving = make_serving(stages)
    try:
        stream = events(serving, post())
        first = await anext(stream)
        assert first.event == "entities"
        await asyncio.wait_for(held.wait(), NO_HANG_S)
        await stream.aclose()  # what sse-starlette does when the client goes away
        await asyncio.wait_for(cancelled.wait(), NO_HANG_S)
    finally:
        await serving.clients.aclose()
    assert stages.count("ve") == 0


# --- the route and the client ------------------------------------------------------------------------------


@pytest.fixture
def app() -> Iterator[FastAPI]:
    serving = make_serving(FakeStages())

    async def readiness(_: FastAPI) -> dict[str, str]:
        return {"gateway": "ok"}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.serving = serving
        yield
        await serving.clients.aclose()

    app = create_base_app(name="gateway", settings=AppSettings(), lifespan=lifespan, readiness=readiness)
    app.include_router(router)
    yield app


async def lifespan_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.mark.parametrize("ask", ["accept", "body", "form"])
async def test_the_route_streams_when_asked_and_answers_json_otherwise(app: FastAPI, ask: str) -> None:
    async with app.router.lifespan_context(app), await lifespan_client(app) as client:
        plain = await client.post("/v1/gmner", json={"text": TEXT, "tasks": "mner"})
        assert plain.headers["content-type"] == "application/json"
        kwargs: dict[str, Any] = {"json": {"text": TEXT, "tasks": "mner"}}
        if ask == "accept":
            kwargs["headers"] = {"Accept": "text/event-stream"}
        elif ask == "body":
            kwargs["json"]["stream"] = True
        else:
            kwargs = {"data": {"text": TEXT, "tasks": "mner", "stream": "true"}}
        async with aconnect_sse(client, "POST", "/v1/gmner", **kwargs) as source:
            assert source.response.status_code == 200
            streamed = [(sse.event, sse.data) async for sse in source.aiter_sse()]
    assert [name for name, _ in streamed] == ["entities", "expressions", "final"]
    final = GMNERResponse.model_validate_json(streamed[-1][1])
    assert comparable(final) | {"request_id": ""} == comparable(GMNERResponse.model_validate_json(plain.content)) | {
        "request_id": ""
    }


async def test_bad_input_is_refused_before_the_stream_starts(app: FastAPI) -> None:
    async with app.router.lifespan_context(app), await lifespan_client(app) as client:
        response = await client.post(
            "/v1/gmner", json={"text": TEXT, "image_b64": "bm90IGFuIGltYWdl"}, headers={"Accept": "text/event-stream"}
        )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json"


async def test_the_client_iterates_the_events_and_raises_an_error_event(app: FastAPI) -> None:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with AsyncGMNERClient("http://gateway", transport=transport, max_retries=0) as client:
            got = [event async for event in client.stream(TEXT, tasks="mner")]
        assert [e.event for e in got] == ["entities", "expressions", "final"]
        assert got[-1].answer is not None and [e.text for e in got[-1].answer.entities] == ["Idris Elba", "London"]
        assert [e.index for e in got[0].entities] == [0, 1]

        app.state.serving.clients.ner._client = httpx.AsyncClient(
            transport=httpx.MockTransport(lambda request: error(503, "busy"))
        )
        async with AsyncGMNERClient("http://gateway", transport=transport, max_retries=0) as client:
            with pytest.raises(GMNERAPIError) as raised:
                _ = [event async for event in client.stream(TEXT, tasks="mner")]
        assert raised.value.code == "stage_unavailable" and raised.value.stage == "ner"
