"""The local server's aiohttp application: routes, voices, auth and limits.

``create_app()`` is the factory: ``eleven-nb serve`` runs it, tests embed it,
and gunicorn runs it in several workers through :func:`gunicorn_app`.
"""
from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .. import protocol
from ..protocol import ProtocolError
from .auth import key_from_request, key_matches, keys_from_env
from .engines import DEFAULT_ENGINE, load_engines
from .engines.base import Engine, VoiceInfo
from .session import Session

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_MAX_BUFFERED_CHARS = 100_000
# Settings every local engine accepts but cannot act on (the real service's models can).
NOT_HONOURED_BY_LOCAL = ("similarity_boost", "style", "use_speaker_boost", "language_code",
                         "enable_ssml_parsing", "apply_text_normalization", "model_id")


@dataclass(frozen=True)
class VoiceChoice:
    """A voice id the server answers to, and the engine voice behind it."""

    info: VoiceInfo
    engine: Engine

    @property
    def engine_voice_id(self) -> str:
        return self.info.voice_id


@dataclass
class ServerState:
    """Everything shared by the connections of one server process."""

    voices: dict[str, VoiceChoice]
    default_voice: str
    pool: ThreadPoolExecutor
    encoder_factory: Callable
    api_keys: tuple[str, ...] = ()
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_buffered_chars: int = DEFAULT_MAX_BUFFERED_CHARS
    connections: set[web.WebSocketResponse] = field(default_factory=set)

    def resolve(self, voice_id: str) -> VoiceChoice | None:
        if voice_id == protocol.DEFAULT_VOICE_ID:
            voice_id = self.default_voice
        return self.voices.get(voice_id)


STATE: web.AppKey["ServerState"] = web.AppKey("state", ServerState)


