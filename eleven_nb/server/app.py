"""The local server's aiohttp application: routes, voices, auth and limits.

``create_app()`` is the factory: ``eleven-nb serve`` runs it, tests embed it,
and gunicorn runs it in several workers through :func:`gunicorn_app`.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import os

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .. import protocol
from ..protocol import ProtocolError
from ..protocol.server import ServerConfig
from .auth import key_from_request, key_matches, keys_from_env
from .session import Session, SessionSetup
from . import http_tts, tracing
from .state import DEFAULT_MAX_CONNECTIONS, STATE, ServerState, VoiceChoice, build_state
from .voices import listed_voices, voice_json

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "PUBLIC_WITH_KEYS",
    "AccessLogger",
    "ServerState",
    "VoiceChoice",
    "build_state",
    "create_app",
    "gunicorn_app",
]

log = logging.getLogger(__name__)

PUBLIC_WITH_KEYS = ("/healthz",)  # with keys configured, every other route needs one
PENDING_AUTH_SHARE = 4  # keyless handshakes waiting for a first-message key: at most 1/4 of the connections

class AccessLogger(AbstractAccessLogger):
    """Access log of the raw path: no query string (``?authorization=`` may carry a key), never
    decoded (a ``%0a`` or ESC in a path would forge or garble log lines)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.rel_url.raw_path
        if not path.isprintable() or not path.isascii():
            path = "".join(c if c.isprintable() and c.isascii() else f"%{ord(c):02X}" for c in path)
        self.logger.info("%s %s %s %d %.3fs", request.remote, request.method, path, response.status, time)


def create_app(state: ServerState | None = None, **kwargs) -> web.Application:
    """The application. Pass a prepared ``state`` or :func:`build_state` keyword arguments."""
    state = state or build_state(**kwargs)
    app = web.Application(middlewares=[_require_key])
    app[STATE] = state
    app.add_routes([
        web.get("/v1/text-to-speech/{voice_id}/stream-input", _stream_input),
        web.get("/v1/text-to-speech/{voice_id}/multi-stream-input", _multi_stream_input),
        web.get("/v1/voices", _voices),
        web.get("/v1/voices/{voice_id}", _voice),
        web.get("/v1/models", _models),
        web.get("/healthz", _health),
    ])
    http_tts.add_routes(app)
    tracing.add_routes(app)  # GET /debug/trace, only with ELEVEN_NB_TRACE=1
    app.on_shutdown.append(_close_connections)
    app.on_cleanup.append(_stop_pool)
    return app


async def gunicorn_app() -> web.Application:
    """Factory for ``gunicorn eleven_nb.server.app:gunicorn_app --worker-class aiohttp.GunicornWebWorker``.

    Configured from the environment: ``ELEVEN_NB_ENGINE`` (piper|espeak),
    ``ELEVEN_NB_VOICE`` (an .onnx path) and ``ELEVEN_NB_SERVER_API_KEYS``.
    """
    return create_app(engine=os.environ.get("ELEVEN_NB_ENGINE", "default"),
                      voice_path=os.environ.get("ELEVEN_NB_VOICE") or None, api_keys=keys_from_env())


# --- WebSocket endpoints -------------------------------------------------------------


async def _stream_input(request: web.Request) -> web.StreamResponse:
    return await _serve_socket(request, multi=False)


async def _multi_stream_input(request: web.Request) -> web.StreamResponse:
    return await _serve_socket(request, multi=True)


async def _serve_socket(request: web.Request, multi: bool) -> web.StreamResponse:
    state: ServerState = request.app[STATE]
    model_id = request.query.get("model_id")
    if model_id in protocol.UNAVAILABLE_MODELS:  # the real service refuses these at the handshake
        raise web.HTTPForbidden(text=protocol.UNAVAILABLE_MODELS[model_id])
    # Frames a little over the limit reach us and get a clear error; aiohttp drops far larger ones.
    ws = web.WebSocketResponse(max_msg_size=2 * protocol.MAX_INPUT_FRAME, autoping=True, heartbeat=None)
    try:
        await ws.prepare(request)
    except (ConnectionError, RuntimeError) as exc:  # the client left during the handshake: nothing to say
        log.debug("handshake abandoned by %s: %s", request.remote, exc)
        return ws
    problem = _handshake_problem(request, state)
    voice_id = request.match_info["voice_id"]
    voice = None
    if problem is None and (voice := state.resolve(voice_id)) is None:
        voice = await state.find(voice_id)  # waits while the other engines load (a second at most, once)
        problem = _handshake_problem(request, state)  # others may have been let in meanwhile
        if problem is None and voice is None:
            problem = ProtocolError.of("voice_not_found", voice_id=voice_id, voices=", ".join(sorted(state.voices)))
    if problem is not None:
        try:
            await ws.send_str(protocol.dumps(problem.to_message()))
            await ws.close(code=problem.code, message=protocol.close_reason(problem.message).encode())
        except ConnectionError as exc:  # the client left meanwhile: nothing to tell it
            log.debug("refused %s, who had left: %s", request.remote, exc)
        return ws
    options = protocol.ConnectionOptions.from_query(request.query)
    assert voice is not None  # a missing voice is a problem, answered above
    given = key_from_request(request.headers, request.query)
    keyed = not state.api_keys or (given is not None and key_matches(given, state.api_keys))
    check = None if keyed else functools.partial(key_matches, keys=state.api_keys)
    effective = options.effective()
    config = ServerConfig(multi=multi, auto_mode=bool(effective.auto_mode),
                          inactivity_timeout=float(effective.inactivity_timeout or 20),
                          check_key=check, max_buffered_chars=state.max_buffered_chars)
    session = Session(ws, SessionSetup.of(state, voice, options), config, request.transport)
    state.connections.add(ws)
    if not keyed:
        state.pending_auth.add(ws)
    try:
        await session.run()
    finally:
        state.connections.discard(ws)
        state.pending_auth.discard(ws)
        if not ws.closed:
            await ws.close()
    return ws


