"""The background event loop the sync APIs run on: one per process, in a daemon thread.

Plain scripts and notebooks call the client from ordinary threads; the
sockets live on this loop. A dedicated thread also keeps audio flowing while
a notebook cell blocks (a task on the kernel's own loop would stall whenever a cell blocks; docs/architecture.md).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(target=_loop.run_forever, name="eleven_nb-loop", daemon=True)
            _thread.start()
        return _loop


def in_background_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future:
    """Run ``coro`` on the background loop; return a concurrent future."""
    return asyncio.run_coroutine_threadsafe(coro, background_loop())


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the background loop and wait for its result (not from that loop's thread)."""
    if in_background_thread():
        coro.close()
        raise RuntimeError("cannot wait for the eleven_nb loop from its own thread (inside an event handler); "
                           "use the non-blocking calls there")
    return submit(coro).result(timeout)