class AccessLogger(AbstractAccessLogger):
    """Access log without query strings: ``?authorization=`` may carry a key."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %d %.3fs", request.remote, request.method, request.path, response.status, time)


def build_state(engine: str = DEFAULT_ENGINE, voice_path: str | None = None, *, api_keys: tuple[str, ...] = (),
                max_connections: int = DEFAULT_MAX_CONNECTIONS, threads: int | None = None,
                max_buffered_chars: int = DEFAULT_MAX_BUFFERED_CHARS) -> ServerState:
    """Load the engines and gather their voices: ``engine`` first (the default voice), every other
    neural engine installed, and espeak-ng (cheap, and more distinct speakers for dialogs)."""
    from ..audio import make_encoder

    engines = load_engines(engine, voice_path)
    voices: dict[str, VoiceChoice] = {}
    for eng in engines:
        for info in eng.voices():
            voices.setdefault(info.voice_id, VoiceChoice(info, eng))
            for alias in info.aliases:
                voices.setdefault(alias, VoiceChoice(info, eng))
    default = engines[0].voices()[0].voice_id
    return ServerState(
        voices=voices,
        default_voice=default,
        pool=ThreadPoolExecutor(max_workers=threads or min(4, (os.cpu_count() or 2)),
                                thread_name_prefix="eleven_nb-synth"),
        encoder_factory=make_encoder,
        api_keys=api_keys,
        max_connections=max_connections,
        max_buffered_chars=max_buffered_chars,
    )


def create_app(state: ServerState | None = None, **kwargs) -> web.Application:
    """The application. Pass a prepared ``state`` or :func:`build_state` keyword arguments."""
    state = state or build_state(**kwargs)
    app = web.Application()
    app[STATE] = state
    app.add_routes([
        web.get("/v1/text-to-speech/{voice_id}/stream-input", _stream_input),
        web.get("/v1/text-to-speech/{voice_id}/multi-stream-input", _multi_stream_input),
        web.get("/v1/voices", _voices),
        web.get("/v1/voices/{voice_id}", _voice),
        web.get("/v1/models", _models),
        web.get("/healthz", _health),
    ])
    app.on_shutdown.append(_close_connections)
    app.on_cleanup.append(_stop_pool)
    return app


async def gunicorn_app() -> web.Application:
    """Factory for ``gunicorn eleven_nb.server.app:gunicorn_app --worker-class aiohttp.GunicornWebWorker``.

    Configured from the environment: ``ELEVEN_NB_ENGINE`` (piper|espeak),
    ``ELEVEN_NB_VOICE`` (an .onnx path) and ``ELEVEN_NB_SERVER_API_KEYS``.
    """
    return create_app(engine=os.environ.get("ELEVEN_NB_ENGINE", "piper"),
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
    await ws.prepare(request)
    problem = _handshake_problem(request, state)
    if problem is not None:
        await ws.send_str(protocol.dumps(problem.to_message()))
        await ws.close(code=problem.code, message=problem.message.encode()[:123])
        return ws
    options = protocol.ConnectionOptions.from_query(request.query)
    voice = state.resolve(request.match_info["voice_id"])
    assert voice is not None  # checked in _handshake_problem
    given = key_from_request(request.headers, request.query)
    session = Session(ws, state, voice, options, multi=multi,
                      authenticated=not state.api_keys or (given is not None and key_matches(given, state.api_keys)))
    state.connections.add(ws)
    try:
        await session.run()
    finally:
        state.connections.discard(ws)
        if not ws.closed:
            await ws.close()
    return ws


def _handshake_problem(request: web.Request, state: ServerState) -> ProtocolError | None:
    """What is wrong with this connection before any frame is read, if anything."""
    if len(state.connections) >= state.max_connections:
        return ProtocolError.of("too_many_connections", limit=state.max_connections)
    given = key_from_request(request.headers, request.query)
    if state.api_keys and given is not None and not key_matches(given, state.api_keys):
        return ProtocolError.of("invalid_api_key")
    try:
        protocol.ConnectionOptions.from_query(request.query)
    except ValueError as exc:
        return ProtocolError.of("invalid_query_parameter", detail=str(exc))
    voice_id = request.match_info["voice_id"]
    if state.resolve(voice_id) is None:
        names = ", ".join(sorted(v for v in state.voices))
        return ProtocolError.of("voice_not_found", voice_id=voice_id, voices=names)
    return None


# --- discovery ---------------------------------------------------------------------------


def _voice_json(voice_id: str, choice: VoiceChoice, default: bool) -> dict:
    info = choice.info
    return {
        "voice_id": voice_id,
        "name": info.name,
        "category": "premade",
        "description": info.description,
        "labels": {"engine": info.engine, "language": info.language, "local": "true"},
        "preview_url": None,
        "settings": None,
        "verified_languages": [{"language": info.language, "model_id": "local"}],
        "eleven_nb": {
            "engine": info.engine,
            "engine_voice_id": info.voice_id,
            "default": default,
            "honours": list(info.honours),
            "accepted_not_honoured": [s for s in (*protocol.VoiceSettings.DEFAULTS, *NOT_HONOURED_BY_LOCAL)
                                      if s not in info.honours],
        },
    }


def _listed_voices(state: ServerState) -> list[dict]:
    listed, default = [], state.resolve(state.default_voice)
    for voice_id, choice in state.voices.items():
        if voice_id == choice.info.voice_id:  # aliases are not listed twice
            listed.append(_voice_json(voice_id, choice, choice is default))
    return listed


async def _voices(request: web.Request) -> web.Response:
    voices = _listed_voices(request.app[STATE])
    return web.json_response({"voices": voices, "has_more": False, "total_count": len(voices)})


async def _voice(request: web.Request) -> web.Response:
    state: ServerState = request.app[STATE]
    choice = state.resolve(request.match_info["voice_id"])
    if choice is None:
        raise web.HTTPNotFound(text=f"voice {request.match_info['voice_id']!r} not found")
    return web.json_response(_voice_json(request.match_info["voice_id"], choice, False))


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
    return web.json_response({"status": "ok", "connections": len(state.connections)})


async def _close_connections(app: web.Application) -> None:
    state: ServerState = app[STATE]
    await asyncio.gather(*(ws.close(code=1001, message=b"server shutting down") for ws in list(state.connections)),
                         return_exceptions=True)


async def _stop_pool(app: web.Application) -> None:
    app[STATE].pool.shutdown(wait=False, cancel_futures=True)
