"""Per-word features of the CRF NER backend: word form, neighbours, spaCy's own tags, and the LLM's knowledge.

Shared by the backend (serving) and `gmner train ner` (training) so both compute exactly the same features;
bump `FEATURE_VERSION` whenever a feature changes, which makes old model directories refuse to load.

The knowledge is the PLIM answer ("Named entities: 1. X (type) 2. ... Reasoning: ..."). A linear-chain CRF
cannot attend to text far from the word, so the knowledge is turned into explicit per-word features: whether
the word lies in a span the LLM named (matched on letters and digits only, so `# CondiRice` matches
"Condi Rice" and `MahaveerM _` matches "MahaveerM_"), with which type words and coarse type, whether the word
occurs inside a named entity, and how often (and whether capitalised) it occurs anywhere in the knowledge.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

FEATURE_VERSION = 1
# Longest knowledge entity, in words of the post, that is matched against the post.
MAX_MATCH_WORDS = 8
# A spaCy pipeline component that is not needed for NER features (skipped for speed).
SPACY_DISABLE = ("parser", "lemmatizer")

_HEADER = re.compile(r"named\s+entit(?:y|ies)\s*:?", re.IGNORECASE)
_REASONING = re.compile(r"reason(?:ing)?\s*:", re.IGNORECASE)
_NUMBERED = re.compile(r"(?:^|(?<=[\s)\].,;:]))\d{1,2}\s*[.)]\s*(?=\S)")
_ITEM = re.compile(r"^(?P<name>.*?)\s*\((?P<type>[^()]*)\)\s*[,.;:]?\s*$", re.DOTALL)
_PAREN_ITEM = re.compile(r"(?P<name>[^(),;]+?)\s*\((?P<type>[^()]*)\)")
_SEPARATED = re.compile(r"^(?P<name>.+?)\s+(?:-|–|:)\s+(?P<type>.+)$")
_TYPE_WORD = re.compile(r"[a-z]+")
_NONE = re.compile(r"^\W*(?:none|n/a|no named entit)", re.IGNORECASE)

# Type words the LLM uses -> coarse GMNER type. First match in the type string wins (so "team/organization"
# is ORG through "team", and "person/handle" is PER); words not listed still become raw-word features.
_COARSE_WORDS: dict[str, str] = {}
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
        _COARSE_WORDS.setdefault(_word, _coarse)
# Handles are ambiguous in the dataset (a person's, a team's, a paper's account): their own class.
_COARSE_WORDS["handle"] = "HANDLE"
_COARSE_WORDS["username"] = "HANDLE"
_COARSE_WORDS["account"] = "HANDLE"


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
        coarse = _COARSE_WORDS.get(word) or _COARSE_WORDS.get(word.rstrip("s"))
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
    return [e for e in entities if _key(e.name)], knowledge


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


def _key(text: str) -> str:
    """Letters and digits only, case-folded: the form under which post words and knowledge names are matched."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


@dataclass
class KnowledgeMatch:
    """Per-word knowledge facts of one post."""

    span_tag: list[str]  # "B"/"I"/"" : inside a span the LLM named (exact on letters and digits)
    span_entity: list[KnowledgeEntity | None]
    part_entity: list[KnowledgeEntity | None]  # the word is one word of a named entity (partial match)
    count: list[int]  # occurrences of the word anywhere in the knowledge
    capitalised: list[bool]  # the word occurs capitalised in the knowledge


def match_knowledge(words: Sequence[str], knowledge: str | None) -> KnowledgeMatch:
    n = len(words)
    span_tag = [""] * n
    span_entity: list[KnowledgeEntity | None] = [None] * n
    part_entity: list[KnowledgeEntity | None] = [None] * n
    entities, text = parse_knowledge(knowledge)
    keys = [_key(w) for w in words]

    # Exact spans, longest first so "New York Knicks" wins over "New York".
    candidates: list[tuple[int, int, KnowledgeEntity]] = []
    for entity in entities:
        target = _key(entity.name)
        alternatives = {target}
        lowered = entity.name.casefold()
        if lowered.startswith("the "):
            alternatives.add(_key(entity.name[4:]))
        for start in range(n):
            if not keys[start]:
                continue
            joined = ""
            for end in range(start, min(n, start + MAX_MATCH_WORDS)):
                joined += keys[end]
                if joined in alternatives and keys[end]:
                    candidates.append((start, end + 1, entity))
                if not any(alt.startswith(joined) for alt in alternatives):
                    break
    for start, end, entity in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
        if any(span_tag[i] for i in range(start, end)):
            continue
        for i in range(start, end):
            span_tag[i] = "B" if i == start else "I"
            span_entity[i] = entity

    name_words: dict[str, KnowledgeEntity] = {}
    for entity in entities:
        for word in entity.name.split():
            key = _key(word)
            if len(key) > 1:
                name_words.setdefault(key, entity)
    knowledge_words = [w for w in re.split(r"\s+", text) if w]
    counts = Counter(_key(w) for w in knowledge_words)
    capitals = {_key(w) for w in knowledge_words if w[:1].isupper()}
    count = [counts.get(k, 0) if k else 0 for k in keys]
    capitalised = [bool(k) and k in capitals for k in keys]
    for i, key in enumerate(keys):
        part_entity[i] = name_words.get(key) if len(key) > 1 else None
    return KnowledgeMatch(span_tag, span_entity, part_entity, count, capitalised)


