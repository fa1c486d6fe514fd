"""The gateway pipeline on its own: `ServingGateway` with stage clients on `httpx.MockTransport`.

Each fake stage answers in its real protocol (NER, expansion, VE, VG, SAM) and records what it was sent, so
these tests pin what the pipeline does when one stage fails, is slow, or answers nonsense: which entities are
degraded and why, what the others keep, and which stages are not called at all. The integration tests
(`tests/integration`) run the same paths over real processes.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.clients import StageClients
from gateway.inputs import Post
from gateway.serving import ServingGateway
from gateway.settings import GatewaySettings
from shared.errors import APIError
from shared.http import StageClient
from shared.protocol.gateway import GMNERResponse, Task
from shared.request_context import reset_request_id, set_request_id
from shared.settings import ImageLimits
from tests.conftest import image_bytes

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

TEXT = "Idris Elba flew to London"
IDRIS = {"text": "Idris Elba", "type": "PER", "start": 0, "end": 10}
LONDON = {"text": "London", "type": "LOC", "start": 19, "end": 25}
IMAGE = image_bytes("PNG", (64, 48))
BOX = [4.0, 2.0, 40.0, 46.0]
MASK = {"size": [48, 64], "counts": "PX10"}
VISUAL = ("ve", "vg", "sam")


def read_visual(request: httpx.Request) -> tuple[dict[str, Any], bytes]:
    """A visual stage's request in either encoding: multipart (`request` JSON + `image` bytes) or JSON + base64."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
        parts = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()
        }
        return json.loads(parts["request"]), parts["image"]
    body = json.loads(request.content)
    return body, base64.b64decode(body.pop("image_b64"))


def error(status: int, code: str = "boom", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"stage says {code}"}}, headers=headers)


def read_timeout(request: httpx.Request) -> float:
    """The read timeout the client gave this request (MockTransport does not enforce it; `too_slow` does)."""
    return request.extensions["timeout"]["read"]


async def too_slow(request: httpx.Request) -> httpx.Response:
    """A stage that never answers in time: as httpx's real transport would, give up at the request's timeout
    (a hair after it, as a real timer fires)."""
    await asyncio.sleep(read_timeout(request) + 0.02)
    raise httpx.ReadTimeout("timed out", request=request)


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@dataclass
class FakeStages:
    """One handler per stage, each answering as the real stage would unless a test replaces it."""

    groundable_types: frozenset[str] = frozenset({"PER"})
    entities: list[dict[str, Any]] = field(default_factory=lambda: [IDRIS, LONDON])
    knowledge_error: str | None = None
    override: dict[str, Handler] = field(default_factory=dict)
    calls: dict[str, list[httpx.Request]] = field(default_factory=dict)

    def handler(self, stage: str) -> Handler:
        async def handle(request: httpx.Request) -> httpx.Response:
            self.calls.setdefault(stage, []).append(request)
            answer = self.override.get(stage) or getattr(self, stage)
            result = answer(request)
            return await result if inspect.isawaitable(result) else result

        return handle

    def count(self, stage: str) -> int:
        return len(self.calls.get(stage, []))

    def sent(self, stage: str, index: int = -1) -> dict[str, Any]:
        request = self.calls[stage][index]
        return read_visual(request)[0] if stage in VISUAL else json.loads(request.content)

    def ner(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "entities": self.entities,
                "knowledge": "Idris Elba is an actor." if body.get("use_knowledge") else None,
                "knowledge_used": bool(body.get("use_knowledge")),
                "knowledge_error": self.knowledge_error,
                "backend": "fake",
            },
        )

    def expansion(self, request: httpx.Request) -> httpx.Response:
        answers = [
            {
                "entity": entity["text"],
                "type": entity["type"],
                "description": "described",
                "expression": f"{entity['text']} ({entity['type']}) – described",
            }
            for entity in json.loads(request.content)["entities"]
        ]
        return httpx.Response(200, json={"expressions": answers})

    def ve(self, request: httpx.Request) -> httpx.Response:
        body, image = read_visual(request)
        assert image == IMAGE  # the post's bytes, unchanged, whatever the encoding
        groundable = [e["type"] in self.groundable_types for e in body["expressions"]]
        results = [{"groundable": g, "score": 0.9 if g else 0.1} for g in groundable]
        return httpx.Response(200, json={"results": results, "backend": "fake"})

    def vg(self, request: httpx.Request) -> httpx.Response:
        body, image = read_visual(request)
        assert image == IMAGE
        return httpx.Response(
            200, json={"results": [{"box": BOX, "score": 0.8} for _ in body["expressions"]], "backend": "fake"}
        )

    def sam(self, request: httpx.Request) -> httpx.Response:
        body, image = read_visual(request)
        assert image == IMAGE
        results = [{"mask": MASK, "area": 100, "score": 0.7} for _ in body["boxes"]]
        return httpx.Response(200, json={"results": results, "backend": "fake"})


