"""The gateway's data path: the image is decoded once per request and the visual stages get its bytes as a
multipart part (not base64), with the stages answered by `httpx.MockTransport` handlers."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client import REGISTRY
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartParser

from gateway.app import create_app
from gateway.clients import StageClients
from gateway.settings import GatewaySettings
from shared.http import StageClient
from shared.protocol.common import HealthResponse
from shared.protocol.visual import EntailParams, EntailResponse, VisualExpression

TEXT = "NASA astronaut Eileen Collins met Sally Ride in Houston"
ENTITIES = [("NASA", "ORG", 0, 4), ("Eileen Collins", "PER", 15, 29), ("Sally Ride", "PER", 34, 44)]


def jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, format="JPEG")
    return buffer.getvalue()


async def read_form(request: httpx.Request) -> FormData:
    """The body parsed as the stages' Starlette parser parses it."""

    async def stream() -> AsyncIterator[bytes]:
        yield request.content

    return await MultiPartParser(Headers(headers=dict(request.headers)), stream()).parse()


@dataclass
class Seen:
    content_type: str
    params: dict
    image: bytes | None = None
    raw: bytes = b""


@dataclass
class FakeStages:
    """Answers like each stage; records what each one was sent."""

    seen: dict[str, list[Seen]] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)  # stages that answer 503

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        stage = request.url.host
        content_type = request.headers["content-type"]
        if content_type.startswith("multipart/form-data"):
            form = await read_form(request)
            upload = form["image"]
            assert isinstance(upload, UploadFile)
            record = Seen(content_type, json.loads(str(form["request"])), await upload.read(), request.content)
        else:
            record = Seen(content_type, json.loads(request.content), raw=request.content)
        self.seen.setdefault(stage, []).append(record)
        if stage in self.fail:
            return httpx.Response(503, json={"error": {"code": "llm_unavailable", "message": "down"}})
        params = record.params
        if stage == "ner":
            entities = [{"text": t, "type": k, "start": s, "end": e} for t, k, s, e in ENTITIES]
            return httpx.Response(200, json={"entities": entities, "backend": "fake"})
        if stage == "expansion":
            expressions = [
                {**e, "description": "someone", "expression": f"{e['text']} ({e['type']}) – someone"}
                for e in params["entities"]
            ]
            return httpx.Response(200, json={"expressions": [{"entity": e.pop("text"), **e} for e in expressions]})
        if stage == "ve":
            results = [{"groundable": e["type"] == "PER", "score": 0.9} for e in params["expressions"]]
            return httpx.Response(200, json={"results": results, "backend": "fake"})
        if stage == "vg":
            results = [{"box": [10.0, 10.0, 100.0, 200.0], "score": 0.8} for _ in params["expressions"]]
            return httpx.Response(200, json={"results": results, "backend": "fake"})
        mask = {"size": [240, 320], "counts": "0"}
        results = [{"mask": mask, "area": 1, "score": 0.7} for _ in params["boxes"]]
        return httpx.Response(200, json={"results": results, "backend": "fake"})


def fake_clients(stages: FakeStages) -> StageClients:
    http = httpx.AsyncClient(transport=httpx.MockTransport(stages))

    def client(name: str) -> StageClient:
        return StageClient(name, f"http://{name}", timeout_s=5.0, retries=0, client=http)

    return StageClients(
        ner=client("ner"), expansion=client("expansion"), ve=client("ve"), vg=client("vg"), sam=client("sam")
    )


@pytest.fixture
def stages() -> FakeStages:
    return FakeStages()


@pytest.fixture
def gateway(stages: FakeStages) -> Iterator[TestClient]:
    settings = GatewaySettings(ner_url="http://ner", expansion_url="http://expansion", log_json=False)
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.serving.clients = fake_clients(stages)
        yield client


