"""Builds an example bank from the PGIM/RiVEG hand-written examples (`icl-examples/<year>/<year>train.txt`).

Those files hold an image id line, then its answer line; the post's text lives in the CoNLL split
(`IMGID:` blocks) and an image caption, if wanted, in a BLIP-2 caption file (`<id>.jpg :<caption>`).
"""

from __future__ import annotations

import json
from pathlib import Path

from engines.ner.knowledge.bank import Example


def read_conll_texts(path: Path) -> dict[str, str]:
    """IMGID -> the post's tokens joined by spaces."""
    texts: dict[str, str] = {}
    current: str | None = None
    tokens: list[str] = []
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.rstrip("\r")
        if line.startswith("IMGID:"):
            current, tokens = line.removeprefix("IMGID:").strip(), []
        elif line.strip():
            tokens.append(line.split("\t")[0].split(" ")[0])
        elif current is not None:
            texts[current] = " ".join(tokens)
            current = None
    return texts


def read_blip_captions(path: Path) -> dict[str, str]:
    captions: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, caption = line.partition(" :")
        if sep:
            captions[name.strip().removesuffix(".jpg")] = caption.strip()
    return captions


def _normalise_answer(answer: str) -> str:
    """The source files glue list items together (`...(person)2. NBA`); space them as our bank does."""
    out = answer.replace("Named entities:", "Named entities: ", 1).replace("Reasoning:", " Reasoning: ", 1)
    for n in range(2, 30):
        out = out.replace(f"){n}. ", f") {n}. ")
    return " ".join(out.split())


def import_pgim_examples(icl_file: Path, conll_file: Path, captions_file: Path | None = None) -> list[Example]:
    lines = [line.strip() for line in icl_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) % 2:
        raise ValueError(f"{icl_file}: expected id/answer line pairs, got {len(lines)} lines")
    texts = read_conll_texts(conll_file)
    captions = read_blip_captions(captions_file) if captions_file else {}
    examples = []
    for image_id, answer in zip(lines[::2], lines[1::2], strict=True):
        if image_id not in texts:
            raise ValueError(f"{icl_file}: id {image_id} is not in {conll_file}")
        examples.append(Example(image_id, texts[image_id], captions.get(image_id, ""), _normalise_answer(answer)))
    return examples


def write_bank(examples: list[Example], out: Path) -> None:
    with out.open("w", encoding="utf-8") as handle:
        for ex in examples:
            record = {"id": ex.id, "text": ex.text, "image": ex.image, "answer": ex.answer}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
