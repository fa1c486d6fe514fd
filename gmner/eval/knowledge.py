"""Readers for the dataset's side inputs that `gmner predict-dataset` can send along with each post.

Knowledge files (`gmner-knowledge/{train,valid,test}.txt`, RiVEG's knowledge-augmented NER input): each post in
CoNLL form (token<TAB>tag lines, no IMGID line), then a line `<EOS><TAB>X`, then the LLM-generated knowledge one
token per line tagged `X`; a blank line between posts. Posts come in the same order as the split's text file,
so entries are looked up by post index and checked against the post's text (with a look-up by text as fallback).

Caption files: `imgid:<id>###<text>` (the text may span lines until the next `imgid:`), as RiVEG's OWL captions,
or `<id>.jpg :<caption>` one per line, as its BLIP-2 captions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

EOS = "<EOS>"


@dataclass(frozen=True, slots=True)
class KnowledgeEntry:
    tokens: tuple[str, ...]
    knowledge: str

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


@dataclass(slots=True)
class KnowledgeFile:
    entries: list[KnowledgeEntry] = field(default_factory=list)
    by_text: dict[str, str] = field(default_factory=dict)
    ambiguous_texts: int = 0  # texts that occur twice with different knowledge (by_text keeps the first)

    @property
    def by_index(self) -> dict[int, str]:
        return {i: e.knowledge for i, e in enumerate(self.entries)}

    def lookup(self, index: int, text: str) -> str | None:
        """The knowledge of post `index` whose text is `text`: by index when the texts agree, else by text."""
        if 0 <= index < len(self.entries) and self.entries[index].text == text:
            return self.entries[index].knowledge
        return self.by_text.get(text)


def read_knowledge(path: str | Path) -> KnowledgeFile:
    out = KnowledgeFile()
    tokens: list[str] = []
    knowledge: list[str] = []
    in_knowledge = False

    def close() -> None:
        nonlocal tokens, knowledge, in_knowledge
        if tokens or knowledge:
            entry = KnowledgeEntry(tuple(tokens), " ".join(knowledge))
            out.entries.append(entry)
            previous = out.by_text.setdefault(entry.text, entry.knowledge)
            if previous != entry.knowledge:
                out.ambiguous_texts += 1
        tokens, knowledge, in_knowledge = [], [], False

    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if not line.strip():
                close()
                continue
            token = line.split("\t")[0] if "\t" in line else line.rsplit(" ", 1)[0]
            if token == EOS:
                in_knowledge = True
            elif in_knowledge:
                knowledge.append(token)
            else:
                tokens.append(token)
    close()
    return out


_BLIP_LINE = re.compile(r"^(?P<id>\S+?)\.(?:jpe?g|png)\s*:(?P<caption>.*)$", re.IGNORECASE)


def read_captions(path: str | Path) -> dict[str, str]:
    """`{post id: caption}` from an OWL (`imgid:<id>###text`) or BLIP-2 (`<id>.jpg :text`) caption file."""
    captions: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []

    def close() -> None:
        if current is not None:
            captions[current] = "\n".join(lines).strip()

    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if line.startswith("imgid:") and "###" in line:
                close()
                head, _, rest = line.partition("###")
                current, lines = head[len("imgid:") :].strip(), [rest]
                continue
            match = _BLIP_LINE.match(line)
            if match and current is None:
                captions[match["id"]] = match["caption"].strip()
                continue
            if current is not None:
                lines.append(line)
    close()
    return captions
