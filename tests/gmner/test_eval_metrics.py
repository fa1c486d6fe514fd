"""Hand-computed scores on the tiny fixture (tests/gmner/fixtures/tiny, tiny_predictions.jsonl, tiny_gold_masks.jsonl).

Gold (10 entities in 6 posts; types PER 5, LOC 2, ORG 2, MISC 1; boxes from tiny/xml):

    post  entity (tokens)         type  gold boxes                              gold masks (4x4)
    p1    Alice (0,1)             PER   [0,0,10,10]                             rows 0-1 x cols 0-1 (4 px)
    p1    Bob (2,3)               PER   [0,0,10,10] and [20,20,40,40]           column 0 (4 px) and column 3 (4 px)
    p1    Paris (4,5)             LOC   none (ungroundable)                     none
    p2    New York Knicks (0,3)   ORG   [0,0,100,100]                           none
    p2    Boston (4,5)            ORG   none                                    none
    p3    Olympics (0,1)          MISC  none  (OTHER in the file)               none
    p3    Trump (3,4)             PER   [10,10,20,20]                           all 16 px
    p4    (no entities)
    p5    Messi (0,1)             PER   [0,0,50,50]                             none
    p6    Obama (0,1)             PER   [0,0,10,10]                             none
    p6    Chicago (2,3)           LOC   none                                    none
    (p6.xml also has an object "Michelle" that names no entity; the mask file a line for "Nobody")

Predictions (11 entities; types PER 5, LOC 3, ORG 1, MISC 2; p5 has no line, "zz" is not in gold):

    id  post  span / type              region                        MNER  GMNER  EEG   SMNER  EES
    a   p1    Alice PER                box IoU 51/100 = 0.51         ok    ok     ok    ok     ok   mask 4/6=0.67
    b   p1    Bob PER                  box = gold box 2, IoU 1.0     ok    ok     ok    ok     ok   mask 3/4=0.75
    c   p1    Bob PER (duplicate of b) same as b                     FP    FP     FP    FP     FP
    d   p1    Paris LOC                groundable false              ok    ok     ok    ok     ok
    e   p2    New York Knicks ORG      box IoU 5000/10000 = 0.5      ok    ok     ok    ok     ok   no gold mask,
                                                                                                    no pred mask
    f   p2    Boston as LOC (type!)    groundable false              no    no     ok    no     ok
    g   p3    Olympics OTHER->MISC,    box [0,0,5,5] for an entity   ok    no     no    ok     ok   (no mask either
              no offsets (surface)     without a box                                                side: no mask)
    h   p3    Trump PER                box IoU 49/100 = 0.49;        ok    no     no    ok     ok
                                       mask 8/16 = 0.5 (>= 0.5)
    k   p4    hello MISC               no gold span                  FP    FP     FP    FP     FP
    i   p6    Obama PER                groundable false, gold box    ok    no     no    ok     ok
    j   p6    "Chica" LOC 9..14        not on token boundaries       FP    FP     FP    FP     FP
    -   p5    Messi: no prediction line                              FN    FN     FN    FN     FN
    -   p6    Chicago: only the misaligned j                         FN    FN     FN    FN     FN

TP (gold entities with a correct prediction) at IoU >= 0.5 (RiVEG's rule):
    MNER  7 (Alice Bob Paris NYK Olympics Trump Obama)      P 7/11  R 7/10  F1 14/21
    GMNER 4 (Alice Bob Paris NYK)                           P 4/11  R 4/10  F1 8/21
    EEG   5 (Alice Bob Paris NYK Boston)                    P 5/11  R 5/10  F1 10/21
    SMNER 7 (Alice Bob Paris NYK Olympics Trump Obama)      P 7/11  R 7/10  F1 14/21
    EES   8 (SMNER's 7 + Boston)                            P 8/11  R 8/10  F1 16/21
At IoU > 0.5 (strict, the H-Index rule) NYK's box and Trump's mask, both exactly at 0.5, are wrong:
GMNER 3, EEG 4, SMNER 6, EES 7.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gmner.eval.gold import GoldStats, attach_gold_masks, read_gold
from gmner.eval.metrics import THRESHOLDS, evaluate, region_correct
from gmner.eval.predictions import read_predictions

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny"


@pytest.fixture
def gold_and_preds():
    stats = GoldStats()
    gold = read_gold(TINY, "test", stats=stats)
    return gold, read_predictions(FIXTURES / "tiny_predictions.jsonl"), stats


@pytest.fixture
def gold_with_masks(gold_and_preds):
    gold, preds, stats = gold_and_preds
    attach_gold_masks(gold, FIXTURES / "tiny_gold_masks.jsonl", stats=stats)
    return gold, preds, stats


def _prf(result, name):
    m = result.metrics[name]
    return m.tp, m.pred, m.gold


def test_overall_counts_at_default_threshold(gold_and_preds):
    gold, preds, _ = gold_and_preds
    result = evaluate(gold, preds)
    assert set(result.metrics) == {"MNER", "GMNER", "EEG"}  # no gold masks -> no SMNER/EES
    assert _prf(result, "MNER") == (7, 11, 10)
    assert _prf(result, "GMNER") == (4, 11, 10)
    assert _prf(result, "EEG") == (5, 11, 10)
    mner = result.metrics["MNER"]
    assert mner.precision == pytest.approx(7 / 11)
    assert mner.recall == pytest.approx(7 / 10)
    assert mner.f1 == pytest.approx(14 / 21)  # 2PR/(P+R) = 2TP/(pred+gold)
    assert result.metrics["GMNER"].f1 == pytest.approx(8 / 21)
    assert result.metrics["EEG"].f1 == pytest.approx(10 / 21)


def test_per_type(gold_and_preds):
    gold, preds, _ = gold_and_preds
    result = evaluate(gold, preds)
    assert set(result.per_type) == {"MNER", "GMNER"}  # EEG ignores type: no per-type rows
    mner = {t: (m.tp, m.pred, m.gold) for t, m in result.per_type["MNER"].items()}
    # PER: tp Alice Bob Trump Obama; pred a b c h i; gold Alice Bob Trump Messi Obama.
    # LOC: tp Paris; pred d f(Boston as LOC) j; gold Paris Chicago.  ORG: tp NYK; pred e; gold NYK Boston.
    # MISC: tp Olympics; pred g k; gold Olympics.
    assert mner == {"PER": (4, 5, 5), "LOC": (1, 3, 2), "ORG": (1, 1, 2), "MISC": (1, 2, 1)}
    gmner = {t: (m.tp, m.pred, m.gold) for t, m in result.per_type["GMNER"].items()}
    assert gmner == {"PER": (2, 5, 5), "LOC": (1, 3, 2), "ORG": (1, 1, 2), "MISC": (0, 2, 1)}
    assert result.per_type["MNER"]["PER"].f1 == pytest.approx(0.8)


def test_iou_sweep(gold_and_preds):
    gold, preds, _ = gold_and_preds
    result = evaluate(gold, preds)
    assert [thr for thr, _ in result.sweep["GMNER"]] == list(THRESHOLDS)
    assert THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    gmner = {thr: prf.tp for thr, prf in result.sweep["GMNER"]}
    eeg = {thr: prf.tp for thr, prf in result.sweep["EEG"]}
    # From 0.55 on Alice's 0.51 and NYK's 0.5 fail; Bob's 1.0 and the ungroundable Paris (and Boston for EEG)
    # stay right.
    assert gmner == {0.5: 4, **{thr: 2 for thr in THRESHOLDS[1:]}}
    assert eeg == {0.5: 5, **{thr: 3 for thr in THRESHOLDS[1:]}}
    assert "MNER" not in result.sweep


def test_threshold_is_inclusive_configurable_and_strict_on_request(gold_and_preds):
    gold, preds, _ = gold_and_preds
    # Strictly above 0.5 (the H-Index rule), NYK's box at exactly 0.5 is wrong.
    strict = evaluate(gold, preds, strict=True)
    assert _prf(strict, "GMNER") == (3, 11, 10)
    assert _prf(strict, "EEG") == (4, 11, 10)
    assert strict.to_dict()["iou_rule"] == "IoU > 0.5"
    assert evaluate(gold, preds).to_dict()["iou_rule"] == "IoU >= 0.5"
    # At IoU >= 0.45 Trump's box (0.49) becomes right too.
    result = evaluate(gold, preds, iou=0.45)
    assert _prf(result, "GMNER") == (5, 11, 10)  # Alice Bob Paris NYK Trump
    assert _prf(result, "EEG") == (6, 11, 10)  # + Boston
    # At IoU >= 0.52 Alice's 0.51 and NYK's 0.5 no longer count: Bob and Paris remain
    assert evaluate(gold, preds, iou=0.52).metrics["GMNER"].tp == 2


def test_region_rule():
    assert region_correct(0, False, 0.0, 0.5)  # ungroundable predicted, none in gold
    assert not region_correct(0, True, 0.0, 0.5)  # a box for an entity without one
    assert not region_correct(2, False, 0.0, 0.5)  # no box for an entity with boxes
    assert region_correct(1, True, 0.5, 0.5)  # exactly at the threshold: right (RiVEG's >=)
    assert not region_correct(1, True, 0.4999999, 0.5)
    assert not region_correct(1, True, 0.5, 0.5, strict=True)  # the H-Index rule: strictly greater
    assert region_correct(1, True, 0.5000001, 0.5, strict=True)


def test_mask_metrics(gold_with_masks):
    gold, preds, stats = gold_with_masks
    assert stats.unmatched_masks == 1  # "Nobody"
    result = evaluate(gold, preds, with_masks=True)
    assert _prf(result, "SMNER") == (7, 11, 10)
    assert _prf(result, "EES") == (8, 11, 10)
    assert result.metrics["SMNER"].f1 == pytest.approx(14 / 21)
    # box metrics are unchanged by the masks
    assert _prf(result, "GMNER") == (4, 11, 10)
    # Trump's mask IoU is exactly 0.5: right at 0.5 only; up to 0.65 Alice (0.67) and Bob (0.75) hold,
    # from 0.7 Alice fails, at 0.75 Bob still holds (0.75 >= 0.75) and from 0.8 he fails too
    smner = {thr: prf.tp for thr, prf in result.sweep["SMNER"]}
    assert smner[0.5] == 7 and smner[0.55] == 6 and smner[0.65] == 6 and smner[0.7] == 5
    assert smner[0.75] == 5 and smner[0.8] == 4
    assert evaluate(gold, preds, with_masks=True, strict=True).metrics["SMNER"].tp == 6  # Trump's 0.5 fails
    assert result.counts["gold_entities_with_masks"] == 3  # Alice, Bob, Trump
    # NYK, Messi and Obama have boxes but no mask: reported
    assert any("3 gold entities have boxes but no gold mask" in w for w in result.warnings)


def test_counts_and_warnings(gold_and_preds):
    gold, preds, stats = gold_and_preds
    result = evaluate(gold, preds)
    c = result.counts
    assert c["gold_posts"] == 6 and c["gold_entities"] == 10
    assert c["gold_groundable_entities"] == 6 and c["gold_boxes"] == 7  # Bob has two
    assert c["missing_posts"] == 1  # p5
    assert c["extra_posts"] == 1  # zz
    assert c["misaligned"] == 1  # "Chica"
    assert c["aligned_by_surface"] == 1  # Olympics had no offsets
    assert c["aligned_by_offsets"] == 9
    assert c["duplicate_predictions"] == 1  # c
    assert c["predictions_matching_no_gold_span"] == 1  # hello
    assert stats.unmatched_objects == 1  # Michelle


def test_duplicates_count_once(gold_and_preds):
    """Removing the duplicate Bob only removes a false positive."""
    gold, preds, _ = gold_and_preds
    p1 = preds.posts["p1"]
    p1.entities = [p1.entities[0], p1.entities[1], p1.entities[3]]
    result = evaluate(gold, preds)
    assert _prf(result, "MNER") == (7, 10, 10)
    assert _prf(result, "GMNER") == (4, 10, 10)


def test_a_wrong_duplicate_does_not_hide_a_right_one(gold_and_preds):
    """Order does not matter: a wrong prediction before a right one with the same span still leaves one TP."""
    gold, preds, _ = gold_and_preds
    p2 = preds.posts["p2"]
    nyk = p2.entities[0]
    wrong = dataclasses.replace(nyk, box=(0.0, 0.0, 50.0, 50.0))  # IoU 0.25
    p2.entities = [wrong, p2.entities[1]]
    assert _prf(evaluate(gold, preds), "GMNER") == (3, 11, 10)  # the wrong box alone loses NYK
    p2.entities = [wrong, nyk, p2.entities[1]]
    result = evaluate(gold, preds)
    assert _prf(result, "GMNER") == (4, 12, 10)  # NYK again, one more prediction
    assert _prf(result, "MNER") == (7, 12, 10)  # NYK was already right for MNER: extra one is an FP


def test_perfect_predictions_score_100(gold_and_preds):
    """Predictions made from the gold itself (first box of each entity) score 1.0 everywhere."""
    from gmner.eval.predictions import PredEntity, PredictionFile, PredPost

    gold, _, _ = gold_and_preds
    perfect = PredictionFile()
    for post in gold:
        offs = post.token_offsets()
        perfect.posts[post.id] = PredPost(
            post.id,
            post.text,
            [
                PredEntity(
                    type=e.type,
                    start=offs[e.start][0],
                    end=offs[e.end - 1][1],
                    groundable=bool(e.boxes),
                    box=e.boxes[-1] if e.boxes else None,
                )
                for e in post.entities
            ],
        )
    result = evaluate(gold, perfect)
    for name in ("MNER", "GMNER", "EEG"):
        assert result.metrics[name].f1 == 1.0
    assert all(prf.f1 == 1.0 for _, prf in result.sweep["GMNER"])


def test_empty_predictions():
    from gmner.eval.predictions import PredictionFile

    gold = read_gold(TINY, "test")
    result = evaluate(gold, PredictionFile())
    assert _prf(result, "MNER") == (0, 0, 10)
    assert result.metrics["MNER"].precision == 0.0 and result.metrics["MNER"].f1 == 0.0
    assert result.counts["missing_posts"] == 6


def test_broken_or_mis_sized_predicted_masks_overlap_nothing(gold_with_masks):
    gold, preds, _ = gold_with_masks
    p1 = preds.posts["p1"]
    alice, bob = p1.entities[0], p1.entities[1]
    p1.entities = [
        dataclasses.replace(alice, mask={"size": [4, 4], "counts": [0, 3]}),  # counts do not fill 4x4
        dataclasses.replace(bob, mask={"size": [2, 8], "counts": [0, 16]}),  # 16 px, but not a 4x4 mask
        p1.entities[3],
    ]
    result = evaluate(gold, preds, with_masks=True)
    # Alice and Bob no longer count for SMNER: 7 - 2 = 5 TP, 11 - 1 = 10 predictions (the duplicate is gone)
    assert _prf(result, "SMNER") == (5, 10, 10)
    assert result.counts["invalid_predicted_masks"] == 1
    assert result.counts["mask_size_mismatch"] == 2  # against each of Bob's two gold masks


def test_groundable_without_a_box_is_wrong_for_the_box_metrics(gold_and_preds):
    """`groundable: true` and no box claims a region and gives none: wrong for GMNER/EEG even where the gold
    entity has no box (Paris), and it does not pass for "no region" where it has one (Alice)."""
    gold, preds, _ = gold_and_preds
    p1 = preds.posts["p1"]
    alice, bob, _, paris = p1.entities
    p1.entities = [
        dataclasses.replace(alice, box=None, mask=None),
        bob,
        dataclasses.replace(paris, groundable=True),
    ]
    result = evaluate(gold, preds)
    assert _prf(result, "MNER") == (7, 10, 10)  # the text is still right
    assert _prf(result, "GMNER") == (2, 10, 10)  # Alice and Paris lost: Bob and NYK remain
    assert _prf(result, "EEG") == (3, 10, 10)  # + Boston
    assert result.counts["groundable_without_box"] == 2
    assert any("2 predicted entities are groundable without a box" in w for w in result.warnings)
    # The same entities with `groundable: false` are judged as "not in the image": Paris is right again.
    p1.entities[2] = paris
    assert _prf(evaluate(gold, preds), "GMNER") == (3, 10, 10)


def test_text_only_predictions_are_counted_and_warned(tmp_path):
    gold = read_gold(TINY, "test")
    lines = [
        '{"id": "p1", "text": "Alice met Bob in Paris .", "tasks": "mner", "entities": ['
        '{"type": "PER", "start": 0, "end": 5, "groundable": null, "box": null},'
        '{"type": "LOC", "start": 17, "end": 22}]}',
    ]
    path = tmp_path / "mner.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = evaluate(gold, read_predictions(path))
    assert result.counts["text_only_predictions"] == 2
    assert result.counts["groundable_without_box"] == 0
    assert any("2 predicted entities carry no visual answer" in w for w in result.warnings)
    # Scored as "not in the image": Paris (no gold box) is right for GMNER, Alice (a gold box) is not.
    assert _prf(result, "GMNER") == (1, 2, 10)
    assert _prf(result, "MNER") == (2, 2, 10)
