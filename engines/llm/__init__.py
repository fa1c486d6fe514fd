"""The OpenAI-compatible LLM client with its Redis cache and single-flight, and the prompt helpers."""
