"""The NER app over HTTP (TestClient, real spaCy model); the LLM is unreachable on purpose."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.ner.app import create_app
from services.ner.settings import NERSettings
from shared.limits import TEXT_LIMITS
from tests.conftest import closed_port_url

IDRIS = "RT @Evode7: Actor Idris Elba became the first male to make the cover of Maxim"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GMNER_LLM_BASE_URL", closed_port_url() + "/v1")
        mp.setenv("GMNER_LLM_RETRIES", "0")
        # A fresh cache namespace: answers cached by earlier runs must not stand in for the LLM.
        mp.setenv("GMNER_LLM_CACHE_PREFIX", f"gmner:test:{uuid.uuid4().hex}:")
        with TestClient(create_app(NERSettings())) as test_client:
            yield test_client


def test_entities_without_llm_report_why(client: TestClient) -> None:
    response = client.post("/v1/ner", json={"text": IDRIS})
    assert response.status_code == 200
    body = response.json()
    assert {"text": "Idris Elba", "type": "PER", "start": 18, "end": 28} in body["entities"]
    assert body["knowledge_used"] is False
    assert "LLM unreachable" in body["knowledge_error"]


def test_caller_knowledge_is_used_without_llm(client: TestClient) -> None:
    knowledge = "Named entities: 1. Idris Elba (person/actor) Reasoning: Idris Elba is a British actor."
    body = client.post("/v1/ner", json={"text": IDRIS, "knowledge": knowledge, "return_knowledge": True}).json()
    assert body["knowledge_used"] is True and body["knowledge"] == knowledge
    assert "knowledge_error" not in body
    assert all(e["end"] <= len(IDRIS) for e in body["entities"])


def test_knowledge_switched_off_per_request(client: TestClient) -> None:
    body = client.post("/v1/ner", json={"text": IDRIS, "use_knowledge": False}).json()
    assert "knowledge_error" not in body and body["knowledge_used"] is False


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"text": "   "}, 422, "invalid_request"),
        ({"text": ""}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"text": "x" * (TEXT_LIMITS.max_text_chars + 1)}, 422, "invalid_request"),
        ({"text": "ok", "caption": "c" * (TEXT_LIMITS.max_text_chars + 1)}, 422, "invalid_request"),
        ({"text": "nul \x00 inside"}, 422, "invalid_request"),
        ({"text": "ok", "surprise": 1}, 422, "invalid_request"),
        ({"text": 42}, 422, "invalid_request"),
    ],
)
def test_bad_input_gets_a_reason(client: TestClient, payload: dict, status: int, code: str) -> None:
    response = client.post("/v1/ner", json=payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["stage"] == "ner"


def test_malformed_json(client: TestClient) -> None:
    response = client.post("/v1/ner", content=b'{"text": ', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "malformed_json"


def test_health_ready_and_request_id(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "app": "ner"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["model"] == "ok"
    assert ready.json()["checks"]["llm"].startswith("degraded")
    response = client.post("/v1/ner", json={"text": "Hello Paris"}, headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    generated = client.post("/v1/ner", json={"text": "Hello Paris"}).headers["X-Request-ID"]
    assert len(generated) == 32


def test_openapi_documents_the_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/ner" in spec["paths"]


def test_knowledge_off_by_default_but_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GMNER_LLM_BASE_URL", closed_port_url() + "/v1")
    monkeypatch.setenv("GMNER_LLM_RETRIES", "0")
    monkeypatch.setenv("GMNER_LLM_CACHE_PREFIX", f"gmner:test:{uuid.uuid4().hex}:")
    with TestClient(create_app(NERSettings(knowledge_by_default=False))) as client:
        quiet = client.post("/v1/ner", json={"text": IDRIS}).json()
        assert "knowledge_error" not in quiet and quiet["knowledge_used"] is False
        asked = client.post("/v1/ner", json={"text": IDRIS, "use_knowledge": True}).json()
        assert "LLM unreachable" in asked["knowledge_error"]


def test_listed_names_the_tagger_missed_are_added_when_the_setting_says() -> None:
    post = "The girls are busy on the asters again @honeyhollowfarm"
    knowledge = "Named entities: 1. honeyhollowfarm (organization/farm) – a bee farm"
    for adds, expected in ((True, True), (False, False)):
        with TestClient(create_app(NERSettings(knowledge_adds_listed=adds, knowledge_enabled=False))) as client:
            body = client.post("/v1/ner", json={"text": post, "knowledge": knowledge}).json()
        added = {"text": "honeyhollowfarm", "type": "ORG", "start": 40, "end": 55}
        assert (added in body["entities"]) is expected
