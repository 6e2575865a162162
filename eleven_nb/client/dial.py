"""Dialling: open one client WebSocket to an endpoint, every failure a typed client error."""
from __future__ import annotations

import asyncio
import os
import socket

import aiohttp

from .. import protocol
from .endpoint import Endpoint
from .errors import ElevenError
from .errors import TimeoutError as ClientTimeoutError

CONNECT_TIMEOUT = 30.0  # seconds for the WebSocket handshake
HEARTBEAT = 30.0  # a ping after this long without a frame; no pong within half of it: the peer is gone
WS_CLOSE_TIMEOUT = 2.0  # how long a closing handshake may take


async def dial(session: aiohttp.ClientSession, endpoint: Endpoint, url: str, *, heartbeat: float | None,
               connect_timeout: float) -> aiohttp.ClientWebSocketResponse:
    """The WebSocket at ``url`` on ``endpoint`` (its key in the headers); raises an :class:`ElevenError`.

    The handshake is bounded by the session's timeout (``connect_timeout``, used here for the message).
    """
    try:
        return await session.ws_connect(
            url, headers=endpoint.headers(), max_msg_size=protocol.CLIENT_MAX_FRAME,
            heartbeat=heartbeat, timeout=aiohttp.ClientWSTimeout(ws_close=WS_CLOSE_TIMEOUT))
    except aiohttp.WSServerHandshakeError as exc:
        raise ElevenError(f"the server refused the WebSocket ({exc.status}): {exc.message}") from None
    except asyncio.TimeoutError:
        raise ClientTimeoutError(f"the WebSocket handshake with {endpoint.http_url} did not complete "
                                 f"within {connect_timeout:g} s", connect_timeout) from None
    except aiohttp.ClientConnectorError as exc:  # its own text repeats the host and adds "ssl:default"
        errno = exc.os_error.errno
        why = exc.strerror if isinstance(exc.os_error, socket.gaierror) or not errno else os.strerror(errno)
        raise ElevenError(f"cannot connect to {endpoint.http_url}: {why}") from None
    except aiohttp.ClientError as exc:
        raise ElevenError(f"cannot connect to {endpoint.http_url}: {exc}") from None
