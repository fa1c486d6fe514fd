"""HTTP routes of the gateway."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from gateway.inputs import read_post
from gateway.serving import GatewayServing
from shared.protocol.gateway import GMNERJSONRequest, GMNERResponse, Task

router = APIRouter(prefix="/v1", tags=["gmner"])


def get_serving(request: Request) -> GatewayServing:
    return request.app.state.serving


ServingDep = Annotated[GatewayServing, Depends(get_serving)]

# The body is read by hand (JSON or multipart), so the schema is declared here for the docs.
GMNER_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": GMNERJSONRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {
                        "text": {"type": "string"},
                        "image": {"type": "string", "format": "binary"},
                        "caption": {"type": "string"},
                        "tasks": {"type": "string", "enum": [t.value for t in Task], "default": "smner"},
                        "use_knowledge": {"type": "boolean"},
                        "knowledge": {"type": "string"},
                    },
                }
            },
        },
    }
}


@router.post("/gmner", response_model=GMNERResponse, openapi_extra=GMNER_REQUEST_BODY)
async def gmner(request: Request, serving: ServingDep) -> GMNERResponse:
    """Every named entity of a post with its type, referring expression, groundability, box and mask."""
    post = await read_post(request, serving.settings.max_body_bytes)
    return await serving.run(post)
