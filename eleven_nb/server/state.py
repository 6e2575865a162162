"""What the connections of one server process share: voices, the synthesis pool, keys and limits."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import web

from .. import protocol
from .engines.base import Engine, VoiceInfo

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
