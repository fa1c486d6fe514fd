"""NER stage: LLM auxiliary knowledge + a token-classification tagger (`POST /v1/ner`)."""
