"""The background event loop the blocking client runs on: one per process, in a daemon thread.

Plain scripts and notebooks call the client from ordinary threads; the sockets
live on this loop. A dedicated thread also keeps audio flowing while a notebook
cell blocks (a task on the kernel's own loop would stall whenever a cell blocks).

:class:`BackgroundLoop` is the object; the module functions use the process's
default one (as asyncio and logging have defaults), and tests or embedders may
make their own.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """An event loop running forever in a daemon thread, started on first use (and again if it died)."""

    def __init__(self, name: str = "eleven_nb-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started on first use."""
        with self._lock:
            if self._loop is None or self._loop.is_closed() or self._thread is None or not self._thread.is_alive():
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name=self._name, daemon=True)
                self._thread.start()
            return self._loop

    def in_thread(self) -> bool:
        """True when called from the loop's own thread (an event handler, a callback)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; return a concurrent future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (not from the loop's own thread)."""
        if self.in_thread():
            coro.close()
            raise RuntimeError("cannot wait for the eleven_nb loop from its own thread (inside an event handler); "
                               "use the non-blocking calls there")
        return self.submit(coro).result(timeout)


DEFAULT = BackgroundLoop()  # the process's: every blocking client shares it


def background_loop() -> asyncio.AbstractEventLoop:
    """The default loop, started on first use."""
    return DEFAULT.loop()


def in_background_thread() -> bool:
    return DEFAULT.in_thread()


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Run ``coro`` on the default loop; return a concurrent future."""
    return DEFAULT.submit(coro)


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the default loop and wait for its result (not from that loop's thread)."""
    return DEFAULT.run(coro, timeout)
