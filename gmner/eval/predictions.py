"""Prediction files: JSONL, one line per post = the gateway's `GMNERResponse` JSON plus the post's `id`.

    {"id": "16_05_01_127", "text": "The Philadelphia Phillies are ...", "tasks": "gmner",
     "entities": [{"text": "Philadelphia Phillies", "type": "ORG", "start": 4, "end": 25,
                   "groundable": true, "box": [55.0, 41.0, 1044.0, 963.0], "mask": null}], ...}

Read are `id`, `entities` and, when present, `text` (offsets are only trusted when it is the gold text: the
tokens joined by single spaces). Per entity: `type` and either `start`/`end` (character offsets into the text,
end exclusive) or `text` (the surface form); `groundable`, `box` (`[x1, y1, x2, y2]` pixels) and `mask` (COCO
RLE) are optional. Other fields (`request_id`, `timings_ms`, ...) are ignored. Type OTHER is read as MISC.

A line with an `error` field and no `entities` records a failed request: the post counts as having no
predictions. A line that is not valid JSON (e.g. a crash mid-write) is skipped and counted. When an id appears
twice, the first line is kept (what `gmner predict-dataset` keeps when it resumes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gmner.eval.gold import GoldPost, normalize_type
from gmner.eval.regions import Box


@dataclass(frozen=True, slots=True)
class PredEntity:
    type: str
    text: str | None = None
    start: int | None = None
    end: int | None = None
    groundable: bool | None = None
    box: Box | None = None
    mask: dict[str, Any] | None = None

    @property
    def region_box(self) -> Box | None:
        """The predicted box, or None for "no region" (ungroundable, or the box is missing)."""
        return None if self.groundable is False else self.box

    @property
    def region_mask(self) -> dict[str, Any] | None:
        return None if self.groundable is False else self.mask


@dataclass(slots=True)
class PredPost:
    id: str
    text: str | None
    entities: list[PredEntity]
    error: Any = None


@dataclass(slots=True)
class PredictionFile:
    posts: dict[str, PredPost] = field(default_factory=dict)
    invalid_lines: int = 0
    duplicate_ids: int = 0
    error_posts: int = 0
    warnings: list[str] = field(default_factory=list)


def _parse_entity(raw: Any, where: str) -> PredEntity:
    if not isinstance(raw, dict) or "type" not in raw:
        raise ValueError(f"{where}: each entity needs at least a type")
    start, end = raw.get("start"), raw.get("end")
    if (start is None) != (end is None):
        start = end = None  # half an offset pair is no offset: fall back to the surface text
    if start is None and not raw.get("text"):
        raise ValueError(f"{where}: an entity needs start/end or text")
    raw_box = raw.get("box")
    box: Box | None = None
    if raw_box is not None:
        if not isinstance(raw_box, list | tuple) or len(raw_box) != 4:
            raise ValueError(f"{where}: box must be [x1, y1, x2, y2]")
        box = (float(raw_box[0]), float(raw_box[1]), float(raw_box[2]), float(raw_box[3]))
    mask = raw.get("mask")
    if mask is not None and (not isinstance(mask, dict) or "size" not in mask or "counts" not in mask):
        raise ValueError(f"{where}: mask must be a COCO RLE {{size, counts}}")
    groundable = raw.get("groundable")
    return PredEntity(
        type=normalize_type(str(raw["type"])),
        text=raw.get("text"),
        start=None if start is None else int(start),
        end=None if end is None else int(end),
        groundable=None if groundable is None else bool(groundable),
        box=box,
        mask=mask,
    )


def read_predictions(path: str | Path) -> PredictionFile:
    out = PredictionFile()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                out.invalid_lines += 1
                out.warnings.append(f"{where}: not valid JSON, skipped")
                continue
            if not isinstance(record, dict) or "id" not in record:
                raise ValueError(f"{where}: each line must be a JSON object with an id")
            post_id = str(record["id"])
            if post_id in out.posts:
                out.duplicate_ids += 1
                out.warnings.append(f"{where}: id {post_id} seen before, line ignored")
                continue
            entities_raw = record.get("entities")
            if entities_raw is None:
                if "error" not in record:
                    raise ValueError(f"{where}: no entities (and no error)")
                out.error_posts += 1
                out.posts[post_id] = PredPost(post_id, record.get("text"), [], error=record["error"])
                continue
            entities = [_parse_entity(e, f"{where} entity {i}") for i, e in enumerate(entities_raw)]
            out.posts[post_id] = PredPost(post_id, record.get("text"), entities)
    return out


@dataclass(slots=True)
class AlignStats:
    by_offsets: int = 0
    by_surface: int = 0
    misaligned: int = 0  # offsets or surface that fall on no token boundaries: can match nothing
    text_mismatch_posts: int = 0  # the prediction's text differs from the gold text: offsets ignored


def align(post: GoldPost, pred: PredPost, stats: AlignStats | None = None) -> list[tuple[int, int] | None]:
    """Token span `(start, end)` of each predicted entity in the gold post, None when it fits no tokens.

    Character offsets are used when present and when the prediction's text is the gold text (tokens joined by
    single spaces; a missing `text` is assumed to be it); whitespace at the ends of the span is trimmed. Offsets
    that do not fall on token boundaries match nothing. An entity without usable offsets is placed by its surface
    text: on the first occurrence that is a gold entity span not yet taken by another prediction of the post, else
    on the first gold occurrence (a duplicate), else on its first occurrence in the text (which matches nothing).
    A surface-only prediction thus claims "this string is an entity" and is right when the gold agrees, even
    when the same string also occurs earlier as a non-entity.
    """
    stats = stats if stats is not None else AlignStats()
    text = post.text
    offsets_ok = pred.text is None or pred.text == text
    if not offsets_ok:
        stats.text_mismatch_posts += 1
    by_start: dict[int, int] = {}
    by_end: dict[int, int] = {}
    for i, (s, e) in enumerate(post.token_offsets()):
        by_start[s] = i
        by_end[e] = i
    spans: list[tuple[int, int] | None] = [None] * len(pred.entities)
    taken: set[tuple[int, int]] = set()
    by_surface: list[int] = []
    # Offsets first, so that surface-only predictions go to the gold spans no offset prediction took.
    for k, ent in enumerate(pred.entities):
        if not (offsets_ok and ent.start is not None and ent.end is not None):
            by_surface.append(k)
            continue
        s, e = ent.start, ent.end
        while s < e and s < len(text) and text[s].isspace():
            s += 1
        while e > s and e <= len(text) and text[e - 1].isspace():
            e -= 1
        if s in by_start and e in by_end and by_start[s] <= by_end[e]:
            span = (by_start[s], by_end[e] + 1)
            spans[k] = span
            taken.add(span)
            stats.by_offsets += 1
    gold_spans = {(g.start, g.end) for g in post.entities}
    for k in by_surface:
        words = tuple((pred.entities[k].text or "").split())
        found = [(i, i + len(words)) for i in _occurrences(post.tokens, words)]
        if not found:
            continue
        gold_found = [span for span in found if span in gold_spans]
        free = [span for span in gold_found if span not in taken]
        span = free[0] if free else gold_found[0] if gold_found else found[0]
        spans[k] = span
        taken.add(span)
        stats.by_surface += 1
    stats.misaligned += sum(1 for span in spans if span is None)
    return spans


def _occurrences(tokens: list[str], words: tuple[str, ...]) -> list[int]:
    n = len(words)
    if n == 0:
        return []
    return [i for i in range(len(tokens) - n + 1) if tuple(tokens[i : i + n]) == words]
