"""The gateway's pipeline: NER, then per entity expansion -> VE -> VG -> SAM, with visible degradation."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel

from gateway.clients import StageClients
from gateway.inputs import Post
from gateway.settings import GatewaySettings
from shared.errors import APIError
from shared.http import StageClient, StageError
from shared.images import decode_image, encode_base64
from shared.protocol.common import Entity, EntityRef, RLEMask
from shared.protocol.expansion import ExpandRequest, ExpandResponse
from shared.protocol.gateway import GMNEREntity, GMNERResponse, Task, VisualReason
from shared.protocol.ner import NERRequest, NERResponse
from shared.protocol.visual import (
    EntailRequest,
    EntailResponse,
    GroundRequest,
    GroundResponse,
    SegmentRequest,
    SegmentResponse,
    VisualExpression,
)
from shared.request_context import get_request_id
from shared.settings import ImageLimits
from shared.validation import check_text

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


class GatewayServing:
    def __init__(self, settings: GatewaySettings, clients: StageClients, image_limits: ImageLimits) -> None:
        self.settings = settings
        self.clients = clients
        self.image_limits = image_limits

    async def run(self, post: Post) -> GMNERResponse:
        deadline = Deadline(self.settings.deadline_s)
        timings: dict[str, float] = {}
        text = check_text(post.text, self.settings.max_text_chars)
        if post.image is not None:
            # Validate before any stage is called, so a bad image costs the stages nothing.
            await asyncio.to_thread(decode_image, post.image, self.image_limits)
        ner = await self._ner(post, text, deadline, timings)
        states = [EntityState(entity) for entity in ner.entities[: self.settings.max_entities]]
        degraded: set[str] = {"knowledge"} if ner.knowledge_error else set()

        if states:
            started = time.perf_counter()
            await asyncio.gather(*(self._expand(state, post, text, ner.knowledge, deadline) for state in states))
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
                raise APIError(exc.status, "invalid_input", exc.message, stage="ner") from exc
            raise APIError(
                503,
                "stage_unavailable",
                f"The NER stage failed ({exc.reason}): {exc.message}",
                stage="ner",
                headers={"Retry-After": str(self.settings.retry_after_s)},
            ) from exc
        finally:
            timings["ner"] = _ms(started)

    async def _expand(
        self, state: EntityState, post: Post, text: str, knowledge: str | None, deadline: Deadline
    ) -> None:
        request = ExpandRequest(
            text=text,
            caption=post.caption,
            knowledge=knowledge,
            entities=[EntityRef(text=state.entity.text, type=state.entity.type)],
        )
        try:
            response = await self.clients.expansion.post(
                "/v1/expand", request, ExpandResponse, timeout_s=deadline.budget(self.settings.expansion_timeout_s)
            )
        except StageError:
            state.degraded.append("expansion")
            return
        state.expression = response.expressions[0].expression

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
        image_b64 = encode_base64(post.image)  # once per request, reused by every visual call

        expressions = [self._visual_expression(s) for s in states]
        entail = await self._call(
            clients.ve,
            "/v1/entail",
            EntailRequest(image_b64=image_b64, expressions=expressions),
            EntailResponse,
            self.settings.ve_timeout_s,
            deadline,
            timings,
            states,
        )
        if entail is None:
            return None
        grounded: list[EntityState] = []
        for state, result in zip(states, entail.results, strict=True):
            state.groundable, state.groundable_score = result.groundable, result.score
            if result.groundable:
                grounded.append(state)
            else:
                state.reason = VisualReason.NOT_GROUNDABLE
        if not grounded:
            return None

        ground = await self._call(
            clients.vg,
            "/v1/ground",
            GroundRequest(image_b64=image_b64, expressions=[self._visual_expression(s) for s in grounded]),
            GroundResponse,
            self.settings.vg_timeout_s,
            deadline,
            timings,
            grounded,
        )
        if ground is None:
            return None
        boxed: list[EntityState] = []
        for state, result in zip(grounded, ground.results, strict=True):
            if result.box is None:
                state.reason = VisualReason.NOT_FOUND
                continue
            state.box, state.box_score = result.box, result.score
            boxed.append(state)
        if not boxed or post.tasks is not Task.SMNER:
            return None
        if clients.sam is None:
            return self._set_reason(boxed, VisualReason.NOT_IMPLEMENTED)

        segment = await self._call(
            clients.sam,
            "/v1/segment",
            SegmentRequest(image_b64=image_b64, boxes=[s.box for s in boxed if s.box]),
            SegmentResponse,
            self.settings.sam_timeout_s,
            deadline,
            timings,
            boxed,
        )
        if segment is None:
            return None
        for state, result in zip(boxed, segment.results, strict=True):
            state.mask, state.mask_score = result.mask, result.score
        return None

    async def _call(
        self,
        client: StageClient,
        path: str,
        body: BaseModel,
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
            return await client.post(path, body, response_model, timeout_s=deadline.budget(timeout_s))
        except StageError:
            for state in affected:
                state.fail(client.stage)
            return None
        finally:
            timings[client.stage] = _ms(started)

    @staticmethod
    def _visual_expression(state: EntityState) -> VisualExpression:
        return VisualExpression(entity=state.entity.text, type=state.entity.type, expression=state.fallback_expression)

    @staticmethod
    def _set_reason(states: list[EntityState], reason: VisualReason) -> None:
        for state in states:
            state.reason = reason


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
