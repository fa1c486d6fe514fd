"""HTTP routes of the NER service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.ner.serving import ServingNER
from shared.dependencies import get_serving
from shared.protocol.ner import NERRequest, NERResponse

router = APIRouter(prefix="/v1", tags=["ner"])


ServingDep = Annotated[ServingNER, Depends(get_serving)]


@router.post("/ner", response_model=NERResponse, response_model_exclude_none=True)
async def recognise(body: NERRequest, serving: ServingDep) -> NERResponse:
    """Named entities of a post, with the LLM's auxiliary knowledge as extra context for the tagger."""
    return await serving.recognise(body)
