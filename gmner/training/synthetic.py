"""A tiny synthetic dataset in the Twitter-GMNER layout, for tests and smoke runs of `gmner train ner`.

Every post reads "i saw <name> yesterday" (or a few other templates) where <name> is an invented word: only the
knowledge ("Named entities: 1. <name> (person) ...") tells whether and with which type it is an entity, so a
model trained on it has to read the knowledge to tag it.
"""

from __future__ import annotations

import random
from pathlib import Path

TEMPLATES = ("i saw {} yesterday", "look at {} now", "so happy about {} today")
TYPE_WORDS = {"PER": "person", "LOC": "location", "ORG": "organization"}
SYLLABLES = ("ka", "lo", "mi", "zu", "ren", "tor", "bex", "qua", "vi", "dro", "sel", "nim")


def invented_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def synthetic_posts(count: int, seed: int) -> list[tuple[list[str], list[str], str]]:
    """[(words, BIO tags, knowledge)]: a third of the posts name no entity and their knowledge says "None"."""
    rng = random.Random(seed)
    posts = []
    for i in range(count):
        template = TEMPLATES[i % len(TEMPLATES)]
        name = invented_name(rng)
        words = template.format(name).split()
        position = words.index(name)
        kind = ("PER", "LOC", "ORG", None)[i % 4]
        tags = ["O"] * len(words)
        if kind is None:
            knowledge = f"Named entities: None. Reasoning: {name} is not a name here, just a word."
        else:
            tags[position] = f"B-{kind}"
            knowledge = (
                f"Named entities: 1. {name} ({TYPE_WORDS[kind]}) Reasoning: The sentence mentions {name}, "
                f"a {TYPE_WORDS[kind]}."
            )
        posts.append((words, tags, knowledge))
    return posts


def write_synthetic_dataset(root: str | Path, *, train: int = 60, dev: int = 20, test: int = 20) -> Path:
    """Writes `root/twitter-gmner-v2/txt/{train,dev,test}.txt` and `root/gmner-knowledge/{train,valid,test}.txt`."""
    root = Path(root)
    text_dir = root / "twitter-gmner-v2" / "txt"
    knowledge_dir = root / "gmner-knowledge"
    text_dir.mkdir(parents=True, exist_ok=True)
    knowledge_dir.mkdir(parents=True, exist_ok=True)
    for split, knowledge_split, count, seed in (
        ("train", "train", train, 1),
        ("dev", "valid", dev, 2),
        ("test", "test", test, 3),
    ):
        text_lines: list[str] = []
        knowledge_lines: list[str] = []
        for index, (words, tags, knowledge) in enumerate(synthetic_posts(count, seed)):
            text_lines.append(f"IMGID:{split}{index}")
            text_lines += [f"{w}\t{t.replace('MISC', 'OTHER')}" for w, t in zip(words, tags, strict=True)]
            text_lines.append("")
            knowledge_lines += [f"{w}\t{t}" for w, t in zip(words, tags, strict=True)]
            knowledge_lines.append("<EOS>\tX")
            knowledge_lines += [f"{w}\tX" for w in knowledge.split()]
            knowledge_lines.append("")
        (text_dir / f"{split}.txt").write_text("\n".join(text_lines) + "\n", encoding="utf-8")
        (knowledge_dir / f"{knowledge_split}.txt").write_text("\n".join(knowledge_lines) + "\n", encoding="utf-8")
    return root