def make_serving(stages: FakeStages, *, deadline_s: float = 30.0, without: tuple[str, ...] = ()) -> ServingGateway:
    settings = GatewaySettings(deadline_s=deadline_s, stage_retries=1)

    def client(stage: str) -> StageClient:
        transport = httpx.MockTransport(stages.handler(stage))
        return StageClient(
            stage, f"http://{stage}.test", timeout_s=10.0, retries=1, backoff_s=0.0,
            client=httpx.AsyncClient(transport=transport),
        )  # fmt: skip

    clients = StageClients(
        ner=client("ner"),
        expansion=client("expansion"),
        ve=None if "ve" in without else client("ve"),
        vg=None if "vg" in without else client("vg"),
        sam=None if "sam" in without else client("sam"),
    )
    return ServingGateway(settings, clients, ImageLimits())


def post(tasks: Task = Task.SMNER, image: bytes | None = IMAGE, use_knowledge: bool | None = None) -> Post:
    return Post(text=TEXT, image=image, caption=None, tasks=tasks, use_knowledge=use_knowledge, knowledge=None)


async def run(stages: FakeStages, request: Post | None = None, **kwargs: Any) -> GMNERResponse:
    serving = make_serving(stages, **kwargs)
    try:
        return await serving.run(request or post())
    finally:
        await serving.clients.aclose()


def by_text(answer: GMNERResponse) -> dict[str, Any]:
    return {e.text: e for e in answer.entities}


def test_the_fake_stages_read_both_visual_encodings() -> None:
    params = {"expressions": [{"entity": "Idris Elba", "type": "PER", "expression": "Idris Elba (PER)"}]}
    multipart = httpx.Request(
        "POST",
        "http://ve.test/v1/entail",
        files={"request": (None, json.dumps(params), "application/json"), "image": ("image", IMAGE, "image/png")},
    )
    multipart.read()
    as_json = httpx.Request(
        "POST", "http://ve.test/v1/entail", json={**params, "image_b64": base64.b64encode(IMAGE).decode()}
    )
    assert read_visual(multipart) == read_visual(as_json) == (params, IMAGE)


# --- the whole pipeline, every stage well -------------------------------------------------------------------


async def test_every_stage_answers_and_each_gets_only_what_it_needs() -> None:
    stages = FakeStages()
    token = set_request_id("req-unit-1")
    try:
        answer = await run(stages)
    finally:
        reset_request_id(token)
    idris, london = by_text(answer)["Idris Elba"], by_text(answer)["London"]
    assert answer.request_id == "req-unit-1" and answer.degraded == []
    assert (idris.groundable, idris.box, idris.visual_reason) == (True, BOX, None)
    assert idris.mask is not None and idris.mask.model_dump() == MASK
    assert idris.expression == "Idris Elba (PER) – described"
    assert (london.groundable, london.box, london.visual_reason) == (False, None, "not_groundable")
    # One visual call per stage with all of the post's items: VE both, VG the groundable one, SAM its box.
    assert [stages.count(s) for s in ("ner", "expansion", "ve", "vg", "sam")] == [1, 1, 1, 1, 1]
    assert [e["entity"] for e in stages.sent("ve")["expressions"]] == ["Idris Elba", "London"]
    assert [e["entity"] for e in stages.sent("vg")["expressions"]] == ["Idris Elba"]
    assert stages.sent("sam")["boxes"] == [BOX]
    assert all(r.headers["X-Request-ID"] == "req-unit-1" for calls in stages.calls.values() for r in calls)
    assert set(answer.timings_ms) == {"ner", "expansion", "ve", "vg", "sam"}


