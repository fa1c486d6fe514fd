"""Per-word features of the CRF NER backend: word form, neighbours, spaCy's own tags, and the LLM's knowledge.

Shared by the backend (serving) and `gmner train ner` (training) so both compute exactly the same features;
bump `FEATURE_VERSION` whenever a feature changes, which makes old model directories refuse to load.

The knowledge is the PLIM answer ("Named entities: 1. X (type) 2. ... Reasoning: ..."). A linear-chain CRF
cannot attend to text far from the word, so the knowledge is turned into explicit per-word features: whether
the word lies in a span the LLM named (matched on letters and digits only, so `# CondiRice` matches
"Condi Rice" and `Military _ Edge` matches "Military Edge"), with which type words, coarse type and rank,
whether the word is one word of a named entity or a prefix of one, which type words follow its mentions in
the reasoning, and how often (and whether capitalised) it occurs anywhere in the knowledge. The gazetteer of
the training data's entity strings adds what the training posts say about the word.
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
# A knowledge "entity" with more words than this is a sentence the LLM wrote, not a name.
MAX_NAME_WORDS = 10
# Words after a mention in the knowledge that are read for type words ("Bucks, a basketball team").
CONTEXT_WINDOW = 6
# Shortest key for which a prefix match ("timhicksmusic" ~ "Tim Hicks") counts.
MIN_PREFIX = 4
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

COARSE_TYPES = ("PER", "LOC", "ORG", "MISC", "HANDLE", "UNK")
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
    # Long "names" are sentences ("may not be present in this sentence ..."), not entities.
    return [e for e in entities if _key(e.name) and len(e.name.split()) <= MAX_NAME_WORDS], knowledge


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
    return {key for key in (_key(n) for n in names) if key}


def _key(text: str) -> str:
    """Letters and digits only, case-folded: the form under which post words and knowledge names are matched."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


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
    keys = [_key(w) for w in words]

    # Exact spans, longest first so "New York Knicks" wins over "New York".
    candidates: list[tuple[int, int, KnowledgeEntity]] = []
    rank = {id(entity): index + 1 for index, entity in enumerate(entities)}
    for entity in entities:
        alternatives = name_alternatives(entity.name)
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
            span_rank[i] = rank[id(entity)]
            span_length[i] = end - start

    name_words: dict[str, KnowledgeEntity] = {}
    for entity in entities:
        for word in re.split(r"[\s/()]+", entity.name):
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

    # "Bucks ... the Milwaukee Bucks, a basketball team": type words shortly after a mention of the word.
    positions: dict[str, list[int]] = {}
    knowledge_keys = [_key(w) for w in knowledge_words]
    for index, key in enumerate(knowledge_keys):
        if len(key) > 1:
            positions.setdefault(key, []).append(index)
    context_types: list[set[str]] = []
    for key in keys:
        found: set[str] = set()
        for index in positions.get(key, ()) if len(key) > 1 else ():
            for word in knowledge_keys[index + 1 : index + 1 + CONTEXT_WINDOW]:
                coarse = _COARSE_WORDS.get(word)
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


