"""The one reader of JSON and form bodies (shared/request_body.py) that the gateway and the visual stages share:
both encodings, and the code and status of every way a body can be wrong."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import Request
from pydantic import BaseModel, Field
from starlette.types import Message

from shared.errors import APIError
from shared.request_body import (
    MAX_LISTED_ERRORS,
    Encoding,
    body_encoding,
    describe_errors,
    form_bool,
    image_part,
    non_empty,
    parse_json,
    read_form,
)


class Params(BaseModel):
    name: str
    count: int = Field(ge=0)


def request_of(body: bytes, content_type: str | None) -> Request:
    headers = [(b"content-type", content_type.encode())] if content_type is not None else []
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive)


def form_request(data: dict[str, str] | None = None, files: Any = None) -> Request:
    """A request with the body and content type (boundary included) that an HTTP client sends for this form."""
    encoded = httpx.Request("POST", "http://test/", data=data, files=files)
    return request_of(encoded.read(), encoded.headers["content-type"])


def raised(error: pytest.ExceptionInfo[APIError]) -> tuple[int, str]:
    return error.value.status_code, error.value.code


# --- which encoding -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", Encoding.JSON),
        ("Application/JSON; charset=utf-8", Encoding.JSON),
        ("multipart/form-data; boundary=x", Encoding.FORM),
    ],
)
def test_the_encoding_follows_the_content_type(content_type: str, expected: Encoding) -> None:
    assert body_encoding(request_of(b"", content_type)) is expected


def test_urlencoded_forms_only_where_taken() -> None:
    request = request_of(b"text=hi", "application/x-www-form-urlencoded")
    assert body_encoding(request, urlencoded=True) is Encoding.FORM
    with pytest.raises(APIError) as error:
        body_encoding(request)
    assert raised(error) == (415, "unsupported_content_type")


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
def test_any_other_content_type_is_a_415_that_says_what_to_send(content_type: str | None) -> None:
    with pytest.raises(APIError) as error:
        body_encoding(request_of(b"{}", content_type), json_hint=" (with `image_b64`)", form_hint=" (parts)")
    assert raised(error) == (415, "unsupported_content_type")
    assert "multipart/form-data (parts) or application/json (with `image_b64`)" in error.value.message
    assert (content_type or "no content type") in error.value.message


def test_the_415_names_urlencoded_where_it_is_taken() -> None:
    with pytest.raises(APIError) as error:
        body_encoding(request_of(b"", "text/plain"), urlencoded=True)
    assert "application/x-www-form-urlencoded" in error.value.message


# --- JSON ---------------------------------------------------------------------------------------------------------


def test_json_is_validated_against_the_model() -> None:
    assert parse_json(Params, b'{"name": "a", "count": 2}') == Params(name="a", count=2)
    assert parse_json(Params, '{"name": "a", "count": 0}', where="request").count == 0


@pytest.mark.parametrize("data", [b"", b'{"name": "a', b"not json"])
def test_malformed_json_is_a_400_or_where_asked_a_422(data: bytes) -> None:
    with pytest.raises(APIError) as error:
        parse_json(Params, data)
    assert raised(error) == (400, "malformed_json")
    assert error.value.message.startswith("body: ")
    with pytest.raises(APIError) as error:
        parse_json(Params, data, where="request", malformed_422=True)
    assert raised(error) == (422, "malformed_json")
    assert error.value.message.startswith("request: ")


def test_schema_errors_are_a_422_with_the_field_paths() -> None:
    with pytest.raises(APIError) as error:
        parse_json(Params, b'{"count": -1}')
    assert raised(error) == (422, "invalid_request")
    assert error.value.message.startswith("name: ")  # a whole body's fields without the `body.` FastAPI adds
    assert "; count: " in error.value.message
    with pytest.raises(APIError) as error:
        parse_json(Params, b'{"name": "a", "count": -1}', where="request", malformed_422=True)
    assert raised(error) == (422, "invalid_request")  # a schema error is a 422 either way
    assert error.value.message.startswith("request.count: ")


def test_messages_list_the_first_errors_only() -> None:
    errors = [{"loc": ("body", "items", i), "msg": "bad"} for i in range(MAX_LISTED_ERRORS + 3)]
    message = describe_errors(errors)
    assert message.count("bad") == MAX_LISTED_ERRORS
    assert message.startswith("items.0: bad; items.1: bad")
    assert describe_errors([{"loc": ("body",), "msg": "Invalid JSON"}]) == "body: Invalid JSON"


# --- forms --------------------------------------------------------------------------------------------------------


async def test_multipart_fields_and_files() -> None:
    request = form_request({"text": "hi"}, {"image": ("a.png", b"PNG", "image/png")})
    form = await read_form(request, max_files=1, max_fields=2)
    try:
        assert form["text"] == "hi"
        assert await image_part(form, "image") == b"PNG"
        assert await image_part(form, "other") is None
    finally:
        await form.close()


async def test_urlencoded_fields() -> None:
    form = await read_form(form_request({"text": "hi", "stream": "yes"}), max_files=1, max_fields=2)
    assert (form["text"], form_bool(form["stream"], "stream")) == ("hi", True)


async def test_a_text_part_over_a_megabyte_is_read() -> None:
    # Only the middleware's body limit bounds a part, not Starlette's 1 MB default for text parts.
    knowledge = "k" * (1024 * 1024 + 1)
    request = form_request({"knowledge": knowledge}, {"image": ("a.png", b"PNG", "image/png")})
    form = await read_form(request, max_files=1, max_fields=1)
    try:
        assert form["knowledge"] == knowledge
    finally:
        await form.close()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'--other\r\nContent-Disposition: form-data; name="request"\r\n\r\n{}', "multipart/form-data"),  # no boundary
        (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),  # no name
    ],
    ids=["no-boundary", "part-without-name"],
)
async def test_a_broken_multipart_body_is_a_400(body: bytes, content_type: str) -> None:
    with pytest.raises(APIError) as error:
        await read_form(request_of(body, content_type), max_files=1, max_fields=1)
    assert raised(error) == (400, "malformed_form")
    assert error.value.message.startswith("The multipart body could not be read: ")


async def test_more_parts_than_allowed_is_a_400() -> None:
    files = [("image", ("a.png", b"A", "image/png")), ("image", ("b.png", b"B", "image/png"))]
    with pytest.raises(APIError) as error:
        await read_form(form_request(None, files), max_files=1, max_fields=1)
    assert raised(error) == (400, "malformed_form")
    with pytest.raises(APIError) as error:
        await read_form(form_request({"a": "1", "b": "2"}, {"f": ("f", b"x")}), max_files=1, max_fields=1)
    assert raised(error) == (400, "malformed_form")
    with pytest.raises(APIError) as error:
        await read_form(form_request({"a": "1", "b": "2"}), max_files=1, max_fields=1)
    assert raised(error) == (400, "malformed_form")
    assert error.value.message.startswith("The urlencoded body could not be read: Too many fields")


async def test_two_image_parts_or_a_text_field_are_a_422() -> None:
    files = [("image", ("a.png", b"A", "image/png")), ("image", ("b.png", b"B", "image/png"))]
    form = await read_form(form_request(None, files), max_files=2, max_fields=1)
    with pytest.raises(APIError) as error:
        await image_part(form, "image")
    assert raised(error) == (422, "invalid_request")
    assert error.value.message == "image: send one image part, not 2."
    form = await read_form(form_request({"image": "abc"}, {"f": ("f", b"x")}), max_files=1, max_fields=1)
    with pytest.raises(APIError) as error:
        await image_part(form, "image")
    assert raised(error) == (422, "invalid_request")
    assert "file part" in error.value.message


def test_an_empty_image_is_a_400() -> None:
    assert non_empty(b"PNG") == b"PNG"
    with pytest.raises(APIError) as error:
        non_empty(b"")
    assert raised(error) == (400, "empty_image")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("1", True), (" TRUE ", True), ("on", True), ("no", False), ("0", False)],
)
def test_form_booleans(value: str | None, expected: bool | None) -> None:
    assert form_bool(value, "stream") is expected


def test_a_form_boolean_that_is_none_is_a_422() -> None:
    with pytest.raises(APIError) as error:
        form_bool("maybe", "use_knowledge")
    assert raised(error) == (422, "invalid_request")
    assert error.value.message == "use_knowledge: not a boolean: 'maybe'."
