"""spaCy's own tags (POS, fine tag, OntoNotes entity) for the dataset's tokenisation: features of the CRF."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# A spaCy pipeline component that is not needed for NER features (skipped for speed).
SPACY_DISABLE = ("parser", "lemmatizer")


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
