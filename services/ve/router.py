"""HTTP routes of the VE service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.ve.serving import ServingEntail
from shared.dependencies import get_serving
from shared.image_request import ImageRequest, ImageRequestReader
from shared.protocol.visual import EntailParams, EntailRequest, EntailResponse

router = APIRouter(prefix="/v1", tags=["ve"])

# Multipart (`request` JSON + `image` bytes, what the gateway sends) or JSON with `image_b64`.
read_request = ImageRequestReader(EntailParams, EntailRequest)
RequestDep = Annotated[ImageRequest[EntailParams], Depends(read_request)]


ServingDep = Annotated[ServingEntail, Depends(get_serving)]


@router.post("/entail", response_model=EntailResponse, openapi_extra=read_request.openapi)
async def entail(body: RequestDep, serving: ServingDep) -> EntailResponse:
    """For each referring expression, in order: is its entity in the image (`groundable`) and a score."""
    return await serving.entail(body.params, body.image)
