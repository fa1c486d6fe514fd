from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from engines.llm.cache import LLMCache
from engines.llm.client import LLMClient
from engines.llm.prompting import first_sentence
from services.expansion.app import create_app
from services.expansion.prompt import FEW_SHOT, QUESTION, build_expansion_prompt, referring_expression
from services.expansion.serving import ServingExpansion
from services.expansion.settings import ExpansionSettings
from shared.errors import APIError
from shared.protocol.common import EntityRef, EntityType
from shared.protocol.expansion import ExpandRequest
from shared.settings import LLMSettings
from tests.conftest import REDIS_URL, closed_port_url

TEXT = "RT @Evode7: Actor Idris Elba became the first male to make the cover of Maxim"


def test_prompt_follows_the_paper_template() -> None:
    prompt = build_expansion_prompt("Idris Elba is an actor.", TEXT, "Idris Elba")
    blocks = prompt.split("\n\n")
    assert len(blocks) == len(FEW_SHOT) + 1
    assert blocks[-1] == (
        f"Background: Idris Elba is an actor.\nText: {TEXT}\nQuestion: {QUESTION.format(entity='Idris Elba')}\nAnswer:"
    )
    assert blocks[0].endswith("Answer: " + FEW_SHOT[0].answer)
    assert "Background: (none)" in build_expansion_prompt("", TEXT, "Maxim")


def test_referring_expression_form() -> None:
    assert referring_expression("Maxim", "ORG", "a men's magazine") == "Maxim (ORG) – a men's magazine"
    assert referring_expression("Maxim", "ORG", "") == "Maxim (ORG)"


def test_first_sentence() -> None:
    assert first_sentence(" Idris Elba is an actor.\nHe was born in London. ") == "Idris Elba is an actor."
    assert first_sentence("no full stop here") == "no full stop here"
    long = "word " * 100
    cut = first_sentence(long, max_chars=30)
    assert len(cut) <= 31 and cut.endswith("…")


def _serving(handler) -> tuple[ServingExpansion, list[dict]]:
    sent: list[dict] = []

    def record(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        return handler(body)

    settings = LLMSettings(base_url="http://llm.test/v1", cache_prefix=f"gmner:test:{uuid.uuid4().hex}:")
    http = httpx.AsyncClient(base_url="http://llm.test/v1/", transport=httpx.MockTransport(record))
    llm = LLMClient(settings, LLMCache(REDIS_URL, 60, app="test"), client=http)
    return ServingExpansion(ExpansionSettings(), llm), sent


async def test_each_entity_gets_its_expression() -> None:
    def answer(body: dict) -> httpx.Response:
        entity = "Idris Elba" if "what is the Idris Elba" in body["prompt"] else "Maxim"
        return httpx.Response(200, json={"choices": [{"text": f" {entity} is famous. More text here."}]})

    serving, sent = _serving(answer)
    request = ExpandRequest(
        text=TEXT,
        knowledge="Idris Elba is an actor.",
        entities=[EntityRef(text="Idris Elba", type=EntityType.PER), EntityRef(text="Maxim", type=EntityType.ORG)],
    )
    response = await serving.expand(request)
    await serving.llm.aclose()
    assert [e.expression for e in response.expressions] == [
        "Idris Elba (PER) – Idris Elba is famous.",
        "Maxim (ORG) – Maxim is famous.",
    ]
    assert len(sent) == 2
    assert all("Background: Idris Elba is an actor." in body["prompt"] for body in sent)


async def test_entity_missing_from_text_is_refused() -> None:
    serving, sent = _serving(lambda body: httpx.Response(200, json={"choices": [{"text": "x"}]}))
    with pytest.raises(APIError) as info:
        await serving.expand(ExpandRequest(text=TEXT, entities=[EntityRef(text="Obama", type=EntityType.PER)]))
    await serving.llm.aclose()
    assert info.value.status_code == 400 and info.value.code == "entity_not_in_text"
    assert sent == []


def test_app_answers_503_when_llm_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GMNER_LLM_BASE_URL", closed_port_url() + "/v1")
    monkeypatch.setenv("GMNER_LLM_RETRIES", "0")
    monkeypatch.setenv("GMNER_LLM_CACHE_PREFIX", f"gmner:test:{uuid.uuid4().hex}:")
    with TestClient(create_app()) as client:
        response = client.post("/v1/expand", json={"text": TEXT, "entities": [{"text": "Maxim", "type": "ORG"}]})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "llm_unavailable"
        assert client.get("/ready").status_code == 503
        bad = client.post("/v1/expand", json={"text": TEXT, "entities": []})
        assert bad.status_code == 422
        bad_type = client.post("/v1/expand", json={"text": TEXT, "entities": [{"text": "Maxim", "type": "THING"}]})
        assert bad_type.status_code == 422


async def test_listed_knowledge_descriptions_are_reused_without_an_llm_call() -> None:
    def answer(body: dict) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"text": " Maxim is a men's magazine. More."}]})

    serving, sent = _serving(answer)
    knowledge = "Named entities: 1. Idris Elba (person/actor) – a British actor 2. Evode7 (person/handle) – a user"
    request = ExpandRequest(
        text=TEXT,
        knowledge=knowledge,
        entities=[EntityRef(text="Idris Elba", type=EntityType.PER), EntityRef(text="Maxim", type=EntityType.ORG)],
    )
    response = await serving.expand(request)
    await serving.llm.aclose()
    assert [e.expression for e in response.expressions] == [
        "Idris Elba (PER) – a British actor",
        "Maxim (ORG) – Maxim is a men's magazine.",
    ]
    # One LLM call, for the entity the list does not describe; the list is still its background.
    assert len(sent) == 1 and "what is the Maxim" in sent[0]["prompt"]
    assert knowledge in sent[0]["prompt"]


async def test_reuse_can_be_turned_off() -> None:
    serving, sent = _serving(lambda body: httpx.Response(200, json={"choices": [{"text": " An actor."}]}))
    serving.settings = ExpansionSettings(reuse_listed_descriptions=False)
    request = ExpandRequest(
        text=TEXT,
        knowledge="Named entities: 1. Idris Elba (person/actor) – a British actor",
        entities=[EntityRef(text="Idris Elba", type=EntityType.PER)],
    )
    response = await serving.expand(request)
    await serving.llm.aclose()
    assert response.expressions[0].expression == "Idris Elba (PER) – An actor."
    assert len(sent) == 1
