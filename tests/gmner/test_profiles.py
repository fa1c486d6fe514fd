"""`gmner serve --profile`: what each profile implies for the LLM and the stages, and what overrides it."""

from __future__ import annotations

import argparse

import pytest

from gmner.commands import serve
from gmner.embedded.settings import PROFILES, EmbeddedSettings
from gmner.embedded.stack import EmbeddedStack


def test_the_default_profile_runs_qwen_with_listed_knowledge_on() -> None:
    settings = EmbeddedSettings()
    assert settings.profile == "quality"
    assert settings.bundled_llm_name == "qwen2.5-1.5b"
    assert settings.stage_env() == {
        "GMNER_NER_KNOWLEDGE_BY_DEFAULT": "true",
        "GMNER_NER_KNOWLEDGE_PROMPT": "listed",
        "GMNER_NER_KNOWLEDGE_ADDS_LISTED": "true",
    }


def test_the_balanced_profile_is_the_same_with_the_small_qwen() -> None:
    settings = EmbeddedSettings(profile="balanced")
    assert settings.bundled_llm_name == "qwen2.5-0.5b"
    assert settings.stage_env() == EmbeddedSettings().stage_env()


def test_the_fast_profile_is_the_previous_default() -> None:
    settings = EmbeddedSettings(profile="fast")
    assert settings.bundled_llm_name == "gemma-3-270m"
    assert settings.stage_env() == {
        "GMNER_NER_KNOWLEDGE_BY_DEFAULT": "false",
        "GMNER_NER_KNOWLEDGE_PROMPT": "similar",
        "GMNER_NER_KNOWLEDGE_ADDS_LISTED": "false",
    }


def test_each_choice_overrides_its_profile_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = EmbeddedSettings(profile="fast", knowledge_by_default=True)
    assert settings.bundled_llm_name == "gemma-3-270m"
    assert settings.stage_env()["GMNER_NER_KNOWLEDGE_BY_DEFAULT"] == "true"
    monkeypatch.setenv("GMNER_EMBEDDED_PROFILE", "fast")
    monkeypatch.setenv("GMNER_EMBEDDED_LLM", "qwen2.5-0.5b")
    from_env = EmbeddedSettings()
    assert (from_env.bundled_llm_name, from_env.knowledge_default) == ("qwen2.5-0.5b", False)


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="profile"):
        EmbeddedSettings(profile="turbo")


def test_the_stages_get_the_profile_settings() -> None:
    env = EmbeddedStack(EmbeddedSettings(profile="fast", knowledge_by_default=True))._env()
    assert env["GMNER_NER_KNOWLEDGE_BY_DEFAULT"] == "true"
    assert env["GMNER_NER_KNOWLEDGE_PROMPT"] == "similar"
    assert env["GMNER_LLM_MODEL"] == "gemma-3-270m" and env["GMNER_LLM_API"] == "completions"


def parse_serve(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


def test_serve_flags_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: list[EmbeddedSettings] = []

    class Stop(Exception):
        pass

    def fake_stack(settings: EmbeddedSettings) -> None:
        captured.append(settings)
        raise Stop

    monkeypatch.setattr("gmner.embedded.stack.EmbeddedStack", fake_stack)
    for argv in (["--profile", "fast"], ["--llm", "qwen2.5-0.5b", "--knowledge", "off"]):
        args = parse_serve(argv)
        with pytest.raises(Stop):
            args.func(args)
    fast, qwen = captured
    assert (fast.bundled_llm_name, fast.knowledge_default) == ("gemma-3-270m", False)
    assert (qwen.profile, qwen.bundled_llm_name, qwen.knowledge_default) == ("quality", "qwen2.5-0.5b", False)
    with pytest.raises(SystemExit):
        parse_serve(["--profile", "turbo"])
    assert set(PROFILES) == {"quality", "balanced", "fast"}
