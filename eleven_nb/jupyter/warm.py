"""A socket opened ahead for the next cell with the same voice and connection options.

When the extension loads, one is opened for the session defaults: with no key and no base URL
that starts (or finds) the local voice server in the background, so the first ``%%speak`` does
not wait for the server and its first voice (about a second here) unless it comes at once.

Each spoken cell opened its own multi-stream-input WebSocket, and the handshake (10-30 ms
here) came before the first text could go out. After a cell has spoken, a fresh socket for the
same voice and options is opened in the background; the next cell that matches takes it and
starts sending at once. A spare is never reused after a job: it is always a new, unused
connection, so no state carries over. Unused for ``IDLE_S`` it is closed, so an idle kernel
does not keep a (shared) server busy. Only for a local or custom server: an idle connection to
the real service could count against the account's concurrency. Everything here runs on the
client's background loop.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..client.errors import ElevenError

log = logging.getLogger(__name__)
IDLE_S = 60.0  # an unused spare socket is closed after this long


def socket_key(voice: str, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """What a socket is fixed to at its handshake: the voice and the connection options."""
    return (voice, *sorted((k, repr(v)) for k, v in kwargs.items()))


class SpareSockets:
    """At most one open, unused socket, for the voice and options the last cell used."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self._spare: tuple[tuple[Any, ...], Any, Any, asyncio.TimerHandle] | None = None
        self._discards = 0  # an open() that a discard() overtook (%unload_ext, a newer open) keeps nothing

    def take(self, key: tuple[Any, ...]) -> tuple[Any, Any] | None:
        """``(opener, connection)`` if the spare matches ``key`` and is still open; the caller closes it."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        spare_key, opener, mux, timer = spare
        timer.cancel()
        if self.enabled and spare_key == key and mux.close_code is None:
            return opener, mux
        asyncio.get_running_loop().create_task(_close(opener))
        return None

    async def open(self, client: Any, voice: str, kwargs: dict[str, Any]) -> None:
        """Open a spare for ``voice`` and ``kwargs`` (replacing another); a failure only means none."""
        key = socket_key(voice, kwargs)
        if not self.enabled or (self._spare is not None and self._spare[0] == key
                                and self._spare[2].close_code is None):
            return
        await self.discard()
        discards = self._discards
        try:  # after a job the endpoint is resolved; at load this starts (or finds) the local server
            endpoint = await asyncio.to_thread(lambda: client.endpoint)
        except ElevenError as exc:  # the cell will say so, with the whole reason
            log.debug("no spare socket: %s", exc)
            return
        if getattr(endpoint, "kind", "real") == "real":
            return
        opener = client.multi_stream_input(voice, decode=True, **kwargs)
        try:
            mux = await opener.__aenter__()
        except (ElevenError, OSError) as exc:
            log.debug("no spare socket: %s", exc)
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_later(IDLE_S, lambda: loop.create_task(self.discard()))
        if self._spare is not None or self._discards != discards:  # another open() won, or a discard came
            timer.cancel()
            await _close(opener)
            return
        self._spare = (key, opener, mux, timer)

    async def discard(self) -> None:
        """Close the spare, if any, and any being opened now."""
        self._discards += 1
        spare, self._spare = self._spare, None
        if spare is not None:
            spare[3].cancel()
            await _close(spare[1])


async def _close(opener: Any) -> None:
    try:
        await opener.__aexit__(None, None, None)
    except (ElevenError, OSError) as exc:
        log.debug("closing a spare socket: %s", exc)
