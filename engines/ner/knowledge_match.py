"""What the knowledge says about each word of a post: spans the LLM named, parts and prefixes of names, type
words after a word's mentions, counts. Names are matched on letters and digits only, so `# CondiRice` matches
"Condi Rice" and `Military _ Edge` matches "Military Edge".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from engines.ner.knowledge_parsing import COARSE_WORDS, KnowledgeEntity, match_key, parse_knowledge

MAX_MATCH_WORDS = 8
# Words after a mention in the knowledge that are read for type words ("Bucks, a basketball team").
CONTEXT_WINDOW = 6
# Shortest key for which a prefix match ("timhicksmusic" ~ "Tim Hicks") counts.
MIN_PREFIX = 4


def name_alternatives(name: str) -> set[str]:
    """Match keys of a knowledge name: itself, and its parts for "A/B", "A or B", "A (B)", "the A"."""
    names = {name}
    inner = re.match(r"^(.*?)\s*\((.*)\)\s*$", name)
    if inner is not None:
        names |= {inner[1], inner[2]}
    for candidate in list(names):
        names |= {part for part in re.split(r"\s*/\s*|\s+or\s+", candidate) if part}
    for candidate in list(names):
        if candidate.casefold().startswith("the "):
            names.add(candidate[4:])
    return {key for key in (match_key(n) for n in names) if key}


def spelled_spans(keys: Sequence[str], alternatives: set[str]) -> Iterator[tuple[int, int]]:
    """(first word, one past the last) of each run of at most MAX_MATCH_WORDS words whose match keys, joined,
    spell one of `alternatives`; `keys` are the post's words' match keys, a run starts and ends on a non-empty one."""
    n = len(keys)
    for start in range(n):
        if not keys[start]:
            continue
        joined = ""
        for end in range(start, min(n, start + MAX_MATCH_WORDS)):
            joined += keys[end]
            if joined in alternatives and keys[end]:
                yield start, end + 1
            if not any(alt.startswith(joined) for alt in alternatives):
                break


@dataclass
class KnowledgeMatch:
    """Per-word knowledge facts of one post."""

    span_tag: list[str]  # "B"/"I"/"" : inside a span the LLM named (exact on letters and digits)
    span_entity: list[KnowledgeEntity | None]
    span_rank: list[int]  # 1-based position of the matched entity in the LLM's list
    span_length: list[int]  # words of the post in the matched span
    part_entity: list[KnowledgeEntity | None]  # the word is one word of a named entity (partial match)
    prefix_entity: list[KnowledgeEntity | None]  # "timhicksmusic" ~ "Tim Hicks": one key starts with the other
    count: list[int]  # occurrences of the word anywhere in the knowledge
    capitalised: list[bool]  # the word occurs capitalised in the knowledge
    context_types: list[set[str]]  # coarse types of type words just after the word's mentions in the knowledge


def match_knowledge(words: Sequence[str], knowledge: str | None) -> KnowledgeMatch:
    """What the knowledge says about each word of the post."""
    n = len(words)
    span_tag = [""] * n
    span_entity: list[KnowledgeEntity | None] = [None] * n
    span_rank = [0] * n
    span_length = [0] * n
    part_entity: list[KnowledgeEntity | None] = [None] * n
    entities, text = parse_knowledge(knowledge)
    keys = [match_key(w) for w in words]

    # Exact spans, longest first so "New York Knicks" wins over "New York".
    candidates: list[tuple[int, int, KnowledgeEntity]] = []
    rank = {id(entity): index + 1 for index, entity in enumerate(entities)}
    for entity in entities:
        candidates.extend((start, end, entity) for start, end in spelled_spans(keys, name_alternatives(entity.name)))
    for start, end, entity in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
        if any(span_tag[i] for i in range(start, end)):
            continue
        for i in range(start, end):
            span_tag[i] = "B" if i == start else "I"
            span_entity[i] = entity
            span_rank[i] = rank[id(entity)]
            span_length[i] = end - start

    name_words: dict[str, KnowledgeEntity] = {}
    for entity in entities:
        for word in re.split(r"[\s/()]+", entity.name):
            key = match_key(word)
            if len(key) > 1:
                name_words.setdefault(key, entity)
    knowledge_words = [w for w in re.split(r"\s+", text) if w]
    counts = Counter(match_key(w) for w in knowledge_words)
    capitals = {match_key(w) for w in knowledge_words if w[:1].isupper()}
    count = [counts.get(k, 0) if k else 0 for k in keys]
    capitalised = [bool(k) and k in capitals for k in keys]
    for i, key in enumerate(keys):
        part_entity[i] = name_words.get(key) if len(key) > 1 else None

    # "Bucks ... the Milwaukee Bucks, a basketball team": type words shortly after a mention of the word.
    positions: dict[str, list[int]] = {}
    knowledge_keys = [match_key(w) for w in knowledge_words]
    for index, key in enumerate(knowledge_keys):
        if len(key) > 1:
            positions.setdefault(key, []).append(index)
    context_types: list[set[str]] = []
    for key in keys:
        found: set[str] = set()
        for index in positions.get(key, ()) if len(key) > 1 else ():
            for word in knowledge_keys[index + 1 : index + 1 + CONTEXT_WINDOW]:
                coarse = COARSE_WORDS.get(word)
                if coarse is not None:
                    found.add(coarse)
        context_types.append(found)
    prefix_entity: list[KnowledgeEntity | None] = [None] * n
    entity_keys = [(key, entity) for entity in entities for key in name_alternatives(entity.name)]
    for i, key in enumerate(keys):
        if span_entity[i] is not None or part_entity[i] is not None or len(key) < MIN_PREFIX:
            continue
        for entity_key, entity in entity_keys:
            if len(entity_key) >= MIN_PREFIX and (key.startswith(entity_key) or entity_key.startswith(key)):
                prefix_entity[i] = entity
                break
    return KnowledgeMatch(
        span_tag,
        span_entity,
        span_rank,
        span_length,
        part_entity,
        prefix_entity,
        count,
        capitalised,
        context_types,
    )
