"""Noisy copies of the training knowledge, so the tagger learns how far to trust a small LLM's entity list.

The dataset's knowledge was written by gpt-3.5 and is nearly always right; a tagger trained on it alone takes
every listed name for an entity. The small LLMs we ship miss entities, mistype them and, worst of all, list
ordinary words of the post ("Plants (miscellaneous/plant)", "religious freedom (concept)"). A noisy copy of a
training post keeps its words and gold tags and gets a corrupted entity list: items dropped, types swapped,
spurious items added from the post's own non-entity words and from other posts' entities.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from gmner.training.data import Post
from gmner.training.metrics import tag_spans


@dataclass(frozen=True)
class NoiseConfig:
    drop: float = 0.25  # each listed entity is left out with this probability
    retype: float = 0.2  # each kept entity gets another type string
    spurious_from_post: float = 0.6  # chance of one spurious item made of the post's own non-entity words
    spurious_from_others: float = 0.3  # chance of one item that names an entity of another post
    seed: int = 0


def _items_and_reasoning(knowledge: str) -> tuple[list[tuple[str, str]], str]:
    from engines.ner.knowledge_parsing import parse_knowledge

    entities, _ = parse_knowledge(knowledge)
    lower = knowledge.lower()
    at = lower.find("reasoning:")
    reasoning = knowledge[at + len("reasoning:") :].strip() if at >= 0 else ""
    return [(e.name, e.type) for e in entities], reasoning


def render_knowledge(items: Sequence[tuple[str, str]], reasoning: str) -> str:
    """The PLIM answer format the service's LLM is prompted for (and the dataset's knowledge uses)."""
    listed = " ".join(f"{i}. {name} ({type_})" if type_ else f"{i}. {name}" for i, (name, type_) in enumerate(items, 1))
    text = f"Named entities: {listed or 'None.'}"
    return f"{text} Reasoning: {reasoning}" if reasoning else text


def _non_entity_phrase(post: Post, rng: random.Random) -> str | None:
    inside = {i for a, b, _ in tag_spans(post.tags) for i in range(a, b)}
    starts = [i for i, w in enumerate(post.words) if i not in inside and any(ch.isalpha() for ch in w) and len(w) > 2]
    if not starts:
        return None
    start = rng.choice(starts)
    end = start + 1
    if rng.random() < 0.4 and end < len(post.words) and end not in inside and post.words[end].isalpha():
        end += 1
    phrase = " ".join(post.words[start:end])
    # Small LLMs capitalise what they list ("Plants"), so the copy does too half the time.
    return phrase[:1].upper() + phrase[1:] if rng.random() < 0.5 else phrase


def noisy_copies(posts: Sequence[Post], config: NoiseConfig | None = None) -> list[tuple[int, Post]]:
    """(index of the original, its noisy copy) for every post whose knowledge lists entities; the copy has the
    original's id, words and tags."""
    config = config or NoiseConfig()
    rng = random.Random(config.seed)
    parsed = [_items_and_reasoning(p.knowledge) if p.knowledge else ([], "") for p in posts]
    type_pool = [t for items, _ in parsed for _, t in items if t] or ["miscellaneous"]
    name_pool = [(n, t) for items, _ in parsed for n, t in items]
    copies: list[tuple[int, Post]] = []
    for index, (post, (items, reasoning)) in enumerate(zip(posts, parsed, strict=True)):
        if not items:
            continue
        noisy: list[tuple[str, str]] = []
        for name, type_ in items:
            if rng.random() < config.drop:
                continue
            noisy.append((name, rng.choice(type_pool) if rng.random() < config.retype else type_))
        if rng.random() < config.spurious_from_post:
            phrase = _non_entity_phrase(post, rng)
            if phrase is not None:
                noisy.insert(rng.randint(0, len(noisy)), (phrase, rng.choice(type_pool)))
        if name_pool and rng.random() < config.spurious_from_others:
            other = name_pool[rng.randrange(len(name_pool))]
            if other not in items:
                noisy.insert(rng.randint(0, len(noisy)), other)
        copies.append((index, Post(post.id, post.words, post.tags, render_knowledge(noisy, reasoning))))
    return copies
