"""The Python client against a small real HTTP server (uvicorn in a thread) that answers what each test scripts."""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import uvicorn
from PIL import Image
from pycocotools import mask as mask_utils
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.overlay import entity_colour
from gmner.cli import main
from gmner.client import AsyncGMNERClient, GMNERAPIError, GMNERClient, parse_retry_after
from shared.protocol.gateway import GMNERResponse, Task
from tests.conftest import closed_port_url, free_port, image_bytes

ANSWER: dict[str, Any] = {
    "request_id": "req-1",
    "text": "Astronaut Eileen Collins waves",
    "tasks": "smner",
    "entities": [
        {
            "text": "Eileen Collins",
            "type": "PER",
            "start": 10,
            "end": 24,
            "expression": "an astronaut",
            "groundable": True,
            "groundable_score": 0.9,
            "box": [1.0, 2.0, 30.0, 40.0],
            "box_score": 0.8,
            "mask": {"size": [48, 64], "counts": "PX10"},  # replaced below by a real mask
            "degraded": [],
        }
    ],
    "degraded": [],
    "timings_ms": {"ner": 1.0},
}


def _mask() -> dict[str, Any]:
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[10:30, 5:25] = 1
    rle = mask_utils.encode(np.asfortranarray(mask))
    return {"size": [48, 64], "counts": rle["counts"].decode("ascii")}


ANSWER["entities"][0]["mask"] = _mask()


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message, "stage": "gateway"}}, status, headers=headers)


@dataclass
class Seen:
    path: str
    at: float
    content_type: str
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    image: bytes | None = None


class ScriptedServer:
    """Answers the scripted responses in order (the last one again once the script runs out) and records requests."""

    def __init__(self) -> None:
        self.script: list[Response] = []
        self.seen: list[Seen] = []
        self.port = free_port()
        app = Starlette(
            routes=[
                Route("/v1/gmner", self.handle, methods=["POST"]),
                Route("/v1/gmner/overlay", self.handle, methods=["POST"]),
                Route("/ready", lambda _: JSONResponse({"ready": True})),
            ]
        )
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def handle(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        seen = Seen(request.url.path, time.monotonic(), content_type.split(";")[0])
        if content_type.startswith("multipart/"):
            form = await request.form()
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    seen.image = await value.read()
                else:
                    seen.form[key] = value
        else:
            seen.json = await request.json()
        self.seen.append(seen)
        response = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return response


@pytest.fixture(scope="module")
def module_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(module_server: ScriptedServer) -> ScriptedServer:
    module_server.script = [JSONResponse(ANSWER)]
    module_server.seen = []
    return module_server


def test_predict_returns_the_gateway_model(server: ScriptedServer) -> None:
    with GMNERClient(server.url) as client:
        answer = client.predict("Astronaut Eileen Collins waves", tasks="gmner", caption="a woman", use_knowledge=False)
    assert isinstance(answer, GMNERResponse)
    assert answer.entities[0].text == "Eileen Collins"
    assert answer.entities[0].box == [1.0, 2.0, 30.0, 40.0]
    # Without an image the post travels as JSON.
    (seen,) = server.seen
    assert seen.content_type == "application/json"
    assert seen.json == {"text": "Astronaut Eileen Collins waves", "tasks": "gmner", "caption": "a woman",
                         "use_knowledge": False}  # fmt: skip


def test_an_image_travels_as_multipart(server: ScriptedServer, tmp_path: Any) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes())
    with GMNERClient(server.url) as client:
        client.predict("Eileen Collins", image=photo, tasks=Task.SMNER)
        client.predict("Eileen Collins", image=b"raw bytes")
    first, second = server.seen
    assert first.content_type == "multipart/form-data"
    assert first.form == {"text": "Eileen Collins", "tasks": "smner"}
    assert first.image == photo.read_bytes()
    assert second.image == b"raw bytes"


def test_429_is_retried_after_retry_after(server: ScriptedServer) -> None:
    server.script = [error(429, "too_many_requests", "busy", {"Retry-After": "1"}), JSONResponse(ANSWER)]
    with GMNERClient(server.url, max_retries=2) as client:
        answer = client.predict("Eileen Collins")
    assert answer.request_id == "req-1"
    assert len(server.seen) == 2
    # The client waited what the server asked for (1 s), not its own short backoff.
    assert server.seen[1].at - server.seen[0].at >= 0.9


def test_503_is_retried_then_raised_when_retries_run_out(server: ScriptedServer) -> None:
    server.script = [error(503, "stage_unavailable", "The NER stage failed", {"Retry-After": "0"})]
    with GMNERClient(server.url, max_retries=2) as client, pytest.raises(GMNERAPIError) as caught:
        client.predict("Eileen Collins")
    assert len(server.seen) == 3  # the first try and two retries
    assert caught.value.status == 503
    assert caught.value.code == "stage_unavailable"
    assert caught.value.message == "The NER stage failed"
    assert caught.value.stage == "gateway"
    assert caught.value.retry_after_s == 0


def test_the_wait_is_bounded_whatever_the_server_asks(server: ScriptedServer) -> None:
    server.script = [error(429, "too_many_requests", "busy", {"Retry-After": "3600"}), JSONResponse(ANSWER)]
    started = time.monotonic()
    with GMNERClient(server.url, max_retries=1, max_retry_wait_s=0.2) as client:
        client.predict("Eileen Collins")
    assert time.monotonic() - started < 5
    assert len(server.seen) == 2


