"""One reader for the visual stages' two request encodings (see `shared/protocol/visual.py`).

`multipart/form-data` (a part `request`: the `*Params` JSON; a part `image`: the encoded bytes) and
`application/json` (the same fields plus `image_b64`) both become `ImageRequest(params, image bytes)`, so the
stages decode images from bytes only, through their content-hash cache. Every bad input is a 4xx with a reason:
the content types, the JSON and multipart parsing and their errors are `shared.request_body`'s, as at the gateway;
the parts this protocol needs (`missing_part`, one of each, nothing else) are checked here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.datastructures import FormData, UploadFile

from shared.errors import InvalidRequest
from shared.images import decode_base64
from shared.openapi import inline_refs
from shared.request_body import Encoding, body_encoding, image_part, non_empty, parse_json, read_form

ParamsT = TypeVar("ParamsT", bound=BaseModel)

REQUEST_PART = "request"
IMAGE_PART = "image"
# Base64 of a few hundred kilobytes decodes in well under a millisecond; larger images go to a thread so one
# 13 MB JSON body does not stall every other request on the event loop.
_BASE64_THREAD_CHARS = 256 * 1024


@dataclass(frozen=True)
class ImageRequest(Generic[ParamsT]):
    params: ParamsT
    image: bytes


class ImageRequestReader(Generic[ParamsT]):
    """A FastAPI dependency reading either encoding; `openapi` documents both for the route.

    `json_model` is `params_model` plus `image_b64` (e.g. `EntailRequest` for `EntailParams`).
    """

    def __init__(self, params_model: type[ParamsT], json_model: type[ParamsT]) -> None:
        self.params_model = params_model
        self.json_model = json_model
        self.openapi = _request_body(params_model, json_model)

    async def __call__(self, request: Request) -> ImageRequest[ParamsT]:
        encoding = body_encoding(
            request, json_hint=" (with `image_b64`)", form_hint=f" (parts `{REQUEST_PART}` and `{IMAGE_PART}`)"
        )
        if encoding is Encoding.FORM:
            return await self._from_multipart(request)
        return await self._from_json(await request.body())

    async def _from_json(self, body: bytes) -> ImageRequest[ParamsT]:
        parsed = parse_json(self.json_model, body, malformed_422=True)
        encoded: str = parsed.image_b64  # type: ignore[attr-defined]  # every json_model has it
        if len(encoded) > _BASE64_THREAD_CHARS:
            image = await asyncio.to_thread(decode_base64, encoded)
        else:
            image = decode_base64(encoded)
        # The params without re-validating them, and without keeping the base64 string alive.
        params = self.params_model.model_construct(
            **{name: getattr(parsed, name) for name in self.params_model.model_fields}
        )
        return ImageRequest(params, non_empty(image))

    async def _from_multipart(self, request: Request) -> ImageRequest[ParamsT]:
        # Two of each at most, so a duplicated part is reported as such instead of as a parser limit.
        form = await read_form(request, max_files=2, max_fields=2)
        try:
            params_data = await _single_part(form, REQUEST_PART, "the JSON of the request's parameters")
            image = await image_part(form, IMAGE_PART)
            if image is None:
                raise _missing(IMAGE_PART, "the encoded image bytes")
            extra = sorted(set(form.keys()) - {REQUEST_PART, IMAGE_PART})
            if extra:
                raise InvalidRequest(
                    "invalid_request",
                    f"unexpected part(s) {', '.join(extra)}: send only `{REQUEST_PART}` and `{IMAGE_PART}`.",
                )
        finally:
            await form.close()
        # Schema errors are 422s whose paths start with the part's name (`request.boxes.0`).
        params = parse_json(self.params_model, params_data, where=REQUEST_PART, malformed_422=True)
        return ImageRequest(params, non_empty(image))


async def _single_part(form: FormData, name: str, what: str) -> str | bytes:
    values = form.getlist(name)
    if not values:
        raise _missing(name, what)
    if len(values) > 1:
        raise InvalidRequest("invalid_request", f"{name}: send one `{name}` part, not {len(values)}.")
    value = values[0]
    return await value.read() if isinstance(value, UploadFile) else value


def _missing(name: str, what: str) -> InvalidRequest:
    return InvalidRequest("missing_part", f"{name}: the multipart body needs a part `{name}` ({what}).")


def _request_body(params_model: type[BaseModel], json_model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [REQUEST_PART, IMAGE_PART],
                        "properties": {
                            REQUEST_PART: inline_refs(params_model.model_json_schema()),
                            IMAGE_PART: {
                                "type": "string",
                                "format": "binary",
                                "description": "The encoded image (JPEG, PNG, WebP or GIF) as it was uploaded.",
                            },
                        },
                    },
                    "encoding": {REQUEST_PART: {"contentType": "application/json"}},
                },
                "application/json": {"schema": inline_refs(json_model.model_json_schema())},
            },
        }
    }