@pytest.fixture
def image_opens(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the gateway process opens image bytes (every decode starts with `Image.open`)."""
    calls: list[int] = []
    real_open = Image.open

    def counting_open(*args: object, **kwargs: object) -> Image.Image:
        calls.append(1)
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image, "open", counting_open)
    return calls


def test_visual_stages_get_the_uploaded_bytes_as_multipart(gateway: TestClient, stages: FakeStages) -> None:
    photo = jpeg()
    response = gateway.post("/v1/gmner", data={"text": TEXT}, files={"image": ("p.jpg", photo, "image/jpeg")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] == []
    assert [e["mask"] is not None for e in body["entities"]] == [False, True, True]
    for stage in ("ve", "vg", "sam"):
        [call] = stages.seen[stage]
        assert call.content_type.startswith("multipart/form-data; boundary=")
        assert call.image == photo  # the bytes as uploaded: not re-encoded, not base64
        assert "image_b64" not in call.params
        assert len(call.raw) < len(photo) + 2048  # base64 alone would add a third
    assert [e["entity"] for e in stages.seen["ve"][0].params["expressions"]] == ["NASA", "Eileen Collins", "Sally Ride"]
    assert stages.seen["sam"][0].params == {"boxes": [[10.0, 10.0, 100.0, 200.0]] * 2}
    for stage in ("ner", "expansion"):  # text stages keep JSON
        assert all(call.content_type == "application/json" for call in stages.seen[stage])
    # One expansion call for the post's entities, and each entity got its own expression back.
    [expand] = stages.seen["expansion"]
    assert [e["text"] for e in expand.params["entities"]] == ["NASA", "Eileen Collins", "Sally Ride"]
    assert [e["expression"] for e in body["entities"]] == [f"{t} ({k}) – someone" for t, k, _, _ in ENTITIES]


def test_a_failed_expansion_call_degrades_every_entity(gateway: TestClient, stages: FakeStages) -> None:
    stages.fail = {"expansion"}
    response = gateway.post("/v1/gmner", json={"text": TEXT, "tasks": "mner"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(e["expression"], e["degraded"]) for e in body["entities"]] == [(None, ["expansion"])] * 3
    assert body["degraded"] == ["expansion"]


def test_json_upload_is_sent_on_as_bytes_too(gateway: TestClient, stages: FakeStages) -> None:
    photo = jpeg()
    response = gateway.post("/v1/gmner", json={"text": TEXT, "image_b64": base64.b64encode(photo).decode()})
    assert response.status_code == 200, response.text
    assert stages.seen["ve"][0].image == photo


@pytest.mark.parametrize("route", ["/v1/gmner", "/v1/gmner/overlay"])
def test_the_image_is_decoded_once_per_request(
    gateway: TestClient, stages: FakeStages, image_opens: list[int], route: str
) -> None:
    photo = jpeg()
    response = gateway.post(route, data={"text": TEXT}, files={"image": ("p.jpg", photo, "image/jpeg")})
    assert response.status_code == 200, response.text
    assert len(image_opens) == 1
    assert len(stages.seen["sam"]) == 1  # the whole pipeline ran, not a shortcut


def test_a_bad_image_reaches_no_stage(gateway: TestClient, stages: FakeStages) -> None:
    response = gateway.post("/v1/gmner", data={"text": TEXT}, files={"image": ("p.jpg", jpeg()[:200], "image/jpeg")})
    assert 400 <= response.status_code < 500
    assert stages.seen == {}


def test_the_benchmarks_json_stage_image_sends_base64_once_encoded(gateway: TestClient, stages: FakeStages) -> None:
    # benchmarks/bench_data_path.py measures multipart against this form, which the stages still accept.
    from benchmarks.bench_data_path import Base64StageImage

    gateway.app.state.serving.stage_image = Base64StageImage  # type: ignore[attr-defined]
    photo = jpeg()
    response = gateway.post("/v1/gmner", data={"text": TEXT}, files={"image": ("p.jpg", photo, "image/jpeg")})
    assert response.status_code == 200, response.text
    for stage in ("ve", "vg", "sam"):
        [call] = stages.seen[stage]
        assert call.content_type == "application/json"
        assert base64.b64decode(call.params["image_b64"]) == photo


# ---------- the client itself ----------


def sent_bytes(stage: str) -> float:
    labels = {"app": "gateway", "stage": stage}
    return REGISTRY.get_sample_value("gmner_stage_request_bytes_total", labels) or 0.0


async def test_client_sends_multipart_and_a_retry_resends_the_same_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, json={"error": {"message": "warming up"}})
        return httpx.Response(200, json={"results": [{"groundable": True, "score": 1.0}], "backend": "b"})

    client = StageClient(
        "ve-client-test",
        "http://ve",
        timeout_s=1.0,
        retries=1,
        backoff_s=0.0,
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    params = EntailParams(expressions=[VisualExpression(entity="A", type="PER", expression="A (PER)")])
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # every byte value, CR/LF and dashes included
    before = sent_bytes("ve-client-test")
    answer = await client.post("/v1/entail", params, EntailResponse, image=image)
    assert answer.results[0].groundable is True
    assert len(seen) == 2 and seen[0].content == seen[1].content
    assert seen[0].headers["content-type"] == seen[1].headers["content-type"]
    form = await read_form(seen[1])
    upload = form["image"]
    assert isinstance(upload, UploadFile)
    assert await upload.read() == image
    assert EntailParams.model_validate_json(str(form["request"])) == params
    assert sent_bytes("ve-client-test") - before == len(seen[0].content)  # once per call, not per attempt


async def test_client_without_image_sends_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok", "app": "x"})

    client = StageClient(
        "ner", "http://ner", timeout_s=1.0, client=httpx.AsyncClient(transport=httpx.MockTransport(handler))
    )
    await client.post("/x", HealthResponse(status="a", app="b"), HealthResponse)
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {"status": "a", "app": "b"}
