"""Gold Twitter-GMNER data: CoNLL text with `IMGID:` lines, Pascal-VOC XML boxes, optional gold masks.

Layout of a dataset directory (`twitter-gmner-v2/`):

    txt/{train,dev,test}.txt   IMGID:<id> line, then token<TAB>BIO-tag lines, a blank line between posts
    xml/<id>.xml               <object><name>surface text</name><bndbox>xmin ymin xmax ymax</bndbox></object>...

A post's text is its tokens joined by single spaces. An XML object belongs to every entity of the post whose
surface text (its tokens joined by spaces) equals `<name>`; an entity with no object is ungroundable; an entity
may have several objects (several boxes). Type OTHER is the service's MISC.

Gold masks (optional, our own format) are JSONL, one line per region:

    {"id": "<post id>", "entity": "<surface text>", "token_start": 3, "rle": {"size": [h, w], "counts": "..."}}

`token_start` (0-based index of the entity's first token) is optional; without it the mask belongs to every
entity of the post with that surface text, as the XML boxes do. Several lines for one entity = several regions.
For the mask metrics, an entity with no mask line is ungroundable.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from gmner.eval.regions import Box, decode_flat

# Dataset type names -> the service's EntityType values.
TYPE_MAP = {"OTHER": "MISC"}
SPLIT_ALIASES = {"valid": "dev", "validation": "dev"}

T = TypeVar("T")


def normalize_type(value: str) -> str:
    value = value.strip().upper()
    return TYPE_MAP.get(value, value)


@dataclass(frozen=True, slots=True)
class GoldEntity:
    start: int  # first token index
    end: int  # one past the last token
    type: str
    text: str
    boxes: tuple[Box, ...] = ()
    masks: tuple[dict[str, Any], ...] = ()


@dataclass(slots=True)
class GoldPost:
    id: str
    tokens: list[str]
    entities: list[GoldEntity] = field(default_factory=list)
    image_size: tuple[int, int] | None = None  # (width, height) from the XML, when there is one

    @property
    def text(self) -> str:
        return " ".join(self.tokens)

    def token_offsets(self) -> list[tuple[int, int]]:
        """Character span [start, end) of each token in `text`."""
        offsets: list[tuple[int, int]] = []
        pos = 0
        for tok in self.tokens:
            offsets.append((pos, pos + len(tok)))
            pos += len(tok) + 1
        return offsets


@dataclass(slots=True)
class GoldStats:
    unmatched_objects: int = 0  # XML objects whose name is no entity of the post
    unmatched_masks: int = 0  # gold-mask lines that match no entity
    warnings: list[str] = field(default_factory=list)


def bio_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """Entity spans `(start, end, type)` from BIO tags; an I- that does not continue an entity starts one."""
    spans: list[tuple[int, int, str]] = []
    start: int | None = None
    kind = ""
    for i, tag in enumerate([*tags, "O"]):  # the sentinel closes a trailing entity
        continues = start is not None and tag.startswith("I-") and tag[2:] == kind
        if start is not None and not continues:
            spans.append((start, i, kind))
            start = None
        if tag.startswith(("B-", "I-")) and not continues:
            start, kind = i, tag[2:]
    return spans


def read_conll(path: str | Path) -> list[tuple[str, list[str], list[str]]]:
    """`(id, tokens, tags)` per post of a CoNLL file with `IMGID:` lines."""
    posts: list[tuple[str, list[str], list[str]]] = []
    current: tuple[str, list[str], list[str]] | None = None
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if line.startswith("IMGID:"):
                current = (line[len("IMGID:") :].strip(), [], [])
                posts.append(current)
                continue
            if not line.strip():
                continue
            if current is None:
                raise ValueError(f"{path}:{lineno}: token line before the first IMGID line")
            parts = line.split("\t")
            if len(parts) < 2:
                parts = line.split()
            if len(parts) < 2:
                raise ValueError(f"{path}:{lineno}: expected token<TAB>tag, got {line!r}")
            current[1].append(parts[0])
            current[2].append(parts[-1].strip())
    return posts


def read_voc(path: str | Path) -> tuple[tuple[int, int] | None, list[tuple[str, Box]]]:
    """Image size and `(name, box)` objects of one Pascal-VOC XML file."""
    root = ET.parse(path).getroot()
    size = None
    size_el = root.find("size")
    if size_el is not None:
        w, h = size_el.findtext("width"), size_el.findtext("height")
        if w and h:
            size = (int(float(w)), int(float(h)))
    objects: list[tuple[str, Box]] = []
    for obj in root.findall("object"):
        name = " ".join((obj.findtext("name") or "").split())
        bb = obj.find("bndbox")
        if not name or bb is None:
            continue
        coords = [float(bb.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax")]
        objects.append((name, (coords[0], coords[1], coords[2], coords[3])))
    return size, objects


def _identity(items: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    return items


def split_file(dataset_dir: str | Path, split: str) -> Path:
    split = SPLIT_ALIASES.get(split, split)
    return Path(dataset_dir) / "txt" / f"{split}.txt"


def read_gold(
    dataset_dir: str | Path,
    split: str,
    progress: Callable[..., Iterable[Any]] = _identity,
    stats: GoldStats | None = None,
) -> list[GoldPost]:
    """Read one split of a Twitter-GMNER dataset directory (see the module docstring)."""
    stats = stats if stats is not None else GoldStats()
    txt = split_file(dataset_dir, split)
    if not txt.is_file():
        raise FileNotFoundError(f"no gold text at {txt}")
    xml_dir = Path(dataset_dir) / "xml"
    raw = read_conll(txt)
    posts: list[GoldPost] = []
    for post_id, tokens, tags in progress(raw, total=len(raw), desc=f"reading {split}"):
        post = GoldPost(id=post_id, tokens=tokens)
        by_name: dict[str, list[Box]] = {}
        xml_path = xml_dir / f"{post_id}.xml"
        if xml_path.is_file():
            post.image_size, objects = read_voc(xml_path)
            for name, box in objects:
                by_name.setdefault(name, []).append(box)
        names_used: set[str] = set()
        for start, end, kind in bio_spans(tags):
            surface = " ".join(tokens[start:end])
            boxes = tuple(by_name.get(surface, ()))
            if boxes:
                names_used.add(surface)
            post.entities.append(GoldEntity(start, end, normalize_type(kind), surface, boxes))
        for name in by_name.keys() - names_used:
            stats.unmatched_objects += len(by_name[name])
            stats.warnings.append(f"post {post_id}: XML object {name!r} matches no entity")
        posts.append(post)
    return posts


def _iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, record


def attach_gold_masks(posts: list[GoldPost], path: str | Path, stats: GoldStats | None = None) -> None:
    """Read a gold-mask JSONL file (see the module docstring) into the posts' entities, in place."""
    stats = stats if stats is not None else GoldStats()
    by_id = {p.id: p for p in posts}
    pending: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for lineno, record in _iter_jsonl(path):
        try:
            post_id, surface, rle = str(record["id"]), " ".join(str(record["entity"]).split()), record["rle"]
        except KeyError as exc:
            raise ValueError(f"{path}:{lineno}: missing field {exc}") from None
        if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
            raise ValueError(f"{path}:{lineno}: rle must be {{size: [h, w], counts}}")
        try:
            decode_flat(rle)  # fail here, with the line number, rather than in the middle of scoring
        except (ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"{path}:{lineno}: bad RLE: {exc}") from None
        post = by_id.get(post_id)
        token_start = record.get("token_start")
        targets = (
            []
            if post is None
            else [
                i
                for i, e in enumerate(post.entities)
                if e.text == surface and (token_start is None or e.start == int(token_start))
            ]
        )
        if not targets:
            stats.unmatched_masks += 1
            stats.warnings.append(f"{path}:{lineno}: mask for {surface!r} in post {post_id} matches no gold entity")
            continue
        for i in targets:
            pending.setdefault((post_id, i), []).append(rle)
    for (post_id, i), masks in pending.items():
        post = by_id[post_id]
        post.entities[i] = replace(post.entities[i], masks=tuple(masks))
