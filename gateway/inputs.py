"""The gateway's post, read from a JSON or form request into one shape, with a 4xx for every bad input.

The encodings, the parsing and their errors are `shared.request_body`'s (the visual stages read theirs with the
same); here are only the public API's fields. The body limit is the middleware's, checked before this runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import FormData

from shared.errors import InvalidRequest
from shared.images import decode_base64
from shared.protocol.gateway import GMNERJSONRequest, Task
from shared.request_body import Encoding, body_encoding, form_bool, image_part, non_empty, parse_json, read_form
from shared.validation import check_form_text

IMAGE_FIELD = "image"


@dataclass
class Post:
    text: str
    image: bytes | None
    caption: str | None
    tasks: Task
    use_knowledge: bool | None
    knowledge: str | None
    stream: bool = False  # answer Server-Sent Events (gateway/streaming.py)


async def read_post(request: Request) -> Post:
    # A form may be urlencoded too: a post without an image, as an HTML form or `curl -d` sends it.
    if body_encoding(request, urlencoded=True) is Encoding.JSON:
        return _from_json(await request.body())
    form = await read_form(request, max_files=1, max_fields=16)
    try:
        return await _from_form(form)
    finally:
        await form.close()


def _from_json(body: bytes) -> Post:
    parsed = parse_json(GMNERJSONRequest, body)
    image = decode_base64(parsed.image_b64) if parsed.image_b64 else None
    return Post(
        parsed.text, image, parsed.caption or None, parsed.tasks, parsed.use_knowledge, parsed.knowledge, parsed.stream
    )


async def _from_form(form: FormData) -> Post:
    text = form.get("text")
    if not isinstance(text, str):
        raise InvalidRequest("invalid_request", "text: a form field `text` is required.")
    text = check_form_text(text)
    # A blank `image` field is no image, like an omitted `image_b64`.
    image = None if form.get(IMAGE_FIELD) == "" else await image_part(form, IMAGE_FIELD)
    if image is not None:
        non_empty(image)
    tasks_field = form.get("tasks") or Task.SMNER.value
    try:
        tasks = Task(str(tasks_field).lower())
    except ValueError as exc:
        raise InvalidRequest(
            "invalid_request", f"tasks: must be one of mner, gmner, smner, not {tasks_field!r}."
        ) from exc
    use_knowledge = form_bool(form.get("use_knowledge"), "use_knowledge")
    stream = form_bool(form.get("stream"), "stream") or False
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
