"""The NER models: the CRF's features, span re-ranker and model format, the gazetteer, the knowledge's parsing,
matching and prompts, word context and clusters, spaCy features, tag decoding and labels."""
