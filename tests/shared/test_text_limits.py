"""One text limit (`GMNER_MAX_TEXT_CHARS`), enforced by every app that takes text at its boundary (its schema)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.errors import APIError
from shared.limits import TEXT_LIMITS
from tests.conftest import closed_port_url
from tests.visual_testing import expr

ROOT = Path(__file__).resolve().parents[2]
LIMIT = TEXT_LIMITS.max_text_chars


class PastTheSchema:
    """Stands in for an app's serving object: any call means the request got through the app's validation."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def reached(*_: Any, **__: Any) -> Any:
            raise APIError(418, "reached_serving", f"serving.{name} was called")

        return reached


def _text(n: int) -> str:
    # Starts with the entity the expansion requests name, so the text is valid there too.
    return ("Maxim " + "x" * n)[:n]


# app -> (path, body with a text of n characters in the field named, that field as the error names it)
BODIES: dict[str, tuple[str, Callable[[int], dict[str, Any]], str]] = {
    "ner": ("/v1/ner", lambda n: {"text": _text(n)}, "text"),
    "ner-caption": ("/v1/ner", lambda n: {"text": "Maxim", "caption": _text(n)}, "caption"),
    "expansion": ("/v1/expand", lambda n: {"text": _text(n), "entities": [{"text": "Maxim", "type": "ORG"}]}, "text"),
    "ve": (
        "/v1/entail",
        lambda n: {"image_b64": "aGk=", "expressions": [{**expr("Maxim"), "entity": _text(n)}]},
        "expressions.0.entity",
    ),
    "vg": (
        "/v1/ground",
        lambda n: {"image_b64": "aGk=", "expressions": [{**expr("Maxim"), "expression": _text(n)}]},
        "expressions.0.expression",
    ),
}


def _stage_app(name: str) -> FastAPI:
    app_name = name.split("-")[0]
    if app_name == "ner":
        from services.ner.app import create_app
    elif app_name == "expansion":
        from services.expansion.app import create_app
    elif app_name == "ve":
        from services.ve.app import create_app
    else:
        from services.vg.app import create_app
    app = create_app()
    # No model: the schema is checked before the serving object is used, which is what is tested here.
    app.state.serving = PastTheSchema()
    return app


@pytest.mark.parametrize("name", list(BODIES))
def test_every_stage_refuses_text_over_the_one_limit(name: str) -> None:
    path, body, field = BODIES[name]
    client = TestClient(_stage_app(name))
    over = client.post(path, json=body(LIMIT + 1))
    assert over.status_code == 422, over.text
    error = over.json()["error"]
    assert error["code"] == "invalid_request" and error["stage"] == name.split("-")[0]
    assert error["message"].startswith(f"{field}: ") and f"at most {LIMIT} characters" in error["message"]
    at_limit = client.post(path, json=body(LIMIT))
    assert at_limit.status_code == 418 and at_limit.json()["error"]["code"] == "reached_serving", at_limit.text


@pytest.mark.parametrize("name", ["ner", "expansion", "ve"])
@pytest.mark.parametrize("bad", ["   \n", "Maxim \x00 x"])
def test_blank_or_nul_text_is_a_422_naming_the_field(name: str, bad: str) -> None:
    path, _, field = BODIES[name]
    body = {
        "ner": {"text": bad},
        "expansion": {"text": bad, "entities": [{"text": "Maxim", "type": "ORG"}]},
        "ve": {"image_b64": "aGk=", "expressions": [{**expr("Maxim"), "entity": bad}]},
    }[name]
    response = TestClient(_stage_app(name)).post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(f"{field}: ")


@pytest.fixture(scope="module")
def gateway() -> Iterator[TestClient]:
    from gateway.app import create_app
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(
        ner_url=closed_port_url(),
        expansion_url=closed_port_url(),
        ve_url=None,
        vg_url=None,
        sam_url=None,
        stage_retries=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("encoding", ["json", "multipart"])
@pytest.mark.parametrize("field", ["text", "caption"])
def test_the_gateway_refuses_text_over_the_same_limit(gateway: TestClient, encoding: str, field: str) -> None:
    def post(n: int) -> Any:
        fields = {"text": "Maxim", field: _text(n)}
        return gateway.post("/v1/gmner", json=fields) if encoding == "json" else gateway.post("/v1/gmner", data=fields)

    over = post(LIMIT + 1)
    assert over.status_code == 422, over.text
    assert over.json()["error"]["message"] == f"{field}: String should have at most {LIMIT} characters"
    # At the limit the post is accepted and goes to NER, which is down here: the documented 503.
    at_limit = post(LIMIT)
    assert at_limit.status_code == 503 and at_limit.json()["error"]["stage"] == "ner", at_limit.text


# Run in a fresh interpreter: the limit is read once, when the schemas are built.
_ONE_SETTING = """
import json
from fastapi.testclient import TestClient
from shared.protocol.expansion import ExpandRequest
from shared.protocol.gateway import GMNERJSONRequest
from shared.protocol.ner import NERRequest
from shared.protocol.visual import EntailParams, GroundParams
from tests.shared.test_text_limits import BODIES, _stage_app

schemas = {}
for model in (NERRequest, ExpandRequest, GMNERJSONRequest, EntailParams, GroundParams):
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    for props in [schema["properties"], *(d.get("properties", {}) for d in defs.values())]:
        for field, spec in props.items():
            for option in spec.get("anyOf", [spec]):
                if "maxLength" in option:
                    schemas[f"{model.__name__}.{field}"] = option["maxLength"]
answers = {}
for name, (path, body, _) in BODIES.items():
    client = TestClient(_stage_app(name))
    answers[name] = [client.post(path, json=body(n)).status_code for n in (40, 41)]
print(json.dumps({"schemas": schemas, "answers": answers}))
"""


def test_one_environment_variable_sets_the_limit_of_every_schema_and_app() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GMNER_")}
    # A per-app variable of old is ignored.
    env.update(
        {
            "GMNER_MAX_TEXT_CHARS": "40",
            "GMNER_NER_MAX_TEXT_CHARS": "10",
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", _ONE_SETTING], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["schemas"] and set(seen["schemas"].values()) == {40}, seen["schemas"]
    for field in ("NERRequest.text", "NERRequest.caption", "ExpandRequest.text", "GMNERJSONRequest.text"):
        assert field in seen["schemas"]
    assert any(key.endswith(".expression") for key in seen["schemas"])
    assert seen["answers"] == {name: [418, 422] for name in BODIES}


def test_the_gateway_keeps_an_expression_of_a_long_entity_within_the_stages_limit() -> None:
    from gateway.serving import EntityState, ServingGateway
    from shared.protocol.common import Entity, EntityType

    entity = Entity(text="x" * LIMIT, type=EntityType.MISC, start=0, end=LIMIT)
    for expression in (None, f"{entity.text} (MISC) – a long name"):
        visual = ServingGateway._visual_expression(EntityState(entity, expression=expression))
        assert visual.entity == entity.text and len(visual.expression) == LIMIT


def test_the_api_docs_show_the_limit_for_json_and_multipart_posts(gateway: TestClient) -> None:
    spec = gateway.get("/openapi.json").json()
    for path in ("/v1/gmner", "/v1/gmner/overlay"):
        content = spec["paths"][path]["post"]["requestBody"]["content"]
        for media_type in ("application/json", "multipart/form-data"):
            properties = content[media_type]["schema"]["properties"]
            assert properties["text"]["maxLength"] == LIMIT, (path, media_type)
            caption = properties["caption"]
            assert LIMIT in [caption.get("maxLength"), *(o.get("maxLength") for o in caption.get("anyOf", []))]
