"""Who hears about the pipeline's stages as they answer: the streamed answer (`gateway/streaming.py`).

A context variable rather than a parameter threaded through every step of `ServingGateway`: the steps only say
"this stage changed these entities" (`stage_done`), and whoever runs the pipeline in a task of its own sets a
listener for that task. Without one (the plain JSON answer, the overlay) `stage_done` does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.serving import EntityState

# The stream's event names, in the order a post's stages answer them.
ENTITIES = "entities"  # NER answered: every entity with its type and offsets
EXPRESSIONS = "expressions"  # one expansion call answered (up to MAX_EXPAND_ENTITIES entities)
GROUNDABILITY = "groundability"  # VE answered
BOXES = "boxes"  # VG answered
MASKS = "masks"  # SAM answered

StageListener = Callable[[str, "Sequence[EntityState]"], None]

_listener: ContextVar[StageListener | None] = ContextVar("gateway_stage_listener", default=None)


def listen(listener: StageListener) -> None:
    """Send this task's `stage_done` calls to `listener` (call it inside the task that runs the pipeline)."""
    _listener.set(listener)


def stage_done(event: str, states: Sequence[EntityState]) -> None:
    listener = _listener.get()
    if listener is not None:
        listener(event, states)
