"""The text path end to end: gateway -> NER (trained tagger + LLM knowledge) -> expansion, as real processes."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import pytest

from engines.llm.entity_list import descriptions_by_name, name_key
from gmner.embedded.stack import EmbeddedStack
from tests.conftest import image_bytes
from tests.integration.conftest import down, extra_gateway, metric_value

pytestmark = pytest.mark.integration

IDRIS = "RT @Evode7: Actor Idris Elba became the first male to make the cover of Maxim"


def _post(stack: EmbeddedStack, **body: object) -> httpx.Response:
    return httpx.post(f"{stack.gateway_url}/v1/gmner", json=body, timeout=600)


def test_real_tweet_end_to_end_then_from_cache(stack: EmbeddedStack) -> None:
    ner_url = stack.url("ner")
    hits_before = metric_value(ner_url, "gmner_llm_cache_total", app="ner", result="hit")
    misses_before = metric_value(ner_url, "gmner_llm_cache_total", app="ner", result="miss")

    first = _post(stack, text=IDRIS, tasks="mner", use_knowledge=True)
    assert first.status_code == 200, first.text
    body = first.json()
    idris = next(e for e in body["entities"] if e["text"] == "Idris Elba")
    assert idris["type"] == "PER" and (idris["start"], idris["end"]) == (18, 28)
    assert idris["expression"].startswith("Idris Elba (PER) – ")
    assert idris["visual_reason"] == "not_requested" and idris["box"] is None
    assert body["knowledge"], "the LLM knowledge step ran"
    assert body["degraded"] == []
    assert first.headers["X-Request-ID"] == body["request_id"]
    assert metric_value(ner_url, "gmner_llm_cache_total", app="ner", result="miss") == misses_before + 1

    expansion_misses = metric_value(stack.url("expansion"), "gmner_llm_cache_total", app="expansion", result="miss")
    second = _post(stack, text=IDRIS, tasks="mner", use_knowledge=True)
    assert second.status_code == 200
    assert second.json()["entities"] == body["entities"]
    assert second.json()["knowledge"] == body["knowledge"]
    assert metric_value(ner_url, "gmner_llm_cache_total", app="ner", result="hit") == hits_before + 1
    # Expansion asked the LLM nothing new: its answers came from the cache or from the listed knowledge.
    assert (
        metric_value(stack.url("expansion"), "gmner_llm_cache_total", app="expansion", result="miss")
        == expansion_misses
    )


def test_the_default_profile_writes_listed_knowledge_and_reuses_it(stack: EmbeddedStack) -> None:
    ner_url = stack.url("ner")
    lookups = metric_value(ner_url, "gmner_llm_cache_total", app="ner")
    response = _post(stack, text="Barack Obama visits Berlin with Angela Merkel", tasks="mner")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] == []
    assert {e["text"] for e in body["entities"] if e["type"] == "PER"} >= {"Barack Obama", "Angela Merkel"}
    assert metric_value(ner_url, "gmner_llm_cache_total", app="ner") == lookups + 1  # knowledge without asking
    listed = descriptions_by_name(body["knowledge"])
    assert listed, f"not the listed form: {body['knowledge']!r}"
    for entity in body["entities"]:
        description = listed.get(name_key(entity["text"]))
        if description is not None:  # a listed entity's expression is the list's description, no second LLM call
            assert description.split(".")[0][:40] in entity["expression"]


def test_knowledge_can_be_turned_off_per_request(stack: EmbeddedStack) -> None:
    ner_url = stack.url("ner")
    lookups = metric_value(ner_url, "gmner_llm_cache_total", app="ner")
    response = _post(stack, text="Barack Obama visits Berlin with Angela Merkel", tasks="mner", use_knowledge=False)
    assert response.status_code == 200, response.text
    assert response.json()["knowledge"] is None
    assert metric_value(ner_url, "gmner_llm_cache_total", app="ner") == lookups  # the LLM was not asked


def test_multipart_with_image_but_no_visual_stages(stack: EmbeddedStack, tmp_path: Path) -> None:
    with extra_gateway(stack, tmp_path, ve=None, vg=None, sam=None) as gateway:
        response = httpx.post(
            f"{gateway}/v1/gmner",
            data={"text": IDRIS},
            files={"image": ("p.png", image_bytes("PNG", (32, 32)), "image/png")},
            timeout=600,
        )
    assert response.status_code == 200, response.text
    entities = response.json()["entities"]
    assert entities and all(e["visual_reason"] == "visual_stages_not_deployed" for e in entities)
    assert all(e["groundable"] is None and e["mask"] is None for e in entities)


def test_request_id_reaches_the_stages(stack: EmbeddedStack, tmp_path: Path) -> None:
    response = _post(stack, text="Barack Obama visits Berlin", tasks="mner", use_knowledge=False)
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    logs = Path(stack.settings.log_dir)  # type: ignore[arg-type]
    for stage in ("ner", "expansion"):
        # A stage writes its access line after its response has gone out, so on a loaded machine the line can
        # land just after the gateway's answer: wait for it a bounded while.
        deadline = time.monotonic() + 30
        while request_id not in (logs / f"{stage}.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert request_id in (logs / f"{stage}.log").read_text(), stage


def test_bad_image_is_refused_by_the_gateway(stack: EmbeddedStack) -> None:
    payload = {"text": IDRIS, "image_b64": base64.b64encode(b"GIF89a-broken").decode()}
    response = _post(stack, **payload)
    assert response.status_code in (400, 415)
    assert response.json()["error"]["code"] in ("corrupt_image", "not_an_image")


def test_expansion_down_degrades_the_entities(stack: EmbeddedStack, tmp_path: Path) -> None:
    with extra_gateway(stack, tmp_path, expansion=down()) as gateway:
        response = httpx.post(
            f"{gateway}/v1/gmner", json={"text": "Barack Obama visits Berlin", "tasks": "mner"}, timeout=600
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] == ["expansion"]
    assert body["entities"] and all(e["degraded"] == ["expansion"] for e in body["entities"])
    assert all(e["expression"] is None for e in body["entities"])


def test_ner_down_is_503(stack: EmbeddedStack, tmp_path: Path) -> None:
    with extra_gateway(stack, tmp_path, ner=down()) as gateway:
        response = httpx.post(f"{gateway}/v1/gmner", json={"text": "Barack Obama visits Berlin"}, timeout=600)
    assert response.status_code == 503
    assert response.json()["error"]["stage"] == "ner"
