"""Helpers shared by the visual stages: boxes, the bundled person detector, and the VLM client."""
