from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.ner.knowledge.bank import Example, load_examples
from services.ner.knowledge.prompt import QUESTION, build_knowledge_prompt
from services.ner.knowledge.selector import ExampleSelector


def test_bundled_bank_is_well_formed() -> None:
    examples = load_examples()
    assert len(examples) >= 12
    assert len({ex.id for ex in examples}) == len(examples)
    for ex in examples:
        assert ex.answer.startswith("Named entities:") and "Reasoning:" in ex.answer
        assert ex.text and ex.image


def test_bank_from_path_and_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "bank.jsonl"
    good.write_text(json.dumps({"id": 1, "text": "t", "answer": "a"}) + "\n\n")
    assert load_examples(good) == [Example("1", "t", "", "a")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        load_examples(bad)


def test_prompt_follows_the_paper_template() -> None:
    examples = [Example("a", "Ex text", "Ex image", "Named entities: 1. X (person) Reasoning: r")]
    prompt = build_knowledge_prompt("Idris Elba on Maxim", None, examples)
    blocks = prompt.split("\n\n")
    assert blocks[0] == (
        f"Text: Ex text\nImage: Ex image\nQuestion: {QUESTION}\nAnswer: Named entities: 1. X (person) Reasoning: r"
    )
    assert blocks[1] == f"Text: Idris Elba on Maxim\nImage: (no image description)\nQuestion: {QUESTION}\nAnswer:"
    assert "with a caption" in build_knowledge_prompt("t", "with a caption", [])


def _keyword_embed(texts: list[str]) -> np.ndarray:
    """Bag of three keywords: enough to check the selector's ranking by hand."""
    words = ("ball", "city", "music")
    return np.array([[float(w in t.lower()) + 0.01 for w in words] for t in texts])


def test_selector_ranks_by_cosine_and_puts_best_last() -> None:
    bank = [
        Example("music", "music tonight", "", "a"),
        Example("ball", "ball game", "", "a"),
        Example("city", "city lights", "", "a"),
        Example("ballcity", "ball in the city", "", "a"),
    ]
    selector = ExampleSelector(bank, _keyword_embed)
    chosen = selector.select("a ball match", k=2)
    assert [ex.id for ex in chosen] == ["ballcity", "ball"]
    assert selector.select("x", k=0) == []


def test_selector_with_the_bundled_sentence_embedder() -> None:
    from services.ner.knowledge.embedder import SentenceEmbedder

    selector = ExampleSelector(load_examples(), SentenceEmbedder())
    best = selector.select("Stephen Curry hits the game winner as the Warriors beat the Celtics", k=1)[0]
    assert best.id == "ex01"  # the basketball example
    best = selector.select("Fog rolling over the bridge in San Francisco this morning", k=1)[0]
    assert best.id == "ex02"
