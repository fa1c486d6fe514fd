"""The one reader of bodies that handlers read by hand, JSON or form: the gateway's post (`gateway/inputs.py`) and
the visual stages' image requests (`shared/image_request.py`).

Which encoding a request uses, JSON validated against a model, a form parsed in memory, its image and boolean
fields, and the 4xx of every way these go wrong, so that both answer a bad body with the same codes and messages:
415 `unsupported_content_type`, 400 `malformed_json` (422 where FastAPI's own mapping is kept), 422
`invalid_request`, 400 `malformed_form`, 400 `empty_image`.

Nothing here counts bytes: `shared.middleware.RequestMiddleware` has read the whole body, under the app's
`MAX_BODY_BYTES`, before any handler runs, and is the one place that limit is checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import aclosing
from enum import StrEnum
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from shared.errors import APIError, InvalidInput, InvalidRequest, UnsupportedMediaType

ModelT = TypeVar("ModelT", bound=BaseModel)

JSON = "application/json"
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"

# How many schema errors one message lists: enough to fix a body in one go, short enough to read.
MAX_LISTED_ERRORS = 5
# No limit of our own on a text part: the middleware already bounds the whole body (Starlette's default of 1 MB
# would answer a long `knowledge` field with a parser error instead of the body limit).
_ANY_PART_SIZE = 1 << 40


class Encoding(StrEnum):
    JSON = "json"
    FORM = "form"


class _InMemoryMultiPartParser(MultiPartParser):
    # The middleware already holds the whole body in memory: Starlette's default would spool every file part over
    # 1 MB to a temporary file, a disk write and read per request.
    spool_max_size = 1 << 40


def media_type(request: Request) -> str:
    """The request's content type without its parameters (`boundary`, `charset`), lower case; "" without one."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def body_encoding(request: Request, *, urlencoded: bool = False, json_hint: str = "", form_hint: str = "") -> Encoding:
    """JSON or FORM by the request's content type; any other type is a 415 that says what to send.

    `urlencoded`: whether a form may also come as application/x-www-form-urlencoded (text fields only). The hints
    follow their media type in the 415's message, e.g. which parts a form needs.
    """
    content_type = media_type(request)
    if content_type == JSON:
        return Encoding.JSON
    if content_type == MULTIPART or (urlencoded and content_type == URLENCODED):
        return Encoding.FORM
    forms = f"{MULTIPART}{form_hint}" + (f", {URLENCODED}" if urlencoded else "")
    raise UnsupportedMediaType(
        "unsupported_content_type", f"Send {forms} or {JSON}{json_hint}, not {content_type or 'no content type'}."
    )


def describe_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """`path: message` for each of the first errors of a validation, `body` left out of the paths (FastAPI puts it
    first; a field's path is what the client can act on)."""
    parts = []
    for error in errors[:MAX_LISTED_ERRORS]:
        path = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{path or 'body'}: {error.get('msg')}")
    return "; ".join(parts)


def parse_json(model: type[ModelT], data: str | bytes, *, where: str = "body", malformed_422: bool = False) -> ModelT:
    """`data` validated against `model`, else `malformed_json` (empty or not JSON) or 422 `invalid_request` (the
    schema's errors, each path starting with `where`: `body` for a whole body, or a multipart part's name).

    `malformed_json` is a 400 (`InvalidInput`), as the gateway documents it; with `malformed_422` a 422, as FastAPI
    answers the JSON bodies it reads itself (NER, expansion) and the visual stages always have.
    """
    if not data:
        raise _malformed(f"{where}: empty, where a JSON object belongs.", malformed_422)
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        errors = [{**error, "loc": (where, *error["loc"])} for error in exc.errors(include_url=False)]
        if any(error["type"] == "json_invalid" for error in errors):
            raise _malformed(describe_errors(errors), malformed_422) from exc
        raise InvalidRequest("invalid_request", describe_errors(errors)) from exc


def _malformed(message: str, malformed_422: bool) -> APIError:
    if malformed_422:
        return InvalidRequest("malformed_json", message)
    return InvalidInput("malformed_json", message)


async def read_form(request: Request, *, max_files: int, max_fields: int) -> FormData:
    """The form of a multipart (or urlencoded) body, every part in memory; a body that does not parse, or has more
    file or text parts than allowed, is a 400 `malformed_form`. The caller closes it (`await form.close()`)."""
    urlencoded = media_type(request) == URLENCODED
    try:
        async with aclosing(request.stream()) as stream:
            parser: FormParser | MultiPartParser
            if urlencoded:
                parser = FormParser(request.headers, stream, max_fields=max_fields, max_part_size=_ANY_PART_SIZE)
            else:
                parser = _InMemoryMultiPartParser(
                    request.headers, stream, max_files=max_files, max_fields=max_fields, max_part_size=_ANY_PART_SIZE
                )
            return await parser.parse()
    except Exception as exc:  # python-multipart raises several types for broken bodies, Starlette its own
        reason = exc.message if isinstance(exc, MultiPartException) else str(exc)
        encoding = "urlencoded" if urlencoded else "multipart"
        raise InvalidInput("malformed_form", f"The {encoding} body could not be read: {reason}") from exc


async def image_part(form: FormData, name: str) -> bytes | None:
    """The bytes of the file part `name`, None without one (check them with `non_empty`); two parts of that name,
    or a text field, are a 422."""
    values = form.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("invalid_request", f"{name}: send one image part, not {len(values)}.")
    value = values[0]
    if not isinstance(value, UploadFile):
        # The parser has decoded a text field as UTF-8: image bytes would arrive corrupted.
        raise InvalidRequest(
            "invalid_request", f"{name}: send the image as a file part (with a filename), not a text field."
        )
    return await value.read()


def non_empty(image: bytes) -> bytes:
    """`image`, unless it has no bytes (a 400: an empty upload is a client's mistake, not a missing field)."""
    if not image:
        raise InvalidInput("empty_image", "The image is empty (0 bytes).")
    return image


def form_bool(value: object, field: str) -> bool | None:
    """A form field as a boolean (1/0, true/false, yes/no, on/off), None when absent or blank; else a 422."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidRequest("invalid_request", f"{field}: not a boolean: {value!r}.")
