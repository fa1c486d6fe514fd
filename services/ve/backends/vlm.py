"""A vision-language model behind an OpenAI-compatible server (production), asked one yes/no question
per expression with vLLM's structured output (`"structured_outputs": {"choice": ["yes", "no"]}`).

Score: P(yes) / (P(yes) + P(no)) from the first token's log-probabilities when the server returns them,
else 1.0 for "yes" and 0.0 for "no". An answer that is neither counts as "no" (score 0) and is logged.
"""

from __future__ import annotations

import asyncio
import logging
import math

import httpx

from engines.vision.expressions import fill
from engines.vision.vlm import ChatAnswer, EncodedImage, VisionChatClient, VLMConfig, VLMError
from services.ve.backends.base import VEBackend, entailments
from shared.errors import StageUnavailable
from shared.images import DecodedImage
from shared.protocol.visual import Entailment, VisualExpression

logger = logging.getLogger(__name__)

CHOICES = ["yes", "no"]


def yes_probability(answer: ChatAnswer) -> float:
    if answer.first_token_logprobs:
        p_yes = sum(math.exp(lp) for t, lp in answer.first_token_logprobs.items() if t.strip().lower() == "yes")
        p_no = sum(math.exp(lp) for t, lp in answer.first_token_logprobs.items() if t.strip().lower() == "no")
        if p_yes + p_no > 0:
            return p_yes / (p_yes + p_no)
    word = answer.text.strip().strip(".!\"'").lower()
    if word == "yes":
        return 1.0
    if word != "no":
        logger.warning("VLM answer is neither yes nor no; taken as no", extra={"answer": answer.text[:80]})
    return 0.0


class VLMVEBackend(VEBackend):
    """Not a pipeline: the model runs on the server, so `run` is the whole backend."""

    name = "vlm"
    default_threshold = 0.5

    def __init__(
        self,
        config: VLMConfig,
        *,
        question: str,
        threshold: float | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.threshold = self.default_threshold if threshold is None else threshold
        self.config = config
        self.question = question
        self.client = VisionChatClient(config, app="ve", client=client)

    async def run(self, image: DecodedImage, expressions: list[VisualExpression]) -> list[Entailment]:
        encoded = await asyncio.to_thread(self.client.encode, image.image)
        try:
            scores = await asyncio.gather(*(self._ask(encoded, e) for e in expressions))
        except VLMError as exc:
            raise StageUnavailable("vlm_unavailable", str(exc)) from exc
        return entailments(list(scores), self.threshold)

    async def _ask(self, image: EncodedImage, expression: VisualExpression) -> float:
        answer = await self.client.ask(
            image,
            fill(self.question, expression),
            structured_outputs={"choice": CHOICES},
            max_tokens=2,
            logprobs=5,
        )
        return yes_probability(answer)

    async def ready(self) -> str:
        return "ok" if await self.client.ready() else f"the VLM server at {self.config.base_url} does not answer"

    async def aclose(self) -> None:
        await self.client.aclose()
