"""The one base of every visual backend (VE, VG, SAM), in the shape of a Hugging Face pipeline.

`VisualBackend` is what the serving classes see: a name, one async `run(image, items)`, `ready` and `aclose`.
Backends that call a server (the VLMs) implement `run` themselves and are nothing more.

`VisualPipeline` is the shape of a backend that runs a model in this process:
- `preprocess(image, items)`: inputs for the model (CPU work, no model state);
- `_forward(inputs)`: the model run itself, and only that;
- `postprocess(outputs, image)`: the answer, from the model's outputs.
`forward` wraps `_forward` in the backend's lock (models here keep per-call state or are not thread-safe) and
`torch.inference_mode()`; `__call__` chains the three; `run` does it in a worker thread, so the event loop
stays free while the model runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from shared.images import DecodedImage

ItemsT = TypeVar("ItemsT")
InputT = TypeVar("InputT")
ModelOutT = TypeVar("ModelOutT")
OutputT = TypeVar("OutputT")


class VisualBackend(ABC, Generic[ItemsT, OutputT]):
    """An image and the items asked about it (referring expressions, boxes) in, one answer out."""

    name: str = "base"

    @abstractmethod
    async def run(self, image: DecodedImage, items: ItemsT) -> OutputT: ...

    async def run_post(self, image: DecodedImage, items: ItemsT, text: str | None) -> OutputT:
        """`run`, with the post's text when the client sent it; backends that do not read it ignore it. A
        `VisualPipeline` passes it to `preprocess_post` (the embedded `detector` ones read it: who is placed
        elsewhere, who is on the left)."""
        return await self.run(image, items)

    async def ready(self) -> str:
        """ "ok", or why the backend cannot serve (e.g. its server or worker is down)."""
        return "ok"

    async def aclose(self) -> None:
        return None


class VisualPipeline(VisualBackend[ItemsT, OutputT], Generic[ItemsT, InputT, ModelOutT, OutputT]):
    def __init__(self) -> None:
        self._lock = threading.Lock()

    @abstractmethod
    def preprocess(self, image: DecodedImage, items: ItemsT) -> InputT: ...

    @abstractmethod
    def _forward(self, inputs: InputT) -> ModelOutT: ...

    @abstractmethod
    def postprocess(self, outputs: ModelOutT, image: DecodedImage) -> OutputT: ...

    def forward(self, inputs: InputT) -> ModelOutT:
        with self._lock, _inference_mode():
            return self._forward(inputs)

    def preprocess_post(self, image: DecodedImage, items: ItemsT, text: str | None) -> InputT:
        """`preprocess`, given the post's text too; a backend that reads the text overrides this."""
        return self.preprocess(image, items)

    def __call__(self, image: DecodedImage, items: ItemsT, text: str | None = None) -> OutputT:
        return self.postprocess(self.forward(self.preprocess_post(image, items, text)), image)

    async def run(self, image: DecodedImage, items: ItemsT) -> OutputT:
        return await asyncio.to_thread(self, image, items)

    async def run_post(self, image: DecodedImage, items: ItemsT, text: str | None) -> OutputT:
        return await asyncio.to_thread(self, image, items, text)


# What a model that needs no preparing reads: the decoded image, the items and the post's text (None when the
# client sent none).
PostInputs = tuple[DecodedImage, ItemsT, str | None]


class PassesInputs(Generic[ItemsT]):
    """`preprocess` for a `VisualPipeline` whose model reads its inputs as they are (`PostInputs`): list it first
    among the bases, `class B(PassesInputs[Items], VEPipeline[PostInputs[Items]])`."""

    def preprocess(self, image: DecodedImage, items: ItemsT) -> PostInputs[ItemsT]:
        return image, items, None

    def preprocess_post(self, image: DecodedImage, items: ItemsT, text: str | None) -> PostInputs[ItemsT]:
        return image, items, text


def _inference_mode() -> Any:
    # Not imported here: the default detector backends (Node, ONNX) never load torch, and importing it costs a
    # stage about 500 MB RSS. A torch backend has imported it by the time it runs.
    torch = sys.modules.get("torch")
    return torch.inference_mode() if torch is not None else contextlib.nullcontext()
