"""The gateway's pipeline: NER, expansion, then VE -> VG -> SAM for all entities at once, with visible degradation."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from gateway.clients import StageClients
from gateway.inputs import Post
from gateway.progress import BOXES, ENTITIES, EXPRESSIONS, GROUNDABILITY, MASKS, stage_done
from gateway.settings import GatewaySettings
from shared.errors import StageUnavailable, error_for_status
from shared.http import StageClient, StageError
from shared.images import DecodedImage, decode_image
from shared.limits import TEXT_LIMITS
from shared.protocol.common import Entity, EntityRef, RLEMask
from shared.protocol.expansion import MAX_EXPAND_ENTITIES, ExpandRequest, ExpandResponse
from shared.protocol.gateway import GMNEREntity, GMNERResponse, Task, VisualReason
from shared.protocol.ner import NERRequest, NERResponse
from shared.protocol.visual import (
    EntailParams,
    EntailRequest,
    EntailResponse,
    GroundParams,
    GroundRequest,
    GroundResponse,
    SegmentParams,
    SegmentRequest,
    SegmentResponse,
    VisualExpression,
)
from shared.request_context import get_request_id
from shared.settings import ImageLimits

logger = logging.getLogger(__name__)

ResponseT = TypeVar("ResponseT", bound=BaseModel)


@dataclass
class EntityState:
    """One entity on its way through the stages."""

    entity: Entity
    expression: str | None = None
    groundable: bool | None = None
    groundable_score: float | None = None
    box: list[float] | None = None
    box_score: float | None = None
    candidate_boxes: list[list[float]] | None = None
    mask: RLEMask | None = None
    mask_score: float | None = None
    reason: VisualReason | None = None
    degraded: list[str] = field(default_factory=list)

    @property
    def fallback_expression(self) -> str:
        return self.expression or f"{self.entity.text} ({self.entity.type.value})"

    def fail(self, stage: str) -> None:
        self.degraded.append(stage)
        self.reason = VisualReason.STAGE_FAILED

    def to_response(self) -> GMNEREntity:
        return GMNEREntity(
            text=self.entity.text,
            type=self.entity.type,
            start=self.entity.start,
            end=self.entity.end,
            expression=self.expression,
            groundable=self.groundable,
            groundable_score=self.groundable_score,
            box=self.box,
            box_score=self.box_score,
            candidate_boxes=self.candidate_boxes,
            mask=self.mask,
            mask_score=self.mask_score,
            visual_reason=self.reason,
            degraded=self.degraded,
        )


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def budget(self, stage_timeout_s: float) -> float:
        """The stage's own timeout, or what is left of the request's deadline if that is less."""
        return max(0.001, min(stage_timeout_s, self.ends - time.monotonic()))

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.ends


class StageImage:
    """The post's image as the visual stages get it: the uploaded bytes as a multipart part, beside the JSON of
    the call's parameters (`shared/image_request.py` reads it on the other side)."""

    def __init__(self, data: bytes) -> None:
        self.part: bytes | None = data

    def body(self, params: BaseModel, json_model: type[BaseModel]) -> BaseModel:
        """The call's JSON: the parameters alone (the image travels as `part`)."""
        return params


