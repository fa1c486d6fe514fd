"""Parsing the LLM's auxiliary knowledge: the PLIM answer's entity list and the coarse types of its type words.

The knowledge is the PLIM answer ("Named entities: 1. X (type) 2. ... Reasoning: ..."); small LLMs vary the
format, and `parse_knowledge` reads the variants seen. Used by the CRF features, the span classifier and
training (`gmner.training`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NAME_WORDS = 10

_HEADER = re.compile(r"named\s+entit(?:y|ies)\s*:?", re.IGNORECASE)
_REASONING = re.compile(r"reason(?:ing)?\s*:", re.IGNORECASE)
_NUMBERED = re.compile(r"(?:^|(?<=[\s)\].,;:]))\d{1,2}\s*[.)]\s*(?=\S)")
_ITEM = re.compile(r"^(?P<name>.*?)\s*\((?P<type>[^()]*)\)\s*[,.;:]?\s*$", re.DOTALL)
_PAREN_ITEM = re.compile(r"(?P<name>[^(),;]+?)\s*\((?P<type>[^()]*)\)")
_SEPARATED = re.compile(r"^(?P<name>.+?)\s+(?:-|–|:)\s+(?P<type>.+)$")
_TYPE_WORD = re.compile(r"[a-z]+")
_NONE = re.compile(r"^\W*(?:none|n/a|no named entit)", re.IGNORECASE)

COARSE_TYPES = ("PER", "LOC", "ORG", "MISC", "HANDLE", "UNK")
# Type words the LLM uses -> coarse GMNER type. First match in the type string wins (so "team/organization"
# is ORG through "team", and "person/handle" is PER); words not listed still become raw-word features.
COARSE_WORDS: dict[str, str] = {}
for _coarse, _words in (
    (
        "PER",
        "person people player musician actor actress singer artist celebrity athlete author politician coach "
        "president rapper journalist director photographer performer character comedian writer model dj host "
        "producer footballer quarterback pitcher senator governor candidate star wrestler boxer driver user "
        "designer chef priest pope king queen prince princess minister reporter anchor ceo founder drummer "
        "guitarist vocalist youtuber blogger member",
    ),
    (
        "LOC",
        "location country city place state region venue geographic geographical neighborhood neighbourhood "
        "street park island continent stadium arena landmark building area town village county province "
        "capital river lake mountain beach airport district borough road highway bridge museum campus",
    ),
    (
        "ORG",
        "organization organisation company team brand league band school university institution news outlet "
        "media newspaper publication party club franchise agency network channel restaurant store government "
        "business college group corporation magazine station department committee union association charity "
        "retailer airline manufacturer label studio firm bank hospital church foundation academy",
    ),
    (
        "MISC",
        "event show movie film product hashtag award festival game song album book holiday nationality religion "
        "language competition tournament series concert campaign conference program programme title "
        "magazine tv season episode app website platform software device vehicle car phone console trophy "
        "cup race match championship ethnicity demonym",
    ),
):
    for _word in _words.split():
        COARSE_WORDS.setdefault(_word, _coarse)
# Handles are ambiguous in the dataset (a person's, a team's, a paper's account): their own class.
COARSE_WORDS["handle"] = "HANDLE"
COARSE_WORDS["username"] = "HANDLE"
COARSE_WORDS["account"] = "HANDLE"


@dataclass(frozen=True)
class KnowledgeEntity:
    name: str
    type: str  # the LLM's own type string, lower-cased ("person/player")

    @property
    def coarse(self) -> str:
        return coarse_type(self.type)

    @property
    def type_words(self) -> list[str]:
        return _TYPE_WORD.findall(self.type)


def coarse_type(type_text: str) -> str:
    for word in _TYPE_WORD.findall(type_text.lower()):
        coarse = COARSE_WORDS.get(word) or COARSE_WORDS.get(word.rstrip("s"))
        if coarse is not None:
            return coarse
    return "UNK"


def parse_knowledge(knowledge: str | None) -> tuple[list[KnowledgeEntity], str]:
    """(the entities listed under "Named entities:", the whole knowledge) from a PLIM answer.

    Tolerates the variants the LLMs write: numbered lists with or without spaces ("1. X (person)2. Y (team)"),
    comma-separated "X (type), Y (type)", "X - type", a missing "Reasoning:", and "None.".
    """
    if not knowledge:
        return [], ""
    header = _HEADER.search(knowledge)
    head = knowledge[header.end() :] if header else knowledge
    reasoning = _REASONING.search(head)
    if reasoning is not None:
        head = head[: reasoning.start()]
    elif header is None:
        return [], knowledge  # free text with no entity list: only the word-count features apply
    head = head.strip()
    if not head or _NONE.match(head):
        return [], knowledge
    items = [item.strip() for item in _NUMBERED.split(head) if item.strip()]
    entities: list[KnowledgeEntity] = []
    if len(items) > 1 or _NUMBERED.match(head):
        for item in items:
            entities.extend(_parse_item(item))
    else:
        found = list(_PAREN_ITEM.finditer(head))
        if found:
            entities = [_entity(m["name"], m["type"]) for m in found]
        else:
            for part in re.split(r"[,;]", head):
                entities.extend(_parse_item(part))
    # Long "names" are sentences ("may not be present in this sentence ..."), not entities.
    return [e for e in entities if match_key(e.name) and len(e.name.split()) <= MAX_NAME_WORDS], knowledge


def _parse_item(item: str) -> list[KnowledgeEntity]:
    item = item.strip().strip(",;")
    if not item:
        return []
    match = _ITEM.match(item)
    if match is not None:
        return [_entity(match["name"], match["type"])]
    match = _SEPARATED.match(item)
    if match is not None:
        return [_entity(match["name"], match["type"])]
    return [_entity(item.rstrip("."), "")]


def _entity(name: str, type_text: str) -> KnowledgeEntity:
    name = name.strip().strip("\"'“”‘’*").strip()
    return KnowledgeEntity(name=name, type=type_text.strip().lower())


def match_key(text: str) -> str:
    """Letters and digits only, case-folded: the form under which post words and knowledge names are matched."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())
