"""`POST /v1/gmner` streamed (Server-Sent Events): the data of the events sent before `final`.

`final` carries a `GMNERResponse` and `error` an `ErrorResponse`, as the answer without streaming would; the
stage events (`entities`, `expressions`, `groundability`, `boxes`, `masks`) carry a `StageEvent`.
"""

from __future__ import annotations

from typing import Literal

from shared.protocol.common import StrictModel
from shared.protocol.gateway import GMNEREntity

StreamEventName = Literal["entities", "expressions", "groundability", "boxes", "masks", "final", "error"]
STAGE_EVENTS: tuple[StreamEventName, ...] = ("entities", "expressions", "groundability", "boxes", "masks")


class IndexedEntity(GMNEREntity):
    """An entity of the answer as it stands after a stage, with its position in the answer's `entities`."""

    index: int


class StageEvent(StrictModel):
    """The entities one stage changed: a client keeps the list and replaces entry `index` with each."""

    entities: list[IndexedEntity]
