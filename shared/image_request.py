"""One reader for the visual stages' two request encodings (see `shared/protocol/visual.py`).

`multipart/form-data` (a part `request`: the `*Params` JSON; a part `image`: the encoded bytes) and
`application/json` (the same fields plus `image_b64`) both become `ImageRequest(params, image bytes)`, so the
stages decode images from bytes only, through their content-hash cache. Every bad input is a 4xx with a reason.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from shared.errors import InvalidInput, InvalidRequest, UnsupportedMediaType
from shared.images import decode_base64
from shared.openapi import inline_refs

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


class _InMemoryMultiPartParser(MultiPartParser):
    # The middleware already holds the whole body in memory, under the app's MAX_BODY_BYTES: Starlette's
    # default would spool every image part over 1 MB to a temporary file, a disk write and read per request.
    spool_max_size = 1 << 40


class ImageRequestReader(Generic[ParamsT]):
    """A FastAPI dependency reading either encoding; `openapi` documents both for the route.

    `json_model` is `params_model` plus `image_b64` (e.g. `EntailRequest` for `EntailParams`).
    """

    def __init__(self, params_model: type[ParamsT], json_model: type[ParamsT]) -> None:
        self.params_model = params_model
        self.json_model = json_model
        self.openapi = _request_body(params_model, json_model)

    async def __call__(self, request: Request) -> ImageRequest[ParamsT]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "multipart/form-data":
            return await self._from_multipart(request)
        if content_type == "application/json":
            return await self._from_json(await request.body())
        raise UnsupportedMediaType(
            "unsupported_content_type",
            f"Send multipart/form-data (parts `{REQUEST_PART}` and `{IMAGE_PART}`) or application/json "
            f"(with `image_b64`), not {content_type or 'no content type'}.",
        )

    async def _from_json(self, body: bytes) -> ImageRequest[ParamsT]:
        parsed = _validate(self.json_model, body, "body")
        encoded: str = parsed.image_b64  # type: ignore[attr-defined]  # every json_model has it
        if len(encoded) > _BASE64_THREAD_CHARS:
            image = await asyncio.to_thread(decode_base64, encoded)
        else:
            image = decode_base64(encoded)
        # The params without re-validating them, and without keeping the base64 string alive.
        params = self.params_model.model_construct(
            **{name: getattr(parsed, name) for name in self.params_model.model_fields}
        )
        return ImageRequest(params, _non_empty(image))

    async def _from_multipart(self, request: Request) -> ImageRequest[ParamsT]:
        # Two of each at most, so a duplicated part is reported as such instead of as a parser limit.
        max_part = request.app.state.settings.max_body_bytes
        try:
            async with aclosing(request.stream()) as stream:
                parser = _InMemoryMultiPartParser(
                    request.headers, stream, max_files=2, max_fields=2, max_part_size=max_part
                )
                form = await parser.parse()
        except MultiPartException as exc:
            raise InvalidInput("malformed_form", f"The multipart body could not be read: {exc.message}") from exc
        except Exception as exc:  # python-multipart raises several types for broken bodies
            raise InvalidInput("malformed_form", f"The multipart body could not be read: {exc}") from exc
        try:
            params_data = await _single_part(form, REQUEST_PART, "the JSON of the request's parameters")
            image_part = form.getlist(IMAGE_PART)
            if not image_part:
                raise _missing(IMAGE_PART, "the encoded image bytes")
            if len(image_part) > 1:
                raise InvalidRequest("invalid_request", f"{IMAGE_PART}: send one image part, not {len(image_part)}.")
            if not isinstance(image_part[0], UploadFile):
                # A text field has been decoded as UTF-8 by the parser: image bytes would be corrupted.
                raise InvalidRequest(
                    "invalid_request", f"{IMAGE_PART}: send the image as a file part (with a filename)."
                )
            extra = sorted(set(form.keys()) - {REQUEST_PART, IMAGE_PART})
            if extra:
                raise InvalidRequest(
                    "invalid_request",
                    f"unexpected part(s) {', '.join(extra)}: send only `{REQUEST_PART}` and `{IMAGE_PART}`.",
                )
            image = await image_part[0].read()
        finally:
            await form.close()
        params = _validate(self.params_model, params_data, REQUEST_PART)
        return ImageRequest(params, _non_empty(image))


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


def _validate(model: type[ParamsT], data: str | bytes, where: str) -> ParamsT:
    """Schema errors reach the app's validation handler as FastAPI's own would (422, `loc` from `where`)."""
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        errors = [{**error, "loc": (where, *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


def _non_empty(image: bytes) -> bytes:
    if not image:
        raise InvalidInput("empty_image", "The image is empty (0 bytes).")
    return image


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
