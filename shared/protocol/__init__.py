"""Pydantic v2 request/response schemas of every app, versioned under `/v1`."""