class ServingGateway:
    # How the image travels to VE, VG and SAM. A class, not a setting: benchmarks/bench_data_path.py swaps in the
    # base64-in-JSON form to measure what multipart saves.
    stage_image: type[StageImage] = StageImage

    def __init__(
        self,
        settings: GatewaySettings,
        clients: StageClients,
        image_limits: ImageLimits,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.image_limits = image_limits

    async def decode(self, post: Post) -> DecodedImage | None:
        """The post's image decoded with every limit checked (4xx otherwise), or None without an image."""
        if post.image is None:
            return None
        return await asyncio.to_thread(decode_image, post.image, self.image_limits)

    async def run(self, post: Post, decoded: DecodedImage | None = None) -> GMNERResponse:
        """`decoded`: the caller's `decode(post)`, when it needs the pixels too (the overlay); the image is then
        not decoded again. The stages get the uploaded bytes, never the pixels (6 MB for a 2 MP photo)."""
        deadline = Deadline(self.settings.deadline_s)
        timings: dict[str, float] = {}
        text = post.text
        if decoded is None and post.image is not None:
            # Validate before any stage is called, so a bad image costs the stages nothing. The pixels are
            # dropped at once: /v1/gmner does not need them, and holding them per request in flight would.
            await self.decode(post)
        ner = await self._ner(post, text, deadline, timings)
        states = [EntityState(entity) for entity in ner.entities[: self.settings.max_entities]]
        stage_done(ENTITIES, states)
        degraded: set[str] = {"knowledge"} if ner.knowledge_error else set()

        if states:
            started = time.perf_counter()
            chunks = [states[i : i + MAX_EXPAND_ENTITIES] for i in range(0, len(states), MAX_EXPAND_ENTITIES)]
            await asyncio.gather(
                *(self._expand_and_tell(chunk, post, text, ner.knowledge, deadline) for chunk in chunks)
            )
            timings["expansion"] = _ms(started)
            await self._visual(states, post, deadline, timings)
        for state in states:
            degraded.update(state.degraded)
        return GMNERResponse(
            request_id=get_request_id() or "",
            text=text,
            tasks=post.tasks,
            entities=[state.to_response() for state in states],
            knowledge=ner.knowledge,
            degraded=sorted(degraded),
            timings_ms=timings,
        )

    async def _ner(self, post: Post, text: str, deadline: Deadline, timings: dict[str, float]) -> NERResponse:
        request = NERRequest(
            text=text,
            caption=post.caption,
            use_knowledge=post.use_knowledge,
            knowledge=post.knowledge,
            return_knowledge=True,
        )
        started = time.perf_counter()
        try:
            return await self.clients.ner.post(
                "/v1/ner", request, NERResponse, timeout_s=deadline.budget(self.settings.ner_timeout_s)
            )
        except StageError as exc:
            # Without entities there is nothing useful to answer.
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                raise error_for_status(exc.status)("invalid_input", exc.message, stage="ner") from exc
            raise StageUnavailable(
                "stage_unavailable",
                f"The NER stage failed ({exc.reason}): {exc.message}",
                stage="ner",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            ) from exc
        finally:
            timings["ner"] = _ms(started)

    async def _expand_and_tell(
        self, states: list[EntityState], post: Post, text: str, knowledge: str | None, deadline: Deadline
    ) -> None:
        await self._expand(states, post, text, knowledge, deadline)
        stage_done(EXPRESSIONS, states)  # with their expressions, or marked degraded

    async def _expand(
        self, states: list[EntityState], post: Post, text: str, knowledge: str | None, deadline: Deadline
    ) -> None:
        """One call with all of the post's entities, not one per entity. The stage makes the LLM calls of one
        request concurrently, so the LLM work is the same; the HTTP round trips are not. Measured with
        `benchmarks/bench_expansion_batch.py --cold 8` (3 entities, embedded gemma-3-270m, 2 shared cores): cold,
        median 2.56 s batched vs 2.84 s per entity; LLM cache warm, 2.9 ms vs 7.4 ms. The price:
        a failed call leaves every entity of the post without an expression, where it left one before."""
        if deadline.expired:  # nobody waits for the answer any more: no call
            for state in states:
                state.degraded.append("expansion")
            return
        request = ExpandRequest(
            text=text,
            caption=post.caption,
            knowledge=knowledge,
            entities=[EntityRef(text=state.entity.text, type=state.entity.type) for state in states],
        )
        try:
            response = await self.clients.expansion.post(
                "/v1/expand", request, ExpandResponse, timeout_s=deadline.budget(self.settings.expansion_timeout_s)
            )
        except StageError:
            for state in states:
                state.degraded.append("expansion")
            return
        if len(response.expressions) != len(states):  # a stage bug: no expression is better than a wrong one
            for state in states:
                state.degraded.append("expansion")
            return
        for state, expression in zip(states, response.expressions, strict=True):
            state.expression = expression.expression

    async def _visual(
        self, states: list[EntityState], post: Post, deadline: Deadline, timings: dict[str, float]
    ) -> None:
        clients = self.clients
        if post.tasks is Task.MNER:
            return self._set_reason(states, VisualReason.NOT_REQUESTED)
        if post.image is None:
            return self._set_reason(states, VisualReason.NO_IMAGE)
        if clients.ve is None or clients.vg is None:
            return self._set_reason(states, VisualReason.NOT_IMPLEMENTED)
        image = self.stage_image(post.image)

        expressions = [self._visual_expression(s) for s in states]
        entail = await self._call(
            clients.ve,
            "/v1/entail",
            image.body(EntailParams(expressions=expressions, text=post.text), EntailRequest),
            image,
            EntailResponse,
            self.settings.ve_timeout_s,
            deadline,
            timings,
            states,
        )
        if entail is None:
            return None
        grounded: list[EntityState] = []
        for state, entailment in zip(states, entail.results, strict=True):
            state.groundable, state.groundable_score = entailment.groundable, entailment.score
            if entailment.groundable:
                grounded.append(state)
            else:
                state.reason = VisualReason.NOT_GROUNDABLE
        stage_done(GROUNDABILITY, states)
        if not grounded:
            return None

        ground = await self._call(
            clients.vg,
            "/v1/ground",
            image.body(
                GroundParams(expressions=[self._visual_expression(s) for s in grounded], text=post.text), GroundRequest
            ),
            image,
            GroundResponse,
            self.settings.vg_timeout_s,
            deadline,
            timings,
            grounded,
        )
        if ground is None:
            return None
        boxed: list[EntityState] = []
        for state, grounding in zip(grounded, ground.results, strict=True):
            state.candidate_boxes = grounding.candidate_boxes
            if grounding.box is None:
                state.reason = VisualReason.AMBIGUOUS if grounding.candidate_boxes else VisualReason.NOT_FOUND
                continue
            state.box, state.box_score = grounding.box, grounding.score
            boxed.append(state)
        stage_done(BOXES, grounded)
        if not boxed or post.tasks is not Task.SMNER:
            return None
        if clients.sam is None:
            return self._set_reason(boxed, VisualReason.NOT_IMPLEMENTED)

        segment = await self._call(
            clients.sam,
            "/v1/segment",
            image.body(SegmentParams(boxes=[s.box for s in boxed if s.box]), SegmentRequest),
            image,
            SegmentResponse,
            self.settings.sam_timeout_s,
            deadline,
            timings,
            boxed,
        )
        if segment is None:
            return None
        for state, segmentation in zip(boxed, segment.results, strict=True):
            state.mask, state.mask_score = segmentation.mask, segmentation.score
        stage_done(MASKS, boxed)
        return None

    async def _call(
        self,
        client: StageClient,
        path: str,
        body: BaseModel,
        image: StageImage,
        response_model: type[ResponseT],
        timeout_s: float,
        deadline: Deadline,
        timings: dict[str, float],
        affected: list[EntityState],
    ) -> ResponseT | None:
        """Call one visual stage for a batch of entities; on failure mark them degraded and return None."""
        if deadline.expired:
            for state in affected:
                state.fail(client.stage)
            return None
        started = time.perf_counter()
        try:
            answer = await client.post(
                path, body, response_model, timeout_s=deadline.budget(timeout_s), image=image.part
            )
        except StageError:
            for state in affected:
                state.fail(client.stage)
            return None
        finally:
            timings[client.stage] = _ms(started)
        results: list[object] = getattr(answer, "results", [])
        if len(results) != len(affected):
            # A stage bug, not the client's: the results cannot be matched to entities, so none is used.
            logger.warning(
                "stage answered the wrong number of results",
                extra={"stage": client.stage, "results": len(results), "expected": len(affected)},
            )
            for state in affected:
                state.fail(client.stage)
            return None
        return answer

    @staticmethod
    def _visual_expression(state: EntityState) -> VisualExpression:
        # Cut to the limit the stages' schema sets: an entity near it plus " (TYPE) – description" would be over.
        expression = state.fallback_expression[: TEXT_LIMITS.max_text_chars]
        return VisualExpression(entity=state.entity.text, type=state.entity.type, expression=expression)

    @staticmethod
    def _set_reason(states: list[EntityState], reason: VisualReason) -> None:
        for state in states:
            state.reason = reason


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
