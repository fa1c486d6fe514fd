"""HTTP routes of the VE service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.ve.serving import ServingEntail
from shared.dependencies import get_serving
from shared.protocol.visual import EntailRequest, EntailResponse

router = APIRouter(prefix="/v1", tags=["ve"])


ServingDep = Annotated[ServingEntail, Depends(get_serving)]


@router.post("/entail", response_model=EntailResponse)
async def entail(body: EntailRequest, serving: ServingDep) -> EntailResponse:
    """For each referring expression, in order: is its entity in the image (`groundable`) and a score."""
    return await serving.entail(body)
