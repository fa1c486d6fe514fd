"""The CLI, error-code and HTTP API references are generated from the code: check they cover it."""

from __future__ import annotations

import argparse
from types import ModuleType

from gmner.cli import build_parser
from shared.errors import HTTP_STATUS


def test_cli_reference_has_every_command(gen: ModuleType) -> None:
    page = gen.cli_markdown()
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in commands:
        assert f"## gmner {name}\n" in page
    assert "`--verbose`" in page  # an option of gmner serve


def test_error_reference_has_every_kind_and_the_raised_codes(gen: ModuleType) -> None:
    page = gen.errors_markdown()
    for cls, status in HTTP_STATUS.items():
        assert f"| `{cls.__name__}` | {status} |" in page
    codes = {(e.code, e.status) for e in gen.error_codes()}
    # Raised as InvalidInput("entity_not_in_text", ...), Unauthorized(...) over several lines, and
    # APIError(400, "malformed_form", ...).
    assert ("entity_not_in_text", 400) in codes
    assert ("api_key_required", 401) in codes
    assert ("malformed_form", 400) in codes


def test_api_reference_is_the_gateways_openapi_document(gen: ModuleType) -> None:
    document = gen.gateway_openapi()
    assert "/v1/gmner" in document["paths"]
    page = gen.openapi_markdown(document)
    assert "## `POST /v1/gmner`" in page
    assert "## Schemas" in page