@pytest.mark.parametrize(
    ("tasks", "called", "mask", "reason"),
    [
        (Task.MNER, ["ner", "expansion"], False, "not_requested"),
        (Task.GMNER, ["ner", "expansion", "ve", "vg"], False, None),
        (Task.SMNER, ["ner", "expansion", "ve", "vg", "sam"], True, None),
    ],
)
async def test_each_task_stops_at_its_stage(tasks: Task, called: list[str], mask: bool, reason: str | None) -> None:
    stages = FakeStages()
    answer = await run(stages, post(tasks=tasks))
    assert sorted(stages.calls) == sorted(called)
    idris = by_text(answer)["Idris Elba"]
    assert (idris.mask is not None) is mask
    assert (idris.box is not None) is (tasks is not Task.MNER)
    assert idris.visual_reason == reason
    assert answer.tasks is tasks and answer.degraded == []


async def test_without_an_image_no_visual_stage_is_called() -> None:
    stages = FakeStages()
    answer = await run(stages, post(image=None))
    assert sorted(stages.calls) == ["expansion", "ner"]
    assert {e.visual_reason for e in answer.entities} == {"no_image"}
    assert all(e.box is None and e.groundable is None and e.degraded == [] for e in answer.entities)


async def test_visual_stages_not_deployed_is_a_reason_not_a_failure() -> None:
    stages = FakeStages()
    answer = await run(stages, without=("ve", "vg", "sam"))
    assert {e.visual_reason for e in answer.entities} == {"visual_stages_not_deployed"}
    assert answer.degraded == []

    stages = FakeStages()
    answer = await run(stages, without=("sam",))
    idris, london = by_text(answer)["Idris Elba"], by_text(answer)["London"]
    assert idris.box == BOX and idris.mask is None and idris.visual_reason == "visual_stages_not_deployed"
    assert london.visual_reason == "not_groundable"


async def test_an_entity_vg_finds_nothing_for_is_not_found_and_not_segmented() -> None:
    stages = FakeStages(groundable_types=frozenset({"PER", "LOC"}))
    stages.override["vg"] = lambda r: httpx.Response(
        200, json={"results": [{"box": BOX, "score": 0.8}, {"box": None, "score": 0.0}], "backend": "fake"}
    )
    answer = await run(stages)
    assert by_text(answer)["London"].visual_reason == "not_found"
    assert stages.sent("sam")["boxes"] == [BOX]  # only the boxed entity
    assert by_text(answer)["Idris Elba"].mask is not None


# --- one visual stage failing -------------------------------------------------------------------------------

