"""The server's side of a trace (``ELEVEN_NB_TRACE=1`` in the server's environment).

Each socket gets a :class:`~eleven_nb.trace.Trace` in a process-wide ring, keyed by the
client's port: when its first text arrived, when the engine started and ended its first
phrase, when the first audio frame was sent. ``GET /debug/trace?port=N`` answers with
those stages after the fact (behind the server's key, like every HTTP route), so the audio
frames carry nothing extra. With tracing off there is no route and every mark is a no-op.
"""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from .. import trace
from ..trace import OFF, StageLog, Trace

LOG = StageLog()
TEXT_RECEIVED = "server: first text received"
ENGINE_START = "server: engine starts first phrase"
ENGINE_END = "server: engine ends first phrase"
FRAME_SENT = "server: first audio frame sent"


def socket_trace(transport: asyncio.BaseTransport | None) -> Trace:
    """A new trace for the socket on ``transport`` (OFF when tracing is off or the peer is unknown)."""
    if not trace.enabled() or transport is None:
        return OFF
    peer = transport.get_extra_info("peername")
    return LOG.record(int(peer[1])) if peer else OFF


def note_text(socket: Trace, data: str) -> None:
    """A text message arrived: the first with words in it is the stage (a context's " " opener is not)."""
    if not socket.on or TEXT_RECEIVED in socket.stages:
        return
    at = trace.now_ms()
    try:
        text = json.loads(data).get("text")
    except (ValueError, AttributeError):
        return
    if isinstance(text, str) and text.strip():
        socket.mark(TEXT_RECEIVED, at)


async def _stages(request: web.Request) -> web.Response:
    try:
        port = int(request.query["port"])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text="give the client's port: /debug/trace?port=N") from None
    stages = LOG.find(port)
    if stages is None:
        raise web.HTTPNotFound(text=f"no trace for a socket from port {port}")
    return web.json_response({"port": port, "stages": stages})


def add_routes(app: web.Application) -> None:
    """``GET /debug/trace`` when tracing is on."""
    if trace.enabled():
        app.router.add_get("/debug/trace", _stages)
