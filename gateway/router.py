"""HTTP routes of the gateway."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gateway.inputs import read_post
from gateway.serving import GatewayServing
from shared.dependencies import get_serving
from shared.limits import TEXT_LIMITS
from shared.openapi import inline_refs
from shared.protocol.gateway import GMNERJSONRequest, GMNERResponse, Task

router = APIRouter(prefix="/v1", tags=["gmner"])


ServingDep = Annotated[GatewayServing, Depends(get_serving)]


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
                        },
                    }
                },
            },
        }
    }


GMNER_REQUEST_BODY = request_body(image_required=False)
OVERLAY_REQUEST_BODY = request_body(image_required=True)


@router.post("/gmner", response_model=GMNERResponse, openapi_extra=GMNER_REQUEST_BODY)
async def gmner(request: Request, serving: ServingDep) -> GMNERResponse:
    """Every named entity of a post with its type, referring expression, groundability, box and mask."""
    post = await read_post(request, serving.settings.max_body_bytes)
    return await serving.run(post)
