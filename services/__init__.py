"""One FastAPI app per pipeline stage."""
