"""The one transport of both OpenAI-compatible clients (engines/llm/openai_api.py), against httpx.MockTransport."""

from __future__ import annotations

import json

import httpx
import pytest

from engines.llm.client import LLMError
from engines.llm.openai_api import OpenAIAPIError, OpenAICompatibleAPI
from engines.vision.vlm import VLMConfig, VLMError
from shared.settings import LLMSettings

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def api(handler, *, error: type[OpenAIAPIError] = LLMError, retries: int = 1, timeout_s: float = 5.0):  # type: ignore[no-untyped-def]
    settings = LLMSettings(base_url="http://llm.test/v1", retries=retries, timeout_s=timeout_s, api_key="k")
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://llm.test/v1/")
    return OpenAICompatibleAPI(settings, app="test", name="LLM", error=error, client=client)


def events(raw: str) -> httpx.Response:
    return httpx.Response(200, text=raw, headers={"content-type": "text/event-stream"})


def sse(*texts: str) -> httpx.Response:
    events = "".join(f"data: {json.dumps({'choices': [{'delta': {'content': t}}]})}\n\n" for t in texts)
    return httpx.Response(200, text=events + "data: [DONE]\n\n", headers={"content-type": "text/event-stream"})


async def test_a_streamed_answer_is_joined_and_the_request_asks_for_a_stream() -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return sse("Paris ", "(LOC)")

    assert await api(handler).post_streamed_text("chat/completions", BODY, chat=True) == "Paris (LOC)"
    assert seen[0]["stream"] is True and seen[0]["messages"] == BODY["messages"]


async def test_a_server_that_answers_one_json_body_to_a_stream_request_is_read_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"text": " plain "}]})

    assert await api(handler).post_streamed_text("completions", BODY, chat=False) == "plain"


async def test_json_calls_say_stream_false_and_return_the_object() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is False
        return httpx.Response(200, json={"choices": [{"message": {"content": "yes"}}]})

    assert (await api(handler).post_json("chat/completions", BODY))["choices"][0]["message"]["content"] == "yes"


async def test_a_busy_server_is_tried_again_then_its_answer_used() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503) if len(calls) == 1 else sse("ok")

    assert await api(handler).post_streamed_text("chat/completions", BODY, chat=True) == "ok"
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(503), "LLM unreachable: LLM answered 503"),
        (httpx.Response(400, text="bad max_tokens"), "LLM answered 400: bad max_tokens"),
        (httpx.Response(200, text="<html>"), "malformed LLM answer (not JSON)"),
        (
            events('data: {"error": "out of memory"}\n\n'),
            "LLM failed while answering",
        ),
        (
            events("data: {oops\n\n"),
            "malformed LLM stream event",
        ),
    ],
)
async def test_every_failure_is_the_clients_error_with_a_reason(response: httpx.Response, reason: str) -> None:
    with pytest.raises(LLMError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await api(lambda _r: response, retries=0).post_streamed_text("chat/completions", BODY, chat=True)


async def test_an_unreachable_server_and_a_timeout_are_errors_too() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(VLMError, match="LLM unreachable: connection refused"):
        await api(refuse, error=VLMError, retries=0).post_json("chat/completions", BODY)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(LLMError, match="timed out"):
        await api(slow).post_json("chat/completions", BODY)


async def test_readiness_is_the_models_route() -> None:
    assert await api(lambda r: httpx.Response(200 if r.url.path == "/v1/models" else 404, json={})).ready()
    assert not await api(lambda r: httpx.Response(503)).ready()


def test_both_clients_errors_are_transport_errors_and_both_configs_are_server_configs() -> None:
    assert issubclass(LLMError, OpenAIAPIError) and issubclass(VLMError, OpenAIAPIError)
    # VLMConfig satisfies the transport's ServerConfig as LLMSettings does (mypy checks the same statically).
    OpenAICompatibleAPI(VLMConfig(), app="test", name="VLM", error=VLMError)
