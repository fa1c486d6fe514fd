"""The photo benchmark's gold (benchmarks/photos/posts.jsonl) is consistent, and bench_photos scores it right.

Nothing here needs the photo packages: the image checks skip the posts whose package is not fetched.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks.bench_photos import gold_of, load_posts, main, on_gold_tokens, score
from benchmarks.photos.images import MissingPhotoPackage, build, packages_of
from benchmarks.photos.tokens import to_token_offsets, tokenize

POSTS = load_posts()
TAGS = {
    "person", "two_people", "absent_person", "pet", "animal", "farm_animal", "no_coco_class", "handle", "hashtag",
    "no_entity", "text_only", "team", "sport", "product", "logo", "artwork", "landmark", "food", "vehicle",
    "multi_box", "composite", "banner",
}  # fmt: skip


def test_the_set_is_big_enough_and_ids_are_unique() -> None:
    assert len(POSTS) >= 60
    assert sum(len(p["entities"]) for p in POSTS) >= 130
    assert len({p["id"] for p in POSTS}) == len(POSTS)


@pytest.mark.parametrize("post", POSTS, ids=[p["id"] for p in POSTS])
def test_each_post_is_well_formed(post: dict[str, Any]) -> None:
    assert post["half"] in ("A", "B")
    assert set(post["tags"]) <= TAGS
    assert ("text_only" in post["tags"]) == (post["image"] is None)
    assert ("no_entity" in post["tags"]) == (not post["entities"])
    gold = gold_of(post)  # raises when an entity is not whole gold tokens
    assert [e.text for e in gold.entities] == [e["text"] for e in post["entities"]]
    for e in post["entities"]:
        assert e["type"] in ("PER", "LOC", "ORG", "MISC") and e["description"]
        assert post["image"] is not None or not e["boxes"]
        for x1, y1, x2, y2 in e["boxes"]:
            assert 0 <= x1 < x2 and 0 <= y1 < y2


def test_halves_are_balanced_in_entities_boxes_and_tags() -> None:
    count: dict[str, Counter[str]] = {"A": Counter(), "B": Counter()}
    for p in POSTS:
        c = count[p["half"]]
        c.update(p["tags"])
        c["posts"] += 1
        c["entities"] += len(p["entities"])
        c["boxed"] += sum(bool(e["boxes"]) for e in p["entities"])
    for key in ("posts", "entities", "boxed"):
        assert abs(count["A"][key] - count["B"][key]) <= 0.1 * (count["A"][key] + count["B"][key])
    for tag in TAGS:
        a, b = count["A"][tag], count["B"][tag]
        assert abs(a - b) <= max(1, (a + b) // 4), tag


def test_tokens_split_signs_and_punctuation_off_as_twitter_gmner_does() -> None:
    text = "Meet Biscuit, our bunny #BunnyLove @jess_k!"
    assert [t for t, _, _ in tokenize(text)] == [
        "Meet",
        "Biscuit",
        ",",
        "our",
        "bunny",
        "#",
        "BunnyLove",
        "@",
        "jess_k",
        "!",
    ]
    start = text.index("BunnyLove")
    gold = "Meet Biscuit , our bunny # BunnyLove @ jess_k !"
    span = to_token_offsets(text, start, start + len("BunnyLove"))
    assert span is not None and gold[span[0] : span[1]] == "BunnyLove"
    assert to_token_offsets(text, start - 1, start + len("BunnyLove")) is not None  # `#BunnyLove`: two tokens
    assert to_token_offsets(text, start, start + 5) is None  # `Bunny`: inside a token


def test_gateway_offsets_are_scored_on_the_gold_tokens() -> None:
    post: dict[str, Any] = {
        "id": "x1",
        "image": None,
        "text": "dog sitting for Jess this weekend, Pepper is an angel #DogLife",
        "entities": [
            {"text": "Jess", "type": "PER", "description": "", "boxes": []},
            {"text": "Pepper", "type": "MISC", "description": "", "boxes": []},
            {"text": "DogLife", "type": "MISC", "description": "", "boxes": []},
        ],
    }
    text: str = post["text"]

    def entity(surface: str, kind: str) -> dict[str, Any]:
        start = text.index(surface)
        return {"text": surface, "type": kind, "start": start, "end": start + len(surface), "groundable": None}

    answer = {
        "entities": [entity("Jess", "PER"), entity("Pepper", "PER"), entity("DogLife", "MISC"), entity("week", "MISC")]
    }
    line = on_gold_tokens(post, answer)
    metrics = score([gold_of(post)], [line]).metrics
    assert (metrics["MNER"].tp, metrics["MNER"].pred, metrics["MNER"].gold) == (2, 4, 3)  # Pepper's type is wrong
    assert metrics["EEG"].tp == 3  # no gold box, no predicted box: right for every aligned span


def test_saved_predictions_are_rescored_per_half(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {
            "id": p["id"],
            "text": " ".join(gold_of(p).tokens),
            "entities": [{"text": e["text"], "type": e["type"]} for e in p["entities"]],
        }
        for p in POSTS
    ]
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    main(["--score", str(path), "--tags"])
    out = capsys.readouterr().out
    rows = [row for row in out.splitlines() if row.startswith("| preds |")]
    assert [row.split("|")[2].strip() for row in rows[:3]] == ["A", "B", "all"]
    assert all(row.split("|")[5].strip() == "100.0" for row in rows[:3])  # MNER F1: every gold entity predicted
    assert any("| no_coco_class |" in row for row in rows)


def test_image_specs_name_their_packages() -> None:
    assert packages_of("paste:1,2,3|deb:tuxpaint-stamps-default:/a.png|fit:10:deb:mate-backgrounds:/b.jpg") == {
        "deb:tuxpaint-stamps-default",
        "deb:mate-backgrounds",
    }
    assert packages_of("wheel:imgaug==0.4.0:imgaug/quokka.jpg+skimage:coffee") == {"wheel:imgaug==0.4.0"}


def test_gold_boxes_lie_inside_the_images_that_are_installed() -> None:
    checked = 0
    for post in POSTS:
        boxes = [b for e in post["entities"] for b in e["boxes"]]
        if post["image"] is None or not boxes:
            continue
        try:
            width, height = build(post["image"]).size
        except MissingPhotoPackage:
            continue
        checked += 1
        for x1, y1, x2, y2 in boxes:
            assert x2 <= width and y2 <= height, (post["id"], (x1, y1, x2, y2), (width, height))
    if not checked:
        pytest.skip("no photo package installed (benchmarks/photos/install_photos.sh)")
