"""HTTP routes of the gateway."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gateway.inputs import read_post
from gateway.serving import GatewayServing
from shared.dependencies import get_serving
from shared.limits import TEXT_LIMITS
from shared.protocol.gateway import GMNERJSONRequest, GMNERResponse, Task

router = APIRouter(prefix="/v1", tags=["gmner"])


ServingDep = Annotated[GatewayServing, Depends(get_serving)]


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with every `#/$defs/...` reference replaced by its definition.

    Pasted into `openapi_extra`, a `$defs` reference does not resolve (OpenAPI keeps definitions under
    `#/components/schemas`), which left fuzzers and client generators unable to build a JSON body.
    """
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve({**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}})
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def request_body(*, image_required: bool) -> dict[str, Any]:
    """The request body as the docs show it (the handlers read JSON or multipart by hand)."""
    json_schema = _inline_refs(GMNERJSONRequest.model_json_schema())
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
