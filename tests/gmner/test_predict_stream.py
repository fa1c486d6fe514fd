"""`GMNERClient.stream` and `gmner predict --stream` against the scripted server of test_client.py answering
Server-Sent Events as the gateway does (gateway/streaming.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.responses import JSONResponse, Response

from gmner.cli import main
from gmner.client import GMNERAPIError, GMNERClient
from tests.gmner.test_client import ANSWER, ScriptedServer

ENTITY = {key: ANSWER["entities"][0][key] for key in ("text", "type", "start", "end")}


def sse(*events: tuple[str, Any]) -> Response:
    text = "".join(f"event: {name}\r\ndata: {json.dumps(data)}\r\n\r\n" for name, data in events)
    return Response(": ping\r\n\r\n" + text, media_type="text/event-stream")


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    running = ScriptedServer()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def server(scripted: ScriptedServer) -> ScriptedServer:
    scripted.seen = []
    return scripted


STREAM = sse(
    ("entities", {"entities": [ENTITY | {"index": 0}]}),
    ("expressions", {"entities": [ENTITY | {"index": 0, "expression": "an astronaut"}]}),
    ("final", ANSWER),
)


def test_the_client_iterates_the_events_and_ends_with_the_answer(server: ScriptedServer) -> None:
    server.script = [STREAM]
    with GMNERClient(server.url, max_retries=0) as client:
        events = list(client.stream("Astronaut Eileen Collins waves", tasks="gmner"))
    assert [e.event for e in events] == ["entities", "expressions", "final"]
    assert events[1].entities[0].index == 0 and events[1].entities[0].expression == "an astronaut"
    assert events[-1].answer is not None and events[-1].answer.request_id == ANSWER["request_id"]
    assert server.seen[0].json == {"text": "Astronaut Eileen Collins waves", "tasks": "gmner"}


def test_an_error_event_and_a_refusal_raise(server: ScriptedServer) -> None:
    error = {"error": {"code": "stage_unavailable", "message": "The NER stage failed", "stage": "ner"}}
    server.script = [sse(("error", error))]
    with GMNERClient(server.url, max_retries=0) as client, pytest.raises(GMNERAPIError) as raised:
        list(client.stream("Eileen Collins"))
    assert (raised.value.status, raised.value.code, raised.value.stage) == (0, "stage_unavailable", "ner")

    server.script = [JSONResponse(error, status_code=503)]
    with GMNERClient(server.url, max_retries=0) as client, pytest.raises(GMNERAPIError) as raised:
        list(client.stream("Eileen Collins"))
    assert (raised.value.status, raised.value.code) == (503, "stage_unavailable")


def test_predict_stream_prints_each_stage_then_the_table(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [STREAM]
    assert main(["predict", "--stream", "--text", "Astronaut Eileen Collins waves", "--url", server.url]) == 0
    out = capsys.readouterr().out
    assert "entities: #0 Eileen Collins: PER" in out
    assert "expressions: #0 Eileen Collins: an astronaut" in out
    assert out.index("expressions:") < out.index("1 entity")  # the table comes last


def test_predict_stream_json_prints_one_line_per_event(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [STREAM]
    assert main(["predict", "--stream", "--json", "--text", "Eileen Collins", "--url", server.url]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["entities", "expressions", "final"]
    assert lines[-1]["data"]["request_id"] == ANSWER["request_id"]
