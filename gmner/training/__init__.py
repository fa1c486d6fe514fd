"""Training recipes behind `gmner train`: the embedded CRF NER and the production transformers + CRF NER."""
