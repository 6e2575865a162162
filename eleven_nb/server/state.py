"""What the connections of one server process share: voices, the synthesis pool, keys, limits."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import web
from typing import Any

from .. import protocol
from ..audio import make_encoder
from ..protocol.server import DEFAULT_MAX_BUFFERED_CHARS
from .engines import DEFAULT_ENGINE, EnginesLoading, engines_after, load_engine, load_extras
from .engines.base import Engine, VoiceInfo

DEFAULT_MAX_CONNECTIONS = 256
REQUEST_TIMEOUT = 10.0  # seconds for a request's headers (guard.py), and again for its body (http_tts.py)
# Options every local engine accepts but cannot act on (the real service's models can); the voice
# settings an engine does not honour are added per voice (voices.py). Normalization and SSML are honoured.
NOT_HONOURED_BY_LOCAL = ("language_code", "model_id")


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
    encoder_factory: Callable[..., Any]
    api_keys: tuple[str, ...] = ()
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_buffered_chars: int = DEFAULT_MAX_BUFFERED_CHARS
    connections: set[Any] = field(default_factory=set)  # the open WebSocketResponses
    pending_auth: set[Any] = field(default_factory=set)  # those still waiting for a key in a first message
    http_syntheses: int = 0  # HTTP text-to-speech responses being sent; they count against max_connections too
    # the engines after the first: set until a request has waited for them (all_loaded), even once they
    # have loaded, so their voices are in ``voices`` only from then on: look voices up with ``find``
    loading: EnginesLoading | None = None

    @property
    def speaking(self) -> int:
        """Open WebSockets and HTTP syntheses: what ``max_connections`` bounds."""
        return len(self.connections) + self.http_syntheses

    def resolve(self, voice_id: str) -> VoiceChoice | None:
        """The voice behind ``voice_id`` among those loaded so far (see :meth:`find`)."""
        if voice_id == protocol.DEFAULT_VOICE_ID:
            voice_id = self.default_voice
        return self.voices.get(voice_id)

    async def find(self, voice_id: str) -> VoiceChoice | None:
        """The voice behind ``voice_id``; if it is not known yet, first wait for the engines still loading."""
        choice = self.resolve(voice_id)
        if choice is None and self.loading is not None:
            await self.all_loaded()
            choice = self.resolve(voice_id)
        return choice

    async def all_loaded(self) -> None:
        """Wait for the engines still loading (if any), and answer to their voices from now on."""
        loading = self.loading
        if loading is not None:
            loading.hurry()
            engines: list[Engine] = await asyncio.wrap_future(loading.loaded)
            self.add_voices(engines)
            self.loading = None

    def add_voices(self, engines: Iterable[Engine]) -> None:
        """Answer to the voices of ``engines`` (and their aliases); a voice id already taken keeps its engine."""
        for eng in engines:
            for info in eng.voices():
                self.voices.setdefault(info.voice_id, VoiceChoice(info, eng))
                for alias in info.aliases:
                    self.voices.setdefault(alias, VoiceChoice(info, eng))


def build_state(engine: str = DEFAULT_ENGINE, voice_path: str | None = None, *, api_keys: tuple[str, ...] = (),
                max_connections: int = DEFAULT_MAX_CONNECTIONS, threads: int | None = None,
                max_buffered_chars: int = DEFAULT_MAX_BUFFERED_CHARS, background: bool = False) -> ServerState:
    """Load the engines and gather their voices: ``engine`` first (the default voice), every other
    neural engine installed, and espeak-ng (cheap, and more distinct speakers for dialogs).

    With ``background``, only ``engine`` is loaded before this returns, and the others load on a
    thread (:class:`EnginesLoading`): a freshly started server answers its default voice sooner
    (docs/local-server.md, "Start-up"), and a request for another engine's voice waits until that
    engine is there (:meth:`ServerState.find`)."""
    first = load_engine(engine, voice_path)
    rest = engines_after(first)
    state = ServerState(
        voices={},
        default_voice=first.voices()[0].voice_id,
        pool=ThreadPoolExecutor(max_workers=threads or min(4, (os.cpu_count() or 2)),
                                thread_name_prefix="eleven_nb-synth"),
        encoder_factory=make_encoder,
        api_keys=api_keys,
        max_connections=max_connections,
        max_buffered_chars=max_buffered_chars,
    )
    state.add_voices([first])
    if background and rest:
        state.loading = EnginesLoading(rest)
    else:
        state.add_voices(load_extras(rest))
    return state


STATE: web.AppKey[ServerState] = web.AppKey("state", ServerState)
