"""The background loop: its own thread, started on first use and again after it died; waiting on it
from its own thread is a clear error, not a deadlock."""
from __future__ import annotations

import asyncio
import time

import pytest

from eleven_nb.client.loop import BackgroundLoop


async def _where() -> str:
    import threading

    return threading.current_thread().name


def test_runs_coroutines_on_its_own_thread_and_restarts_after_a_stop():
    loop = BackgroundLoop(name="test-loop")
    assert loop.run(_where(), timeout=5) == "test-loop"
    first = loop.loop()
    first.call_soon_threadsafe(first.stop)  # the loop dies (as after a fork or a crash in a callback)
    deadline = time.monotonic() + 5
    while loop.loop() is first and time.monotonic() < deadline:
        time.sleep(0.01)
    assert loop.loop() is not first
    assert loop.run(_where(), timeout=5) == "test-loop"


def test_waiting_from_its_own_thread_is_an_error():
    loop = BackgroundLoop()

    async def nested() -> None:
        loop.run(asyncio.sleep(0))

    with pytest.raises(RuntimeError, match="its own thread"):
        loop.run(nested(), timeout=5)
