"""Embedded mode: every stage, the LLM server and Redis as local processes on one machine."""
