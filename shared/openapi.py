"""Request bodies that handlers read by hand, described for OpenAPI."""

from __future__ import annotations

from typing import Any


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with every `#/$defs/...` reference replaced by its definition.

    Pasted into `openapi_extra`, a `$defs` reference does not resolve (OpenAPI keeps definitions under
    `#/components/schemas`), which left fuzzers and client generators unable to build a body.
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

    resolved: dict[str, Any] = resolve(schema)
    return resolved
