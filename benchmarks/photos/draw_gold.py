"""Draws each post's image with its gold boxes and entity labels, to check the gold by eye.

    python benchmarks/photos/draw_gold.py [--out var/photos-gold] [--ids p29,p30]

One PNG per post with an image (<id>.png), the post's text and its entities without a box printed under it.
It also fails on an entity that is not whole gold tokens of its post or a box outside its image.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.photos.images import ROOT, MissingPhotoPackage, build
from benchmarks.photos.tokens import find_span, tokenize

POSTS = Path(__file__).parent / "posts.jsonl"
COLOURS = ["red", "lime", "cyan", "magenta", "yellow", "orange"]


def problems(post: dict[str, Any], size: tuple[int, int] | None) -> list[str]:
    found = []
    tokens = [tok for tok, _, _ in tokenize(post["text"])]
    for e in post["entities"]:
        if find_span(tokens, e["text"].split()) is None:
            found.append(f"{post['id']}: {e['text']!r} is not whole tokens of {tokens}")
        for box in e["boxes"]:
            x1, y1, x2, y2 = box
            if size is None:
                found.append(f"{post['id']}: {e['text']!r} has a box but the post has no image")
            elif not (0 <= x1 < x2 <= size[0] and 0 <= y1 < y2 <= size[1]):
                found.append(f"{post['id']}: box {box} of {e['text']!r} is outside the image {size}")
    return found


def draw(post: dict[str, Any], image: Image.Image) -> Image.Image:
    size = max(14, image.width // 45)
    font = ImageFont.load_default(size=size)
    lines = [f"{post['id']} [{post['half']}] {' '.join(post['tags'])}", post["text"]]
    lines += [f"  {e['text']} ({e['type']}): no box" for e in post["entities"] if not e["boxes"]]
    line_h = size + 6
    canvas = Image.new("RGB", (image.width, image.height + line_h * len(lines) + 8), "white")
    canvas.paste(image, (0, 0))
    pen = ImageDraw.Draw(canvas)
    boxed = [e for e in post["entities"] if e["boxes"]]
    for i, e in enumerate(boxed):
        colour = COLOURS[i % len(COLOURS)]
        for box in e["boxes"]:
            pen.rectangle(box, outline=colour, width=3)
            label = f"{e['text']} ({e['type']})"
            left, top, right, bottom = pen.textbbox((box[0] + 4, box[1] + 4), label, font=font)
            pen.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill="black")
            pen.text((box[0] + 4, box[1] + 4), label, fill=colour, font=font)
    for k, text in enumerate(lines):
        pen.text((6, image.height + 4 + k * line_h), text, fill="black", font=font)
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "photos-gold")
    parser.add_argument("--ids", help="comma-separated post ids (default: all)")
    args = parser.parse_args()
    posts = [json.loads(line) for line in POSTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.ids:
        wanted = set(args.ids.split(","))
        posts = [p for p in posts if p["id"] in wanted]
    args.out.mkdir(parents=True, exist_ok=True)
    found: list[str] = []
    for post in posts:
        if post["image"] is None:
            found += problems(post, None)
            continue
        try:
            image = build(post["image"])
        except MissingPhotoPackage as exc:
            print(f"{post['id']}: skipped, {exc}", file=sys.stderr)
            continue
        found += problems(post, image.size)
        draw(post, image).save(args.out / f"{post['id']}.png")
    print(f"drew {len(posts)} posts into {args.out}")
    for problem in found:
        print(problem, file=sys.stderr)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