def _handshake_problem(request: web.Request, state: ServerState) -> ProtocolError | None:
    """What is wrong with this connection before any frame is read, if anything (the voice is checked after)."""
    if state.speaking >= state.max_connections:
        return ProtocolError.of("too_many_connections", limit=state.max_connections)
    given = key_from_request(request.headers, request.query)
    if state.api_keys and given is not None and not key_matches(given, state.api_keys):
        return ProtocolError.of("invalid_api_key")
    if state.api_keys and given is None and len(state.pending_auth) >= state.max_connections // PENDING_AUTH_SHARE:
        # sockets waiting for a key in their first message may not crowd out the keyed ones
        return ProtocolError.of("too_many_connections", limit=state.max_connections)
    try:
        protocol.ConnectionOptions.from_query(request.query)
    except ValueError as exc:
        return ProtocolError.of("invalid_query_parameter", detail=str(exc))
    return None


@web.middleware
async def _require_key(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """With keys configured, the HTTP routes need one too (the WebSockets check theirs themselves:
    the key may come in the first message). ``/healthz`` stays open for load balancers."""
    state: ServerState = request.app[STATE]
    if not state.api_keys or request.path in PUBLIC_WITH_KEYS or _is_socket_route(request):
        return await handler(request)
    given = key_from_request(request.headers, request.query)
    if given is None or not key_matches(given, state.api_keys):
        status, message = ("needs_authorization", "An API key is required: send it in the xi-api-key header.") \
            if given is None else ("invalid_api_key", "Invalid API key.")
        raise web.HTTPUnauthorized(text=json.dumps({"detail": {"status": status, "message": message}}),
                                   content_type="application/json")
    return await handler(request)


def _is_socket_route(request: web.Request) -> bool:
    return request.match_info.route.handler in (_stream_input, _multi_stream_input)


# --- discovery ---------------------------------------------------------------------------


async def _voices(request: web.Request) -> web.Response:
    await request.app[STATE].all_loaded()
    voices = listed_voices(request.app[STATE])
    return web.json_response({"voices": voices, "has_more": False, "total_count": len(voices)})


async def _voice(request: web.Request) -> web.Response:
    state: ServerState = request.app[STATE]
    choice = await state.find(request.match_info["voice_id"])
    if choice is None:
        raise http_tts.status_error(web.HTTPNotFound, "voice_not_found",
                                   f"A voice with the voice_id {request.match_info['voice_id']!r} was not found.")
    return web.json_response(voice_json(request.match_info["voice_id"], choice, False))


async def _models(request: web.Request) -> web.Response:
    english = [{"language_id": "en", "name": "English"}]
    return web.json_response([
        {
            "model_id": model_id,
            "name": f"{model_id} (served locally by eleven_nb)",
            "can_do_text_to_speech": True,
            "can_be_finetuned": False,
            "requires_alpha_access": False,
            "languages": english,
            "description": "Accepted for compatibility; the local engines speak every model the same way.",
        }
        for model_id in protocol.MODELS
    ])


async def _health(request: web.Request) -> web.Response:
    state: ServerState = request.app[STATE]
    return web.json_response({"status": "ok", "connections": state.speaking})


async def _close_connections(app: web.Application) -> None:
    state: ServerState = app[STATE]
    await asyncio.gather(*(ws.close(code=1001, message=b"server shutting down") for ws in list(state.connections)),
                         return_exceptions=True)


async def _stop_pool(app: web.Application) -> None:
    app[STATE].pool.shutdown(wait=False, cancel_futures=True)
