"""`POST /v1/segment`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.sam.serving import ServingSam
from shared.dependencies import get_serving
from shared.protocol.visual import SegmentRequest, SegmentResponse

router = APIRouter(prefix="/v1", tags=["sam"])


ServingDep = Annotated[ServingSam, Depends(get_serving)]


@router.post("/segment", response_model=SegmentResponse)
async def segment(body: SegmentRequest, serving: ServingDep) -> SegmentResponse:
    """One mask per box (COCO RLE over the original image), its area in pixels and the predicted IoU.

    The image is encoded once per call, and not at all when its embedding is still cached."""
    return await serving.segment(body)
