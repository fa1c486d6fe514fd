"""HTTP routes of the gateway."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gateway.inputs import read_post
from gateway.serving import ServingGateway
from gateway.streaming import EVENT_STREAM, stream_answer, wants_stream
from shared.dependencies import get_serving
from shared.limits import TEXT_LIMITS
from shared.openapi import inline_refs
from shared.protocol.gateway import GMNERJSONRequest, GMNERResponse, Task

router = APIRouter(prefix="/v1", tags=["gmner"])


ServingDep = Annotated[ServingGateway, Depends(get_serving)]


def request_body(*, image_required: bool) -> dict[str, Any]:
    """The request body as the docs show it (the handlers read JSON or multipart by hand)."""
    json_schema = inline_refs(GMNERJSONRequest.model_json_schema())
    form_required = ["text"]
    max_chars = TEXT_LIMITS.max_text_chars
    if image_required:
        json_schema["required"] = [*json_schema.get("required", []), "image_b64"]
        json_schema["properties"]["image_b64"] = {"type": "string", "minLength": 1, "description": "Base64 image."}
        form_required.append("image")
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": json_schema},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": form_required,
                        "properties": {
                            "text": {"type": "string", "minLength": 1, "maxLength": max_chars},
                            "image": {"type": "string", "format": "binary"},
                            "caption": {"type": "string", "maxLength": max_chars},
                            "tasks": {"type": "string", "enum": [t.value for t in Task], "default": "smner"},
                            "use_knowledge": {"type": "boolean"},
                            "knowledge": {"type": "string"},
                            "stream": {"type": "boolean", "default": False},
                        },
                    }
                },
            },
        }
    }


GMNER_REQUEST_BODY = request_body(image_required=False)
OVERLAY_REQUEST_BODY = request_body(image_required=True)


STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {EVENT_STREAM: {"schema": {"type": "string"}}},
        "description": (
            "With `Accept: text/event-stream` or `stream: true`: Server-Sent Events `entities`, `expressions`, "
            "`groundability`, `boxes`, `masks` as the stages answer, then `final` (this JSON answer) or `error` "
            "(the error body)."
        ),
    }
}


@router.post("/gmner", response_model=GMNERResponse, openapi_extra=GMNER_REQUEST_BODY, responses=STREAM_RESPONSE)
async def gmner(request: Request, serving: ServingDep) -> GMNERResponse | Response:
    """Every named entity of a post with its type, referring expression, groundability, box and mask;
    streamed stage by stage on request."""
    post = await read_post(request)
    if wants_stream(request, post):
        # Validated before the stream starts, so a bad image is a 4xx like any other, not an event.
        decoded = await serving.decode(post)
        return stream_answer(serving, post, decoded)
    return await serving.run(post)
