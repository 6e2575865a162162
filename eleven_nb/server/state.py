"""What the connections of one server process share: voices, the synthesis pool, keys, limits."""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import web
from typing import Any

from .. import protocol
from ..audio import make_encoder
from ..protocol.server import DEFAULT_MAX_BUFFERED_CHARS
from .engines import DEFAULT_ENGINE, load_engines
from .engines.base import Engine, VoiceInfo

DEFAULT_MAX_CONNECTIONS = 256
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
    encoder_factory: Callable[..., Any]
    api_keys: tuple[str, ...] = ()
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_buffered_chars: int = DEFAULT_MAX_BUFFERED_CHARS
    connections: set[Any] = field(default_factory=set)  # the open WebSocketResponses
    pending_auth: set[Any] = field(default_factory=set)  # those still waiting for a key in a first message

    def resolve(self, voice_id: str) -> VoiceChoice | None:
        if voice_id == protocol.DEFAULT_VOICE_ID:
            voice_id = self.default_voice
        return self.voices.get(voice_id)


def build_state(engine: str = DEFAULT_ENGINE, voice_path: str | None = None, *, api_keys: tuple[str, ...] = (),
                max_connections: int = DEFAULT_MAX_CONNECTIONS, threads: int | None = None,
                max_buffered_chars: int = DEFAULT_MAX_BUFFERED_CHARS) -> ServerState:
    """Load the engines and gather their voices: ``engine`` first (the default voice), every other
    neural engine installed, and espeak-ng (cheap, and more distinct speakers for dialogs)."""
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


STATE: web.AppKey[ServerState] = web.AppKey("state", ServerState)