def test_4xx_raises_at_once(server: ScriptedServer) -> None:
    server.script = [error(422, "invalid_request", "text: String should have at least 1 character")]
    with GMNERClient(server.url) as client, pytest.raises(GMNERAPIError) as caught:
        client.predict("")
    assert len(server.seen) == 1  # never retried
    assert caught.value.status == 422
    assert caught.value.code == "invalid_request"
    assert "at least 1 character" in caught.value.message
    assert "422 invalid_request" in str(caught.value)


def test_a_body_that_is_not_the_error_shape_still_gives_a_readable_error(server: ScriptedServer) -> None:
    server.script = [Response("upstream exploded", status_code=500, media_type="text/plain")]
    with GMNERClient(server.url) as client, pytest.raises(GMNERAPIError) as caught:
        client.predict("x")
    assert (caught.value.status, caught.value.code, caught.value.message) == (500, "http_500", "upstream exploded")


def test_overlay_returns_png_bytes(server: ScriptedServer) -> None:
    server.script = [Response(b"\x89PNG fake", media_type="image/png")]
    with GMNERClient(server.url) as client:
        assert client.overlay("Eileen Collins", image=image_bytes()) == b"\x89PNG fake"
    assert server.seen[0].path == "/v1/gmner/overlay"


def test_unreachable_gateway_is_an_api_error_with_status_0() -> None:
    with GMNERClient(closed_port_url(), max_retries=1, backoff_s=0.01) as client:
        assert client.ready() is False
        with pytest.raises(GMNERAPIError) as caught:
            client.predict("x")
    assert caught.value.status == 0
    assert caught.value.code == "unreachable"


def test_a_timeout_is_an_api_error(server: ScriptedServer) -> None:
    class Slow(Response):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await asyncio.sleep(2)
            await super().__call__(scope, receive, send)

    server.script = [Slow("late")]
    with GMNERClient(server.url, timeout_s=0.3) as client, pytest.raises(GMNERAPIError) as caught:
        client.predict("x")
    assert caught.value.code == "timeout"


def test_an_unreadable_image_path_is_an_api_error(tmp_path: Any) -> None:
    with GMNERClient(closed_port_url()) as client, pytest.raises(GMNERAPIError) as caught:
        client.predict("x", image=tmp_path / "missing.jpg")
    assert caught.value.code == "image_unreadable"


async def test_async_client_retries_429_then_answers(server: ScriptedServer) -> None:
    server.script = [error(429, "too_many_requests", "busy", {"Retry-After": "1"}), JSONResponse(ANSWER)]
    async with AsyncGMNERClient(server.url, max_retries=1) as client:
        assert await client.ready() is True
        answer = await client.predict("Eileen Collins", image=image_bytes())
    assert answer.entities[0].type.value == "PER"
    assert len(server.seen) == 2
    assert server.seen[1].at - server.seen[0].at >= 0.9


async def test_async_client_raises_4xx(server: ScriptedServer) -> None:
    server.script = [error(415, "not_an_image", "The bytes are not a recognised image.")]
    async with AsyncGMNERClient(server.url) as client:
        with pytest.raises(GMNERAPIError) as caught:
            await client.predict("x", image=b"not an image")
    assert (caught.value.status, caught.value.code) == (415, "not_an_image")


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8 <= (parse_retry_after(in_ten) or 0) <= 10.5


def test_unknown_task_is_refused_before_sending() -> None:
    with GMNERClient(closed_port_url()) as client, pytest.raises(ValueError):
        client.predict("x", tasks="boxes")


# ---------- `gmner predict` against the same server ----------


def test_cli_prints_a_table(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich folds cells to fit the (absent) terminal's 80 columns otherwise
    assert main(["predict", "--url", server.url, "--text", "Astronaut Eileen Collins waves", "--task", "gmner"]) == 0
    out = capsys.readouterr().out
    assert "Eileen Collins" in out
    assert "PER" in out
    assert "an astronaut" in out
    assert "yes 0.90" in out
    assert "400 px" in out  # the mask's area
    assert server.seen[0].json["tasks"] == "gmner"


def test_cli_json_and_overlay(server: ScriptedServer, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes(color=(100, 100, 100)))
    out = tmp_path / "overlay.png"
    argv = [
        "predict",
        "--url",
        server.url,
        "--text",
        "Eileen Collins",
        "--image",
        str(photo),
        "--json",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert GMNERResponse.model_validate_json(captured.out).entities[0].text == "Eileen Collins"
    assert f"overlay saved to {out}" in captured.err
    assert server.seen[0].image == photo.read_bytes()
    with Image.open(out) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert tuple(pixels[25, 30]) == entity_colour(0)  # the box's right edge (x2 = 30)
    assert tuple(pixels[45, 60]) == (100, 100, 100)  # outside


def test_cli_reports_an_api_error(server: ScriptedServer, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    server.script = [error(415, "not_an_image", "The bytes are not a recognised image.")]
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert main(["predict", "--url", server.url, "--text", "x", "--image", str(notes)]) == 1
    err = capsys.readouterr().err
    assert "415 not_an_image" in err
    assert "not a recognised image" in err


def test_cli_out_needs_an_image(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--text", "x", "--out", "overlay.png"]) == 2
    assert "--out needs --image" in capsys.readouterr().err
