"""The text rules of the request schemas, for text that arrives outside one (a multipart form field)."""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from shared.errors import InvalidRequest
from shared.protocol.common import BoundedText, PostText

_POST_TEXT: TypeAdapter[str] = TypeAdapter(PostText)
_BOUNDED_TEXT: TypeAdapter[str] = TypeAdapter(BoundedText)


def check_form_text(value: str, field: str = "text", *, required: bool = True) -> str:
    """`value` if it passes `PostText` (`BoundedText` when not `required`); else the 422 a JSON body would get."""
    try:
        return (_POST_TEXT if required else _BOUNDED_TEXT).validate_python(value)
    except ValidationError as exc:
        raise InvalidRequest("invalid_request", f"{field}: {exc.errors()[0]['msg']}") from exc
