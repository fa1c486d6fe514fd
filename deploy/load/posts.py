"""The posts and images of the load test (kept apart from the locustfile, which imports gevent-patched locust).

Images: LOAD_IMAGE_DIR (optional, *.jpg/*.jpeg/*.png), else scikit-image's bundled photos (a face among
them, so the visual stages have a person to ground), else drawn ones. Fresh posts use a random crop, so
their bytes are new; repeated posts reuse the exact bytes. LOADSEED fixes the sequence.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

from PIL import Image, ImageDraw

PEOPLE = [
    "Idris Elba",
    "Kevin Durant",
    "Taylor Swift",
    "Barack Obama",
    "Serena Williams",
    "Lionel Messi",
    "Emma Watson",
    "Rafael Nadal",
    "Beyonce",
    "Tom Hanks",
    "Angela Merkel",
    "LeBron James",
]
PLACES = ["London", "Paris", "New York", "Tokyo", "California", "Brazil", "Madrid", "Berlin", "Chicago", "Kenya"]
ORGS = ["NBA", "Google", "BBC", "Real Madrid", "United Nations", "Apple", "NASA", "Chelsea", "Netflix", "FIFA"]
MISC = ["Olympics", "Grammys", "Super Bowl", "Oscars", "World Cup", "Wimbledon", "Brexit", "Christmas"]
SLOTS = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGS, "MISC": MISC}
# Clauses of a post and how many entities each names.
CLAUSES = [
    ("{PER} was spotted in {LOC} today", 2),
    ("{ORG} signs a new deal with {ORG}", 2),
    ("{PER} wins big at the {MISC}", 2),
    ("what a night with {PER}", 1),
    ("{PER} and {PER} in {LOC}", 3),
    ("live from {LOC}", 1),
    ("{ORG} confirms the rumours", 1),
    ("cannot wait for the {MISC}", 1),
    ("{PER} joins {ORG}", 2),
]
HASHTAGS = ["#news", "#sports", "#music", "#travel", "#breaking", ""]
ENTITY_COUNTS = [1, 2, 3, 4, 5, 6]
ENTITY_WEIGHTS = [30, 25, 20, 12, 8, 5]


def make_post(rng: random.Random) -> str:
    """A tweet-like post naming 1-6 entities."""
    target = rng.choices(ENTITY_COUNTS, ENTITY_WEIGHTS)[0]
    parts: list[str] = []
    named = 0
    while named < target:
        template, count = rng.choice([c for c in CLAUSES if c[1] <= target - named] or CLAUSES[:1])
        text = template
        for slot, names in SLOTS.items():
            while "{" + slot + "}" in text:
                text = text.replace("{" + slot + "}", rng.choice(names), 1)
        parts.append(text)
        named += count
    prefix = rng.choice(["", "RT @fan_account: ", "@news_desk "])
    post = prefix + ". ".join(part[0].upper() + part[1:] for part in parts)
    return f"{post} {rng.choice(HASHTAGS)}".strip()


def _base_images() -> list[Image.Image]:
    directory = os.environ.get("LOAD_IMAGE_DIR")
    if directory:
        paths = sorted(p for p in Path(directory).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if not paths:
            raise SystemExit(f"LOAD_IMAGE_DIR={directory} has no .jpg/.jpeg/.png file")
        return [Image.open(p).convert("RGB") for p in paths[:50]]
    try:
        from skimage import data

        return [Image.fromarray(getattr(data, name)()).convert("RGB") for name in ("astronaut", "coffee", "chelsea")]
    except Exception:  # scikit-image is a dev dependency: draw images when it is missing
        images = []
        for i in range(3):
            image = Image.new("RGB", (480, 360), (40 + 60 * i, 120, 200 - 50 * i))
            draw = ImageDraw.Draw(image)
            draw.ellipse((180, 60, 300, 200), fill=(230, 190, 160))
            draw.rectangle((160, 200, 320, 360), fill=(30, 30, 120))
            images.append(image)
        return images


def encode(image: Image.Image, rng: random.Random | None = None) -> bytes:
    """JPEG bytes of `image`; with `rng`, of a random crop at a random quality (new bytes every time)."""
    if rng is not None:
        width, height = image.size
        scale = rng.uniform(0.7, 1.0)
        w, h = int(width * scale), int(height * scale)
        x, y = rng.randint(0, width - w), rng.randint(0, height - h)
        image = image.crop((x, y, x + w, y + h))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=rng.randint(75, 92) if rng else 85)
    return buffer.getvalue()


SEED = int(os.environ.get("LOAD_SEED", "7"))
BASE_IMAGES = _base_images()
_hot_rng = random.Random(SEED)
# The hot set: posts that come back again and again (retweets, reposts), half of them with an image.
HOT_POSTS: list[tuple[str, bytes | None]] = [
    (make_post(_hot_rng), encode(BASE_IMAGES[i % len(BASE_IMAGES)]) if i % 2 == 0 else None) for i in range(12)
]
