"""uvicorn's h11 protocol with a header read timeout: `uvicorn ... --http shared.server:TimedH11Protocol`.

uvicorn waits forever for the headers of a request (its keep-alive timeout covers only idle connections
between requests), so a client that opens connections and sends headers a byte at a time holds them without
limit. Here a connection must deliver complete headers within GMNER_HEADER_TIMEOUT_S (default 10 s) of
opening or of its previous response; the body's own limits are in shared/middleware.py.
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = float(os.environ.get("GMNER_HEADER_TIMEOUT_S", "10"))


class TimedH11Protocol(H11Protocol):
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        if not self.transport.is_closing():
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        busy = self.cycle is not None and not self.cycle.response_complete
        # Still waiting for a request's headers (IDLE on their side) and no request being served: drop it.
        if not busy and self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