@dataclass
class Gazetteer:
    """Entity strings and words seen in the training data, with their usual type and how often they are entities.

    Built by `gmner train ner` (jack-knifed over folds for the training posts, so the CRF learns how far to
    trust it on unseen posts) and saved with the model.
    """

    # lower-cased words joined by a space -> (most frequent type, share of occurrences that are that entity)
    spans: dict[str, tuple[str, float]]
    # lower-cased word -> (most frequent type, share of occurrences inside an entity)
    words: dict[str, tuple[str, float]]
    max_words: int = 6

    @classmethod
    def build(cls, posts: Iterable[tuple[Sequence[str], Sequence[str]]], max_words: int = 6) -> Gazetteer:
        from services.ner.decoding import decode_tags

        data = [([w.lower() for w in words], list(tags)) for words, tags in posts]
        span_types: dict[str, Counter[str]] = {}
        word_types: dict[str, Counter[str]] = {}
        word_total: Counter[str] = Counter()
        for words, tags in data:
            for span in decode_tags(tags, "bio"):
                if span.end - span.start <= max_words:
                    span_types.setdefault(" ".join(words[span.start : span.end]), Counter())[span.label] += 1
            word_total.update(words)
            for word, tag in zip(words, tags, strict=True):
                if tag != "O":
                    word_types.setdefault(word, Counter())[tag[2:]] += 1
        span_total: Counter[str] = Counter()
        for words, _ in data:
            for start in range(len(words)):
                for end in range(start + 1, min(len(words), start + max_words) + 1):
                    text = " ".join(words[start:end])
                    if text in span_types:
                        span_total[text] += 1
        spans = {}
        for text, types in span_types.items():
            label, count = types.most_common(1)[0]
            spans[text] = (label, count / max(span_total[text], count))
        words_out = {}
        for word, types in word_types.items():
            label, _ = types.most_common(1)[0]
            words_out[word] = (label, sum(types.values()) / max(word_total[word], 1))
        return cls(spans=spans, words=words_out, max_words=max_words)

    def to_json(self) -> dict[str, Any]:
        return {"max_words": self.max_words, "spans": self.spans, "words": self.words}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Gazetteer:
        return cls(
            spans={k: (v[0], float(v[1])) for k, v in data["spans"].items()},
            words={k: (v[0], float(v[1])) for k, v in data["words"].items()},
            max_words=int(data.get("max_words", 6)),
        )

    def features(self, words: Sequence[str]) -> list[list[str]]:
        lower = [w.lower() for w in words]
        n = len(words)
        out: list[list[str]] = [[] for _ in range(n)]
        taken = [False] * n
        matches = []
        for start in range(n):
            for end in range(start + 1, min(n, start + self.max_words) + 1):
                entry = self.spans.get(" ".join(lower[start:end]))
                if entry is not None:
                    matches.append((start, end, entry))
        # Longest first, then leftmost; overlapping shorter matches are dropped.
        for start, end, (label, rate) in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
            if any(taken[start:end]):
                continue
            for i in range(start, end):
                taken[i] = True
                position = "B" if i == start else "I"
                out[i] += [f"g_span={position}-{label}", f"g_span_rate={position}-{_rate(rate)}"]
        for i, word in enumerate(lower):
            entry = self.words.get(word)
            if entry is not None:
                out[i] += [f"g_word={entry[0]}", f"g_word_rate={_rate(entry[1])}"]
        return out


def _rate(rate: float) -> str:
    return "0" if rate < 0.1 else "1" if rate < 0.4 else "2" if rate < 0.7 else "3"


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
    words: Sequence[str],
    tags: SpacyTags | None,
    knowledge: str | None,
    *,
    use_knowledge: bool = True,
    gazetteer: Gazetteer | None = None,
    match: KnowledgeMatch | None = None,
) -> list[list[str]]:
    """One feature list per word. `tags` is `spacy_tags` for this post; knowledge is ignored when not used.

    `match` is `match_knowledge(words, knowledge)` when the caller has it already.
    """
    n = len(words)
    gazetteer_features = gazetteer.features(words) if gazetteer is not None else [[] for _ in words]
    if match is None or not use_knowledge:
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
                tag = match.span_tag[i] + "-" + span.coarse
                feats += ["k_span_tw=" + t for t in span.type_words[:4]]
                feats += [f"k_span_tw={match.span_tag[i]}-{t}" for t in span.type_words[:2]]
                feats.append(f"k_span_rank={min(match.span_rank[i], 5)}")
                feats.append(f"k_span_len={min(match.span_length[i], 4)}")
                if prev in ("#", "@"):
                    feats.append(f"k_span_after={prev}{tag}")
                if word[:1].isupper():
                    feats.append(f"k_span_title={tag}")
                if tags is not None:
                    feats.append("k_span_coarse_ent=" + span.coarse + "|" + tags.ent[i][2:])
            part = match.part_entity[i]
            if part is not None:
                feats += ["k_part", "k_part_coarse=" + part.coarse]
            prefix = match.prefix_entity[i]
            if prefix is not None:
                feats += ["k_prefix", "k_prefix_coarse=" + prefix.coarse]
            feats += ["k_ctx=" + t for t in sorted(match.context_types[i])]
            feats.append("k_count=" + _bucket(match.count[i]))
            if match.capitalised[i]:
                feats.append("k_cap")
                if word.islower():
                    feats.append("k_cap_lower")
        feats += gazetteer_features[i]
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


_NEIGHBOUR_PREFIXES = ("pos=", "ent=", "k_span_tag=", "k_part_coarse=", "after_", "k_cap", "g_span=")
