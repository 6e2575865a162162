"""Transport limits for the whole server: a deadline for the HTTP handshake and a connection cap.

aiohttp keeps a connection that never completes its request for its
``keepalive_timeout`` (3,630 s by default), and accepts connections until the
process runs out of file descriptors. :func:`make_runner` sets both below
anything a slow or hostile peer could use to lock the server up.
"""
from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .app import AccessLogger
from .state import REQUEST_TIMEOUT

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = REQUEST_TIMEOUT  # for the request's headers (aiohttp's keep-alive idle); http_tts bounds bodies
LINGERING_TIME = 2.0  # seconds a refused request's unread body is read and dropped before closing (aiohttp: 10)
FD_RESERVE = 64  # descriptors kept free for model files, logs and the pool


def connection_cap(reserve: int = FD_RESERVE) -> int:
    """Connections accepted at once: below the soft file-descriptor limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(16, soft - reserve)


class GuardedRunner(web.AppRunner):
    """An :class:`~aiohttp.web.AppRunner` that drops connections over ``max_connections`` at once."""

    def __init__(self, app: web.Application, *, max_connections: int | None = None, **kwargs: Any):
        kwargs.setdefault("keepalive_timeout", HANDSHAKE_TIMEOUT)  # aiohttp also applies it before the first request
        kwargs.setdefault("lingering_time", LINGERING_TIME)
        super().__init__(app, **kwargs)
        self.max_connections = max_connections or connection_cap()

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        made = server.connection_made
        cap = self.max_connections

        def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
            made(handler, transport)
            if len(server._connections) > cap:  # no public count; this dict is what aiohttp tracks
                log.warning("refusing a connection: %d open, the cap is %d", cap, cap)
                transport.abort()

        server.connection_made = connection_made  # type: ignore[method-assign]
        return server


def make_runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """The runner ``eleven-nb serve`` and the tests use: the access log without secrets, and the guards."""
    kwargs.setdefault("access_log_class", AccessLogger)
    return GuardedRunner(app, **kwargs)
