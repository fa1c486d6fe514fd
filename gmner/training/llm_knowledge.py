"""Knowledge files written by our own LLM: the NER service's knowledge step run over a dataset split.

The output is the dataset's `<EOS>` format (each post's tokens and gold tags, `<EOS><TAB>X`, the knowledge one
token per line tagged `X`, a blank line), so it can stand wherever `gmner-knowledge/<split>.txt` does: as training
data for the knowledge variant (`gmner train ner --llm-knowledge FILE`) or as the embedded LLM's test knowledge
(`benchmarks/bench_ner_mner.py --llm-knowledge-file FILE`), generated once instead of on every run.

Resumable: each post is appended in one write and flushed before the next; a rerun checks that the file's
entries are the split's first posts, drops a half-written last block, and continues after them. A post whose
LLM call failed is written with empty knowledge and counted, so the file stays aligned with the split.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gmner.eval.knowledge import EOS, read_knowledge
from gmner.training.data import Post

KnowledgeOf = Callable[[str], str | None]


@dataclass
class GenerationSummary:
    total: int  # posts asked for (the split, or its first --limit)
    already: int  # entries found in the file when the run started
    written: int  # entries this run appended
    failed: int  # of them, posts whose LLM call failed (written with empty knowledge)
    seconds: float
    stopped_by_time_budget: bool

    @property
    def seconds_per_post(self) -> float:
        return self.seconds / self.written if self.written else 0.0


def format_entry(post: Post, knowledge: str) -> str:
    lines = [f"{word}\t{tag}" for word, tag in zip(post.words, post.tags, strict=True)]
    lines.append(f"{EOS}\tX")
    lines += [f"{token}\tX" for token in knowledge.split()]
    return "\n".join(lines) + "\n\n"


def resume_point(path: Path, posts: Sequence[Post]) -> int:
    """How many of `posts` the file at `path` already holds; trims a half-written last block first."""
    if not path.exists():
        return 0
    data = path.read_bytes()
    complete = data.rfind(b"\n\n") + 2 if b"\n\n" in data else 0
    if complete != len(data):
        with open(path, "r+b") as f:
            f.truncate(complete)
    entries = read_knowledge(path).entries
    if len(entries) > len(posts):
        raise ValueError(f"{path}: {len(entries)} entries, more than the {len(posts)} posts asked for")
    for index, entry in enumerate(entries):
        if entry.text != posts[index].text:
            raise ValueError(f"{path}: entry {index + 1} is not post {index + 1} of this split; use another --out")
    return len(entries)


def generate_knowledge_file(
    posts: Sequence[Post],
    out: Path,
    knowledge_of: KnowledgeOf,
    *,
    time_budget_s: float | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True),
    log_every: int = 10,
) -> GenerationSummary:
    out.parent.mkdir(parents=True, exist_ok=True)
    already = resume_point(out, posts)
    if already:
        log(f"resuming: {already} of {len(posts)} posts already in {out}")
    started = time.perf_counter()
    written = failed = 0
    stopped = False
    with open(out, "a", encoding="utf-8") as f:
        for post in posts[already:]:
            if time_budget_s is not None and time.perf_counter() - started >= time_budget_s:
                stopped = True
                break
            knowledge = knowledge_of(post.text)
            if knowledge is None:
                failed += 1
            f.write(format_entry(post, knowledge or ""))
            f.flush()
            os.fsync(f.fileno())
            written += 1
            if written % log_every == 0:
                elapsed = time.perf_counter() - started
                left = len(posts) - already - written
                log(
                    f"{already + written}/{len(posts)} posts, {elapsed / written:.1f} s/post, "
                    f"{failed} failed, ~{left * elapsed / written / 60:.0f} min left"
                )
    return GenerationSummary(len(posts), already, written, failed, time.perf_counter() - started, stopped)


def service_knowledge(llm_url: str) -> KnowledgeOf:
    """The NER service's own knowledge step (same prompt, examples and LLM client; GMNER_NER_* and GMNER_LLM_*
    settings), per post.

    Returns None for a post whose LLM call failed.
    """
    import asyncio

    from engines.llm.client import LLMError
    from engines.llm.connection import build_llm_client
    from engines.ner.knowledge.embedder import SentenceEmbedder
    from engines.ner.knowledge.generation import KnowledgeGenerator
    from engines.ner.knowledge.prompting import load_knowledge_prompt
    from shared.app_registry import APPS
    from shared.settings import LLMSettings

    # The NER app's settings class through the registry of apps (gmner/ never imports a service).
    settings = APPS["ner"].settings_class()()
    prompt = load_knowledge_prompt(settings, lambda: SentenceEmbedder(settings.embedder_path))
    loop = asyncio.new_event_loop()
    generator = KnowledgeGenerator(prompt, build_llm_client("knowledge", LLMSettings(base_url=llm_url)))

    def knowledge_of(text: str) -> str | None:
        try:
            return loop.run_until_complete(generator.generate(text, None))
        except LLMError as exc:
            print(f"no knowledge for {text[:40]!r}: {exc}", file=sys.stderr)
            return None

    return knowledge_of
