"""`POST /v1/segment`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.sam.serving import ServingSam
from shared.errors import APIError
from shared.protocol.visual import SegmentRequest, SegmentResponse

router = APIRouter(prefix="/v1", tags=["sam"])


def get_serving(request: Request) -> ServingSam:
    serving: ServingSam | None = getattr(request.app.state, "serving", None)
    if serving is None:
        raise APIError(503, "not_ready", "The SAM model is not loaded.")
    return serving


ServingDep = Annotated[ServingSam, Depends(get_serving)]


@router.post("/segment", response_model=SegmentResponse)
async def segment(body: SegmentRequest, serving: ServingDep) -> SegmentResponse:
    """One mask per box (COCO RLE over the original image), its area in pixels and the predicted IoU.

    The image is encoded once per call, and not at all when its embedding is still cached."""
    return await serving.segment(body)
