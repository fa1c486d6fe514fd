"""HTTP routes of the VG service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.vg.serving import ServingGround
from shared.dependencies import get_serving
from shared.protocol.visual import GroundRequest, GroundResponse

router = APIRouter(prefix="/v1", tags=["vg"])


ServingDep = Annotated[ServingGround, Depends(get_serving)]


@router.post("/ground", response_model=GroundResponse)
async def ground(body: GroundRequest, serving: ServingDep) -> GroundResponse:
    """For each referring expression, in order: a box `[x1, y1, x2, y2]` in original pixels (or null) and a score."""
    return await serving.ground(body)
