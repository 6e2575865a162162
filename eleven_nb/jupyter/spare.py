"""One player made ahead of time, so a ``%%speak`` cell's player already exists in the browser.

Making a widget sends its whole ES module and CSS (``comm_open``, ~55 kB) to the page, which
imports and evaluates the module for it before the player's first message can be handled. Done
while a cell runs, that sits on the path to the first audio (measured: about 35 ms of the page's
main thread, and the first chunk waits behind it). A spare made when nothing is speaking (when the
extension loads, and after each spoken cell) moves that work off the path: the cell only displays it.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class SparePlayers:
    """Keeps at most one unused player, made by ``make``; :meth:`take` hands it out once."""

    def __init__(self, make: Callable[[], Any], enabled: bool = True) -> None:
        self._make = make
        self._spare: Any = None
        self._lock = threading.Lock()
        self.enabled = enabled

    def take(self) -> Any:
        """The spare player (now the caller's), or None if there is none."""
        with self._lock:
            spare, self._spare = self._spare, None
        return spare if self.enabled else None

    def refill(self, *_: Any) -> None:
        """Make a spare if there is none (any thread; ``*_`` lets it be a future's done callback)."""
        if not self.enabled:
            return
        with self._lock:
            if self._spare is not None:
                return
        try:
            spare = self._make()
        except Exception as exc:  # no frontend comm (a plain script): the next cell makes its own
            log.debug("no spare player: %s", exc)
            return
        with self._lock:
            if self._spare is None:
                self._spare = spare
