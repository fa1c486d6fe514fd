"""What the gateway passes on from VG's grounding: the post's text to VE and VG, candidate boxes, `ambiguous`."""

from __future__ import annotations

import httpx

from shared.protocol.gateway import VisualReason
from tests.gateway.test_serving_unit import BOX, IDRIS, TEXT, FakeStages, by_text, read_visual, run

OTHER = [30.0, 2.0, 60.0, 46.0]


def grounding(box: list[float] | None, candidates: list[list[float]] | None):  # type: ignore[no-untyped-def]
    def vg(request: httpx.Request) -> httpx.Response:
        body, _ = read_visual(request)
        result = {"box": box, "score": 0.5 if box else 0.0, "candidate_boxes": candidates}
        return httpx.Response(200, json={"results": [result for _ in body["expressions"]], "backend": "fake"})

    return vg


async def test_the_post_text_reaches_ve_and_vg() -> None:
    stages = FakeStages(entities=[IDRIS])
    await run(stages)
    assert stages.sent("ve")["text"] == TEXT and stages.sent("vg")["text"] == TEXT


async def test_a_guess_keeps_its_box_and_shows_the_candidates() -> None:
    stages = FakeStages(entities=[IDRIS], override={"vg": grounding(BOX, [BOX, OTHER])})
    idris = by_text(await run(stages))["Idris Elba"]
    assert idris.box == BOX and idris.candidate_boxes == [BOX, OTHER]
    assert idris.visual_reason is None


async def test_an_abstention_is_ambiguous_with_the_candidates_and_no_mask() -> None:
    stages = FakeStages(entities=[IDRIS], override={"vg": grounding(None, [BOX, OTHER])})
    idris = by_text(await run(stages))["Idris Elba"]
    assert idris.box is None and idris.mask is None
    assert idris.visual_reason is VisualReason.AMBIGUOUS and idris.candidate_boxes == [BOX, OTHER]
    assert stages.count("sam") == 0  # nothing to segment


async def test_no_region_and_no_candidates_is_not_found() -> None:
    stages = FakeStages(entities=[IDRIS], override={"vg": grounding(None, None)})
    idris = by_text(await run(stages))["Idris Elba"]
    assert idris.visual_reason is VisualReason.NOT_FOUND and idris.candidate_boxes is None
