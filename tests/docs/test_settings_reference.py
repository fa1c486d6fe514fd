"""The configuration reference is generated from the settings classes: every field needs a description."""

from __future__ import annotations

import ast
from types import ModuleType

import pytest
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tests.docs.conftest import REPO_ROOT

SETTINGS_BASES = {"BaseSettings", "AppSettings", "VisualStageSettings"}


def test_every_settings_field_has_a_description(gen: ModuleType) -> None:
    missing = gen.undocumented_fields()
    assert missing == [], (
        "settings fields without a description (write Field(..., description=...): it is the configuration "
        "reference's text): " + ", ".join(missing)
    )


def test_a_field_without_a_description_is_reported(gen: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    class Nested(BaseModel):
        described: int = Field(default=1, description="Has one.")
        bare: int = 2

    class Demo(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="GMNER_DEMO_", env_nested_delimiter="__")

        plain: str = "x"
        nested: Nested = Field(default_factory=Nested, description="A nested model.")

    monkeypatch.setattr(gen, "settings_sections", lambda: [gen.SettingsSection("Demo", Demo, "GMNER_DEMO_")])
    missing = gen.undocumented_fields()
    assert any(owner.endswith("Demo.plain") for owner in missing)
    assert any(owner.endswith("Nested.bare") for owner in missing)
    assert not any(owner.endswith(("Nested.described", "Demo.nested")) for owner in missing)
    page = gen.settings_markdown()
    assert "`GMNER_DEMO_NESTED__BARE`" in page
    assert "**undocumented**" in page


def _settings_classes_in_source() -> set[str]:
    """`module:Class` of every class in the packages that derives (by name) from a settings base."""
    found: dict[str, str] = {}
    bases = set(SETTINGS_BASES)
    trees = []
    for package in ("shared", "engines", "services", "gateway", "gmner"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            trees.append((module, ast.parse(path.read_text(encoding="utf-8"))))
    # Twice: a subclass may be read before the class it derives from.
    for _ in range(2):
        for module, tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if names & bases:
                        bases.add(node.name)
                        found[node.name] = f"{module}:{node.name}"
    return set(found.values())


def test_every_settings_class_is_in_the_reference(gen: ModuleType) -> None:
    listed = {f"{s.cls.__module__}:{s.cls.__name__}" for s in gen.settings_sections()}
    missing = _settings_classes_in_source() - listed
    assert not missing, f"settings classes missing from settings_sections() in scripts/gen_docs_reference.py: {missing}"


def test_the_reference_names_variables_with_their_prefix_type_and_default(gen: ModuleType) -> None:
    page = gen.settings_markdown()
    rows = {line.split(" | ")[0].strip("| `"): line for line in page.splitlines() if line.startswith("| `GMNER_")}
    assert "| 120.0 |" not in rows["GMNER_GATEWAY_DEADLINE_S"]  # defaults are code, not bare numbers
    assert "`120.0`" in rows["GMNER_GATEWAY_DEADLINE_S"]
    assert "`crf`" in rows["GMNER_NER_BACKEND"]
    # Nested settings of the visual stages, with the `__` delimiter.
    assert "GMNER_{VE,VG}_DETECTOR__TIMEOUT_S" in rows
    assert "GMNER_VG_PERSON_BOX__WIDTH_FACTOR" in rows
    # Literal choices are listed.
    assert "`litemedsam` \\| `sam`" in rows["GMNER_SAM_BACKEND"]
    # Machine-specific defaults are not this machine's.
    assert "/root" not in page and str(REPO_ROOT) not in page
