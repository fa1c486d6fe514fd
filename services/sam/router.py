"""`POST /v1/segment`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.sam.serving import ServingSam
from shared.dependencies import get_serving
from shared.image_request import ImageRequest, ImageRequestReader
from shared.protocol.visual import SegmentParams, SegmentRequest, SegmentResponse

router = APIRouter(prefix="/v1", tags=["sam"])

# Multipart (`request` JSON + `image` bytes, what the gateway sends) or JSON with `image_b64`.
read_request = ImageRequestReader(SegmentParams, SegmentRequest)
RequestDep = Annotated[ImageRequest[SegmentParams], Depends(read_request)]


ServingDep = Annotated[ServingSam, Depends(get_serving)]


@router.post("/segment", response_model=SegmentResponse, openapi_extra=read_request.openapi)
async def segment(body: RequestDep, serving: ServingDep) -> SegmentResponse:
    """One mask per box (COCO RLE over the original image), its area in pixels and the predicted IoU.

    The image is encoded once per call, and not at all when its embedding is still cached."""
    return await serving.segment(body.params, body.image)
