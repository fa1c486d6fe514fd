"""What the knowledge list says that the tagger did not: listed names it missed, and listed animals' type.

The tagger learned from Twitter-GMNER, where `@handles` and `#hashtags` are almost never entities and named pets
are rare, so on a user's posts it leaves out `@mariakrogh`, `#WorldBeeDay` or a rabbit called Biscuit even when
the LLM lists them (`Named entities: 1. Biscuit (animal/rabbit) – the poster's new bunny`). After tagging, each
listed name that occurs in the post as a handle, a hashtag or capitalised words, and that no tagged entity
overlaps, is added with the list's type; a tagged entity that the list calls an animal is typed MISC, as the
dataset types named animals; the handle a retweet quotes (`RT @user:`) is left out. Only exact occurrences count
(letters and digits, case-folded), so the list cannot add what the post does not say. Chosen on half A of the
out-of-domain photo benchmark (docs/models/configurations.md); on in the embedded `quality` and `balanced`
profiles, off in production: on Twitter-GMNER, whose annotation leaves handles out, it costs precision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engines.llm.entity_list import ListedEntity, parse_entity_list
from engines.ner.knowledge_match import name_alternatives, spelled_spans
from engines.ner.knowledge_parsing import coarse_type, match_key
from engines.ner.words import tweet_words
from shared.protocol.common import Entity, EntityType

# Type words that make a listed entity an animal ("person/dog", "animal", "pet rabbit").
_ANIMALS = (
    "animal pet dog puppy cat kitten horse pony bird rabbit bunny pig goat sheep cow lizard chameleon reptile "
    "fish parrot hamster capybara quokka tortoise turtle snake ferret guinea"
)
ANIMAL_WORDS = frozenset(_ANIMALS.split())
# Words a small LLM lists as names ("She (person)") that are never entities.
_PRONOUNS = "i me my we our you your he him his she her they them their it its this that the a an"
NOT_NAMES = frozenset(_PRONOUNS.split())
_COARSE_TO_TYPE = {"PER": EntityType.PER, "LOC": EntityType.LOC, "ORG": EntityType.ORG, "MISC": EntityType.MISC}
_TYPE_WORD = re.compile(r"[a-z]+")
# "Nutty the nuthatch" names Nutty.
_NAME_THE_KIND = re.compile(r"^(?P<name>\S+) the \S+$", re.IGNORECASE)


def is_animal(listed_type: str) -> bool:
    return any(w in ANIMAL_WORDS or w.rstrip("s") in ANIMAL_WORDS for w in _TYPE_WORD.findall(listed_type.lower()))


def entity_type_of(listed: ListedEntity) -> EntityType | None:
    """The GMNER type of a listed entity; None when its type words say none (e.g. a bare "handle")."""
    if is_animal(listed.type):
        return EntityType.MISC
    return _COARSE_TO_TYPE.get(coarse_type(listed.type))


def is_attribution(words: Sequence[str], first: int, last: int) -> bool:
    """`RT @user:` or a post opening `@user:`: who is quoted, which Twitter-GMNER never annotates (a small LLM
    lists it; 55 of the 300 first test posts' gpt-3.5 lists name one)."""
    if first == 0 or words[first - 1] != "@":
        return False
    retweet = first >= 2 and words[first - 2].casefold() == "rt"
    opening = first == 1 and last + 1 < len(words) and words[last + 1] == ":"
    return retweet or opening


def _keys(listed: ListedEntity) -> set[str]:
    keys = name_alternatives(listed.name)
    named = _NAME_THE_KIND.match(listed.name)
    if named is not None:
        keys.add(match_key(named["name"]))
    return {key for key in keys if key and key not in NOT_NAMES and not key.isdigit()}


def complete_with_listed(text: str, entities: Sequence[Entity], knowledge: str | None) -> list[Entity]:
    """The tagger's entities, plus the listed names it missed, with listed animals typed MISC; by start offset."""
    listed = parse_entity_list(knowledge)
    if not listed:
        return list(entities)
    words, offsets = tweet_words(text)
    word_keys = [match_key(w) for w in words]
    found = list(entities)
    for item in listed:
        entity_type = entity_type_of(item)
        keys = _keys(item)
        if entity_type is None or not keys:
            continue
        for first, stop in spelled_spans(word_keys, keys):
            last = stop - 1
            start, end = offsets[first][0], offsets[last][1]
            same = next((i for i, e in enumerate(found) if e.start == start and e.end == end), None)
            if same is not None:
                if is_animal(item.type):
                    found[same] = found[same].model_copy(update={"type": EntityType.MISC})
                continue
            if any(e.start < end and start < e.end for e in found):
                continue
            if is_attribution(words, first, last):
                continue
            marked = first > 0 and words[first - 1] in ("@", "#")
            if marked or words[first][:1].isupper():
                found.append(Entity(text=text[start:end], type=entity_type, start=start, end=end))
    return sorted(found, key=lambda e: (e.start, e.end))
