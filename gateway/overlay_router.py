"""The visual answer (`POST /v1/gmner/overlay`, a PNG) and the web page (`/`, files under `static/`)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.inputs import read_post
from gateway.overlay import render_overlay, to_png
from gateway.router import OVERLAY_REQUEST_BODY, ServingDep
from shared.errors import InvalidRequest
from shared.images import DecodedImage
from shared.limits import TEXT_LIMITS
from shared.protocol.gateway import GMNERResponse

STATIC_DIR = Path(__file__).parent / "static"

overlay_router = APIRouter(prefix="/v1", tags=["gmner"])
page_router = APIRouter(include_in_schema=False)


@overlay_router.post(
    "/gmner/overlay",
    response_class=Response,
    openapi_extra=OVERLAY_REQUEST_BODY,
    responses={200: {"content": {"image/png": {}}, "description": "The image with masks, boxes and labels."}},
)
async def gmner_overlay(request: Request, serving: ServingDep) -> Response:
    """The same answer as `POST /v1/gmner`, drawn over the image as a PNG (for people who would rather look)."""
    post = await read_post(request)
    if post.image is None:
        raise InvalidRequest("image_required", "The overlay needs an image: send `image` (multipart) or `image_b64`.")
    # Decoded once, here, as the stages decode it (limits checked, EXIF orientation applied, so boxes land where
    # they belong): `run` validates with these pixels instead of decoding again, and they are drawn on.
    decoded = await serving.decode(post)
    assert decoded is not None
    answer = await serving.run(post, decoded)
    png = await asyncio.to_thread(_render, decoded, answer)
    headers = {
        "X-GMNER-Entities": str(len(answer.entities)),
        "X-GMNER-Grounded": str(sum(1 for e in answer.entities if e.box is not None)),
        "X-GMNER-Degraded": ",".join(answer.degraded),
    }
    return Response(png, media_type="image/png", headers=headers)


def _render(decoded: DecodedImage, answer: GMNERResponse) -> bytes:
    return to_png(render_overlay(decoded.image, answer.entities))


@page_router.get("/")
async def index() -> HTMLResponse:
    """The page to try one post by hand; its script calls `POST /v1/gmner`."""
    return HTMLResponse(_page_html(), headers={"Cache-Control": "no-cache"})


@functools.cache
def _page_html() -> str:
    # The text box's limit comes from the deployment's one setting, so the page stops typing where the API
    # would answer 422.
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return template.replace("{{max_text_chars}}", str(TEXT_LIMITS.max_text_chars))
