"""Tiny randomly initialised BERT models with a vocabulary written on the spot (no download), for tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def save_tiny_bert(
    path: Path,
    words: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    hidden_size: int = 16,
    intermediate_size: int = 32,
    max_position_embeddings: int = 64,
) -> Path:
    """A one-layer BERT and its WordPiece tokenizer saved to `path`: a token classifier over `labels` if
    given, else a bare encoder. Seeded, so the weights are the same on every run."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertModel, BertTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    vocab = path / "vocab.txt"
    vocab.write_text("\n".join([*SPECIAL_TOKENS, *words]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words) + len(SPECIAL_TOKENS),
        hidden_size=hidden_size,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
    )
    if labels is None:
        model = BertModel(config)
    else:
        config.id2label = dict(enumerate(labels))
        config.label2id = {label: i for i, label in enumerate(labels)}
        model = BertForTokenClassification(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
