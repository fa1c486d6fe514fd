"""The listed knowledge form: `Named entities: 1. Name (type) – short description 2. ...`, one line.

The embedded default's knowledge step asks the LLM for this form instead of the PLIM answer's list followed by
reasoning prose: the prose is half of the generated tokens and the tagger reads mostly the list; the short
description per entity is what entity expansion would have asked the LLM for, so the expansion stage re-uses it
(`descriptions_by_name`) and calls the LLM only for entities the list does not name. `as_plim` rewrites a
listed answer into the PLIM form the knowledge-aware tagger was trained on (list, then `Reasoning:` sentences).
Both the NER and the expansion service read it, so it lives here and not in either service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"named\s+entit(?:y|ies)\s*:", re.IGNORECASE)
# An item number at the start or after a space/closing bracket/punctuation: "1. X (person) – ... 2. Y (team)".
_NUMBERED = re.compile(r"(?:^|(?<=[\s)\].,;:]))\d{1,2}\s*[.)]\s+(?=\S)")
_ITEM = re.compile(r"^(?P<name>[^()]+?)\s*\((?P<type>[^()]*)\)\s*(?:[–—:-]+\s*(?P<description>.*))?$", re.DOTALL)
_ARTICLE = re.compile(r"^(?:a|an|the|one of)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ListedEntity:
    name: str
    type: str  # the LLM's own type words, lower-cased ("person/dog")
    description: str  # "" when the item has none


def parse_entity_list(knowledge: str | None) -> list[ListedEntity]:
    """The items of a listed answer; [] for text that is not one (e.g. PLIM prose, "None")."""
    if not knowledge:
        return []
    header = _HEADER.search(knowledge)
    if header is None:
        return []
    body = knowledge[header.end() :]
    reasoning = re.search(r"reason(?:ing)?\s*:", body, re.IGNORECASE)
    if reasoning is not None:
        body = body[: reasoning.start()]
    body = " ".join(body.split())
    entities: list[ListedEntity] = []
    for item in _NUMBERED.split(body):
        match = _ITEM.match(item.strip())
        if match is None:
            continue
        name = match["name"].strip().strip("\"'“”‘’*").strip()
        if not name:
            continue
        description = (match["description"] or "").strip().rstrip(" ,;")
        entities.append(ListedEntity(name=name, type=match["type"].strip().lower(), description=description))
    return entities


def name_key(text: str) -> str:
    """Letters and digits only, case-folded: "#BrunoTheDog" and "Bruno the dog" do not match, "@Jess" and "Jess" do."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def descriptions_by_name(knowledge: str | None) -> dict[str, str]:
    """name_key(name) -> description, for the listed entities that have one (the first item wins)."""
    found: dict[str, str] = {}
    for entity in parse_entity_list(knowledge):
        key = name_key(entity.name)
        if key and entity.description and key not in found:
            found[key] = entity.description
    return found


def as_plim(knowledge: str) -> str:
    """A listed answer in the PLIM form (`Named entities: 1. X (type) ... Reasoning: X is ...`); any other text
    (a PLIM answer with its reasoning, prose, a list without descriptions) as is.

    The knowledge-aware tagger was trained on the dataset's PLIM answers, whose reasoning mentions each entity
    with what it is; the descriptions become those sentences, so the tagger reads the form it was trained on.
    """
    entities = parse_entity_list(knowledge)
    has_reasoning = re.search(r"reason(?:ing)?\s*:", knowledge, re.IGNORECASE) is not None
    if has_reasoning or not any(e.description for e in entities):
        return knowledge  # already PLIM, or nothing to rewrite
    items = " ".join(f"{i}. {e.name} ({e.type})" for i, e in enumerate(entities, 1))
    sentences = []
    for e in entities:
        if not e.description:
            continue
        joined = f"{e.name} is {e.description}" if _ARTICLE.match(e.description) else f"{e.name}: {e.description}"
        sentences.append(joined.rstrip(".") + ".")
    reasoning = f" Reasoning: {' '.join(sentences)}" if sentences else ""
    return f"Named entities: {items}{reasoning}"