@dataclass
class SpacyTags:
    pos: list[str]
    tag: list[str]
    ent: list[str]  # "B-PERSON", "I-ORG", "O"


def spacy_tags(nlp: Any, sentences: Iterable[Sequence[str]], batch_size: int = 256) -> list[SpacyTags]:
    """spaCy's POS / fine tag / OntoNotes entity tag for each word, tagging the dataset's own tokenisation."""
    from spacy.tokens import Doc

    docs = (Doc(nlp.vocab, words=list(words) or [""]) for words in sentences)
    out: list[SpacyTags] = []
    for doc in nlp.pipe(docs, batch_size=batch_size):
        ents = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in doc]
        out.append(SpacyTags([t.pos_ for t in doc], [t.tag_ for t in doc], ents))
    return out


def load_feature_spacy(name_or_path: str) -> Any:
    from services.ner.backends.spacy_backend import load_spacy

    nlp = load_spacy(name_or_path)
    for component in SPACY_DISABLE:
        if component in nlp.pipe_names:
            nlp.disable_pipe(component)
    return nlp


def _shape(word: str) -> str:
    shape = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not shape or shape[-1] != c:
            shape.append(c)
    return "".join(shape)[:8]


def _bucket(count: int) -> str:
    return str(count) if count < 3 else "3+" if count < 6 else "6+"


def _word_features(word: str) -> list[str]:
    lower = word.lower()
    feats = [
        "w=" + lower,
        "shape=" + _shape(word),
        "suf3=" + lower[-3:],
        "suf2=" + lower[-2:],
        "pre3=" + lower[:3],
        "pre2=" + lower[:2],
    ]
    if word[:1].isupper():
        feats.append("title")
    if word.isupper() and any(ch.isalpha() for ch in word):
        feats.append("upper")
    if word.islower():
        feats.append("lower")
    if any(ch.isdigit() for ch in word):
        feats.append("digit")
    if not any(ch.isalnum() for ch in word):
        feats.append("punct")
    if any(ch.isupper() for ch in word[1:]) and any(ch.islower() for ch in word):
        feats.append("camel")
    if lower.startswith("http"):
        feats.append("url")
    feats.append("len=" + str(min(len(word), 10)))
    return feats


def sentence_features(
    words: Sequence[str], tags: SpacyTags | None, knowledge: str | None, *, use_knowledge: bool = True
) -> list[list[str]]:
    """One feature list per word. `tags` is `spacy_tags` for this post; knowledge is ignored when not used."""
    n = len(words)
    match = match_knowledge(words, knowledge if use_knowledge else None)
    has_knowledge = use_knowledge and bool(knowledge and knowledge.strip())
    base = [_word_features(w) for w in words]
    local: list[list[str]] = []
    for i, word in enumerate(words):
        feats = ["bias"]
        prev = words[i - 1] if i > 0 else "<s>"
        if prev == "#":
            feats.append("after_hash")
        elif prev == "@":
            feats.append("after_at")
        if i == 0:
            feats.append("first")
        if i > 0 and words[0] == "RT" and i <= 3:
            feats.append("rt_head")
        if tags is not None:
            ent = tags.ent[i]
            feats += ["pos=" + tags.pos[i], "tag=" + tags.tag[i], "ent=" + ent]
            if ent != "O":
                feats.append("ent_type=" + ent[2:])
        if has_knowledge:
            feats.append("k")
            span = match.span_entity[i]
            if span is not None:
                feats += [
                    "k_span=" + match.span_tag[i],
                    "k_span_coarse=" + span.coarse,
                    "k_span_tag=" + match.span_tag[i] + "-" + span.coarse,
                ]
                feats += ["k_span_tw=" + t for t in span.type_words[:4]]
                if tags is not None:
                    feats.append("k_span_coarse_ent=" + span.coarse + "|" + tags.ent[i][2:])
            part = match.part_entity[i]
            if part is not None:
                feats += ["k_part", "k_part_coarse=" + part.coarse]
            feats.append("k_count=" + _bucket(match.count[i]))
            if match.capitalised[i]:
                feats.append("k_cap")
                if word.islower():
                    feats.append("k_cap_lower")
        local.append(feats)

    # Neighbours: a window of two words each side, with fewer features further away.
    out: list[list[str]] = []
    for i in range(n):
        feats = base[i] + local[i]
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if not 0 <= j < n:
                feats.append(f"{offset}:pad")
                continue
            feats.append(f"{offset}:w=" + words[j].lower())
            if abs(offset) == 1:
                feats += [f"{offset}:" + f for f in base[j] if f.startswith(("shape=", "title", "upper"))]
                feats += [f"{offset}:" + f for f in local[j] if f.startswith(_NEIGHBOUR_PREFIXES)]
        out.append(feats)
    return out


_NEIGHBOUR_PREFIXES = ("pos=", "ent=", "k_span_tag=", "k_part_coarse=", "after_", "k_cap")
