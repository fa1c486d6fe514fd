"""Reading a post from a JSON or multipart request into one shape, with a 4xx for every bad input."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from shared.errors import InvalidInput, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from shared.images import decode_base64
from shared.protocol.gateway import GMNERJSONRequest, Task
from shared.validation import check_form_text


@dataclass
class Post:
    text: str
    image: bytes | None
    caption: str | None
    tasks: Task
    use_knowledge: bool | None
    knowledge: str | None
    stream: bool = False  # answer Server-Sent Events (gateway/streaming.py)


async def read_post(request: Request, max_body_bytes: int) -> Post:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body_bytes:
        raise PayloadTooLarge("body_too_large", f"The request body is {declared} bytes; the limit is {max_body_bytes}.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return _from_json(await _read_body(request, max_body_bytes))
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _from_form(request)
    raise UnsupportedMediaType(
        "unsupported_content_type",
        f"Send application/json or multipart/form-data, not {content_type or 'no content type'}.",
    )


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("body_too_large", f"The request body exceeds {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _from_json(body: bytes) -> Post:
    if not body:
        raise InvalidInput("malformed_json", "The request body is empty.")
    try:
        parsed = GMNERJSONRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise InvalidInput("malformed_json", f"The body is not valid JSON: {first['msg']}") from exc
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest("invalid_request", f"{where}: {first['msg']}") from exc
    image = decode_base64(parsed.image_b64) if parsed.image_b64 else None
    return Post(
        parsed.text, image, parsed.caption or None, parsed.tasks, parsed.use_knowledge, parsed.knowledge, parsed.stream
    )


async def _from_form(request: Request) -> Post:
    try:
        form = await request.form(max_files=1, max_fields=16)
    except Exception as exc:  # python-multipart raises several types for broken bodies
        raise InvalidInput("malformed_form", f"The multipart body could not be read: {exc}") from exc
    text = form.get("text")
    if not isinstance(text, str):
        raise InvalidRequest("invalid_request", "text: a form field `text` is required.")
    text = check_form_text(text)
    image_field = form.get("image")
    image: bytes | None = None
    if isinstance(image_field, UploadFile):
        image = await image_field.read()
        if not image:
            raise InvalidInput("empty_image", "The uploaded image is empty (0 bytes).")
    elif isinstance(image_field, str) and image_field:
        raise InvalidRequest("invalid_request", "image: send the image as a file part, not a text field.")
    tasks_field = form.get("tasks") or Task.SMNER.value
    try:
        tasks = Task(str(tasks_field).lower())
    except ValueError as exc:
        raise InvalidRequest(
            "invalid_request", f"tasks: must be one of mner, gmner, smner, not {tasks_field!r}."
        ) from exc
    use_knowledge = _form_bool(form.get("use_knowledge"))
    stream = _form_bool(form.get("stream"), "stream") or False
    caption = form.get("caption")
    knowledge = form.get("knowledge")
    return Post(
        text,
        image,
        check_form_text(caption, "caption", required=False) if isinstance(caption, str) and caption else None,
        tasks,
        use_knowledge,
        knowledge if isinstance(knowledge, str) and knowledge else None,
        stream,
    )


def _form_bool(value: object, field: str = "use_knowledge") -> bool | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidRequest("invalid_request", f"{field}: not a boolean: {value!r}.")
