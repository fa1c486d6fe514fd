"""Twitter-GMNER training data: the CoNLL text splits joined with the dataset's LLM knowledge.

`twitter-gmner-v2/txt/{train,dev,test}.txt`: an `IMGID:<id>` line, then `token<TAB>BIO-tag` lines, a blank line
between posts; type OTHER is our MISC. `gmner-knowledge/{train,valid,test}.txt`: the same posts in the same
order in CoNLL form, each followed by `<EOS><TAB>X` and the knowledge one token per line. Posts are joined by
index and checked by text (falling back to a look-up by text), so a reordered file still lines up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KNOWLEDGE_SPLITS = {"train": "train", "dev": "valid", "valid": "valid", "test": "test"}
TEXT_SPLITS = {"train": "train", "dev": "dev", "valid": "dev", "test": "test"}
TYPE_MAP = {"OTHER": "MISC"}


@dataclass
class Post:
    id: str
    words: list[str]
    tags: list[str]  # BIO with types PER / LOC / ORG / MISC
    knowledge: str | None = None

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass
class Split:
    posts: list[Post] = field(default_factory=list)
    knowledge_missing: int = 0  # posts with no knowledge entry (when knowledge was asked for)


def normalise_tag(tag: str) -> str:
    if tag in ("O", "", "X"):
        return "O"
    prefix, _, label = tag.partition("-")
    return f"{prefix}-{TYPE_MAP.get(label.upper(), label.upper())}"


def read_conll(path: str | Path) -> list[Post]:
    posts: list[Post] = []
    current: Post | None = None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if line.startswith("IMGID:"):
                current = Post(id=line[len("IMGID:") :].strip(), words=[], tags=[])
                posts.append(current)
                continue
            if not line.strip():
                continue
            if current is None:  # a file with no IMGID lines: number the posts
                current = Post(id=str(len(posts)), words=[], tags=[])
                posts.append(current)
            word, sep, tag = line.rpartition("\t")
            if not sep:
                raise ValueError(f"{path}:{number}: expected token<TAB>tag, got {line!r}")
            current.words.append(word)
            current.tags.append(normalise_tag(tag))
    return [p for p in posts if p.words]


def read_knowledge(path: str | Path) -> list[tuple[str, str]]:
    """[(post text, knowledge)] in file order (parsed by the evaluation's reader of the `<EOS>` format)."""
    from gmner.eval.knowledge import read_knowledge as read_knowledge_file

    return [(entry.text, entry.knowledge) for entry in read_knowledge_file(path).entries]


def attach_knowledge(posts: list[Post], entries: list[tuple[str, str]]) -> int:
    """Sets `post.knowledge` from the knowledge entries; returns how many posts found none."""
    by_text: dict[str, str] = {}
    for text, knowledge in entries:
        by_text.setdefault(text, knowledge)
    missing = 0
    for index, post in enumerate(posts):
        if index < len(entries) and entries[index][0] == post.text:
            post.knowledge = entries[index][1]
        else:
            post.knowledge = by_text.get(post.text)
        if post.knowledge is None:
            missing += 1
    return missing


def load_split(data_dir: str | Path, split: str, *, knowledge: bool = True) -> Split:
    """A split of `data_dir` (the folder holding `twitter-gmner-v2/` and `gmner-knowledge/`)."""
    root = Path(data_dir)
    if split not in TEXT_SPLITS:
        raise ValueError(f"unknown split {split!r} (train, dev, test)")
    text_path = root / "twitter-gmner-v2" / "txt" / f"{TEXT_SPLITS[split]}.txt"
    if not text_path.exists():
        raise FileNotFoundError(f"{text_path} not found (is --data-dir the folder with twitter-gmner-v2/?)")
    out = Split(posts=read_conll(text_path))
    if knowledge:
        knowledge_path = root / "gmner-knowledge" / f"{KNOWLEDGE_SPLITS[split]}.txt"
        if not knowledge_path.exists():
            raise FileNotFoundError(f"{knowledge_path} not found (or train with --no-knowledge)")
        out.knowledge_missing = attach_knowledge(out.posts, read_knowledge(knowledge_path))
    return out
