"""HTTP routes of the VG service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.vg.serving import ServingGround
from shared.dependencies import get_serving
from shared.image_request import ImageRequest, ImageRequestReader
from shared.protocol.visual import GroundParams, GroundRequest, GroundResponse

router = APIRouter(prefix="/v1", tags=["vg"])

# Multipart (`request` JSON + `image` bytes, what the gateway sends) or JSON with `image_b64`.
read_request = ImageRequestReader(GroundParams, GroundRequest)
RequestDep = Annotated[ImageRequest[GroundParams], Depends(read_request)]


ServingDep = Annotated[ServingGround, Depends(get_serving)]


@router.post("/ground", response_model=GroundResponse, openapi_extra=read_request.openapi)
async def ground(body: RequestDep, serving: ServingDep) -> GroundResponse:
    """For each referring expression, in order: a box `[x1, y1, x2, y2]` in original pixels (or null) and a score."""
    return await serving.ground(body.params, body.image)
