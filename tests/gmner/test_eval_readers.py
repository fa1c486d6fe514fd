"""Gold, prediction, knowledge and caption readers, span alignment and region geometry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gmner.eval.gold import (
    GoldEntity,
    GoldPost,
    GoldStats,
    attach_gold_masks,
    bio_spans,
    read_conll,
    read_gold,
)
from gmner.eval.knowledge import read_captions, read_knowledge
from gmner.eval.predictions import AlignStats, PredEntity, PredPost, align, read_predictions
from gmner.eval.regions import box_iou, counts_to_string, decode, encode, mask_iou, string_to_counts

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny"


# --- gold -------------------------------------------------------------------------------------------------------


def test_bio_spans():
    assert bio_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC")]
    assert bio_spans(["B-PER", "B-PER"]) == [(0, 1, "PER"), (1, 2, "PER")]  # adjacent entities
    assert bio_spans(["O", "I-ORG", "I-ORG"]) == [(1, 3, "ORG")]  # a stray I- starts an entity
    assert bio_spans(["B-PER", "I-LOC"]) == [(0, 1, "PER"), (1, 2, "LOC")]  # type change splits
    assert bio_spans(["B-OTHER", "I-OTHER"]) == [(0, 2, "OTHER")]  # at the end


def test_read_gold_tiny():
    gold = read_gold(TINY, "test")
    assert [p.id for p in gold] == ["p1", "p2", "p3", "p4", "p5", "p6"]
    p1 = gold[0]
    assert p1.text == "Alice met Bob in Paris ."
    assert p1.image_size == (200, 100)
    alice, bob, paris = p1.entities
    assert (alice.start, alice.end, alice.type, alice.boxes) == (0, 1, "PER", ((0.0, 0.0, 10.0, 10.0),))
    assert bob.boxes == ((0.0, 0.0, 10.0, 10.0), (20.0, 20.0, 40.0, 40.0))  # two boxes, both kept
    assert paris.boxes == ()  # no XML object: ungroundable
    nyk = gold[1].entities[0]
    assert (nyk.start, nyk.end, nyk.text) == (0, 3, "New York Knicks")
    assert gold[2].entities[0].type == "MISC"  # OTHER is MISC
    assert gold[3].entities == [] and gold[3].image_size is None


def test_read_gold_missing_split(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_gold(tmp_path, "test")


def test_read_gold_dev_alias_and_crlf(tmp_path):
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "dev.txt").write_bytes(b"IMGID:9\r\nLondon\tB-LOC\r\ncalling\tO\r\n\r\n")
    gold = read_gold(tmp_path, "valid")  # the knowledge files call it "valid"
    assert gold[0].tokens == ["London", "calling"] and gold[0].entities[0].type == "LOC"


def test_read_conll_rejects_tokens_before_imgid(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("London\tB-LOC\n")
    with pytest.raises(ValueError, match="before the first IMGID"):
        read_conll(path)


def test_gold_masks_token_start_and_surface(tmp_path):
    post = GoldPost("x", ["Bob", "and", "Bob"])
    post.entities = [GoldEntity(0, 1, "PER", "Bob"), GoldEntity(2, 3, "PER", "Bob")]
    rle = encode(np.ones((2, 2), bool))
    lines = [
        {"id": "x", "entity": "Bob", "token_start": 2, "rle": rle},  # only the second Bob
        {"id": "x", "entity": "Bob", "rle": rle},  # both Bobs
        {"id": "nope", "entity": "Bob", "rle": rle},  # unknown post
    ]
    path = tmp_path / "masks.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    stats = GoldStats()
    attach_gold_masks([post], path, stats)
    assert len(post.entities[0].masks) == 1
    assert len(post.entities[1].masks) == 2
    assert stats.unmatched_masks == 1


# --- predictions ------------------------------------------------------------------------------------------------


def test_read_predictions_tolerates_bad_lines(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"id": 1, "entities": [{"text": "A", "type": "other"}]}\n'
        "\n"
        '{"id": "1", "entities": []}\n'  # same id again: ignored
        '{"id": "2", "error": {"code": "bad_image"}}\n'  # a failed request: no predictions
        '{"id": "3", "entities": [{"text": "B", "type": "PER", "start": 0}]}\n'  # half offsets -> surface
        '{"id": "4", "entit'  # cut short by a crash
    )
    preds = read_predictions(path)
    assert set(preds.posts) == {"1", "2", "3"}
    assert preds.posts["1"].entities[0].type == "MISC"
    assert preds.duplicate_ids == 1 and preds.invalid_lines == 1 and preds.error_posts == 1
    assert preds.posts["2"].entities == []
    assert preds.posts["3"].entities[0].start is None


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"entities": []}', "with an id"),
        ('{"id": "1"}', "no entities"),
        ('{"id": "1", "entities": [{"text": "A"}]}', "type"),
        ('{"id": "1", "entities": [{"type": "PER"}]}', "start/end or text"),
        ('{"id": "1", "entities": [{"text": "A", "type": "PER", "box": [1, 2, 3]}]}', "box"),
        ('{"id": "1", "entities": [{"text": "A", "type": "PER", "mask": {"counts": "0"}}]}', "mask"),
    ],
)
def test_read_predictions_rejects_malformed(tmp_path, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        read_predictions(path)


def test_align_offsets():
    post = GoldPost("x", ["I", "love", "New", "York", "and", "New", "York"])
    # text: "I love New York and New York"; New York at chars 7..15 and 20..28
    assert post.text[7:15] == "New York" and post.text[20:28] == "New York"
    pred = PredPost(
        "x",
        None,
        [
            PredEntity("LOC", start=20, end=28),  # offsets
            PredEntity("LOC", start=6, end=16),  # " New York " : surrounding spaces trimmed
            PredEntity("LOC", start=8, end=15),  # "ew York": not on token boundaries
            PredEntity("LOC", start=7, end=99),  # past the end
            PredEntity("LOC", text="Boston"),  # surface not in the text
        ],
    )
    stats = AlignStats()
    assert align(post, pred, stats) == [(5, 7), (2, 4), None, None, None]
    assert (stats.by_offsets, stats.by_surface, stats.misaligned) == (2, 0, 3)


def test_align_surface_prefers_free_gold_spans():
    # "Donald" occurs first inside "Donald Duck" (an entity of its own) and last alone (the gold "Donald").
    text = "If you turned Donald Duck upside down , you get the other Donald ."
    tokens = text.split(" ")
    post = GoldPost("x", tokens, [GoldEntity(3, 5, "MISC", "Donald Duck"), GoldEntity(12, 13, "PER", "Donald")])
    pred = PredPost(
        "x",
        None,
        [
            PredEntity("PER", text="Donald"),  # -> the gold Donald (12, 13), not the first occurrence (3, 4)
            PredEntity("PER", text="Donald"),  # gold Donald already taken -> the same span: a duplicate
            PredEntity("MISC", text="Donald Duck"),
            PredEntity("MISC", text="you"),  # no gold span: first occurrence, matches nothing
        ],
    )
    stats = AlignStats()
    assert align(post, pred, stats) == [(12, 13), (12, 13), (3, 5), (1, 2)]
    assert stats.by_surface == 4 and stats.misaligned == 0

    # an offset prediction takes its span first, whatever the order
    pred = PredPost("x", None, [PredEntity("PER", text="Donald"), PredEntity("PER", start=58, end=64)])
    assert post.text[58:64] == "Donald"
    assert align(post, pred) == [(12, 13), (12, 13)]


def test_align_text_mismatch_uses_surface():
    post = GoldPost("x", ["I", "love", "New", "York"])
    other = PredPost("x", "I love  New York", [PredEntity("LOC", text="New York", start=8, end=16)])
    stats = AlignStats()
    assert align(post, other, stats) == [(2, 4)]
    assert stats.text_mismatch_posts == 1 and stats.by_surface == 1


def test_region_of_a_prediction():
    assert PredEntity("PER", text="A", groundable=False, box=(0, 0, 1, 1)).region_box is None
    assert PredEntity("PER", text="A", groundable=None, box=(0, 0, 1, 1)).region_box == (0, 0, 1, 1)
    assert PredEntity("PER", text="A", groundable=True, box=None).region_box is None


# --- regions ----------------------------------------------------------------------------------------------------


def test_box_iou():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 5]) == 0.5
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0  # degenerate: no area, no match


def test_rle_hand_example():
    # 4x4, rows 0-1 x cols 0-1; column-major: 1100 1100 0000 0000 -> runs 0,2,2,2,10;
    # deltas from i > 2 on: 0,2,2,(2-2)=0,(10-2)=8 -> "0","2","2","0","8"
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True
    assert encode(mask) == {"size": [4, 4], "counts": "02208"}
    assert string_to_counts("02208") == [0, 2, 2, 2, 10]
    assert (decode({"size": [4, 4], "counts": "02208"}) == mask).all()
    assert (decode({"size": [4, 4], "counts": [0, 2, 2, 2, 10]}) == mask).all()  # uncompressed counts too


def test_rle_roundtrip_random_and_large_counts():
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (3, 7), (50, 40)]:
        mask = rng.random(shape) > 0.5
        assert (decode(encode(mask)) == mask).all()
    counts = [0, 100000, 3, 250000, 1]  # multi-character and negative deltas
    assert string_to_counts(counts_to_string(counts)) == counts
    full = np.ones((600, 500), bool)
    assert (decode(encode(full)) == full).all()


def test_rle_matches_pycocotools():
    mask_api = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(1)
    for shape in [(4, 4), (31, 17), (120, 90)]:
        mask = rng.random(shape) > 0.7
        theirs = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert encode(mask)["counts"] == theirs["counts"].decode()
        assert (decode({"size": list(shape), "counts": theirs["counts"].decode()}) == mask).all()


def test_mask_iou():
    a = np.array([1, 1, 0, 0], bool)
    b = np.array([1, 0, 1, 0], bool)
    assert mask_iou(a, b) == pytest.approx(1 / 3)
    assert mask_iou(np.zeros(4, bool), np.zeros(4, bool)) == 0.0
    with pytest.raises(ValueError):
        mask_iou(a, np.zeros(3, bool))


def test_bad_rle_is_rejected():
    with pytest.raises(ValueError, match="sum"):
        decode({"size": [4, 4], "counts": [0, 3]})


# --- knowledge and captions -------------------------------------------------------------------------------------


def test_read_knowledge():
    k = read_knowledge(FIXTURES / "tiny_knowledge.txt")  # CRLF line ends, as the dataset's files
    assert len(k.entries) == 5
    assert k.entries[0].text == "Alice met Bob in Paris ."
    assert k.entries[0].knowledge == "Named entities: 1. Alice (person) 2. Paris (location)"
    assert k.by_index[1] == "Named entities: 1. New York Knicks (organization)"
    assert k.by_text["Obama in Chicago"] == "Obama (person) Chicago (location)"
    # index 3 is "Messi scores" in the file but "hello world" in the split: index misses, text decides
    assert k.lookup(3, "hello world") is None
    assert k.lookup(4, "Messi scores") == "Messi (person)"
    assert k.lookup(0, "Alice met Bob in Paris .") == k.entries[0].knowledge


def test_read_knowledge_ambiguous_text(tmp_path):
    path = tmp_path / "k.txt"
    path.write_text("Hi\tO\n<EOS>\tX\none\tX\n\nHi\tO\n<EOS>\tX\ntwo\tX\n")
    k = read_knowledge(path)
    assert k.by_text == {"Hi": "one"} and k.ambiguous_texts == 1
    assert k.lookup(1, "Hi") == "two"  # by index first


def test_read_captions(tmp_path):
    owl = read_captions(FIXTURES / "tiny_captions.txt")
    assert owl == {"p1": "A woman and a man\nin a city.", "p2": "A basketball game."}
    blip = tmp_path / "blip.txt"
    blip.write_text("16_05_01_367.jpg :nolan k bushnell on twitter\nO_12.jpg :a dog\n")
    assert read_captions(blip) == {"16_05_01_367": "nolan k bushnell on twitter", "O_12": "a dog"}


def test_gold_mask_with_bad_rle_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "masks.jsonl"
    path.write_text('{"id": "p1", "entity": "Alice", "rle": {"size": [4, 4], "counts": [0, 3]}}\n')
    with pytest.raises(ValueError, match=r"masks.jsonl:1: bad RLE"):
        attach_gold_masks(read_gold(TINY, "test"), path)
