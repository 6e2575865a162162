"""The background event loop that streaming runs on, one per process.

A dedicated thread keeps audio flowing while the kernel runs other cells
(see DESIGN.md: a task on the kernel's own loop stalls whenever a cell blocks).
"""
from __future__ import annotations

import asyncio
import threading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use in a daemon thread."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="eleven_nb-speech", daemon=True).start()
            _loop = loop
        return _loop
