"""Notice when a server has had nothing to do for a while (the shared server's idle exit)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class IdleWatch:
    """Counts requests in flight (a WebSocket counts for its whole life) and when the last one ended.

    Install :meth:`middleware` on the application before it starts; await :meth:`idle`.
    """

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if idle_s <= 0:
            raise ValueError("the idle time must be positive")
        self.idle_s = idle_s
        self._clock = clock
        self._active = 0
        self._last = clock()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._active += 1
        try:
            return await handler(request)
        finally:
            self._active -= 1
            self._last = self._clock()

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is in flight."""
        return 0.0 if self._active else self._clock() - self._last

    async def idle(self) -> None:
        """Return once nothing has happened for ``idle_s`` seconds."""
        step = min(1.0, self.idle_s / 4)
        while self.idle_for() < self.idle_s:
            await asyncio.sleep(step)
