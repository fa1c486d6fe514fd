from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engines.ner.knowledge.bank import Example, load_examples
from engines.ner.knowledge.prompt import QUESTION, build_knowledge_prompt
from engines.ner.knowledge.selector import ExampleSelector


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
    from engines.ner.knowledge.embedder import SentenceEmbedder

    selector = ExampleSelector(load_examples(), SentenceEmbedder())
    best = selector.select("Stephen Curry hits the game winner as the Warriors beat the Celtics", k=1)[0]
    assert best.id == "ex01"  # the basketball example
    best = selector.select("Fog rolling over the bridge in San Francisco this morning", k=1)[0]
    assert best.id == "ex02"


def test_listed_prompt_has_a_fixed_prefix_and_the_post_last() -> None:
    from engines.ner.knowledge.prompt import LISTED_EXAMPLES, build_listed_prompt

    examples = load_examples(LISTED_EXAMPLES)
    one = build_listed_prompt("Bruno at the park with Jess", None, examples)
    other = build_listed_prompt("Falcon 9 lifts off from Cape Canaveral", "a rocket launch", examples)
    prefix = "\n\n".join(one.split("\n\n")[:-1])
    # Byte-identical up to the post, so the LLM server re-uses the cached prefix for every post.
    assert other.startswith(prefix + "\n\n") and one.startswith(prefix + "\n\n")
    assert one.endswith("\n\nText: Bruno at the park with Jess\nAnswer:")
    assert other.endswith("\n\nText: Falcon 9 lifts off from Cape Canaveral\nImage: a rocket launch\nAnswer:")


def test_bundled_listed_examples_are_in_the_listed_form() -> None:
    from engines.llm.entity_list import parse_entity_list
    from engines.ner.knowledge.prompt import LISTED_EXAMPLES

    examples = load_examples(LISTED_EXAMPLES)
    assert len(examples) >= 5 and len({ex.id for ex in examples}) == len(examples)
    for ex in examples:
        assert "\n" not in ex.answer and ex.answer.startswith("Named entities:")
        listed = parse_entity_list(ex.answer)
        assert all(e.description for e in listed), ex.id
        assert all(e.name.lstrip("#@") in ex.text for e in listed), ex.id
    assert any(ex.answer == "Named entities: None" for ex in examples)  # posts without entities are shown too


def test_listed_form_is_chosen_by_setting() -> None:
    from engines.ner.knowledge.prompting import LISTED_STOP, ListedPrompt, load_knowledge_prompt
    from services.ner.settings import NERSettings

    def no_encoder() -> None:
        raise AssertionError("the listed form needs no sentence encoder")

    prompt = load_knowledge_prompt(NERSettings(knowledge_prompt="listed", listed_max_tokens=64), no_encoder)  # type: ignore[arg-type]
    assert isinstance(prompt, ListedPrompt)
    call = prompt.build("Bruno at the park", None)
    assert (call.stop, call.max_tokens) == (LISTED_STOP, 64)
    assert call.prompt.endswith("Text: Bruno at the park\nAnswer:")
