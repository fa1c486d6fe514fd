"""OpenAI-compatible LLM client with a Redis cache of its outputs."""