FAILURES: dict[str, tuple[Handler, int]] = {
    # failure: (handler, calls the client makes: a 503 is retried once, nothing else is)
    "http_503": (lambda r: error(503, "busy"), 2),
    "http_500": (lambda r: error(500, "internal_error"), 1),
    "timeout": (too_slow, 1),
    "unreachable": (unreachable, 2),
    "bad_response": (lambda r: httpx.Response(200, json={"results": "nonsense"}), 1),
    "not_json": (lambda r: httpx.Response(200, text="<html>proxy error</html>"), 1),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_ve_failing_degrades_every_entity_and_stops_the_visual_chain(failure: str) -> None:
    handler, calls = FAILURES[failure]
    stages = FakeStages(override={"ve": handler})
    answer = await run(stages, deadline_s=0.6 if failure == "timeout" else 30.0)
    assert stages.count("ve") == calls
    assert "vg" not in stages.calls and "sam" not in stages.calls
    for entity in answer.entities:
        assert (entity.degraded, entity.visual_reason, entity.groundable) == (["ve"], "stage_failed", None)
        assert entity.expression is not None  # expansion's work is kept
    assert answer.degraded == ["ve"]


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_vg_failing_degrades_only_the_groundable_entities(failure: str) -> None:
    handler, calls = FAILURES[failure]
    stages = FakeStages(override={"vg": handler})
    answer = await run(stages, deadline_s=0.6 if failure == "timeout" else 30.0)
    idris, london = by_text(answer)["Idris Elba"], by_text(answer)["London"]
    assert stages.count("vg") == calls and "sam" not in stages.calls
    # VE's verdict survives; only the entity VG was asked about is marked.
    assert (idris.groundable, idris.box, idris.degraded, idris.visual_reason) == (True, None, ["vg"], "stage_failed")
    assert (london.groundable, london.degraded, london.visual_reason) == (False, [], "not_groundable")
    assert answer.degraded == ["vg"]


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_sam_failing_keeps_the_boxes(failure: str) -> None:
    handler, calls = FAILURES[failure]
    stages = FakeStages(override={"sam": handler})
    answer = await run(stages, deadline_s=0.6 if failure == "timeout" else 30.0)
    idris, london = by_text(answer)["Idris Elba"], by_text(answer)["London"]
    assert stages.count("sam") == calls
    assert (idris.box, idris.mask, idris.degraded, idris.visual_reason) == (BOX, None, ["sam"], "stage_failed")
    assert (london.degraded, london.visual_reason) == ([], "not_groundable")
    assert answer.degraded == ["sam"]


@pytest.mark.parametrize("stage", VISUAL)
async def test_a_stage_answering_the_wrong_number_of_results_degrades(stage: str) -> None:
    stages = FakeStages(groundable_types=frozenset({"PER", "LOC"}))
    right = getattr(stages, stage)

    def one_result_short(request: httpx.Request) -> httpx.Response:
        body = right(request).json()
        return httpx.Response(200, json={**body, "results": body["results"][:-1]})

    stages.override[stage] = one_result_short
    answer = await run(stages)
    assert all(e.degraded == [stage] for e in answer.entities)


async def test_a_visual_stage_rejecting_the_request_degrades_too() -> None:
    stages = FakeStages(override={"vg": lambda r: error(400, "invalid_box")})
    answer = await run(stages)
    assert stages.count("vg") == 1  # a 4xx is not retried
    assert by_text(answer)["Idris Elba"].degraded == ["vg"]


async def test_429_is_retried_after_retry_after_then_answers() -> None:
    stages = FakeStages()
    stages.override["ve"] = lambda r: (
        error(429, "too_many_requests", {"Retry-After": "0"}) if stages.count("ve") == 1 else stages.ve(r)
    )
    answer = await run(stages)
    assert stages.count("ve") == 2
    assert answer.degraded == [] and by_text(answer)["Idris Elba"].mask is not None


# --- expansion, knowledge -----------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["http_503", "timeout", "bad_response"])
async def test_expansion_failing_falls_back_to_name_and_type(failure: str) -> None:
    handler, _ = FAILURES[failure]
    stages = FakeStages(override={"expansion": handler})
    answer = await run(stages, deadline_s=0.6 if failure == "timeout" else 30.0)
    if failure == "timeout":
        # The slow expansion spent the whole deadline: VE is not even tried, and says so.
        assert "ve" not in stages.calls
        assert all(e.degraded == ["expansion", "ve"] for e in answer.entities)
        return
    assert all(e.expression is None and e.degraded == ["expansion"] for e in answer.entities)
    # The visual stages still run, on the `Name (TYPE)` fallback.
    assert [e["expression"] for e in stages.sent("ve")["expressions"]] == ["Idris Elba (PER)", "London (LOC)"]
    assert by_text(answer)["Idris Elba"].mask is not None
    assert answer.degraded == ["expansion"]


async def test_one_failed_expansion_call_degrades_every_entity_of_the_post() -> None:
    # All entities of a post are expanded in one call, so its failure is theirs.
    stages = FakeStages()
    stages.override["expansion"] = lambda request: error(500)
    answer = await run(stages)
    assert stages.count("expansion") == 1  # one call (a 500 is not retried)
    assert all((e.expression, e.degraded) == (None, ["expansion"]) for e in answer.entities)


async def test_a_failed_knowledge_step_is_reported_at_the_top() -> None:
    stages = FakeStages(knowledge_error="LLM unreachable")
    answer = await run(stages, post(use_knowledge=True))
    assert answer.degraded == ["knowledge"]
    assert all(e.degraded == [] for e in answer.entities)


async def test_no_entities_calls_nothing_after_ner() -> None:
    stages = FakeStages(entities=[])
    answer = await run(stages)
    assert sorted(stages.calls) == ["ner"] and answer.entities == [] and answer.degraded == []


async def test_entities_beyond_max_entities_are_dropped() -> None:
    stages = FakeStages(entities=[IDRIS] * 20)
    answer = await run(stages, post(tasks=Task.MNER))
    assert len(answer.entities) == GatewaySettings().max_entities == len(stages.sent("expansion")["entities"])


# --- the request's deadline ---------------------------------------------------------------------------------


async def test_deadline_spent_in_vg_keeps_ve_and_marks_vg() -> None:
    stages = FakeStages(override={"vg": too_slow})
    answer = await run(stages, deadline_s=0.6)
    idris, london = by_text(answer)["Idris Elba"], by_text(answer)["London"]
    # VG was given only what was left of the deadline, not its own 10 s timeout, and not retried.
    assert read_timeout(stages.calls["vg"][0]) <= 0.6
    assert stages.count("vg") == 1 and "sam" not in stages.calls
    assert (idris.groundable, idris.box, idris.degraded, idris.visual_reason) == (True, None, ["vg"], "stage_failed")
    assert london.visual_reason == "not_groundable" and london.degraded == []
    assert idris.expression == "Idris Elba (PER) – described"  # the earlier stages' work is all there
    assert answer.degraded == ["vg"] and "vg" in answer.timings_ms


async def test_each_stage_gets_only_what_is_left_of_the_deadline() -> None:
    stages = FakeStages()

    async def slow_ve(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.6)  # answers in time, but spends most of the deadline
        return stages.ve(request)

    stages.override["ve"] = slow_ve
    answer = await run(stages, deadline_s=1.0)
    assert read_timeout(stages.calls["ve"][0]) <= 1.0
    # What VG may take is the deadline less VE's 0.6 s at least (a stage's own timeout is 10 s here).
    assert read_timeout(stages.calls["vg"][0]) <= 0.4
    assert by_text(answer)["Idris Elba"].groundable is True


async def test_a_deadline_already_spent_marks_the_next_stage_without_calling_it() -> None:
    stages = FakeStages()

    async def slow_expansion(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(read_timeout(request) + 0.02)
        return stages.expansion(request)  # too late: httpx's per-read timeout alone would still take it

    stages.override["expansion"] = slow_expansion
    answer = await run(stages, deadline_s=0.3)
    assert "ve" not in stages.calls
    for entity in answer.entities:
        # The deadline bounds the whole call (shared/http.py): a late answer is not waited for, the call is
        # cancelled (its connection closed, so the stage stops too), and nothing after it is called.
        assert entity.expression is None
        assert (entity.degraded, entity.visual_reason) == (["expansion", "ve"], "stage_failed")
    assert answer.degraded == ["expansion", "ve"]


# --- NER: the one stage without which there is no answer ------------------------------------------------------


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_ner_refusing_the_input_is_the_same_4xx(status: int) -> None:
    stages = FakeStages(override={"ner": lambda r: error(status, "text_too_long")})
    with pytest.raises(APIError) as caught:
        await run(stages)
    assert (caught.value.status_code, caught.value.stage) == (status, "ner")
    assert caught.value.message == "stage says text_too_long"
    assert stages.count("ner") == 1 and "expansion" not in stages.calls


@pytest.mark.parametrize("failure", ["http_503", "http_500", "unreachable", "timeout", "bad_response", "http_429"])
async def test_ner_failing_is_503_with_retry_after(failure: str) -> None:
    handler = (lambda r: error(429, "too_many_requests")) if failure == "http_429" else FAILURES[failure][0]
    stages = FakeStages(override={"ner": handler})
    with pytest.raises(APIError) as caught:
        await run(stages, deadline_s=0.6 if failure == "timeout" else 30.0)
    error_ = caught.value
    assert (error_.status_code, error_.code, error_.stage) == (503, "stage_unavailable", "ner")
    assert error_.headers["Retry-After"] == str(GatewaySettings().retry_after_s)
    assert "expansion" not in stages.calls
